//! Every field of Istio's HTTPMatchRequest, HTTPRoute, HTTPRetry and fault
//! is accepted: applied with Istio's meaning, or named in a warning.

use bookinfo_routing::load::load_str;
use bookinfo_routing::table::{Subsets, Table, compile_with};

fn compile(http: &str) -> Table {
    let yaml = format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: reviews}}\nspec:\n  hosts: [reviews]\n  http:\n{http}  - route: [{{destination: {{host: reviews, subset: v1}}}}]\n"
    );
    let objects = load_str("test", &yaml).unwrap().objects;
    compile_with(&objects, Subsets::NamedAsVersions).unwrap()
}

/// The version a request goes to; `headers` may name Envoy's pseudo-headers.
fn version(table: &Table, path: &str, headers: &[(&str, &str)]) -> String {
    let rule = table
        .rule_for("reviews", path, |name| {
            headers.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
        })
        .unwrap();
    rule.destinations[0].selector.version().unwrap().to_owned()
}

#[test]
fn method_authority_query_without_headers_and_ignore_uri_case_are_applied() {
    let table = compile(
        "  - match: [{method: {exact: POST}}]\n    route: [{destination: {host: reviews, subset: v2}}]\n\
         \x20 - match: [{queryParams: {canary: {exact: \"yes\"}}}]\n    route: [{destination: {host: reviews, subset: v3}}]\n\
         \x20 - match: [{uri: {prefix: /ADMIN}, ignoreUriCase: true}]\n    route: [{destination: {host: reviews, subset: v2}}]\n\
         \x20 - match: [{authority: {prefix: reviews}, withoutHeaders: {end-user: {exact: jason}}, port: 9080}]\n    route: [{destination: {host: reviews, subset: v3}}]\n",
    );
    assert_eq!(version(&table, "/reviews/0", &[(":method", "POST")]), "v2");
    assert_eq!(
        version(
            &table,
            "/reviews/0",
            &[(":path", "/reviews/0?a=1&canary=yes")]
        ),
        "v3"
    );
    assert_eq!(version(&table, "/admin/x", &[]), "v2", "ignoreUriCase");
    assert_eq!(
        version(&table, "/x", &[(":authority", "reviews:9080")]),
        "v3"
    );
    assert_eq!(
        version(
            &table,
            "/x",
            &[(":authority", "reviews:9080"), ("end-user", "jason")]
        ),
        "v1",
        "withoutHeaders excludes jason"
    );
}

#[test]
fn fields_the_local_router_cannot_apply_are_accepted_and_named() {
    let table = compile(
        "  - match: [{sourceLabels: {app: productpage}, gateways: [mesh]}]\n    rewrite: {uri: /v2}\n    headers: {request: {set: {x-canary: \"1\"}}}\n    retries: {attempts: 2, retryRemoteLocalities: true, backoff: 50ms}\n    fault: {abort: {grpcStatus: UNAVAILABLE, percentage: {value: 100}}}\n    route: [{destination: {host: reviews, subset: v2}}]\n",
    );
    let warnings = table.warnings.join("\n");
    for field in [
        "sourceLabels",
        "gateways",
        "rewrite",
        "headers",
        "retryRemoteLocalities",
        "gRPC or HTTP/2 abort",
    ] {
        assert!(
            warnings.contains(field),
            "{field} not named in:\n{warnings}"
        );
    }
    let rule = &table.hosts["reviews"][0];
    assert_eq!(
        rule.retries.as_ref().unwrap().backoff,
        Some(std::time::Duration::from_millis(50))
    );
    assert!(rule.abort.is_none());
}

#[test]
fn a_route_for_an_external_host_is_accepted_under_its_full_name() {
    // The shape of upstream's egress-rule-google-apis.yaml.
    let yaml = "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: googleapis}\nspec:\n  hosts: [www.googleapis.com]\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: rewrite-port-for-googleapis}\nspec:\n  hosts: [www.googleapis.com]\n  http:\n  - match: [{port: 80}]\n    route: [{destination: {host: www.googleapis.com, port: {number: 443}}}]\n---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: originate-tls-for-googleapis}\nspec:\n  host: www.googleapis.com\n  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}\n";
    let loaded = load_str("egress", yaml).unwrap();
    assert_eq!(
        loaded.notes.len(),
        1,
        "the ServiceEntry is noted: {:?}",
        loaded.notes
    );
    let table = compile_with(&loaded.objects, Subsets::Declared).unwrap();
    assert!(
        table.hosts.contains_key("www.googleapis.com"),
        "{:?}",
        table.hosts.keys()
    );
    assert!(!table.hosts.contains_key("www"));
}
