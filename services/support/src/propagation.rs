//! The headers a Bookinfo service copies from its incoming request onto every
//! call it makes, so Istio can join traces and route by
//! `end-user`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName};
use opentelemetry_http::HeaderInjector;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Copied verbatim onto every outgoing call by every service (as upstream).
/// Names rather than strings: a lookup by string parses the name first.
pub const VERBATIM_HEADERS: [HeaderName; 14] = [
    HeaderName::from_static("x-request-id"),
    HeaderName::from_static("x-ot-span-context"),
    HeaderName::from_static("x-datadog-trace-id"),
    HeaderName::from_static("x-datadog-parent-id"),
    HeaderName::from_static("x-datadog-sampling-priority"),
    HeaderName::from_static("traceparent"),
    HeaderName::from_static("tracestate"),
    HeaderName::from_static("x-cloud-trace-context"),
    HeaderName::from_static("grpc-trace-bin"),
    HeaderName::from_static("sw8"),
    HeaderName::from_static("user-agent"),
    HeaderName::from_static("cookie"),
    HeaderName::from_static("authorization"),
    HeaderName::from_static("jwt"),
];

/// Also copied verbatim by reviews and details; productpage re-emits B3 in
/// its own normalised form and takes `end-user` from its session.
pub const B3_AND_END_USER: [HeaderName; 6] = [
    HeaderName::from_static("x-b3-traceid"),
    HeaderName::from_static("x-b3-spanid"),
    HeaderName::from_static("x-b3-parentspanid"),
    HeaderName::from_static("x-b3-sampled"),
    HeaderName::from_static("x-b3-flags"),
    HeaderName::from_static("end-user"),
];

/// The 20 headers reviews (to ratings) and details v2 (to the book API)
/// forward.
pub fn forwarded_headers() -> impl Iterator<Item = HeaderName> {
    VERBATIM_HEADERS.into_iter().chain(B3_AND_END_USER)
}

/// Copies the forwarded headers of `incoming` onto `outgoing`, then the
/// current span's context when spans are exported.
pub fn forward(incoming: &HeaderMap, outgoing: &mut HeaderMap) {
    copy(&VERBATIM_HEADERS, incoming, outgoing);
    copy(&B3_AND_END_USER, incoming, outgoing);
    inject_span_context(outgoing);
}

/// Copies every value of the `names` headers of `incoming` onto `outgoing`.
/// A request has a handful of headers and the lists a score of names, so
/// it walks the request's headers rather than looking each name up.
pub fn copy(names: &[HeaderName], incoming: &HeaderMap, outgoing: &mut HeaderMap) {
    for (name, value) in incoming {
        if names.contains(name) {
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
