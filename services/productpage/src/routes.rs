//! The routes of the upstream productpage and their handlers (login and static files
//! live in their own modules).

use std::sync::LazyLock;
use std::time::SystemTime;

use askama::Template;
use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use bookinfo_api::Reply;
use serde_json::Value;

use crate::backends::{Destination, Failure};
use crate::error::{Error, HTML, JSON};
use crate::forwarding::outgoing_headers;
use crate::pages::{self, IndexPage, PRODUCT, PRODUCT_ID, ProductPage};
use bookinfo_api::contract::REVIEWS_VERSION_HEADER;

use crate::{AppState, assets, login, pyjson};

/// Longest product id passed on to a backend, in bytes.
pub(crate) const MAX_ID_LEN: usize = 128;

pub(crate) fn routes(state: AppState) -> Router {
    // Routes that read the session vary with the cookie.
    let with_session = Router::new()
        .route("/productpage", get_route(productpage))
        .route("/login", post(login::login).merge(allow("OPTIONS, POST")))
        .route("/logout", get_route(login::logout))
        .route("/api/v1/products/{id}", get_route(details_api))
        .route("/api/v1/products/{id}/reviews", get_route(reviews_api))
        .route("/api/v1/products/{id}/ratings", get_route(ratings_api))
        .route_layer(middleware::map_response(vary_cookie));
    Router::new()
        .route("/", get_route(index))
        .route("/index.html", get_route(index))
        .route("/health", get_route(health))
        .route("/api/v1/products", get_route(products))
        .route("/static/{*path}", get_route(assets::serve))
        .merge(with_session)
        .method_not_allowed_fallback(|| async { Error::MethodNotAllowed })
        .fallback(|| async { Error::NotFound })
        .layer(middleware::from_fn(merge_slashes))
        .with_state(state)
}

/// Werkzeug (upstream's router) merges repeated slashes: a path with them
/// whose merged form names a route is answered 308 to the merged path
/// (`/api/v1/products//reviews` names product `reviews`). The Location is
/// the path, not Werkzeug's absolute URL, which would echo the Host header.
async fn merge_slashes(request: axum::extract::Request, next: middleware::Next) -> Response {
    let path = request.uri().path();
    if path.contains("//") {
        let mut merged = String::with_capacity(path.len());
        for c in path.chars() {
            if !(c == '/' && merged.ends_with('/')) {
                merged.push(c);
            }
        }
        if names_a_route(&merged) {
            let target = match request.uri().query() {
                Some(query) => format!("{merged}?{query}"),
                None => merged,
            };
            if let Ok(location) = HeaderValue::from_str(&target) {
                return (
                    StatusCode::PERMANENT_REDIRECT,
                    [(header::LOCATION, location), (header::CONTENT_TYPE, HTML)],
                    pages::redirect_body(&target),
                )
                    .into_response();
            }
        }
    }
    next.run(request).await
}

/// Whether a path (without repeated slashes) is one of the routes above.
fn names_a_route(path: &str) -> bool {
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    match segments.as_slice() {
        [""] | ["index.html" | "health" | "productpage" | "login" | "logout" | "metrics"] => true,
        ["api", "v1", "products"] => true,
        ["api", "v1", "products", id] | ["api", "v1", "products", id, "reviews" | "ratings"] => {
            !id.is_empty()
        }
        ["static", rest @ ..] => rest.iter().any(|s| !s.is_empty()),
        _ => false,
    }
}

/// GET (and so HEAD) plus OPTIONS, as Flask derives them.
fn get_route<H, T>(handler: H) -> MethodRouter<AppState>
where
    H: Handler<T, AppState>,
    T: 'static,
{
    get(handler).merge(allow("GET, HEAD, OPTIONS"))
}

/// `OPTIONS` answering 200 with `Allow`, as Flask does.
fn allow(methods: &'static str) -> MethodRouter<AppState> {
    axum::routing::options(move || async move { [(header::ALLOW, methods)] })
}

async fn vary_cookie(mut response: Response) -> Response {
    response
        .headers_mut()
        .append(header::VARY, HeaderValue::from_static("Cookie"));
    response
}

async fn health() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, HTML)], "Product page is healthy")
}

async fn index(State(state): State<AppState>) -> Result<Response, Error> {
    let backends = state.backends();
    let page = IndexPage {
        details_url: backends.base_url(Destination::Details),
        reviews_url: backends.base_url(Destination::Reviews),
        ratings_url: backends.base_url(Destination::Ratings),
    };
    Ok(([(header::CONTENT_TYPE, HTML)], page.render()?).into_response())
}

#[derive(serde::Serialize)]
struct ProductSummary {
    id: u32,
    title: &'static str,
    #[serde(rename = "descriptionHtml")]
    description_html: &'static str,
}

static PRODUCTS: LazyLock<String> = LazyLock::new(|| {
    pyjson::to_string(&[ProductSummary {
        id: PRODUCT.id,
        title: PRODUCT.title,
        description_html: PRODUCT.description_html,
    }])
});

async fn products() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, JSON)], PRODUCTS.as_str())
}

