use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bookinfo_ratings::{AppState, Chance, Clock, Mode, StateBuilder};
use bookinfo_support::launch::run;
use tokio::sync::oneshot;

/// A ratings server on 127.0.0.1:0, stopped when dropped.
pub struct Server {
    pub addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

impl Server {
    pub async fn start(state: AppState) -> Self {
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
        Self { addr, _stop: stop }
    }

    pub async fn mode(mode: &str) -> Self {
        Self::start(StateBuilder::new(Mode::from_service_version(mode)).build()).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

pub async fn get(url: &str) -> (u16, String, reqwest::header::HeaderMap) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, response.text().await.unwrap(), headers)
}

pub async fn post(url: &str, body: impl Into<reqwest::Body>) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(url)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// Rolls taken from a script, so a test decides each draw.
pub struct ScriptedChance(pub Mutex<Vec<f64>>);

impl Chance for ScriptedChance {
    fn roll(&self) -> f64 {
        self.0.lock().unwrap().remove(0)
    }
}

/// A clock a test moves by hand (milliseconds since start).
#[derive(Default)]
pub struct ManualClock(pub AtomicU64);

impl ManualClock {
    pub fn set(&self, elapsed: Duration) {
        self.0.store(elapsed.as_millis() as u64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn elapsed(&self) -> Duration {
        Duration::from_millis(self.0.load(Ordering::SeqCst))
    }
}
