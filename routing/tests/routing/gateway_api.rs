//! HTTPRoute fields beyond paths and headers: method and query parameter
//! matches (with their precedence), the mirror filter and timeouts applied,
//! other filters accepted and named in a warning.

use std::time::Duration;

use bookinfo_routing::load::load_str;
use bookinfo_routing::table::{Subsets, Table, compile_with};

fn compile(rules: &str) -> Result<Table, String> {
    let yaml = format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: reviews}}\nspec:\n  parentRefs: [{{group: \"\", kind: Service, name: reviews, port: 9080}}]\n  rules:\n{rules}"
    );
    let objects = load_str("test", &yaml).map_err(|e| e.to_string())?.objects;
    compile_with(&objects, Subsets::NamedAsVersions)
}

/// The version a request with this method and path (with its query) goes to.
fn version(table: &Table, method: &str, path_and_query: &str) -> Option<String> {
    let path = path_and_query.split('?').next().unwrap_or("");
    let rule = table.rule_for("reviews", path, |name| match name {
        ":method" => Some(method),
        ":path" => Some(path_and_query),
        _ => None,
    })?;
    rule.destinations[0].selector.version().map(str::to_owned)
}

#[test]
fn method_and_query_parameter_matches_apply_with_their_precedence() {
    // Listed least specific first: precedence, not order, decides.
    let table = compile(
        "  - backendRefs: [{name: reviews-v1, port: 9080}]\n\
         \x20 - matches: [{queryParams: [{name: user, value: jason}]}]\n\
         \x20   backendRefs: [{name: reviews-v3, port: 9080}]\n\
         \x20 - matches: [{method: POST}]\n\
         \x20   backendRefs: [{name: reviews-v2, port: 9080}]\n\
         \x20 - matches: [{queryParams: [{type: RegularExpression, name: id, value: '[0-9]+'}]}]\n\
         \x20   backendRefs: [{name: reviews-v3, port: 9080}]\n",
    )
    .unwrap();
    assert_eq!(version(&table, "GET", "/r").as_deref(), Some("v1"));
    assert_eq!(
        version(&table, "POST", "/r?user=jason").as_deref(),
        Some("v2")
    );
    assert_eq!(
        version(&table, "GET", "/r?user=jason").as_deref(),
        Some("v3")
    );
    assert_eq!(version(&table, "GET", "/r?id=42").as_deref(), Some("v3"));
    assert_eq!(version(&table, "GET", "/r?id=4x").as_deref(), Some("v1"));

    for (rules, says) in [
        (
            "  - matches: [{method: FETCH}]\n    backendRefs: [{name: reviews-v1}]\n",
            "method `FETCH`",
        ),
        (
            "  - matches: [{queryParams: [{type: Prefix, name: a, value: b}]}]\n    backendRefs: [{name: reviews-v1}]\n",
            "query parameter match type Prefix",
        ),
    ] {
        let error = compile(rules).unwrap_err();
        assert!(
            error.contains("HTTPRoute reviews, rules[0]") && error.contains(says),
            "{error}"
        );
    }
}

#[test]
fn the_mirror_filter_and_timeouts_apply_and_other_filters_are_warned() {
    let table = compile(
        "  - filters:\n\
         \x20   - {type: RequestMirror, requestMirror: {backendRef: {name: reviews-v2, port: 9080}, fraction: {numerator: 1, denominator: 4}}}\n\
         \x20   - {type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x, value: y}]}}\n\
         \x20   - {type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}}\n\
         \x20   backendRefs: [{name: reviews-v1, port: 9080, filters: [{type: ResponseHeaderModifier}]}]\n\
         \x20   timeouts: {request: 2s, backendRequest: 500ms}\n\
         \x20 - matches: [{path: {value: /untimed}}]\n\
         \x20   backendRefs: [{name: reviews-v1, port: 9080}]\n\
         \x20   timeouts: {request: 0s}\n",
    )
    .unwrap();
    let rule = &table.hosts["reviews"];
    let timed = rule.iter().find(|r| r.mirror.is_some()).unwrap();
    let (mirror, share) = timed.mirror.as_ref().unwrap();
    assert_eq!((mirror.version(), *share), (Some("v2"), 0.25));
    assert_eq!(timed.timeout, Some(Duration::from_secs(2)));
    let retries = timed.retries.as_ref().unwrap();
    assert_eq!(
        (retries.attempts, retries.per_try_timeout),
        (2, Some(Duration::from_millis(500)))
    );
    let untimed = rule.iter().find(|r| r.mirror.is_none()).unwrap();
    assert_eq!(untimed.timeout, None, "a zero timeout disables it");
    let warnings = table.warnings.join("\n");
    for named in [
        "RequestHeaderModifier",
        "URLRewrite",
        "backendRefs `filters`",
    ] {
        assert!(warnings.contains(named), "{named} missing from {warnings}");
    }
    let error = compile(
        "  - filters: [{type: RequestMirror, requestMirror: {backendRef: {name: reviews-v2}, percent: 10, fraction: {numerator: 1}}}]\n    backendRefs: [{name: reviews-v1}]\n",
    )
    .unwrap_err();
    assert!(error.contains("both percent and fraction"), "{error}");
}