async fn productpage(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, Error> {
    let user = state.sessions().user(&headers, SystemTime::now());
    let outgoing = outgoing_headers(&headers, user.as_deref());
    let backends = state.backends();

    // Sequential, in upstream's order: details, the flood, then reviews.
    let details = backends
        .call(Destination::Details, PRODUCT_ID, &outgoing)
        .await;
    for _ in 0..state.flood_factor() {
        let _ = backends
            .call(Destination::Reviews, PRODUCT_ID, &outgoing)
            .await;
    }
    let reviews = backends
        .call(Destination::Reviews, PRODUCT_ID, &outgoing)
        .await;

    let mut page = ProductPage::new(state.markers(), user.as_deref());
    page.details = details
        .map_err(|failure| degrade(Destination::Details, &failure))
        .ok()
        .and_then(|reply| readable(Destination::Details, &reply, pages::details_rows));
    // The version that answered, failed answers included, so a tool can
    // tell which version's failure degraded the page.
    let reviews_version = match &reviews {
        Ok(reply) | Err(Failure::Status(reply)) => reply.version.clone(),
        Err(Failure::Call(_)) => None,
    };
    page.reviews = reviews
        .map_err(|failure| degrade(Destination::Reviews, &failure))
        .ok()
        .and_then(|reply| readable(Destination::Reviews, &reply, pages::reviews_view));

    let mut response = ([(header::CONTENT_TYPE, HTML)], page.render()?).into_response();
    add_reviews_version(&mut response, reviews_version.as_deref());
    Ok(response)
}

fn degrade(destination: Destination, failure: &Failure) {
    tracing::warn!(%destination, %failure, "backend failed; the page shows an error block");
}

fn readable<T>(
    destination: Destination,
    reply: &Reply,
    read: impl Fn(&[u8]) -> Option<T>,
) -> Option<T> {
    let view = read(&reply.body);
    if view.is_none() {
        tracing::warn!(%destination, "backend answered 200 with a body we cannot read");
    }
    view
}

fn add_reviews_version(response: &mut Response, version: Option<&str>) {
    if let Some(value) = version.and_then(|v| HeaderValue::from_str(v).ok()) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(REVIEWS_VERSION_HEADER), value);
    }
}

async fn details_api(
    State(state): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, Error> {
    proxy(&state, Destination::Details, id, &headers).await
}

async fn reviews_api(
    State(state): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, Error> {
    proxy(&state, Destination::Reviews, id, &headers).await
}

async fn ratings_api(
    State(state): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, Error> {
    proxy(&state, Destination::Ratings, id, &headers).await
}

/// One backend call re-served as upstream does: a 200 body re-serialised
/// with Python's separators, anything else the backend's status (or 500)
/// with the fixed error body.
async fn proxy(
    state: &AppState,
    destination: Destination,
    id: Result<Path<String>, PathRejection>,
    headers: &HeaderMap,
) -> Result<Response, Error> {
    let id = match id {
        Ok(Path(id)) => product_id(&id).map_err(|reason| Error::BadProductId {
            destination,
            reason,
        })?,
        Err(_) => {
            return Err(Error::BadProductId {
                destination,
                reason: "not a UTF-8 path segment",
            });
        }
    };
    let user = state.sessions().user(headers, SystemTime::now());
    let outgoing = outgoing_headers(headers, user.as_deref());
    let reply = state
        .backends()
        .call(destination, &id, &outgoing)
        .await
        .map_err(|failure| Error::Backend {
            destination,
            status: failure.status(),
            cause: failure.to_string(),
        })?;
    let value: Value = serde_json::from_slice(&reply.body).map_err(|error| Error::Backend {
        destination,
        status: StatusCode::INTERNAL_SERVER_ERROR,
        cause: format!("200 body is not JSON: {error}"),
    })?;
    let mut response = ([(header::CONTENT_TYPE, JSON)], pyjson::to_string(&value)).into_response();
    if destination == Destination::Reviews {
        add_reviews_version(&mut response, reply.version.as_deref());
    }
    Ok(response)
}

/// The id as one safe path segment of a backend URL. Upstream passes it
/// verbatim; we percent-encode everything but unreserved characters, so an
/// id can never add segments, a query or a fragment, and refuse dot
/// segments and oversized ids.
pub(crate) fn product_id(raw: &str) -> Result<String, &'static str> {
    if raw.len() > MAX_ID_LEN {
        return Err("longer than 128 bytes");
    }
    if raw.is_empty() || raw == "." || raw == ".." {
        return Err("empty or a dot segment");
    }
    let mut encoded = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    Ok(encoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_ids_are_encoded_as_one_segment() {
        assert_eq!(product_id("0"), Ok("0".to_owned()));
        assert_eq!(product_id("-3"), Ok("-3".to_owned()));
        assert_eq!(product_id("1_000"), Ok("1_000".to_owned()));
        assert_eq!(
            product_id("../../admin?x#y"),
            Ok("..%2F..%2Fadmin%3Fx%23y".to_owned())
        );
        assert_eq!(product_id(" 7"), Ok("%207".to_owned()));
        assert_eq!(product_id("é"), Ok("%C3%A9".to_owned()));
        assert!(product_id("..").is_err());
        assert!(product_id(".").is_err());
        assert!(product_id(&"1".repeat(129)).is_err());
    }

    #[test]
    fn the_product_list_is_byte_exact() {
        assert_eq!(PRODUCTS.len(), 395);
        assert!(PRODUCTS.starts_with(r#"[{"id": 0, "title": "The Comedy of Errors", "descriptionHtml": "<a href=\"https://en.wikipedia.org/wiki/The_Comedy_of_Errors\">"#));
    }
}
