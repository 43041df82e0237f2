//! The headers a Bookinfo service copies from its incoming request onto every
//! call it makes, so Istio can join traces and route by
//! `end-user`.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use opentelemetry_http::HeaderInjector;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Copied verbatim onto every outgoing call by every service (as upstream).
pub const VERBATIM_HEADERS: [&str; 14] = [
    "x-request-id",
    "x-ot-span-context",
    "x-datadog-trace-id",
    "x-datadog-parent-id",
    "x-datadog-sampling-priority",
    "traceparent",
    "tracestate",
    "x-cloud-trace-context",
    "grpc-trace-bin",
    "sw8",
    "user-agent",
    "cookie",
    "authorization",
    "jwt",
];

/// Also copied verbatim by reviews and details; productpage re-emits B3 in
/// its own normalised form and takes `end-user` from its session.
pub const B3_AND_END_USER: [&str; 6] = [
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-flags",
    "end-user",
];

/// The 20 headers reviews (to ratings) and details v2 (to the book API)
/// forward.
pub fn forwarded_headers() -> impl Iterator<Item = &'static str> {
    VERBATIM_HEADERS.into_iter().chain(B3_AND_END_USER)
}

/// Copies the forwarded headers of `incoming` onto `outgoing`, then the
/// current span's context when spans are exported.
pub fn forward(incoming: &HeaderMap, outgoing: &mut HeaderMap) {
    copy(forwarded_headers(), incoming, outgoing);
    inject_span_context(outgoing);
}

/// Copies every value of the `names` headers of `incoming` onto `outgoing`.
pub fn copy(
    names: impl IntoIterator<Item = &'static str>,
    incoming: &HeaderMap,
    outgoing: &mut HeaderMap,
) {
    for name in names {
        for value in incoming.get_all(name) {
            outgoing.append(name, value.clone());
        }
    }
}

/// When spans are exported, writes the current span's context (W3C and B3)
/// over the trace headers, so the next hop becomes a child of our span
/// instead of a sibling; otherwise leaves them as forwarded (the ids would
/// point at spans nobody sees). Returns whether it wrote.
pub fn inject_span_context(outgoing: &mut HeaderMap) -> bool {
    if !crate::telemetry::exporting() {
        return false;
    }
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut HeaderInjector(outgoing));
    });
    true
}

/// Extractor: the forwarded subset of the incoming headers, ready to be
/// applied to outgoing requests with [`forward`].
#[derive(Debug, Clone, Default)]
pub struct Forwarded(pub HeaderMap);

impl<S: Send + Sync> FromRequestParts<S> for Forwarded {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let mut headers = HeaderMap::new();
        forward(&parts.headers, &mut headers);
        Ok(Self(headers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn forwards_exactly_the_listed_headers_with_repeated_values() {
        let mut incoming = HeaderMap::new();
        for name in forwarded_headers() {
            incoming.insert(name, HeaderValue::from_static("v"));
        }
        incoming.append("cookie", HeaderValue::from_static("second"));
        incoming.insert("host", HeaderValue::from_static("evil"));
        incoming.insert("x-not-forwarded", HeaderValue::from_static("no"));
        let mut outgoing = HeaderMap::new();
        forward(&incoming, &mut outgoing);
        assert_eq!(outgoing.keys_len(), 20);
        assert_eq!(outgoing.get_all("cookie").iter().count(), 2);
        assert!(outgoing.get("host").is_none());
        assert!(outgoing.get("x-not-forwarded").is_none());
    }
}
