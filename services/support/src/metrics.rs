//! Prometheus metrics common to every service: requests by route and status,
//! and a latency histogram by route. Services may register their own metrics
//! in the same registry before serving (productpage does).

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, LazyLock, OnceLock, PoisonError, RwLock};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use pin_project_lite::pin_project;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tower::{Layer, Service};

/// The content type of what `prometheus_client` encodes (OpenMetrics text),
/// which Prometheus scrapes natively.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

// Labels are `&'static str`s so that counting a request allocates nothing:
// the methods are constants, the routes interned (see `route_label`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
}

type LatencyFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.25 ms .. ~8 s: covers in-process answers and the 7 s ratings delay.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

/// The registry a service serves at `/metrics`, with the HTTP metrics in it.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: LatencyFamily,
}

impl Metrics {
    /// Takes the service's registry (with its own metrics already registered)
    /// and adds the HTTP request metrics.
    pub fn new(mut registry: Registry) -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: LatencyFamily = Family::new_with_constructor(latency_histogram);
        registry.register(
            "http_requests",
            "HTTP requests served, by route pattern, method and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to produce the response head, by route pattern",
            latency.clone(),
        );
        Self(Arc::new(Inner {
            registry,
            requests,
            latency,
        }))
    }

    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.0.registry);
        text
    }

    fn latency(&self, route: &'static str) -> Histogram {
        self.0.latency.get_or_create(&RouteLabels { route }).clone()
    }

    fn requests(&self, labels: &RequestLabels) -> Counter {
        self.0.requests.get_or_create(labels).clone()
    }
}

/// The most (method, status) series one route keeps at hand; past it, a
/// request is counted through the family's lookup. Far above what a route
/// answers (a few methods, a few statuses), it only bounds the list.
const SERIES_PER_ROUTE: usize = 32;

/// One route's series, kept at hand so that counting a request is an
/// atomic add rather than two hashed lookups in the families. The series
/// are the families' own (a handle is a shared counter).
struct RouteSeries {
    metrics: Metrics,
    latency: OnceLock<(&'static str, Histogram)>,
    requests: RwLock<Vec<(RequestLabels, Counter)>>,
}

impl RouteSeries {
    /// The route's label: the one at hand when the pattern is the same.
    fn route(&self, matched: Option<&MatchedPath>) -> &'static str {
        let pattern = matched.map_or(UNMATCHED, MatchedPath::as_str);
        match self.latency.get() {
            Some((label, _)) if *label == pattern => label,
            _ => route_label(pattern),
        }
    }

    fn record(&self, labels: RequestLabels, seconds: f64) {
        let (route, latency) = self
            .latency
            .get_or_init(|| (labels.route, self.metrics.latency(labels.route)));
        if *route == labels.route {
            latency.observe(seconds);
        } else {
            self.metrics.latency(labels.route).observe(seconds);
        }
        let known = self.requests.read().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, counter)) = known.iter().find(|(seen, _)| *seen == labels) {
            counter.inc();
            return;
        }
        drop(known);
        let counter = self.metrics.requests(&labels);
        counter.inc();
        let mut known = self
            .requests
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if known.len() < SERIES_PER_ROUTE && !known.iter().any(|(seen, _)| *seen == labels) {
            known.push((labels, counter));
        }
    }
}

/// The methods of RFC 9110 and PATCH; any other token a client sends is
/// counted as `_OTHER`, as OpenTelemetry's HTTP conventions do, because
/// hyper accepts any token as a method and each would be a new series.
const KNOWN_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

fn method_label(method: &str) -> &'static str {
    KNOWN_METHODS
        .iter()
        .find(|known| **known == method)
        .copied()
        .unwrap_or("_OTHER")
}

/// The route label of requests no route matched (the router's fallback).
const UNMATCHED: &str = "unmatched";

