//! Routing files sized or weighted to hurt: refused with the limit named,
//! or compiled once however many hosts share them.

use std::sync::Arc;

use bookinfo_routing::load::load_str;
use bookinfo_routing::table::{MAX_HOSTS_PER_OBJECT, MAX_RULES_PER_OBJECT, Subsets, compile_with};

fn compile(yaml: &str) -> Result<bookinfo_routing::table::Table, String> {
    let objects = load_str("test", yaml).map_err(|e| e.to_string())?.objects;
    compile_with(&objects, Subsets::NamedAsVersions)
}

fn vs(hosts: usize, rules: usize, route: &str) -> String {
    let hosts: Vec<String> = (0..hosts).map(|i| format!("h{i}")).collect();
    let mut yaml = format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: big}}\nspec:\n  hosts: [{}]\n  http:\n",
        hosts.join(", ")
    );
    for i in 0..rules {
        yaml.push_str(&format!(
            "  - match: [{{headers: {{x-n: {{exact: \"{i}\"}}}}}}]\n    route: [{route}]\n"
        ));
    }
    yaml
}

#[test]
fn the_largest_object_the_limits_allow_compiles_its_rules_once_for_all_hosts() {
    let route = "{destination: {host: reviews, subset: v1}}";
    let table = compile(&vs(MAX_HOSTS_PER_OBJECT, MAX_RULES_PER_OBJECT, route)).unwrap();
    assert_eq!(table.hosts.len(), MAX_HOSTS_PER_OBJECT);
    let first = &table.hosts["h0"];
    assert_eq!(first.len(), MAX_RULES_PER_OBJECT);
    assert!(
        table.hosts.values().all(|rules| Arc::ptr_eq(rules, first)),
        "every host shares one compiled rule list"
    );
}

#[test]
fn objects_beyond_the_limits_are_refused_naming_the_limit() {
    let route = "{destination: {host: reviews}}";
    let error = compile(&vs(MAX_HOSTS_PER_OBJECT + 1, 1, route)).unwrap_err();
    assert!(error.contains("at most 256"), "{error}");
    let error = compile(&vs(1, MAX_RULES_PER_OBJECT + 1, route)).unwrap_err();
    assert!(error.contains("1025 http routes; at most 1024"), "{error}");
    let regex = format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: r}}\nspec:\n  hosts: [reviews]\n  http:\n  - match: [{{headers: {{end-user: {{regex: \"{}\"}}}}}}]\n    route: [{route}]\n",
        "a|".repeat(3_000)
    );
    let error = compile(&regex).unwrap_err();
    assert!(error.contains("at most 4096"), "{error}");
}

#[test]
fn weights_above_istios_int32_are_refused_and_large_sums_do_not_overflow() {
    let weighted = |a: i64, b: i64| {
        format!(
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: w}}\nspec:\n  hosts: [reviews]\n  http:\n  - route:\n    - {{destination: {{host: reviews, subset: v1}}, weight: {a}}}\n    - {{destination: {{host: reviews, subset: v2}}, weight: {b}}}\n"
        )
    };
    let error = compile(&weighted(4_294_967_196, 100)).unwrap_err();
    assert!(
        error.contains("above Istio's limit of 2147483647"),
        "{error}"
    );
    let max = i64::from(i32::MAX);
    let table = compile(&weighted(max, max)).unwrap();
    let shares = table.shares("reviews", "/", |_| None).unwrap();
    assert_eq!(shares["v1"], 0.5);
    assert_eq!(shares["v2"], 0.5);
}

#[test]
fn retry_attempts_beyond_the_limit_are_refused_instead_of_wrapping() {
    let retries = |attempts: u64| {
        format!(
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: r}}\nspec:\n  hosts: [ratings]\n  http:\n  - retries: {{attempts: {attempts}, retryOn: 5xx}}\n    route: [{{destination: {{host: ratings, subset: v1}}}}]\n"
        )
    };
    assert!(compile(&retries(100)).is_ok());
    let error = compile(&retries(4_294_967_295)).unwrap_err();
    assert!(error.contains("at most 100"), "{error}");
}

#[test]
fn a_fault_without_a_percentage_applies_to_no_request_and_a_mirror_to_every_one() {
    let table = compile(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r}\nspec:\n  hosts: [ratings]\n  http:\n  - fault: {delay: {fixedDelay: 7s}, abort: {httpStatus: 500}}\n    mirror: {host: ratings, subset: v2}\n    route: [{destination: {host: ratings, subset: v1}}]\n",
    )
    .unwrap();
    let rule = &table.hosts["ratings"][0];
    assert_eq!(rule.delay.map(|(_, share)| share), Some(0.0));
    assert_eq!(rule.abort.map(|(_, share)| share), Some(0.0));
    assert_eq!(rule.mirror.as_ref().map(|(_, share)| *share), Some(1.0));
}

#[test]
fn values_istios_validation_rejects_are_refused_and_its_retry_defaults_apply() {
    let rule = |http: &str| {
        format!(
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: r}}\nspec:\n  hosts: [ratings]\n  http:\n  - {http}\n    route: [{{destination: {{host: ratings, subset: v1}}}}]\n"
        )
    };
    let error = compile(&rule("timeout: 0s")).unwrap_err();
    assert!(error.contains("below Istio's minimum of 1ms"), "{error}");
    let error = compile(&rule(
        "fault: {abort: {httpStatus: 99, percentage: {value: 100}}}",
    ))
    .unwrap_err();
    assert!(error.contains("outside Istio's range 200..599"), "{error}");
    let error = compile(&rule(
        "retries: {attempts: 3, retryOn: \"5xxx,conect-failure\"}",
    ))
    .unwrap_err();
    assert!(
        error.contains("`5xxx` is not a retry policy Istio knows"),
        "{error}"
    );

    let retry_on = |http: &str| {
        let table = compile(&rule(http)).unwrap();
        table.hosts["ratings"][0].retries.clone().unwrap().retry_on
    };
    // Without retryOn, Istio's default: connect failures and 503, not every 5xx.
    let default = retry_on("retries: {attempts: 3}");
    assert!(default.status(503) && !default.status(500) && default.connect_failure);
    // A numeric code is a retriable status code.
    let numeric = retry_on("retries: {attempts: 3, retryOn: \"503,gateway-error\"}");
    assert!(numeric.status(503) && numeric.status(504) && !numeric.status(500));
}
