//! productpage: the Bookinfo front end. Our own HTML
//! page with the markers clients grep for, the JSON API that proxies
//! details, reviews and ratings, login with a signed session cookie, and
//! the upstream call policy (details once, reviews twice, 3 s each) with
//! productpage's header forwarding.

mod assets;
mod backends;
pub mod config;
mod error;
pub mod forwarding;
mod login;
mod pages;
mod pyjson;
mod routes;
pub mod session;

use bookinfo_api::BuildError;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use bookinfo_support::config::ListenArgs;
use bookinfo_support::http::Service;
use bookinfo_support::launch::Program;
use bookinfo_support::telemetry::TelemetryArgs;
use prometheus_client::registry::Registry;

pub use backends::{Backends, Destination};
pub use config::{CALL_TIMEOUT, Config, Markers, VERSION_LABEL};
pub use error::Error;
pub use session::SessionKey;

/// What [`AppState::new`] needs. [`Settings::from_config`] fills it from the
/// command line and environment; tests and the in-process launcher may
/// adjust fields (e.g. a shorter `call_timeout`) before building the state.
#[derive(Debug, Clone)]
pub struct Settings {
    pub details_url: String,
    pub reviews_url: String,
    pub ratings_url: String,
    /// Bound of each outbound attempt (upstream: 3 s).
    pub call_timeout: Duration,
    pub flood_factor: u16,
    pub markers: Markers,
    /// Signs session cookies; `None` draws a random key for this process.
    pub session_secret: Option<String>,
}

impl Settings {
    pub fn from_config(config: &Config) -> Self {
        Self {
            details_url: config.details_url(),
            reviews_url: config.reviews_url(),
            ratings_url: config.ratings_url(),
            call_timeout: CALL_TIMEOUT,
            flood_factor: config.flood_factor,
            markers: config.ui_markers,
            session_secret: config.session_secret.clone().filter(|s| !s.is_empty()),
        }
    }
}

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    service: Service,
    backends: Backends,
    flood_factor: u16,
    markers: Markers,
    sessions: SessionKey,
}

impl AppState {
    pub fn new(settings: Settings) -> Result<Self, BuildError> {
        let mut registry = Registry::default();
        // `request_result` first, as upstream's registry has it.
        let backends = Backends::new(
            &settings.details_url,
            &settings.reviews_url,
            &settings.ratings_url,
            settings.call_timeout,
            &mut registry,
        )?;
        // Upstream's key by default, so replicas and upstream pods share
        // sessions with no configuration.
        let sessions = settings
            .session_secret
            .as_ref()
            .map_or_else(SessionKey::default, |secret| {
                SessionKey::new(secret.as_bytes())
            });
        Ok(Self {
            inner: Arc::new(Inner {
                service: Service::new(VERSION_LABEL, registry),
                backends,
                flood_factor: settings.flood_factor,
                markers: settings.markers,
                sessions,
            }),
        })
    }

    pub fn backends(&self) -> &Backends {
        &self.inner.backends
    }

    pub fn markers(&self) -> Markers {
        self.inner.markers
    }

    pub fn flood_factor(&self) -> u16 {
        self.inner.flood_factor
    }

    pub fn sessions(&self) -> &SessionKey {
        &self.inner.sessions
    }
}

impl Program for AppState {
    const NAME: &'static str = "productpage";
    type Config = Config;

    fn listen(config: &Config) -> &ListenArgs {
        &config.listen
    }

    fn version(_: &Config) -> String {
        "v1".into()
    }

    fn telemetry(config: &Config) -> &TelemetryArgs {
        &config.telemetry
    }

    fn from_config(config: &Config) -> Result<Self, String> {
        Self::new(Settings::from_config(config)).map_err(|e| e.to_string())
    }

    fn service(&self) -> &Service {
        &self.inner.service
    }

    fn routes(self) -> Router {
        routes::routes(self)
    }
}
