//! The signed session cookie that remembers who logged in, in upstream's
//! format so sessions cross between our productpage and the upstream one
//! (Flask's session cookie, signed by itsdangerous): the value is
//! `payload.timestamp.signature`, each part base64url without padding; the
//! payload is the session as compact JSON (zlib-compressed, with a leading
//! `.`, when that is shorter); the timestamp the issue time in seconds as
//! big-endian bytes without leading zeros; the signature HMAC-SHA1 over
//! `payload.timestamp` under a key derived as HMAC-SHA1(secret, salt
//! `cookie-session`). The secret is upstream's fixed key unless
//! `SESSION_SECRET` sets one: Bookinfo's login checks no password, so the
//! cookie proves nothing `/login` would not give anyone.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha1::Sha1;

pub const COOKIE_NAME: &str = "session";
/// Flask's default `PERMANENT_SESSION_LIFETIME`, which it also checks for
/// browser-session cookies.
pub const MAX_AGE: Duration = Duration::from_secs(31 * 24 * 3600);
/// Longest user name we keep, in bytes.
pub const MAX_USER_LEN: usize = 100;
/// Upstream productpage's `app.secret_key`, the same in every replica.
pub const UPSTREAM_SECRET: &[u8] = b"_5#y2L\"F4Q8z\n\xec]/";
/// Flask's salt for session cookies.
const SALT: &[u8] = b"cookie-session";
/// Largest session a compressed payload may inflate to. A cookie is at most
/// a few KiB; this bounds a zip bomb in one.
const MAX_PAYLOAD: usize = 64 * 1024;

type HmacSha1 = Hmac<Sha1>;

/// The session's one key we use; Flask sessions may hold others (ignored).
#[derive(serde::Deserialize)]
struct Payload {
    user: String,
}

/// Why a user name cannot be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadUser {
    #[error("user name is longer than {MAX_USER_LEN} bytes")]
    TooLong,
    #[error("user name contains control characters")]
    ControlCharacters,
}

/// A user name as it may be stored and shown: `None` for an empty name
/// (upstream shows "Sign in" then and sends no `end-user`).
pub fn check_user(name: &str) -> Result<Option<&str>, BadUser> {
    if name.len() > MAX_USER_LEN {
        return Err(BadUser::TooLong);
    }
    // Control characters cannot travel in the `end-user` header.
    if name.chars().any(char::is_control) {
        return Err(BadUser::ControlCharacters);
    }
    Ok(Some(name).filter(|n| !n.is_empty()))
}

/// Signs and checks session cookies; cheap to clone.
#[derive(Clone)]
pub struct SessionKey {
    /// HMAC keyed by the derived key (`HMAC-SHA1(secret, salt)`).
    keyed: HmacSha1,
}

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(..)")
    }
}

impl Default for SessionKey {
    /// Upstream's key: replicas and upstream pods share sessions.
    fn default() -> Self {
        Self::new(UPSTREAM_SECRET)
    }
}

/// HMAC-SHA1 keyed by `key` (HMAC takes keys of any length).
fn hmac_sha1(key: &[u8]) -> HmacSha1 {
    <HmacSha1 as Mac>::new_from_slice(key).unwrap_or_else(|_| HmacSha1::new(&Default::default()))
}

impl SessionKey {
    pub fn new(secret: &[u8]) -> Self {
        // itsdangerous' `hmac` key derivation.
        let mut derive = hmac_sha1(secret);
        derive.update(SALT);
        let derived = derive.finalize().into_bytes();
        Self {
            keyed: hmac_sha1(&derived),
        }
    }

    fn mac(&self, signed: &[u8]) -> HmacSha1 {
        let mut mac = self.keyed.clone();
        mac.update(signed);
        mac
    }

    /// The cookie value for `user`, issued at `now`. The payload is written
    /// as Flask writes it (compact, non-ASCII as `\uXXXX`), never
    /// compressed: a user name of at most [`MAX_USER_LEN`] bytes is short,
    /// and Flask reads both.
    pub fn sign(&self, user: &str, now: SystemTime) -> String {
        let payload = crate::pyjson::to_compact_ascii(&serde_json::json!({ "user": user }));
        let seconds = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            .to_be_bytes();
        let first = seconds
            .iter()
            .position(|b| *b != 0)
            .unwrap_or(seconds.len());
        let mut value = URL_SAFE_NO_PAD.encode(payload);
        value.push('.');
        value.push_str(&URL_SAFE_NO_PAD.encode(&seconds[first..]));
        let signature = self.mac(value.as_bytes()).finalize().into_bytes();
        value.push('.');
        value.push_str(&URL_SAFE_NO_PAD.encode(signature));
        value
    }

