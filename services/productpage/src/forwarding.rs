//! The headers productpage sends on every backend call .
//!
//! Unlike reviews, which copies its 20 headers verbatim
//! (`bookinfo_support::propagation::forward`), productpage re-emits B3 the
//! way upstream's OpenTelemetry `B3MultiFormat` does (32-hex trace id, no
//! parent span id, no flags, a single `b3` header turned into the multi
//! form), takes `end-user` from the session and never from the request, and
//! copies a shorter list verbatim.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use bookinfo_support::propagation::{self, VERBATIM_HEADERS};

pub const END_USER: HeaderName = HeaderName::from_static("end-user");
const B3: &str = "b3";
const B3_TRACE_ID: &str = "x-b3-traceid";
const B3_SPAN_ID: &str = "x-b3-spanid";
const B3_SAMPLED: &str = "x-b3-sampled";
const B3_FLAGS: &str = "x-b3-flags";

/// A B3 context as upstream re-emits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct B3Context {
    pub trace_id: u128,
    pub span_id: u64,
    pub sampled: bool,
}

impl B3Context {
    /// Reads `b3` (single header, preferred) or the `x-b3-*` headers with the
    /// rules of OpenTelemetry Python's `B3MultiFormat.extract`. `None` when
    /// the ids are missing or malformed; all-zero ids count as malformed.
    pub fn extract(headers: &HeaderMap) -> Option<Self> {
        let first = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let (trace_id, span_id, sampled, flags) = match first(B3) {
            Some(single) => {
                let fields: Vec<&str> = single.splitn(5, '-').collect();
                match fields.as_slice() {
                    [trace, span] => (*trace, *span, "1", None),
                    [trace, span, sampled] | [trace, span, sampled, _] => {
                        (*trace, *span, *sampled, None)
                    }
                    // A bare sampling decision or too many fields: no ids.
                    _ => return None,
                }
            }
            None => (
                first(B3_TRACE_ID)?,
                first(B3_SPAN_ID)?,
                first(B3_SAMPLED).unwrap_or("0"),
                first(B3_FLAGS),
            ),
        };
        let trace_id = parse_hex(trace_id, &[16, 32])?;
        let span_id = u64::try_from(parse_hex(span_id, &[16])?).ok()?;
        if trace_id == 0 || span_id == 0 {
            return None;
        }
        let sampled = matches!(sampled, "1" | "true" | "True" | "d") || flags == Some("1");
        Some(Self {
            trace_id,
            span_id,
            sampled,
        })
    }

    pub fn inject(&self, headers: &mut HeaderMap) {
        let trace_id = format!("{:032x}", self.trace_id);
        let span_id = format!("{:016x}", self.span_id);
        for (name, value) in [
            (B3_TRACE_ID, trace_id.as_str()),
            (B3_SPAN_ID, span_id.as_str()),
        ] {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(name, value);
            }
        }
        let sampled = if self.sampled { "1" } else { "0" };
        headers.insert(B3_SAMPLED, HeaderValue::from_static(sampled));
    }
}

fn parse_hex(text: &str, lengths: &[usize]) -> Option<u128> {
    if !lengths.contains(&text.len()) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(text, 16).ok()
}

