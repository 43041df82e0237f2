use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::get;
use bookinfo_api::Backend;
use bookinfo_reviews::AppState;

pub(crate) use bookinfo_support::testing::{Running, serve as serve_router};

pub(crate) async fn reviews(state: AppState) -> Running {
    bookinfo_support::testing::start(state).await
}

/// reviews of `version` calling ratings at `ratings` (None: v1).
pub(crate) async fn reviews_for(
    version: &str,
    color: &str,
    ratings: Option<&Running>,
    timeout: Duration,
) -> Running {
    let backend = ratings.map(|r| Backend::new(format!("http://{}", r.addr), timeout).unwrap());
    reviews(AppState::new(
        version,
        backend,
        color,
        "reviews-pod-1",
        "null",
        Default::default(),
    ))
    .await
}

/// A stub ratings answering `status` and `body`, after `delay`, recording
/// the headers of each request.
pub(crate) async fn stub_ratings(
    status: u16,
    body: &'static str,
    delay: Duration,
) -> (Running, Arc<Mutex<Vec<HeaderMap>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let router = Router::new().route(
        "/ratings/{id}",
        get(move |headers: HeaderMap| {
            let record = record.clone();
            async move {
                record.lock().unwrap().push(headers);
                tokio::time::sleep(delay).await;
                (
                    axum::http::StatusCode::from_u16(status).unwrap(),
                    [("content-type", "application/json")],
                    body,
                )
                    .into_response()
            }
        }),
    );
    (serve_router(router).await, seen)
}

pub(crate) async fn get_text(url: &str) -> (u16, String, reqwest::header::HeaderMap) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, response.text().await.unwrap(), headers)
}
