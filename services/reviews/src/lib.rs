//! reviews: the two reviews of a product. One program;
//! v1 (no ratings), v2 (black stars) and v3 (red stars) differ only by
//! configuration. The JSON is built by hand to match upstream byte for byte.

mod body;
mod config;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use bookinfo_api::Backend;
use bookinfo_api::ratings::{ProductRatings, RatingsClient};
use bookinfo_support::config::{ListenArgs, backend_url};
use bookinfo_support::http::{Service, json_error};
use bookinfo_support::launch::Program;
use bookinfo_support::propagation::Forwarded;
use bookinfo_support::telemetry::TelemetryArgs;

pub use body::{REVIEWERS, render};
pub use config::Config;

/// Upstream keys the ratings timeout on the colour, not the version.
pub const BLACK_TIMEOUT: Duration = Duration::from_millis(10_000);
pub const OTHER_TIMEOUT: Duration = Duration::from_millis(2_500);

pub fn ratings_timeout(star_color: &str) -> Duration {
    if star_color == "black" {
        BLACK_TIMEOUT
    } else {
        OTHER_TIMEOUT
    }
}

#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    service: Service,
    ratings: Option<RatingsClient>,
    star_color: String,
    podname: String,
    clustername: String,
    rehearsal: Rehearsal,
}

/// A bad canary on purpose (`FAIL_SHARE`, `EXTRA_DELAY_MS`): what a
/// rollout rehearsal, and a test of one, injects.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rehearsal {
    /// The share of `/reviews` requests answered 503.
    pub fail_share: f64,
    /// Added to every `/reviews` answer.
    pub extra_delay: Duration,
}

impl AppState {
    /// `ratings` is `None` for v1 (ratings disabled).
    pub fn new(
        version: &str,
        ratings: Option<Backend>,
        star_color: &str,
        podname: &str,
        clustername: &str,
        rehearsal: Rehearsal,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                service: Service::new(&format!("reviews-{version}"), Default::default()),
                ratings: ratings.map(RatingsClient::new),
                star_color: star_color.to_owned(),
                podname: podname.to_owned(),
                clustername: clustername.to_owned(),
                rehearsal,
            }),
        }
    }

    pub fn from_config(config: &Config) -> Result<Self, String> {
        let ratings = config.ratings_enabled().then(|| {
            Backend::new(
                backend_url(
                    &config.ratings_hostname,
                    config.services_domain.as_deref(),
                    config.ratings_service_port,
                ),
                ratings_timeout(&config.star_color),
            )
        });
        let ratings = ratings.transpose().map_err(|e| e.to_string())?;
        Ok(Self::new(
            &config.version(),
            ratings,
            &config.star_color,
            config.hostname.as_deref().unwrap_or("null"),
            config.cluster_name.as_deref().unwrap_or("null"),
            Rehearsal {
                fail_share: config.fail_share,
                extra_delay: Duration::from_millis(config.extra_delay_ms),
            },
        ))
    }
}

impl Program for AppState {
    const NAME: &'static str = "reviews";
    type Config = Config;

    fn listen(config: &Config) -> &ListenArgs {
        &config.listen
    }

    fn version(config: &Config) -> String {
        config.version()
    }

    fn telemetry(config: &Config) -> &TelemetryArgs {
        &config.telemetry
    }

    fn from_config(config: &Config) -> Result<Self, String> {
        Self::from_config(config)
    }

    fn service(&self) -> &Service {
        &self.inner.service
    }

    fn routes(self) -> Router {
        Router::new()
            .route("/health", get(health))
            .route("/reviews/{id}", get(reviews))
            .with_state(self)
    }
}

fn json(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn health() -> Response {
    json(r#"{"status": "Reviews is healthy"}"#.to_owned())
}

/// JAX-RS binds the id to a Java `int`: sign and digits, nothing else, and
/// it must fit 32 bits; otherwise the route does not match (404).
fn java_int(text: &str) -> Option<i32> {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

async fn reviews(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Forwarded(headers): Forwarded,
) -> Response {
    let Some(id) = java_int(&id) else {
        return json_error(StatusCode::NOT_FOUND, "product id must be a 32-bit integer");
    };
    let inner = &state.inner;
    let rehearsal = inner.rehearsal;
    if !rehearsal.extra_delay.is_zero() {
        tokio::time::sleep(rehearsal.extra_delay).await;
    }
    if rehearsal.fail_share > 0.0 && rand::random::<f64>() < rehearsal.fail_share {
        return json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "rehearsed failure (FAIL_SHARE)",
        );
    }
    let ratings: Option<Option<ProductRatings>> = match &inner.ratings {
        None => None,
        Some(client) => Some(match client.get(i64::from(id), headers).await {
            Ok(ratings) => Some(ratings),
            Err(error) => {
                tracing::warn!(%error, "ratings unavailable");
                None
            }
        }),
    };
    json(render(
        id,
        &inner.podname,
        &inner.clustername,
        &inner.star_color,
        ratings.as_ref().map(Option::as_ref),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_bind_like_a_java_int() {
        assert_eq!(java_int("0"), Some(0));
        assert_eq!(java_int("007"), Some(7));
        assert_eq!(java_int("-12"), Some(-12));
        assert_eq!(java_int("+3"), Some(3));
        assert_eq!(java_int("2147483647"), Some(i32::MAX));
        for bad in ["", "-", "abc", "1.5", "2147483648", " 1", "1 ", "0x10"] {
            assert_eq!(java_int(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_timeout_follows_the_colour() {
        assert_eq!(ratings_timeout("black"), BLACK_TIMEOUT);
        assert_eq!(ratings_timeout("red"), OTHER_TIMEOUT);
        assert_eq!(ratings_timeout("Black"), OTHER_TIMEOUT);
    }
}