/// The headers for every backend call made while answering `incoming`, for
/// the logged-in `user` (if any).
pub fn outgoing_headers(incoming: &HeaderMap, user: Option<&str>) -> HeaderMap {
    let mut outgoing = HeaderMap::new();
    propagation::copy(&VERBATIM_HEADERS, incoming, &mut outgoing);
    // When spans are exported our server span is the parent of the next hop;
    // otherwise B3 is re-emitted as upstream does.
    if !propagation::inject_span_context(&mut outgoing)
        && let Some(b3) = B3Context::extract(incoming)
    {
        b3.inject(&mut outgoing);
    }
    if let Some(value) = user.and_then(|u| HeaderValue::from_bytes(u.as_bytes()).ok()) {
        outgoing.insert(END_USER, value);
    }
    outgoing
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn get<'a>(map: &'a HeaderMap, name: &str) -> Option<&'a str> {
        map.get(name).map(|v| v.to_str().unwrap())
    }

    #[test]
    fn the_upstream_example_is_normalised() {
        let out = outgoing_headers(
            &headers(&[
                ("x-b3-traceid", "80f198ee56343ba8"),
                ("x-b3-spanid", "e457b5a2e4d86bd1"),
                ("x-b3-parentspanid", "0000000000000001"),
                ("x-b3-flags", "1"),
            ]),
            None,
        );
        assert_eq!(
            get(&out, "x-b3-traceid"),
            Some("000000000000000080f198ee56343ba8")
        );
        assert_eq!(get(&out, "x-b3-spanid"), Some("e457b5a2e4d86bd1"));
        assert_eq!(get(&out, "x-b3-sampled"), Some("1"));
        assert_eq!(get(&out, "x-b3-parentspanid"), None);
        assert_eq!(get(&out, "x-b3-flags"), None);
    }

    #[test]
    fn sampling_values_follow_the_python_propagator() {
        for (value, sampled) in [
            ("1", true),
            ("true", true),
            ("True", true),
            ("d", true),
            ("0", false),
            ("yes", false),
        ] {
            let mut map = headers(&[
                ("x-b3-traceid", "463ac35c9f6413ad48485a3953bb6124"),
                ("x-b3-spanid", "0020000000000001"),
            ]);
            map.insert("x-b3-sampled", HeaderValue::from_static(value));
            assert_eq!(
                B3Context::extract(&map).map(|c| c.sampled),
                Some(sampled),
                "{value}"
            );
        }
    }

    #[test]
    fn a_single_b3_header_becomes_the_multi_form() {
        let cases = [
            ("80f198ee56343ba8-e457b5a2e4d86bd1", Some(true)),
            ("80F198EE56343BA8-E457B5A2E4D86BD1-0", Some(false)),
            (
                "80f198ee56343ba8-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90",
                Some(true),
            ),
            ("1", None),
            (
                "80f198ee56343ba8-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90-x",
                None,
            ),
        ];
        for (b3, sampled) in cases {
            let out = outgoing_headers(&headers(&[("b3", b3)]), None);
            assert_eq!(out.get("b3"), None);
            match sampled {
                Some(sampled) => {
                    assert_eq!(
                        get(&out, "x-b3-traceid"),
                        Some("000000000000000080f198ee56343ba8"),
                        "{b3}"
                    );
                    assert_eq!(get(&out, "x-b3-spanid"), Some("e457b5a2e4d86bd1"));
                    assert_eq!(
                        get(&out, "x-b3-sampled"),
                        Some(if sampled { "1" } else { "0" })
                    );
                }
                None => assert_eq!(get(&out, "x-b3-traceid"), None, "{b3}"),
            }
        }
    }

    #[test]
    fn malformed_ids_send_no_b3_at_all() {
        for (trace, span) in [
            ("80f198ee56343ba", "e457b5a2e4d86bd1"),
            ("80f198ee56343ba8", "e457b5a2e4d86bd"),
            ("80f198ee56343bz8", "e457b5a2e4d86bd1"),
            ("+0f198ee56343ba8", "e457b5a2e4d86bd1"),
            ("0000000000000000", "e457b5a2e4d86bd1"),
        ] {
            let mut map = HeaderMap::new();
            map.insert("x-b3-traceid", HeaderValue::from_str(trace).unwrap());
            map.insert("x-b3-spanid", HeaderValue::from_str(span).unwrap());
            map.insert("x-b3-sampled", HeaderValue::from_static("1"));
            let out = outgoing_headers(&map, None);
            assert!(
                out.get("x-b3-traceid").is_none() && out.get("x-b3-sampled").is_none(),
                "{trace} {span}"
            );
        }
    }

    #[test]
    fn end_user_comes_from_the_session_only() {
        let incoming = headers(&[
            ("end-user", "mallory"),
            ("x-request-id", "r1"),
            ("x-forwarded-for", "1.2.3.4"),
        ]);
        let out = outgoing_headers(&incoming, None);
        assert_eq!(get(&out, "end-user"), None);
        assert_eq!(get(&out, "x-request-id"), Some("r1"));
        assert_eq!(get(&out, "x-forwarded-for"), None);
        let out = outgoing_headers(&incoming, Some("jason"));
        assert_eq!(get(&out, "end-user"), Some("jason"));
    }

    #[test]
    fn every_listed_header_is_copied_with_all_its_values() {
        let mut incoming = HeaderMap::new();
        for name in VERBATIM_HEADERS {
            incoming.insert(name, HeaderValue::from_static("v"));
        }
        incoming.append("cookie", HeaderValue::from_static("w"));
        let out = outgoing_headers(&incoming, None);
        assert_eq!(out.keys_len(), VERBATIM_HEADERS.len());
        assert_eq!(out.get_all("cookie").iter().count(), 2);
    }
}
