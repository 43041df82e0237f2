use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use bookinfo_support::http::Service;
use tokio::sync::oneshot;

#[tokio::test]
async fn sigterm_fails_health_while_draining_then_finishes_in_flight_requests() {
    let service = Service::new("test-v1", Default::default());
    let routes = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(800)).await;
                "done"
            }),
        );
    let router = service.router(routes);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (signal, signalled) = oneshot::channel::<()>();
    let drain = Duration::from_millis(400);
    let server = tokio::spawn({
        let service = service.clone();
        async move {
            service
                .serve(listener, router, async { signalled.await.unwrap() }, drain)
                .await
        }
    });
    let url = |path: &str| format!("http://{addr}{path}");
    assert_eq!(reqwest::get(url("/health")).await.unwrap().status(), 200);

    let slow = tokio::spawn(reqwest::get(url("/slow")));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let signalled_at = Instant::now();
    signal.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let during = reqwest::get(url("/health")).await.unwrap();
    assert_eq!(during.status(), 503);
    assert_eq!(during.text().await.unwrap(), r#"{"error":"draining"}"#);
    assert!(service.is_draining());

    let slow = slow.await.unwrap().unwrap();
    assert_eq!(slow.status(), 200);
    assert_eq!(slow.text().await.unwrap(), "done");
    server.await.unwrap().unwrap();
    assert!(
        signalled_at.elapsed() >= drain,
        "stopped only after the drain"
    );
    assert!(
        reqwest::get(url("/health")).await.is_err(),
        "listener closed"
    );
}
