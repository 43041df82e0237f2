//! Serving a Bookinfo service: the standard layers every service gets
//! (request id, trace span with the caller's context, timeout, body limit,
//! metrics, `x-bookinfo-version`, JSON error bodies, readiness that fails
//! while draining), `/metrics`, and graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_http::HeaderExtractor;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tower::{Layer, ServiceExt};
use tracing::Instrument;
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

    /// Adds `/metrics` to a service's routes and puts them inside the
    /// standard layers.
    pub fn router(&self, routes: Router) -> Standard {
        let routes = routes
            .route(
                "/metrics",
                get(metrics::handler).with_state(self.metrics.clone()),
            )
            // The one layer each route gets: only inside the router is the
            // matched route pattern known, which labels the metrics.
            .layer(metrics::RecordLayer::new(self.metrics.clone()));
        Standard {
            routes: DefaultBodyLimit::max(BODY_LIMIT).layer(routes),
            service: self.clone(),
        }
    }

    /// Serves until `shutdown` resolves, then fails `/health` for `drain`
    /// while still answering, then stops accepting and lets in-flight
    /// requests finish.
    pub async fn serve(
        &self,
        listener: TcpListener,
        app: Standard,
        shutdown: impl Future<Output = ()> + Send + 'static,
        drain: Duration,
    ) -> std::io::Result<()> {
        let draining = self.draining.clone();
        bookinfo_server::serve(listener, app, async move {
            shutdown.await;
            draining.store(true, Ordering::Relaxed);
            tracing::info!(?drain, "shutting down: draining");
            tokio::time::sleep(drain).await;
        })
        .await
    }
}

/// A service's routes inside the standard layers, written as one service
/// around the whole router: an axum layer added to a router wraps every
/// route separately, and each such layer clones a boxed service and boxes
/// a future on every request. Here a request costs one boxed future.
#[derive(Clone)]
pub struct Standard {
    routes: <DefaultBodyLimit as Layer<Router>>::Service,
    service: Service,
}

impl tower::Service<Request> for Standard {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // A router is always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let standard = self.clone();
        Box::pin(async move { Ok(standard.respond(request).await) })
    }
}

impl Standard {
    /// In order: the request id (the caller's, or a new one), the checks
    /// before any handler, the handler within its trace span (or, when no
    /// span is exported, with the request id for its log lines) and its
    /// timeout, then the version header, JSON error bodies and the request
    /// id on the response.
    async fn respond(self, mut request: Request) -> Response {
        let id = request_id(&mut request);
        let response = match self.refusal(&request) {
            Some(refused) => refused,
            None => {
                let span = crate::telemetry::exporting().then(|| server_span(&request));
                let handler = tokio::time::timeout(REQUEST_TIMEOUT, self.routes.oneshot(request));
                let handling = match span {
                    Some(span) => handler.instrument(span).await,
                    None => crate::telemetry::with_request_id(id.clone(), handler).await,
                };
                match handling {
                    Ok(Ok(response)) => response,
                    // The handler ran for REQUEST_TIMEOUT; dropping it ends it.
                    Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
                }
            }
        };
        let mut response = finish_response(response, &self.service.version);
        response.headers_mut().entry(REQUEST_ID).or_insert(id);
        response
    }

    /// Headers above [`HEADER_LIMIT`] are refused (431), and `/health`
    /// fails while draining (503). Neither is counted in the metrics.
    fn refusal(&self, request: &Request) -> Option<Response> {
        let size: usize = request
            .headers()
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len())
            .sum();
        if size > HEADER_LIMIT {
            return Some(json_error(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "request header fields too large",
            ));
        }
        if self.service.is_draining()
            && request.method() == Method::GET
            && request.uri().path() == "/health"
        {
            return Some(json_error(StatusCode::SERVICE_UNAVAILABLE, "draining"));
        }
        None
    }
}

/// The caller's `x-request-id`, or a new UUID (v4) put on the request, so
/// that the calls the handler makes forward it.
fn request_id(request: &mut Request) -> HeaderValue {
    if let Some(id) = request.headers().get(&REQUEST_ID) {
        return id.clone();
    }
    let mut text = uuid::Uuid::encode_buffer();
    let text = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut text);
    let id = HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""));
    request.headers_mut().insert(REQUEST_ID, id.clone());
    id
}

/// The request's span, when spans are exported. At ERROR level, so that
/// whatever the log filter lets through is shown within it, with its trace
/// and span ids (a span prints nothing by itself).
fn server_span(request: &Request) -> tracing::Span {
    let span = tracing::error_span!(
        "request",
        otel.name = %format_args!("{} {}", request.method(), request.uri().path()),
        otel.kind = "server",
        http.method = %request.method(),
        http.target = %request.uri().path(),
        request_id = request
            .headers()
            .get(&REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(""),
        trace_id = tracing::field::Empty,
        span_id = tracing::field::Empty,
    );
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

/// Stamps the version header and gives every error that axum or a layer
/// produced (404 fallback, 405, 413, extractor rejections, timeout: no body or
/// a plain-text one that may name internals) a short JSON body instead,
/// keeping headers such as `Allow`. Handlers' own error bodies (JSON, HTML)
/// are left alone.
fn finish_response(mut response: Response, version: &HeaderValue) -> Response {
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
    response
        .headers_mut()
        .insert(VERSION_HEADER, version.clone());
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
