//! `POST /login` and `GET /logout` (as upstream, with the project's fixes):
//! the user name goes into a signed cookie, and the redirect goes back to
//! the referring page only when that page is on this site.

use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::error::{Error, HTML};
use crate::pages;
use crate::session::{self, BadUser};

/// Where a login or logout sends the browser when the referrer is missing
/// or not ours.
pub(crate) const DEFAULT_TARGET: &str = "/productpage";

pub(crate) async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Error> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Error::TooLarge
        } else {
            Error::BadRequest("the request body could not be read")
        }
    })?;
    // Flask's `request.values`: the query string first, then the form.
    let mut username = match &query {
        Some(query) => form_field(query.as_bytes(), "username")
            .map_err(|()| Error::BadRequest("malformed query string"))?,
        None => None,
    };
    if !body.is_empty() {
        if !is_form(&headers) {
            return Err(Error::UnsupportedMediaType);
        }
        let field =
            form_field(&body, "username").map_err(|()| Error::BadRequest("malformed form body"))?;
        username = username.or(field);
    }
    let user = match username.as_deref().map(session::check_user).transpose() {
        Ok(user) => user.flatten(),
        Err(BadUser::TooLong) => return Err(Error::BadRequest("user name too long")),
        Err(BadUser::ControlCharacters) => {
            return Err(Error::BadRequest("user name contains control characters"));
        }
    };
    let cookie = match user {
        Some(user) => {
            tracing::info!(user, "login");
            session::set_cookie(&state.sessions().sign(user, SystemTime::now()))
        }
        // Upstream stores no usable user then: the visitor is anonymous.
        None => session::clear_cookie(),
    };
    Ok(redirect(&headers, Some(cookie)))
}

pub(crate) async fn logout(headers: HeaderMap) -> Response {
    let had_session = session::session_cookies(&headers).next().is_some();
    redirect(&headers, had_session.then(session::clear_cookie))
}

fn redirect(request: &HeaderMap, cookie: Option<String>) -> Response {
    let target = redirect_target(request);
    let body = pages::redirect_body(&target);
    let location =
        HeaderValue::from_str(&target).unwrap_or(HeaderValue::from_static(DEFAULT_TARGET));
    let mut response = (
        StatusCode::FOUND,
        [(header::LOCATION, location), (header::CONTENT_TYPE, HTML)],
        body,
    )
        .into_response();
    if let Some(cookie) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// The path of the `Referer` when it is a page of this site (same host, or
/// already a bare path), otherwise [`DEFAULT_TARGET`]. Never an absolute
/// URL, so never an open redirect.
pub(crate) fn redirect_target(headers: &HeaderMap) -> String {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    text(header::REFERER)
        .and_then(|referer| local_path(referer, text(header::HOST)))
        .unwrap_or_else(|| DEFAULT_TARGET.to_owned())
}

fn local_path(referer: &str, host: Option<&str>) -> Option<String> {
    let referer = referer.trim();
    let path = if referer.starts_with('/') {
        referer
    } else {
        let (scheme, rest) = referer.split_once("://")?;
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return None;
        }
        let end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        if authority.is_empty() || !authority.eq_ignore_ascii_case(host?) {
            return None;
        }
        path
    };
    let path = path.split('#').next().unwrap_or_default();
    let path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    // `//host` and `/\host` are read as other sites by browsers.
    let hostile = path.starts_with("//")
        || path.contains('\\')
        || path.chars().any(|c| c.is_control() || c.is_whitespace());
    // Going back to /login or /logout would undo what was just done.
    let route = path.split('?').next().unwrap_or_default();
    if hostile || route == "/login" || route == "/logout" {
        return None;
    }
    Some(path)
}

fn is_form(headers: &HeaderMap) -> bool {
    match headers.get(header::CONTENT_TYPE) {
        None => true,
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                mime.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            }),
    }
}

/// The first value of `name` in an `application/x-www-form-urlencoded`
/// text. Every pair must decode (valid escapes, UTF-8), or the whole text
/// is refused.
pub(crate) fn form_field(text: &[u8], name: &str) -> Result<Option<String>, ()> {
    let mut found = None;
    for pair in text.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let mut halves = pair.splitn(2, |b| *b == b'=');
        let key = decode(halves.next().unwrap_or_default())?;
        let value = decode(halves.next().unwrap_or_default())?;
        if found.is_none() && key == name {
            found = Some(value);
        }
    }
    Ok(found)
}

fn decode(text: &[u8]) -> Result<String, ()> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.iter();
    while let Some(&byte) = bytes.next() {
        match byte {
            b'+' => out.push(b' '),
            b'%' => {
                let high = bytes
                    .next()
                    .and_then(|b| (*b as char).to_digit(16))
                    .ok_or(())?;
                let low = bytes
                    .next()
                    .and_then(|b| (*b as char).to_digit(16))
                    .ok_or(())?;
                out.push(u8::try_from(high * 16 + low).map_err(|_| ())?);
            }
            _ => out.push(byte),
        }
    }
    String::from_utf8(out).map_err(|_| ())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn form_fields_decode_and_malformed_forms_are_refused() {
        assert_eq!(
            form_field(b"username=jason&passwd=password", "username"),
            Ok(Some("jason".to_owned()))
        );
        assert_eq!(form_field(b"passwd=x", "username"), Ok(None));
        assert_eq!(
            form_field(b"username=a+b%3Cc%3E&username=second", "username"),
            Ok(Some("a b<c>".to_owned()))
        );
        assert_eq!(
            form_field(b"username=Jos%C3%A9", "username"),
            Ok(Some("José".to_owned()))
        );
        assert_eq!(form_field(b"username", "username"), Ok(Some(String::new())));
        assert_eq!(form_field(b"username=%zz", "username"), Err(()));
        assert_eq!(form_field(b"username=%4", "username"), Err(()));
        assert_eq!(form_field(b"username=%ff", "username"), Err(()));
    }

    #[test]
    fn only_referers_on_this_site_are_followed() {
        let host = Some("shop.example:8080");
        assert_eq!(
            local_path("http://shop.example:8080/productpage?u=test#x", host).as_deref(),
            Some("/productpage?u=test")
        );
        assert_eq!(
            local_path("HTTPS://SHOP.example:8080", host).as_deref(),
            Some("/")
        );
        assert_eq!(
            local_path("/productpage", None).as_deref(),
            Some("/productpage")
        );
        for hostile in [
            "http://evil.example/productpage",
            "http://shop.example:8080@evil.example/",
            "//evil.example/",
            "/\\evil.example/",
            "http://shop.example:8080\\@evil.example/",
            "javascript://shop.example:8080/%0aalert(1)",
            "/logout",
            "http://shop.example:8080/login",
            "None",
            "",
        ] {
            assert_eq!(local_path(hostile, host), None, "{hostile}");
        }
        assert_eq!(local_path("http://shop.example:8080/x", None), None);
    }
}
