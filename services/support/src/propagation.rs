//! The headers a Bookinfo service copies from its incoming request onto every
//! call it makes (contract section 7), so Istio can join traces and route by
//! `end-user`.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use opentelemetry_http::HeaderInjector;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Forwarded verbatim by reviews (to ratings) and details v2 (to the book API).
pub const FORWARDED_HEADERS: [&str; 20] = [
    "x-request-id",
    "x-ot-span-context",
    "x-datadog-trace-id",
    "x-datadog-parent-id",
    "x-datadog-sampling-priority",
    "traceparent",
    "tracestate",
    "x-cloud-trace-context",
    "grpc-trace-bin",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-flags",
    "sw8",
    "end-user",
    "user-agent",
    "cookie",
    "authorization",
    "jwt",
];

/// Copies the forwarded headers of `incoming` onto `outgoing`. When spans are
/// exported, the current span's context then replaces the trace headers, so
/// the next hop becomes a child of our span instead of a sibling.
pub fn forward(incoming: &HeaderMap, outgoing: &mut HeaderMap) {
    for name in FORWARDED_HEADERS {
        for value in incoming.get_all(name) {
            outgoing.append(name, value.clone());
        }
    }
    if crate::telemetry::exporting() {
        let context = tracing::Span::current().context();
        opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.inject_context(&context, &mut HeaderInjector(outgoing));
        });
    }
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
        for name in FORWARDED_HEADERS {
            incoming.insert(name, HeaderValue::from_static("v"));
        }
        incoming.append("cookie", HeaderValue::from_static("second"));
        incoming.insert("host", HeaderValue::from_static("evil"));
        incoming.insert("x-not-forwarded", HeaderValue::from_static("no"));
        let mut outgoing = HeaderMap::new();
        forward(&incoming, &mut outgoing);
        assert_eq!(outgoing.keys_len(), FORWARDED_HEADERS.len());
        assert_eq!(outgoing.get_all("cookie").iter().count(), 2);
        assert!(outgoing.get("host").is_none());
        assert!(outgoing.get("x-not-forwarded").is_none());
    }
}
