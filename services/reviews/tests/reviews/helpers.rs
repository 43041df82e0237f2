use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::get;
use bookinfo_api::Backend;
use bookinfo_reviews::AppState;
use bookinfo_support::launch::run;
use tokio::sync::oneshot;

pub struct Running {
    pub addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

impl Running {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

pub async fn serve_router(router: Router) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    Running { addr, _stop: stop }
}

pub async fn reviews(state: AppState) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(run(
        listener,
        state,
        async {
            let _ = stopped.await;
        },
        Duration::ZERO,
    ));
    Running { addr, _stop: stop }
}

/// reviews of `version` calling ratings at `ratings` (None: v1).
pub async fn reviews_for(
    version: &str,
    color: &str,
    ratings: Option<&Running>,
    timeout: Duration,
) -> Running {
    let backend = ratings.map(|r| Backend::new(format!("http://{}", r.addr), timeout));
    reviews(AppState::new(
        version,
        backend,
        color,
        "reviews-pod-1",
        "null",
    ))
    .await
}

/// A stub ratings answering `status` and `body`, after `delay`, recording
/// the headers of each request.
pub async fn stub_ratings(
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

pub async fn get_text(url: &str) -> (u16, String, reqwest::header::HeaderMap) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, response.text().await.unwrap(), headers)
}
