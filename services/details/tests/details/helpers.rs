use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use bookinfo_details::AppState;
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

pub async fn details(state: AppState) -> Running {
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

pub async fn send(method: reqwest::Method, url: &str) -> (u16, String, reqwest::header::HeaderMap) {
    let response = reqwest::Client::new()
        .request(method, url)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, response.text().await.unwrap(), headers)
}

pub async fn get(url: &str) -> (u16, String, reqwest::header::HeaderMap) {
    send(reqwest::Method::GET, url).await
}
