use bookinfo_details::AppState;
use reqwest::Method;

use crate::helpers::{details, get, send};

const V1_BODY: &str = r#"{"id":0,"author":"William Shakespeare","year":1595,"type":"paperback","pages":200,"publisher":"PublisherA","language":"English","ISBN-10":"1234567890","ISBN-13":"123-1234567890"}"#;
const BAD_ID: &str = r#"{"error":"please provide numeric product id"}"#;

#[tokio::test]
async fn v1_answers_the_upstream_body_byte_for_byte() {
    let server = details(AppState::new("v1", None)).await;
    let (status, body, headers) = get(&server.url("/details/0")).await;
    assert_eq!((status, body.as_str()), (200, V1_BODY));
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["x-bookinfo-version"], "details-v1");
}

#[tokio::test]
async fn ids_are_read_like_ruby_integer_from_the_last_segment() {
    let server = details(AppState::new("v1", None)).await;
    for (path, id) in [
        ("/details/0x10", 16),
        ("/details/-5", -5),
        ("/details/any/thing/017", 15),
        ("/details/1_000?x=1", 1000),
        // WEBrick percent-decodes the path first, `%2F` included.
        ("/details/%31", 1),
        ("/details/1%2F2", 2),
        ("/details/%2D5", -5),
    ] {
        let (status, body, _) = get(&server.url(path)).await;
        assert_eq!(status, 200, "{path}");
        let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(parsed["id"], id, "{path}");
    }
}

#[tokio::test]
async fn bad_ids_get_400_with_the_upstream_error() {
    let server = details(AppState::new("v1", None)).await;
    let huge = format!("/details/{}", "7".repeat(3000));
    for path in [
        "/details",
        "/details/",
        "/details/abc",
        "/details/08",
        "/details/99999999999999999999",
        "/details/%FF",
        "/details/%3",
        &huge,
    ] {
        let (status, body, _) = get(&server.url(path)).await;
        assert_eq!((status, body.as_str()), (400, BAD_ID), "{path}");
    }
}

#[tokio::test]
async fn health_matches_whole_segments_only() {
    let server = details(AppState::new("v1", None)).await;
    for path in ["/health", "/health/x"] {
        let (status, body, _) = get(&server.url(path)).await;
        assert_eq!(
            (status, body.as_str()),
            (200, r#"{"status":"Details is healthy"}"#)
        );
    }
    let (status, body, _) = get(&server.url("/healthz")).await;
    assert_eq!((status, body.as_str()), (404, r#"{"error":"not found"}"#));
}

#[tokio::test]
async fn methods_behave_like_the_upstream_mounts() {
    let server = details(AppState::new("v1", None)).await;
    for method in [Method::POST, Method::PUT] {
        let (status, body, _) = send(method, &server.url("/details/0")).await;
        assert_eq!((status, body.as_str()), (200, V1_BODY));
    }
    let (status, _, headers) = send(Method::OPTIONS, &server.url("/details/0")).await;
    assert_eq!(status, 200);
    assert_eq!(headers["allow"], "GET,HEAD,OPTIONS,POST,PUT");
    for method in [Method::DELETE, Method::PATCH] {
        let (status, body, headers) = send(method, &server.url("/details/0")).await;
        assert_eq!(status, 405);
        assert_eq!(headers["allow"], "GET,HEAD,OPTIONS,POST,PUT");
        assert_eq!(body, r#"{"error":"method not allowed"}"#);
    }
}
