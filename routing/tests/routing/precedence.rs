//! Several routes for one host: HTTPRoutes of one parent merge by Gateway
//! API precedence; a VirtualService beside another route is refused by name.

use bookinfo_routing::load::load_str;
use bookinfo_routing::table::{Subsets, Table, compile_with};

fn compile(yaml: &str) -> Result<Table, String> {
    let objects = load_str("test", yaml).map_err(|e| e.to_string())?.objects;
    compile_with(&objects, Subsets::NamedAsVersions)
}

fn vs(name: &str, subset: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: {name}}}\nspec:\n  hosts: [reviews]\n  http:\n  - route: [{{destination: {{host: reviews, subset: {subset}}}}}]\n"
    )
}

fn route(name: &str, rule: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: {name}}}\nspec:\n  parentRefs: [{{group: \"\", kind: Service, name: reviews, port: 9080}}]\n  rules:\n  - {rule}\n"
    )
}

fn version(table: &Table, user: Option<&str>) -> String {
    let rule = table
        .rule_for("reviews", "/reviews/0", |name| {
            (name == "end-user").then_some(user).flatten()
        })
        .unwrap();
    rule.destinations[0].selector.version().unwrap().to_owned()
}

#[test]
fn http_routes_of_one_parent_merge_with_the_more_specific_rule_first() {
    let catch_all = route("all", "backendRefs: [{name: reviews-v1, port: 9080}]");
    let jason = route(
        "jason",
        "matches: [{headers: [{name: end-user, value: jason}]}]\n    backendRefs: [{name: reviews-v2, port: 9080}]",
    );
    // The catch-all is created first; the header match still wins for jason.
    let table = compile(&format!("{catch_all}---\n{jason}")).unwrap();
    assert_eq!(version(&table, Some("jason")), "v2");
    assert_eq!(version(&table, None), "v1");
}

#[test]
fn a_second_route_beside_a_virtual_service_is_refused_naming_the_first() {
    let error = compile(&format!(
        "{}---\n{}",
        vs("reviews", "v3"),
        route("reviews", "backendRefs: [{name: reviews-v1, port: 9080}]")
    ))
    .unwrap_err();
    assert!(
        error.contains("already routed by VirtualService reviews"),
        "{error}"
    );
    let error = compile(&format!("{}---\n{}", vs("first", "v1"), vs("second", "v2"))).unwrap_err();
    assert!(
        error.contains(
            "VirtualService second: host `reviews` is already routed by VirtualService first"
        ),
        "{error}"
    );
    // The same name replaces, as a cluster does.
    let table = compile(&format!(
        "{}---\n{}",
        vs("reviews", "v1"),
        vs("reviews", "v3")
    ))
    .unwrap();
    assert_eq!(version(&table, None), "v3");
}
