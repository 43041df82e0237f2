//! Step 5 of the demo: one request's trace, received over real OTLP from
//! the running processes. A small OTLP/HTTP receiver on loopback (protobuf
//! bodies at `/v1/traces`, as collectors take them) keeps the spans it is
//! sent, bounded; the trace of one request is then printed as a tree of
//! service (instance), operation and duration.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message;

/// Spans kept at most: a demo's requests make a few thousand; the oldest
/// go first beyond it.
const MAX_SPANS: usize = 50_000;
/// The largest export accepted (the SDK's batches are 512 spans, a few
/// hundred kB).
const MAX_EXPORT: usize = 8 << 20;

/// A span as the tree shows it.
#[derive(Debug, Clone)]
pub(crate) struct Span {
    service: String,
    instance: String,
    name: String,
    kind: i32,
    trace: Vec<u8>,
    id: Vec<u8>,
    parent: Vec<u8>,
    duration: Duration,
}

impl Span {
    pub(crate) fn is_service(&self, name: &str) -> bool {
        self.service == name
    }
}

/// The spans received so far.
#[derive(Clone, Default)]
pub(crate) struct Receiver(Arc<Mutex<Vec<Span>>>);

fn text(value: Option<&Value>) -> String {
    match value {
        Some(Value::StringValue(s)) => s.clone(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

impl Receiver {
    /// Listens on `127.0.0.1:0`; the address to export to.
    pub(crate) async fn start() -> Result<(Self, SocketAddr), String> {
        let receiver = Self::default();
        let sink = receiver.clone();
        let app = axum::Router::new()
            .route(
                "/v1/traces",
                axum::routing::post(move |body: Bytes| {
                    let sink = sink.clone();
                    async move {
                        match ExportTraceServiceRequest::decode(body) {
                            Ok(request) => {
                                sink.keep(&request);
                                (axum::http::StatusCode::OK, Vec::new())
                            }
                            Err(_) => (axum::http::StatusCode::BAD_REQUEST, Vec::new()),
                        }
                    }
                }),
            )
            .layer(DefaultBodyLimit::max(MAX_EXPORT));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("cannot listen for spans: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok((receiver, addr))
    }

    fn keep(&self, request: &ExportTraceServiceRequest) {
        let mut spans = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for resource_spans in &request.resource_spans {
            let attributes: BTreeMap<&str, String> = resource_spans
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .map(|kv| {
                    (
                        kv.key.as_str(),
                        text(kv.value.as_ref().and_then(|v| v.value.as_ref())),
                    )
                })
                .collect();
            let service = attributes.get("service.name").cloned().unwrap_or_default();
            let instance = attributes
                .get("service.instance.id")
                .cloned()
                .unwrap_or_default();
            for span in resource_spans.scope_spans.iter().flat_map(|s| &s.spans) {
                spans.push(Span {
                    service: service.clone(),
                    instance: instance.clone(),
                    name: span.name.clone(),
                    kind: span.kind,
                    trace: span.trace_id.clone(),
                    id: span.span_id.clone(),
                    parent: span.parent_span_id.clone(),
                    duration: Duration::from_nanos(
                        span.end_time_unix_nano
                            .saturating_sub(span.start_time_unix_nano),
                    ),
                });
            }
        }
        let excess = spans.len().saturating_sub(MAX_SPANS);
        spans.drain(..excess);
    }

    /// The spans of `trace` received so far.
    pub(crate) fn trace(&self, trace: &[u8]) -> Vec<Span> {
        let spans = self.0.lock().unwrap_or_else(|e| e.into_inner());
        spans.iter().filter(|s| s.trace == trace).cloned().collect()
    }
}

/// The trace as indented lines, children by start order of name: service
/// (instance), operation, kind, duration.
pub(crate) fn tree(spans: &[Span]) -> String {
    let ids: Vec<&[u8]> = spans.iter().map(|s| s.id.as_slice()).collect();
    // Roots: spans whose parent is not among them (the client's span).
    let roots: Vec<&Span> = spans
        .iter()
        .filter(|s| !ids.contains(&s.parent.as_slice()))
        .collect();
    let mut out = String::new();
    for root in roots {
        branch(spans, root, 0, &mut out);
    }
    out
}

fn branch(spans: &[Span], span: &Span, depth: usize, out: &mut String) {
    let kind = match span.kind {
        2 => "server",
        3 => "client",
        _ => "internal",
    };
    out.push_str(&format!(
        "{}{} ({}) {} [{kind}] {:.2} ms\n",
        "  ".repeat(depth),
        span.service,
        span.instance,
        span.name,
        span.duration.as_secs_f64() * 1000.0
    ));
    let mut children: Vec<&Span> = spans.iter().filter(|s| s.parent == span.id).collect();
    children.sort_by(|a, b| a.name.cmp(&b.name));
    for child in children {
        branch(spans, child, depth + 1, out);
    }
}