    /// The user of a cookie value signed under this key, issued at most
    /// [`MAX_AGE`] ago and not in the future (itsdangerous refuses a
    /// negative age too).
    pub fn verify(&self, value: &str, now: SystemTime) -> Option<String> {
        let (signed, signature) = value.rsplit_once('.')?;
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        self.mac(signed.as_bytes()).verify_slice(&signature).ok()?;
        let (payload, issued) = signed.rsplit_once('.')?;
        let issued = URL_SAFE_NO_PAD.decode(issued).ok()?;
        if issued.len() > 8 {
            return None;
        }
        let mut seconds = [0u8; 8];
        seconds[8 - issued.len()..].copy_from_slice(&issued);
        let issued = UNIX_EPOCH + Duration::from_secs(u64::from_be_bytes(seconds));
        if now.duration_since(issued).ok()? > MAX_AGE {
            return None;
        }
        let json = match payload.strip_prefix('.') {
            Some(compressed) => miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(
                &URL_SAFE_NO_PAD.decode(compressed).ok()?,
                MAX_PAYLOAD,
            )
            .ok()?,
            None => URL_SAFE_NO_PAD.decode(payload).ok()?,
        };
        let payload: Payload = serde_json::from_slice(&json).ok()?;
        check_user(&payload.user).ok().flatten()?;
        Some(payload.user)
    }

    /// The logged-in user of a request: the first `session` cookie that
    /// verifies.
    pub fn user(&self, headers: &HeaderMap, now: SystemTime) -> Option<String> {
        session_cookies(headers).find_map(|value| self.verify(value, now))
    }
}

/// Values of every `session` cookie the request carries.
pub fn session_cookies(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name.trim() == COOKIE_NAME).then(|| value.trim().trim_matches('"'))
        })
}

/// `Set-Cookie` that stores a session.
pub fn set_cookie(value: &str) -> String {
    format!("{COOKIE_NAME}={value}; Path=/; HttpOnly; SameSite=Lax")
}

/// `Set-Cookie` that removes the session.
pub fn clear_cookie() -> String {
    format!(
        "{COOKIE_NAME}=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; HttpOnly; SameSite=Lax"
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::http::HeaderValue;

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn a_signed_cookie_verifies_and_names_the_user() {
        let key = SessionKey::new(b"secret");
        let value = key.sign("jason", at(1_700_000_000));
        assert!(value.starts_with("eyJ1c2VyIjoiamFzb24ifQ."), "{value}");
        assert_eq!(
            key.verify(&value, at(1_700_000_100)).as_deref(),
            Some("jason")
        );
    }

    #[test]
    fn tampered_expired_or_foreign_cookies_are_refused() {
        let key = SessionKey::new(b"secret");
        let value = key.sign("jason", at(1_700_000_000));
        assert_eq!(
            SessionKey::new(b"other").verify(&value, at(1_700_000_000)),
            None
        );
        let forged = value.replacen(
            "eyJ1c2VyIjoiamFzb24ifQ",
            &URL_SAFE_NO_PAD.encode(br#"{"user":"admin"}"#),
            1,
        );
        assert_eq!(key.verify(&forged, at(1_700_000_000)), None);
        assert_eq!(
            key.verify(&value, at(1_700_000_000) + MAX_AGE + Duration::from_secs(1)),
            None
        );
        for junk in ["", ".", "..", "a.b.c", "eyJ1c2VyIjoiamFzb24ifQ..", "\u{0}"] {
            assert_eq!(key.verify(junk, at(0)), None);
        }
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let key = SessionKey::new(b"secret");
        let value = key.sign("jason", at(10));
        let mut headers = HeaderMap::new();
        headers.append(
            COOKIE,
            HeaderValue::from_static("theme=dark; session=garbage"),
        );
        headers.append(
            COOKIE,
            HeaderValue::from_str(&format!("a=b; session={value}")).unwrap(),
        );
        assert_eq!(key.user(&headers, at(20)).as_deref(), Some("jason"));
    }

    #[test]
    fn user_names_with_control_characters_or_too_long_are_refused() {
        assert_eq!(check_user("jason"), Ok(Some("jason")));
        assert_eq!(check_user("José <b>"), Ok(Some("José <b>")));
        assert_eq!(check_user(""), Ok(None));
        assert_eq!(check_user("a\r\nb"), Err(BadUser::ControlCharacters));
        assert_eq!(check_user(&"x".repeat(101)), Err(BadUser::TooLong));
    }
}
