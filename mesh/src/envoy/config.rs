//! The routing table as Envoy configuration: what the local router does,
//! written as Istio writes it for a sidecar (one virtual host per service,
//! a cluster per destination, weighted clusters, the fault filter, Istio's
//! default retry policy and circuit-breaker thresholds), so real Envoy can
//! take the router's place and the two can be compared request by request.
//! Field names and defaults are those of Envoy's v3 API
//! (`envoy.config.{listener,route,cluster}.v3`).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};

use bookinfo_routing::policy::{Balancing, HashKey, Outlier, Policy, Pool};
use bookinfo_routing::table::{
    self, ISTIO_DEFAULT_RETRIES, ISTIO_DEFAULT_RETRY_ON, Match, Matcher, RetryOn, RetryPolicy,
    Rule, SERVICE_PORT, Selector, Table,
};

use crate::plane::Instance;

/// Which requests a listener takes.
#[derive(Debug, Clone)]
pub enum Serves {
    /// Every request is for this host (`bookinfo up`: a port per host; the
    /// entry host, productpage, applies the ingress routes when present).
    Host(String),
    /// The host the Host header names, `default` for any other (`bookinfo
    /// proxy`: one port for all, the entry point being the default).
    ByHeader { default: Option<String> },
}

/// Envoy's fractions as Istio writes percentages: parts per million.
const MILLION: f64 = 1_000_000.0;
/// Istio's circuit-breaker thresholds when a DestinationRule sets none:
/// the largest uint32, so Envoy's own defaults (1,024 requests, 3 retries)
/// never limit a mesh.
const NO_LIMIT: u32 = u32::MAX;
/// What the local router waits for a connection to an instance.
const CONNECT_TIMEOUT: &str = "1s";
/// Envoy's retry back-off cap is ten times its base (25 ms by default).
const RETRY_BASE: Duration = Duration::from_millis(25);
const RETRY_MAX_FACTOR: u32 = 10;

/// Istio's cluster name for a destination: `outbound|9080|SUBSET|HOST`,
/// the subset written as the labels it selects (`v1` for Bookinfo's
/// `version: v1`), empty for the whole host.
pub fn cluster_name(selector: &Selector) -> String {
    let subset = match (selector.labels.len(), selector.version()) {
        (1, Some(version)) => version.to_owned(),
        _ => selector
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(","),
    };
    format!(
        "outbound|{SERVICE_PORT}|{subset}|{}.default.svc.cluster.local",
        selector.app
    )
}

/// The route configuration of the listener at `addr` taking the requests
/// it `Serves`, named as [`listener_name`].
pub fn route_config(
    table: &Table,
    instances: &[Instance],
    addr: SocketAddr,
    serves: &Serves,
) -> Value {
    let apps: BTreeSet<&str> = instances.iter().map(|i| i.app.as_str()).collect();
    json!({"name": listener_name(addr), "virtual_hosts": virtual_hosts(table, &apps, serves)})
}

/// A bootstrap with everything inline (for `envoy -c`), with an admin
/// endpoint when given.
pub fn bootstrap(
    table: &Table,
    instances: &[Instance],
    listeners: &[(SocketAddr, Serves)],
    admin: Option<SocketAddr>,
) -> Value {
    let listeners: Vec<Value> = listeners
        .iter()
        .map(|(addr, serves)| {
            let routes = route_config(table, instances, *addr, serves);
            listener(*addr, json!({"route_config": routes}))
        })
        .collect();
    let mut bootstrap = json!({
        "static_resources": {"listeners": listeners, "clusters": clusters(table, instances)},
    });
    if let Some(admin) = admin {
        bootstrap["admin"] = json!({"address": socket_address(admin)});
    }
    bootstrap
}

pub(crate) fn socket_address(addr: SocketAddr) -> Value {
    json!({"socket_address": {"address": addr.ip().to_string(), "port_value": addr.port()}})
}

/// Envoy's name of the listener at `addr`, and of its route configuration.
pub fn listener_name(addr: SocketAddr) -> String {
    format!("{}_{}", addr.ip(), addr.port())
}

