//! DestinationRule load balancers: read with Istio's meaning and its
//! validation, a subset's replacing the host's, other settings warned.

use std::collections::BTreeMap;

use bookinfo_routing::balance::{Balancing, HashKey};
use bookinfo_routing::load::load_str;
use bookinfo_routing::table::{Selector, Subsets, Table, compile_with};

fn compile(spec: &str) -> Result<Table, String> {
    let yaml = format!(
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: reviews}}\nspec:\n  host: reviews\n{spec}"
    );
    let objects = load_str("test", &yaml).unwrap().objects;
    compile_with(&objects, Subsets::Declared)
}

fn selector(version: Option<&str>) -> Selector {
    Selector {
        app: "reviews".into(),
        labels: version
            .map(|v| BTreeMap::from([("version".to_owned(), v.to_owned())]))
            .unwrap_or_default(),
    }
}

#[test]
fn simple_policies_and_every_hash_key_are_read() {
    for (lb, expected) in [
        ("{simple: ROUND_ROBIN}", Balancing::RoundRobin),
        ("{simple: RANDOM}", Balancing::Random),
        ("{simple: LEAST_REQUEST}", Balancing::LeastRequest),
        ("{simple: LEAST_CONN}", Balancing::LeastRequest),
        (
            "{consistentHash: {httpHeaderName: end-user}}",
            Balancing::Hash(HashKey::Header("end-user".into())),
        ),
        (
            "{consistentHash: {httpCookie: {name: session, ttl: 0s}}}",
            Balancing::Hash(HashKey::Cookie("session".into())),
        ),
        (
            "{consistentHash: {httpQueryParameterName: user}}",
            Balancing::Hash(HashKey::QueryParameter("user".into())),
        ),
        (
            "{consistentHash: {useSourceIp: true}}",
            Balancing::Hash(HashKey::SourceIp),
        ),
    ] {
        let table = compile(&format!("  trafficPolicy: {{loadBalancer: {lb}}}\n")).unwrap();
        assert_eq!(
            table.balancing.get(&selector(None)),
            Some(&expected),
            "{lb}"
        );
    }
}

#[test]
fn a_subset_load_balancer_replaces_the_hosts_and_other_subsets_inherit_it() {
    let table = compile(
        "  trafficPolicy: {loadBalancer: {simple: RANDOM}}\n  subsets:\n\
         \x20 - {name: v1, labels: {version: v1}}\n\
         \x20 - {name: v2, labels: {version: v2}, trafficPolicy: {loadBalancer: {simple: LEAST_REQUEST}}}\n\
         \x20 - {name: v3, labels: {version: v3}, trafficPolicy: {connectionPool: {tcp: {maxConnections: 1}}}}\n",
    )
    .unwrap();
    let balancing = |v| table.balancing.get(&selector(Some(v)));
    assert_eq!(balancing("v1"), Some(&Balancing::Random));
    assert_eq!(balancing("v2"), Some(&Balancing::LeastRequest));
    // A subset policy without a load balancer keeps the host's (Istio
    // merges subset policies field by field).
    assert_eq!(balancing("v3"), Some(&Balancing::Random));
    assert!(
        table
            .warnings
            .iter()
            .any(|w| w.contains("subset v3") && w.contains("connectionPool")),
        "{:?}",
        table.warnings
    );
}

#[test]
fn settings_without_a_local_meaning_are_named_in_a_warning() {
    let table = compile(
        "  trafficPolicy:\n    tls: {mode: ISTIO_MUTUAL}\n    outlierDetection: {consecutive5xxErrors: 1}\n    loadBalancer:\n      consistentHash: {httpHeaderName: x-user, minimumRingSize: 1024}\n      localityLbSetting: {enabled: true}\n",
    )
    .unwrap();
    let warning = table.warnings.join("\n");
    for field in [
        "tls",
        "outlierDetection",
        "loadBalancer.localityLbSetting",
        "consistentHash.minimumRingSize",
    ] {
        assert!(warning.contains(field), "{field} missing from {warning}");
    }
}

#[test]
fn load_balancers_istio_refuses_are_refused_naming_the_rule() {
    for (lb, says) in [
        ("{simple: FASTEST}", "unknown loadBalancer.simple `FASTEST`"),
        (
            "{simple: RANDOM, consistentHash: {httpHeaderName: a}}",
            "both simple and consistentHash",
        ),
        ("{consistentHash: {}}", "exactly one of"),
        (
            "{consistentHash: {httpHeaderName: a, useSourceIp: true}}",
            "exactly one of",
        ),
    ] {
        let error = compile(&format!("  trafficPolicy: {{loadBalancer: {lb}}}\n")).unwrap_err();
        assert!(
            error.contains("DestinationRule reviews") && error.contains(says),
            "{lb}: {error}"
        );
    }
}
