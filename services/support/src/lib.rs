//! Plumbing shared by every Bookinfo service: configuration helpers, telemetry,
//! the forwarded-header list, and `serve()` with the standard layers, `/metrics`,
//! JSON error bodies, graceful shutdown, and the health check of the images. It knows no service's routes.

pub mod config;
pub mod health;
pub mod http;
pub mod launch;
pub mod metrics;
pub mod propagation;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