/// Route patterns as `'static` labels, each leaked once per process. The
/// set is bounded by the routes the program's code declares: what is
/// interned is the matched pattern (`/ratings/{*rest}`), never a path a
/// client sent.
fn route_label(route: &str) -> &'static str {
    static ROUTES: LazyLock<RwLock<HashSet<&'static str>>> = LazyLock::new(Default::default);
    if route == UNMATCHED {
        return UNMATCHED;
    }
    // A poisoned lock still holds a valid set (inserts cannot half-happen).
    if let Some(label) = ROUTES
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(route)
    {
        return label;
    }
    let mut routes = ROUTES.write().unwrap_or_else(PoisonError::into_inner);
    if let Some(label) = routes.get(route) {
        return label;
    }
    let label: &'static str = Box::leak(route.into());
    routes.insert(label);
    label
}

/// Counts every request of the routes it wraps (and of the router's
/// fallback, as `unmatched`). Every label has a bounded set of values: the
/// route is the matched pattern, never the raw path; the method one of
/// [`KNOWN_METHODS`] or `_OTHER`; the status what the service answered.
#[derive(Clone)]
pub struct RecordLayer(Metrics);

impl RecordLayer {
    pub fn new(metrics: Metrics) -> Self {
        Self(metrics)
    }
}

impl<S> Layer<S> for RecordLayer {
    type Service = Record<S>;

    fn layer(&self, inner: S) -> Record<S> {
        Record {
            inner,
            series: Arc::new(RouteSeries {
                metrics: self.0.clone(),
                latency: OnceLock::new(),
                requests: RwLock::new(Vec::new()),
            }),
        }
    }
}

/// See [`RecordLayer`].
#[derive(Clone)]
pub struct Record<S> {
    inner: S,
    series: Arc<RouteSeries>,
}

impl<S> Service<Request> for Record<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Recorded<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        Recorded {
            route: self.series.route(request.extensions().get::<MatchedPath>()),
            method: method_label(request.method().as_str()),
            started: Instant::now(),
            series: self.series.clone(),
            inner: self.inner.call(request),
        }
    }
}

pin_project! {
    /// A handler's answer, counted when it is ready.
    pub struct Recorded<F> {
        #[pin]
        inner: F,
        route: &'static str,
        method: &'static str,
        started: Instant,
        series: Arc<RouteSeries>,
    }
}

impl<F, E> Future for Recorded<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let answered = std::task::ready!(this.inner.poll(cx));
        if let Ok(response) = &answered {
            let labels = RequestLabels {
                route: this.route,
                method: this.method,
                status: response.status().as_u16(),
            };
            this.series
                .record(labels, this.started.elapsed().as_secs_f64());
        }
        Poll::Ready(answered)
    }
}

pub async fn handler(State(metrics): State<Metrics>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        metrics.encode(),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn series_at_hand_count_as_the_families_do_past_the_bound() {
        let metrics = Metrics::new(Registry::default());
        let series = RouteSeries {
            metrics: metrics.clone(),
            latency: OnceLock::new(),
            requests: RwLock::new(Vec::new()),
        };
        let statuses = 200..200 + SERIES_PER_ROUTE as u16 + 8;
        for _ in 0..3 {
            for status in statuses.clone() {
                let route = series.route(None);
                series.record(
                    RequestLabels {
                        route,
                        method: "GET",
                        status,
                    },
                    0.001,
                );
            }
        }
        let text = metrics.encode();
        for status in statuses.clone() {
            let line = format!(
                "http_requests_total{{route=\"unmatched\",method=\"GET\",status=\"{status}\"}} 3"
            );
            assert!(text.contains(&line), "{line} in\n{text}");
        }
        let observed = 3 * statuses.len();
        let count =
            format!("http_request_duration_seconds_count{{route=\"unmatched\"}} {observed}");
        assert!(text.contains(&count), "{count} in\n{text}");
        assert_eq!(series.requests.read().unwrap().len(), SERIES_PER_ROUTE);
    }

    #[test]
    fn invented_methods_share_one_label() {
        assert_eq!(method_label("GET"), "GET");
        assert_eq!(method_label("PATCH"), "PATCH");
        assert_eq!(method_label("M123"), "_OTHER");
        assert_eq!(method_label("get"), "_OTHER", "methods are case-sensitive");
    }
}