fn virtual_hosts(table: &Table, apps: &BTreeSet<&str>, serves: &Serves) -> Vec<Value> {
    // The entry point applies the ingress routes when there are some, as the
    // Istio ingress gateway does.
    let entry_rules = |host: &str| match table.hosts.contains_key(table::INGRESS) {
        true => table::INGRESS.to_owned(),
        false => host.to_owned(),
    };
    match serves {
        Serves::Host(host) => {
            let rules = if host == crate::plane::ENTRY_HOST {
                entry_rules(host)
            } else {
                host.clone()
            };
            vec![virtual_host(table, host, &rules, vec!["*".to_owned()])]
        }
        Serves::ByHeader { default } => {
            let mut hosts: Vec<Value> = apps
                .iter()
                .map(|app| virtual_host(table, app, app, domains(app)))
                .collect();
            if let Some(default) = default {
                hosts.push(virtual_host(
                    table,
                    default,
                    &entry_rules(default),
                    vec!["*".to_owned()],
                ));
            }
            hosts
        }
    }
}

/// The listener at `addr`, its routes given as `routes` (inline
/// `route_config`, or an `rds` source).
pub fn listener(addr: SocketAddr, routes: Value) -> Value {
    let name = listener_name(addr);
    let mut manager = json!({
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": name,
        // Istio's default path normalisation (BASE).
        "normalize_path": true,
        "merge_slashes": false,
        "path_with_escaped_slashes_action": "KEEP_UNCHANGED",
        "http_filters": [
            {
                "name": "envoy.filters.http.fault",
                "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"},
            },
            {
                "name": "envoy.filters.http.router",
                "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
            },
        ],
    });
    if let (Some(manager), Some(routes)) = (manager.as_object_mut(), routes.as_object()) {
        manager.extend(routes.clone());
    }
    json!({
        "name": name,
        "address": socket_address(addr),
        "filter_chains": [{"filters": [{
            "name": "envoy.filters.network.http_connection_manager",
            "typed_config": manager,
        }]}],
    })
}

/// The names a request's Host header may give a service, with or without a
/// port, short or qualified as Istio writes them.
fn domains(app: &str) -> Vec<String> {
    [
        app.to_owned(),
        format!("{app}.default"),
        format!("{app}.default.svc"),
        format!("{app}.default.svc.cluster.local"),
    ]
    .into_iter()
    .flat_map(|name| [format!("{name}:*"), name])
    .collect()
}

/// The virtual host of `host`, routed by the rules kept under `rules` (the
/// host's own, or the ingress routes at the entry point): each match of each
/// rule is an Envoy route, as Istio writes them; a host without rules sends
/// everything to all its instances.
fn virtual_host(table: &Table, host: &str, rules: &str, domains: Vec<String>) -> Value {
    let routes: Vec<Value> = match table.hosts.get(rules) {
        Some(rules) => rules.iter().flat_map(|rule| routes(table, rule)).collect(),
        None => {
            let all = Selector {
                app: host.to_owned(),
                labels: Default::default(),
            };
            vec![json!({
                "match": {"prefix": "/"},
                "route": {
                    "cluster": cluster_name(&all),
                    "timeout": "0s",
                    "retry_policy": retry_policy(None),
                    "hash_policy": hash_policy(table, &all),
                },
            })]
        }
    };
    json!({"name": host, "domains": domains, "routes": routes})
}

fn routes(table: &Table, rule: &Rule) -> Vec<Value> {
    let matches: Vec<Value> = if rule.matches.is_empty() {
        vec![json!({"prefix": "/"})]
    } else {
        // A match on another port than the services' never applies.
        rule.matches
            .iter()
            .filter(|m| m.port.is_none_or(|port| port == SERVICE_PORT))
            .map(route_match)
            .collect()
    };
    let mut action = json!({
        // Istio: no timeout unless the route sets one (Envoy's default is 15 s).
        "timeout": rule.timeout.map_or_else(|| "0s".to_owned(), seconds),
        "retry_policy": retry_policy(rule.retries.as_ref()),
    });
    match rule.destinations.as_slice() {
        [only] => action["cluster"] = json!(cluster_name(&only.selector)),
        several => {
            let clusters: Vec<Value> = several
                .iter()
                .map(|d| json!({"name": cluster_name(&d.selector), "weight": d.weight}))
                .collect();
            action["weighted_clusters"] = json!({"clusters": clusters});
        }
    }
    if let Some(hashing) = rule
        .destinations
        .iter()
        .map(|d| hash_policy(table, &d.selector))
        .find(|h| h.as_array().is_some_and(|a| !a.is_empty()))
    {
        action["hash_policy"] = hashing;
    }
    if let Some((mirror, share)) = &rule.mirror {
        action["request_mirror_policies"] = json!([{
            "cluster": cluster_name(mirror),
            "runtime_fraction": {"default_value": fraction(*share)},
        }]);
    }
    let fault = fault(rule);
    matches
        .into_iter()
        .map(|m| {
            let mut route = json!({"match": m, "route": action});
            if let Some(fault) = &fault {
                route["typed_per_filter_config"] = json!({"envoy.filters.http.fault": fault});
            }
            route
        })
        .collect()
}

