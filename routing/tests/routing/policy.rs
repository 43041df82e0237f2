//! DestinationRule traffic policies: load balancers, connection pools and
//! outlier detection read with Istio's meaning, defaults and validation, a
//! subset's parts replacing the host's, other settings warned.

use std::collections::BTreeMap;
use std::time::Duration;

use bookinfo_routing::load::load_str;
use bookinfo_routing::policy::{Balancing, HashKey, Outlier, Pool};
use bookinfo_routing::table::{Selector, Subsets, Table, compile_with};

fn compile(spec: &str) -> Result<Table, String> {
    let yaml = format!(
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: reviews}}\nspec:\n  host: reviews\n{spec}"
    );
    let objects = load_str("test", &yaml).map_err(|e| e.to_string())?.objects;
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
            table.policies.get(&selector(None)).map(|p| &p.balancing),
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
    let policy = |v| table.policies.get(&selector(Some(v))).unwrap();
    assert_eq!(policy("v1").balancing, Balancing::Random);
    assert_eq!(policy("v2").balancing, Balancing::LeastRequest);
    // A subset policy without a load balancer keeps the host's (Istio
    // merges subset policies field by field), and adds its own pool.
    assert_eq!(policy("v3").balancing, Balancing::Random);
    assert_eq!(policy("v3").pool.as_ref().unwrap().max_active, Some(1));
    assert_eq!(policy("v1").pool, None);
}

#[test]
fn connection_pool_limits_are_read_with_zero_meaning_no_limit() {
    let table = compile(
        "  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 3}
      http: {http2MaxRequests: 2, http1MaxPendingRequests: 0, maxRetries: 4}
",
    )
    .unwrap();
    assert_eq!(
        table.policies[&selector(None)].pool,
        Some(Pool {
            max_active: Some(2),
            max_pending: None,
            max_retries: Some(4),
        })
    );
    for (pool, says) in [
        (
            "{tcp: {maxConnections: -1}}",
            "tcp.maxConnections must not be negative",
        ),
        ("{http: {maxRetries: 4294967296}}", "beyond Istio's int32"),
        ("{tcp: {connectTimeout: 0s}}", "below Istio's minimum"),
        ("{http: {maxPending: 1}}", "maxPending"),
    ] {
        let error = compile(&format!(
            "  trafficPolicy: {{connectionPool: {pool}}}
"
        ))
        .unwrap_err();
        assert!(error.contains(says), "{pool}: {error}");
    }
}

#[test]
fn outlier_detection_has_envoys_defaults_and_istios_reading_of_the_old_field() {
    let read = |spec: &str| {
        compile(&format!(
            "  trafficPolicy: {{outlierDetection: {spec}}}
"
        ))
        .unwrap()
        .policies[&selector(None)]
            .outlier
            .clone()
            .unwrap()
    };
    assert_eq!(
        read("{}"),
        Outlier {
            consecutive_5xx: 5,
            consecutive_gateway: 0,
            interval: Duration::from_secs(10),
            base_ejection: Duration::from_secs(30),
            max_ejection_percent: 10,
            min_health_percent: 0,
        }
    );
    let set = read(
        "{consecutive5xxErrors: 1, consecutiveGatewayErrors: 2, interval: 1s, baseEjectionTime: 3m, maxEjectionPercent: 100, minHealthPercent: 50}",
    );
    assert_eq!(
        (set.consecutive_5xx, set.consecutive_gateway, set.interval),
        (1, 2, Duration::from_secs(1))
    );
    assert_eq!(
        (
            set.base_ejection,
            set.max_ejection_percent,
            set.min_health_percent
        ),
        (Duration::from_secs(180), 100, 50)
    );
    let old = read("{consecutiveErrors: 3}");
    assert_eq!((old.consecutive_5xx, old.consecutive_gateway), (0, 3));
    for (spec, says) in [
        (
            "{maxEjectionPercent: 101}",
            "maxEjectionPercent 101 is not within 0..100",
        ),
        ("{consecutive5xxErrors: -1}", "consecutive5xxErrors -1"),
        ("{baseEjectionTime: 0s}", "below Istio's minimum"),
    ] {
        let error = compile(&format!(
            "  trafficPolicy: {{outlierDetection: {spec}}}
"
        ))
        .unwrap_err();
        assert!(error.contains(says), "{spec}: {error}");
    }
}

#[test]
fn settings_without_a_local_meaning_are_named_in_a_warning() {
    let table = compile(
        "  trafficPolicy:\n    tls: {mode: ISTIO_MUTUAL}\n    connectionPool: {http: {idleTimeout: 1s}}\n    outlierDetection: {splitExternalLocalOriginErrors: true}\n    loadBalancer:\n      consistentHash: {httpHeaderName: x-user, minimumRingSize: 1024}\n      localityLbSetting: {enabled: true}\n",
    )
    .unwrap();
    let warning = table.warnings.join("\n");
    for field in [
        "tls",
        "connectionPool.http.idleTimeout",
        "outlierDetection.splitExternalLocalOriginErrors",
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
