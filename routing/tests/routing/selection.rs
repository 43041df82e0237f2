use bookinfo_routing::load::load_str;
use bookinfo_routing::table::compile;
use http::{HeaderMap, HeaderValue};

const MATCHES: &str = "
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match:
    - headers: {end-user: {exact: jason}}
    route: [{destination: {host: reviews, subset: v2}}]
  - match:
    - headers: {end-user: {regex: 'test-.*'}}
    - uri: {prefix: /reviews/9}
    route: [{destination: {host: reviews, subset: v3}}]
  - match:
    - uri: {regex: '/reviews/[0-9]+'}
      headers: {x-canary: {prefix: yes}}
    route: [{destination: {host: reviews, subset: v3}}]
  - route: [{destination: {host: reviews, subset: v1}}]
";

fn version_for(path: &str, headers: &[(&'static str, &str)]) -> String {
    let mut objects = load_str("s", crate::REVIEWS_SUBSETS).unwrap().objects;
    objects.extend(load_str("m", MATCHES).unwrap().objects);
    let table = compile(&objects).unwrap();
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.insert(*name, HeaderValue::from_str(value).unwrap());
    }
    let rule = table
        .rule_for("reviews", path, |name| {
            map.get(name).and_then(|v| v.to_str().ok())
        })
        .unwrap();
    rule.destinations[0].selector.version().unwrap().to_owned()
}

#[test]
fn rules_are_tried_in_order_with_exact_prefix_and_regex_matches() {
    assert_eq!(version_for("/reviews/0", &[("end-user", "jason")]), "v2");
    assert_eq!(version_for("/reviews/0", &[("end-user", "jason2")]), "v1");
    assert_eq!(version_for("/reviews/0", &[("end-user", "test-1")]), "v3");
    assert_eq!(
        version_for("/reviews/0", &[("end-user", "xtest-1")]),
        "v1",
        "regex matches the whole value"
    );
    assert_eq!(version_for("/reviews/93", &[]), "v3");
    assert_eq!(
        version_for("/reviews/1", &[("x-canary", "yes-please")]),
        "v3"
    );
    assert_eq!(
        version_for("/reviews/a", &[("x-canary", "yes")]),
        "v1",
        "all conditions of a match must hold"
    );
    assert_eq!(version_for("/reviews/0", &[]), "v1");
}

#[test]
fn http_route_matches_follow_gateway_api_precedence_not_file_order() {
    let route = "
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: reviews}
spec:
  parentRefs: [{group: '', kind: Service, name: reviews, port: 9080}]
  rules:
  - backendRefs: [{name: reviews-v1, port: 9080}]
  - matches: [{path: {type: PathPrefix, value: /reviews}}]
    backendRefs: [{name: reviews-v3, port: 9080}]
  - matches: [{headers: [{name: end-user, value: jason}]}]
    backendRefs: [{name: reviews-v2, port: 9080}]
";
    let table = compile(&load_str("r", route).unwrap().objects).unwrap();
    let version = |path: &str, user: Option<&'static str>| {
        let rule = table
            .rule_for("reviews", path, |name| user.filter(|_| name == "end-user"))
            .unwrap();
        rule.destinations[0].selector.version().unwrap().to_owned()
    };
    assert_eq!(
        version("/reviews/0", None),
        "v3",
        "a longer prefix beats the implicit /"
    );
    assert_eq!(
        version("/other", Some("jason")),
        "v2",
        "a header match beats none"
    );
    assert_eq!(version("/other", None), "v1");
}
