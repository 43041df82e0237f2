//! Serving a Bookinfo service: the standard layers every service gets
//! (request id, trace span with the caller's context, timeout, body limit,
//! metrics, `x-bookinfo-version`, JSON error bodies, readiness that fails
//! while draining), `/metrics`, and graceful shutdown.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_http::HeaderExtractor;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::metrics::{self, Metrics};

const VERSION_HEADER: HeaderName = HeaderName::from_static(bookinfo_api::contract::VERSION_HEADER);
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest a handler may run. Above every timeout of the contract (reviews
/// waits up to 10 s for ratings, ratings may delay 7 s) so it only catches
/// what is truly stuck.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Bookinfo bodies are tiny; anything larger is refused with 413.
pub const BODY_LIMIT: usize = 64 * 1024;
/// Total size of the request headers we accept (431 above). hyper refuses
/// far larger heads on its own, with an empty 431.
pub const HEADER_LIMIT: usize = 32 * 1024;

/// A JSON error response: the client gets a short fixed message, never a cause.
pub fn json_error(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "error": message }).to_string();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// What one service instance shares between its layers and its server loop.
#[derive(Clone)]
pub struct Service {
    version: HeaderValue,
    metrics: Metrics,
    draining: Arc<AtomicBool>,
}

impl Service {
    /// `version` is what `x-bookinfo-version` says, e.g. `reviews-v2`.
    /// `registry` may already hold the service's own metrics.
    pub fn new(version: &str, registry: Registry) -> Self {
        Self {
            version: HeaderValue::from_str(version)
                .unwrap_or_else(|_| HeaderValue::from_static("unknown")),
            metrics: Metrics::new(registry),
            draining: Arc::new(AtomicBool::new(false)),
        }
    }

    pub fn version(&self) -> &str {
        self.version.to_str().unwrap_or("unknown")
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// Adds `/metrics` and the standard layers to a service's routes.
    pub fn router(&self, routes: Router) -> Router {
        let version = self.version.clone();
        let draining = self.draining.clone();
        routes
            .route(
                "/metrics",
                get(metrics::handler).with_state(self.metrics.clone()),
            )
            .layer(DefaultBodyLimit::max(BODY_LIMIT))
            .layer(middleware::from_fn_with_state(
                Admission {
                    metrics: self.metrics.clone(),
                    draining,
                },
                admit_and_count,
            ))
            .layer(TimeoutLayer::with_status_code(
                StatusCode::SERVICE_UNAVAILABLE,
                REQUEST_TIMEOUT,
            ))
            .layer(TraceLayer::new_for_http().make_span_with(server_span))
            .layer(middleware::map_response(move |response: Response| {
                let version = version.clone();
                async move { finish_response(response, version) }
            }))
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
    }

    /// Serves until `shutdown` resolves, then fails `/health` for `drain`
    /// while still answering, then stops accepting and lets in-flight
    /// requests finish.
    pub async fn serve(
        &self,
        listener: TcpListener,
        router: Router,
        shutdown: impl Future<Output = ()> + Send + 'static,
        drain: Duration,
    ) -> std::io::Result<()> {
        let draining = self.draining.clone();
        bookinfo_server::serve(listener, router, async move {
            shutdown.await;
            draining.store(true, Ordering::Relaxed);
            tracing::info!(?drain, "shutting down: draining");
            tokio::time::sleep(drain).await;
        })
        .await
    }
}

/// The request's span, with the same fields at either level.
macro_rules! request_span {
    ($make:ident, $request:expr) => {
        tracing::$make!(
            "request",
            otel.name = %format_args!("{} {}", $request.method(), $request.uri().path()),
            otel.kind = "server",
            http.method = %$request.method(),
            http.target = %$request.uri().path(),
            request_id = $request
                .headers()
                .get(&REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or(""),
            trace_id = tracing::field::Empty,
            span_id = tracing::field::Empty,
        )
    };
}

fn server_span(request: &Request) -> tracing::Span {
    if !crate::telemetry::exporting() {
        // At INFO: under a quieter filter it is not even made.
        return request_span!(info_span, request);
    }
    // Exported: at ERROR level, so that whatever the log filter lets
    // through is shown within it, with its trace and span ids (a span
    // prints nothing by itself).
    let span = request_span!(error_span, request);
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(request.headers()))
    });
    let _ = span.set_parent(parent);
    // Every log line of the request names its span, so logs and traces
    // join (the fields are the span's, shown with each event).
    let context = span.context();
    let ids = context.span().span_context().clone();
    // Only for a sampled trace: other ids would name spans nobody sees.
    if ids.is_valid() && ids.is_sampled() {
        span.record("trace_id", ids.trace_id().to_string());
        span.record("span_id", ids.span_id().to_string());
    }
    span
}

/// What the admission layer needs.
#[derive(Clone)]
struct Admission {
    metrics: Metrics,
    draining: Arc<AtomicBool>,
}

/// The checks before a handler and the count after it, in one layer (each
/// layer of a route clones the boxed service inside it on every request):
/// headers above [`HEADER_LIMIT`] refused (431), `/health` failed while
/// draining (503), then the request counted in the metrics.
async fn admit_and_count(
    State(admission): State<Admission>,
    request: Request,
    next: Next,
) -> Response {
    let size: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if size > HEADER_LIMIT {
        return json_error(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "request header fields too large",
        );
    }
    if admission.draining.load(Ordering::Relaxed)
        && request.method() == Method::GET
        && request.uri().path() == "/health"
    {
        return json_error(StatusCode::SERVICE_UNAVAILABLE, "draining");
    }
    metrics::record(&admission.metrics, request, next).await
}

/// Stamps the version header and gives every error that axum or a layer
/// produced (404 fallback, 405, 413, extractor rejections, timeout: no body or
/// a plain-text one that may name internals) a short JSON body instead,
/// keeping headers such as `Allow`. Handlers' own error bodies (JSON, HTML)
/// are left alone.
fn finish_response(mut response: Response, version: HeaderValue) -> Response {
    let status = response.status();
    let generic_body = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_none_or(|t| t.as_bytes().starts_with(b"text/plain"));
    if (status.is_client_error() || status.is_server_error()) && generic_body {
        let message = status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase();
        let mut replaced = json_error(status, &message);
        for (name, value) in response.headers() {
            if name != header::CONTENT_LENGTH && name != header::CONTENT_TYPE {
                replaced.headers_mut().append(name, value.clone());
            }
        }
        response = replaced;
    }
    response.headers_mut().insert(VERSION_HEADER, version);
    response
}

/// Resolves on Ctrl-C or SIGTERM. The handlers are installed when this is
/// called, not when the future is first polled, so a signal that arrives
/// right after start-up (a test, an orchestrator) is not lost to the
/// default action.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send {
    use tokio::signal::unix::{SignalKind, signal};
    let interrupt = signal(SignalKind::interrupt()).ok();
    let terminate = signal(SignalKind::terminate()).ok();
    async move {
        let wait = |signal: Option<tokio::signal::unix::Signal>| async move {
            match signal {
                Some(mut signal) => {
                    signal.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = wait(interrupt) => {},
            () = wait(terminate) => {},
        }
    }
}