fn route_match(m: &Match) -> Value {
    let mut out = match &m.uri {
        None => json!({"prefix": "/"}),
        Some(Matcher::Exact(path)) => json!({"path": path}),
        Some(Matcher::Prefix(prefix)) => json!({"prefix": prefix}),
        Some(Matcher::Regex(re)) => json!({"safe_regex": {"regex": re.as_str()}}),
    };
    if m.ignore_uri_case {
        out["case_sensitive"] = json!(false);
    }
    let mut headers: Vec<Value> = m
        .headers
        .iter()
        .map(|(name, matcher)| json!({"name": name, "string_match": string_match(matcher)}))
        .collect();
    for (name, matcher) in [
        (":method", &m.method),
        (":authority", &m.authority),
        (":scheme", &m.scheme),
    ] {
        if let Some(matcher) = matcher {
            headers.push(json!({"name": name, "string_match": string_match(matcher)}));
        }
    }
    // Istio's withoutHeaders: the request matches unless the header is there
    // and matches (an absent header reads as empty, so it passes).
    headers.extend(m.without_headers.iter().map(|(name, matcher)| {
        json!({
            "name": name,
            "string_match": string_match(matcher),
            "invert_match": true,
            "treat_missing_header_as_empty": true,
        })
    }));
    if !headers.is_empty() {
        out["headers"] = json!(headers);
    }
    if !m.query.is_empty() {
        out["query_parameters"] = json!(
            m.query
                .iter()
                .map(|(name, matcher)| json!({"name": name, "string_match": string_match(matcher)}))
                .collect::<Vec<_>>()
        );
    }
    out
}

fn string_match(matcher: &Matcher) -> Value {
    match matcher {
        Matcher::Exact(value) => json!({"exact": value}),
        Matcher::Prefix(value) => json!({"prefix": value}),
        // The table's regexes are anchored (`^(?:…)$`); RE2 reads them alike.
        Matcher::Regex(re) => json!({"safe_regex": {"regex": re.as_str()}}),
    }
}

fn seconds(duration: Duration) -> String {
    format!("{}s", duration.as_secs_f64())
}

fn fraction(share: f64) -> Value {
    json!({"numerator": (share * MILLION).round() as u64, "denominator": "MILLION"})
}

fn fault(rule: &Rule) -> Option<Value> {
    if rule.delay.is_none() && rule.abort.is_none() {
        return None;
    }
    let mut fault =
        json!({"@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"});
    if let Some((delay, share)) = rule.delay {
        fault["delay"] = json!({"fixed_delay": seconds(delay), "percentage": fraction(share)});
    }
    if let Some((status, share)) = rule.abort {
        fault["abort"] = json!({"http_status": status, "percentage": fraction(share)});
    }
    Some(fault)
}

/// The route's retry policy, or Istio's default one (`None`), with Istio's
/// host predicate: a retry prefers another instance than the ones tried.
fn retry_policy(retries: Option<&RetryPolicy>) -> Value {
    let default_on = RetryOn::parse(ISTIO_DEFAULT_RETRY_ON).unwrap_or_default();
    let (attempts, on, per_try, backoff) = match retries {
        Some(r) => (r.attempts, &r.retry_on, r.per_try_timeout, r.backoff),
        None => (ISTIO_DEFAULT_RETRIES, &default_on, None, None),
    };
    let mut conditions = Vec::new();
    for (set, name) in [
        (on.server_error, "5xx"),
        (on.gateway_error, "gateway-error"),
        (on.reset, "reset"),
        (on.connect_failure, "connect-failure"),
        (on.conflict, "retriable-4xx"),
        (!on.status_codes.is_empty(), "retriable-status-codes"),
    ] {
        if set {
            conditions.push(name);
        }
    }
    let base = backoff.unwrap_or(RETRY_BASE);
    let mut policy = json!({
        "retry_on": conditions.join(","),
        "num_retries": attempts,
        "retry_back_off": {
            "base_interval": seconds(base),
            "max_interval": seconds(base.saturating_mul(RETRY_MAX_FACTOR)),
        },
        "retry_host_predicate": [{
            "name": "envoy.retry_host_predicates.previous_hosts",
            "typed_config": {"@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"},
        }],
        "host_selection_retry_max_attempts": 5,
    });
    if !on.status_codes.is_empty() {
        policy["retriable_status_codes"] = json!(on.status_codes);
    }
    if let Some(per_try) = per_try {
        policy["per_try_timeout"] = json!(seconds(per_try));
    }
    policy
}

