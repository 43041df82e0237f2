//! The plane's spans, as a sidecar pair's: for each routed request a client
//! span (the caller's sidecar, kind CLIENT) as a child of the context the
//! request came with (W3C `traceparent` or B3), and under it a server span
//! (the callee's sidecar, kind SERVER), whose context goes on to the
//! instance in both formats, replacing what came in, so the service's own
//! span is its child. Spans are named as Envoy names Istio's
//! (`reviews.default.svc.cluster.local:9080/*`) and carry the upstream
//! cluster (the subset chosen), the route taken, the status and Envoy's
//! response flags. The SDK's sampler decides: an incoming not-sampled
//! decision is followed, and passed on. Only when the process exports
//! spans (`Plane::trace`).

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::{Span, SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue, global};

/// The port every Bookinfo service listens on, as the cluster names carry it.
const SERVICE_PORT: u16 = 9080;

struct Incoming<'a>(&'a HeaderMap);

impl Extractor for Incoming<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

struct Outgoing<'a>(&'a mut HeaderMap);

impl Injector for Outgoing<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// The trace headers of both formats, removed before the hop's own are
/// written (a not-sampled hop writes B3 without every field it read).
const TRACE_HEADERS: [&str; 6] = [
    "traceparent",
    "tracestate",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
];

/// One routed request's two spans.
pub(crate) struct Hop {
    client: Context,
    server: Context,
}

fn fqdn(host: &str) -> String {
    format!("{host}.default.svc.cluster.local")
}

impl Hop {
    /// Starts the spans of a request for `host` from `source` (a workload
    /// name, `unknown` for a client outside).
    pub(crate) fn start(
        tracer: &global::BoxedTracer,
        incoming: &HeaderMap,
        host: &str,
        source: &str,
    ) -> Self {
        let parent = global::get_text_map_propagator(|p| p.extract(&Incoming(incoming)));
        let name = format!("{}:{SERVICE_PORT}/*", fqdn(host));
        // Attributes only on spans that will be exported: a request the
        // sampler dropped costs two bare spans and its propagation.
        let mut client = tracer
            .span_builder(name.clone())
            .with_kind(SpanKind::Client)
            .start_with_context(tracer, &parent);
        if client.is_recording() {
            client.set_attribute(KeyValue::new("component", "proxy"));
            client.set_attribute(KeyValue::new("istio.canonical_service", source.to_owned()));
        }
        let client = parent.with_span(client);
        let mut server = tracer
            .span_builder(name)
            .with_kind(SpanKind::Server)
            .start_with_context(tracer, &client);
        if server.is_recording() {
            server.set_attribute(KeyValue::new("component", "proxy"));
            server.set_attribute(KeyValue::new("istio.canonical_service", host.to_owned()));
            server.set_attribute(KeyValue::new(
                "upstream_cluster",
                format!("inbound|{SERVICE_PORT}||"),
            ));
        }
        let server = client.with_span(server);
        Self { client, server }
    }

    /// Writes the server span's context into the request to the instance.
    pub(crate) fn inject(&self, headers: &mut HeaderMap) {
        for name in TRACE_HEADERS {
            headers.remove(name);
        }
        global::get_text_map_propagator(|p| p.inject_context(&self.server, &mut Outgoing(headers)));
    }

    /// Ends both spans with what routing came to: the subset chosen
    /// (`None`: no instance), the route, the status and the flags.
    pub(crate) fn end(
        self,
        host: &str,
        subset: Option<&str>,
        route: Option<&str>,
        status: u16,
        flags: &str,
    ) {
        for (context, side) in [(&self.server, "server"), (&self.client, "client")] {
            let span = context.span();
            if span.is_recording() {
                span.set_attribute(KeyValue::new("http.status_code", i64::from(status)));
                span.set_attribute(KeyValue::new("response_flags", flags.to_owned()));
                if side == "client" {
                    let cluster = format!(
                        "outbound|{SERVICE_PORT}|{}|{}",
                        subset.unwrap_or(""),
                        fqdn(host)
                    );
                    span.set_attribute(KeyValue::new("upstream_cluster", cluster));
                    if let Some(route) = route {
                        span.set_attribute(KeyValue::new("route_name", route.to_owned()));
                    }
                }
                if status >= 500 {
                    span.set_status(Status::error(format!("{status}")));
                }
            }
            span.end();
        }
    }
}
