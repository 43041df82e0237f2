use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bookinfo_ratings::{AppState, Chance, Clock, Mode, StateBuilder};

pub(crate) use bookinfo_support::testing::Running as Server;

pub(crate) async fn start(state: AppState) -> Server {
    bookinfo_support::testing::start(state).await
}

pub(crate) async fn mode(mode: &str) -> Server {
    start(StateBuilder::new(Mode::from_service_version(mode)).build()).await
}

pub(crate) async fn get(url: &str) -> (u16, String, reqwest::header::HeaderMap) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, response.text().await.unwrap(), headers)
}

pub(crate) async fn post(url: &str, body: impl Into<reqwest::Body>) -> (u16, String) {
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
pub(crate) struct ScriptedChance(pub Mutex<Vec<f64>>);

impl Chance for ScriptedChance {
    fn roll(&self) -> f64 {
        self.0.lock().unwrap().remove(0)
    }
}

/// A clock a test moves by hand (milliseconds since start).
#[derive(Default)]
pub(crate) struct ManualClock(pub AtomicU64);

impl ManualClock {
    pub(crate) fn set(&self, elapsed: Duration) {
        self.0.store(elapsed.as_millis() as u64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn elapsed(&self) -> Duration {
        Duration::from_millis(self.0.load(Ordering::SeqCst))
    }
}
