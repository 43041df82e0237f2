use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::get;
use bookinfo_details::{AppState, BooksApi};

use crate::helpers::{Running, details, serve_router};

const VOLUME: &str = r#"{"items":[{"volumeInfo":{"title":"The Comedy of Errors","authors":["William Shakespeare"],"publisher":"Dover Publications","publishedDate":"2002-09-19","industryIdentifiers":[{"type":"ISBN_10","identifier":"0486424618"},{"type":"ISBN_13","identifier":"9780486424613"}],"pageCount":53,"printType":"BOOK","language":"en"}}]}"#;

async fn stub(
    status: u16,
    body: &'static str,
    delay: Duration,
) -> (Running, Arc<Mutex<Vec<(String, HeaderMap)>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let router = Router::new().route(
        "/books/v1/volumes",
        get(move |uri: axum::http::Uri, headers: HeaderMap| {
            let record = record.clone();
            async move {
                record.lock().unwrap().push((uri.to_string(), headers));
                tokio::time::sleep(delay).await;
                (axum::http::StatusCode::from_u16(status).unwrap(), body).into_response()
            }
        }),
    );
    (serve_router(router).await, seen)
}

async fn v2(api: &Running, timeout: Duration) -> Running {
    let books = BooksApi::new(&format!("http://{}", api.addr), timeout).unwrap();
    details(AppState::new("v2", Some(books))).await
}

#[tokio::test]
async fn v2_maps_the_external_volume_and_forwards_headers() {
    let (api, seen) = stub(200, VOLUME, Duration::ZERO).await;
    let server = v2(&api, Duration::from_secs(2)).await;
    let response = reqwest::Client::new()
        .get(server.url("/details/3"))
        .header("x-request-id", "abc")
        .header("end-user", "jason")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-bookinfo-version"], "details-v2");
    assert_eq!(
        response.text().await.unwrap(),
        r#"{"id":3,"author":"William Shakespeare","year":"2002-09-19","type":"paperback","pages":53,"publisher":"Dover Publications","language":"English","ISBN-10":"0486424618","ISBN-13":"9780486424613"}"#
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0].0, "/books/v1/volumes?q=isbn:0486424618");
    assert_eq!(seen[0].1["x-request-id"], "abc");
    assert_eq!(seen[0].1["end-user"], "jason");
}

#[tokio::test]
async fn v2_answers_504_within_the_timeout_when_the_api_hangs() {
    let (api, _) = stub(200, VOLUME, Duration::from_secs(30)).await;
    let server = v2(&api, Duration::from_millis(300)).await;
    let started = Instant::now();
    let response = reqwest::get(server.url("/details/0")).await.unwrap();
    assert_eq!(response.status(), 504);
    assert_eq!(
        response.text().await.unwrap(),
        r#"{"error":"book service timed out"}"#
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn v2_answers_502_for_failures_and_unusable_answers() {
    for (status, body) in [
        (500, "oops"),
        (200, "not json"),
        (200, r#"{"totalItems":0}"#),
    ] {
        let (api, _) = stub(status, body, Duration::ZERO).await;
        let server = v2(&api, Duration::from_secs(2)).await;
        let response = reqwest::get(server.url("/details/0")).await.unwrap();
        assert_eq!(response.status(), 502, "{status} {body}");
        assert_eq!(
            response.text().await.unwrap(),
            r#"{"error":"book service unavailable"}"#
        );
    }
}

#[tokio::test]
async fn v2_answers_502_when_the_api_is_unreachable() {
    let port = bookinfo_support::testing::closed_port().port();
    let books = BooksApi::new(&format!("http://127.0.0.1:{port}"), Duration::from_secs(1)).unwrap();
    let server = details(AppState::new("v2", Some(books))).await;
    let response = reqwest::get(server.url("/details/0")).await.unwrap();
    assert_eq!(response.status(), 502);
}