/// The route's hash policy for a destination whose load balancer hashes
/// (Envoy hashes on the route, balances on the cluster).
fn hash_policy(table: &Table, selector: &Selector) -> Value {
    let key = match table.policies.get(selector).map(|p| &p.balancing) {
        Some(Balancing::Hash(key)) => key,
        _ => return json!([]),
    };
    json!([match key {
        HashKey::Header(name) => json!({"header": {"header_name": name}}),
        // No TTL: the cookie is read, never set, as the local router does.
        HashKey::Cookie(name) => json!({"cookie": {"name": name}}),
        HashKey::QueryParameter(name) => json!({"query_parameter": {"name": name}}),
        HashKey::SourceIp => json!({"connection_properties": {"source_ip": true}}),
    }])
}

/// A cluster for every destination any route names (mirrors included) and
/// for every host as a whole.
pub fn clusters(table: &Table, instances: &[Instance]) -> Vec<Value> {
    let apps: BTreeSet<&str> = instances.iter().map(|i| i.app.as_str()).collect();
    let mut selectors: BTreeSet<Selector> = apps
        .iter()
        .map(|app| Selector {
            app: (*app).to_owned(),
            labels: Default::default(),
        })
        .collect();
    for rule in table.hosts.values().flat_map(|rules| rules.iter()) {
        selectors.extend(rule.destinations.iter().map(|d| d.selector.clone()));
        selectors.extend(rule.mirror.iter().map(|(m, _)| m.clone()));
    }
    selectors
        .iter()
        .map(|selector| cluster(selector, table.policies.get(selector), instances))
        .collect()
}

fn cluster(selector: &Selector, policy: Option<&Policy>, instances: &[Instance]) -> Value {
    let name = cluster_name(selector);
    let endpoints: Vec<Value> = instances
        .iter()
        .filter(|i| i.selected_by(selector))
        .map(|i| {
            let (host, port) = i.authority.rsplit_once(':').unwrap_or((&i.authority, "80"));
            json!({"endpoint": {"address": {"socket_address": {
                "address": host,
                "port_value": port.parse::<u16>().unwrap_or(80),
            }}}})
        })
        .collect();
    // Addresses are static; names (containers) are resolved.
    let by_name = instances
        .iter()
        .filter(|i| i.selected_by(selector))
        .any(|i| i.authority.parse::<SocketAddr>().is_err());
    let balancing = policy.map_or(&Balancing::RoundRobin, |p| &p.balancing);
    let mut cluster = json!({
        "name": name,
        "type": if by_name { "STRICT_DNS" } else { "STATIC" },
        "connect_timeout": CONNECT_TIMEOUT,
        "lb_policy": match balancing {
            Balancing::RoundRobin => "ROUND_ROBIN",
            Balancing::LeastRequest => "LEAST_REQUEST",
            Balancing::Random => "RANDOM",
            Balancing::Hash(_) => "RING_HASH",
        },
        "circuit_breakers": {"thresholds": [thresholds(policy.and_then(|p| p.pool.as_ref()))]},
        "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": endpoints}]},
    });
    if let Some(outlier) = policy.and_then(|p| p.outlier.as_ref()) {
        cluster["outlier_detection"] = outlier_detection(outlier);
        cluster["common_lb_config"] =
            json!({"healthy_panic_threshold": {"value": outlier.min_health_percent}});
    }
    cluster
}

fn thresholds(pool: Option<&Pool>) -> Value {
    let pool = pool.cloned().unwrap_or_default();
    let active = pool.max_active.unwrap_or(NO_LIMIT);
    json!({
        "max_connections": active,
        "max_requests": active,
        "max_pending_requests": pool.max_pending.unwrap_or(NO_LIMIT),
        "max_retries": pool.max_retries.unwrap_or(NO_LIMIT),
    })
}

/// Istio's translation: consecutive 5xx and gateway errors enforced when
/// set above 0, success-rate ejection off.
fn outlier_detection(o: &Outlier) -> Value {
    let enforced = |n: u32| if n > 0 { 100 } else { 0 };
    json!({
        "consecutive_5xx": o.consecutive_5xx,
        "enforcing_consecutive_5xx": enforced(o.consecutive_5xx),
        "consecutive_gateway_failure": o.consecutive_gateway,
        "enforcing_consecutive_gateway_failure": enforced(o.consecutive_gateway),
        "enforcing_success_rate": 0,
        "interval": seconds(o.interval),
        "base_ejection_time": seconds(o.base_ejection),
        "max_ejection_percent": o.max_ejection_percent,
    })
}
