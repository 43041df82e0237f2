//! Plumbing shared by every Bookinfo service: configuration helpers, telemetry,
//! the forwarded-header list, and `serve()` with the standard layers, `/metrics`,
//! JSON error bodies and graceful shutdown. It knows no service's routes.

pub mod config;
pub mod http;
pub mod launch;
pub mod metrics;
pub mod propagation;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
