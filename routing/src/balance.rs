//! How one instance of a destination is chosen: the DestinationRule load
//! balancer (Istio's `LoadBalancerSettings`), read from its traffic policy.

use crate::model;

/// How one instance of a destination is chosen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Balancing {
    /// `ROUND_ROBIN` (and `PASSTHROUGH`, which has no meaning locally).
    /// The local default: Istio's is `LEAST_REQUEST`, which with the few
    /// requests in flight of a local run picks as round robin does, but
    /// round robin keeps a run without a DestinationRule deterministic.
    #[default]
    RoundRobin,
    /// `LEAST_REQUEST`, Istio's default: the instance with the fewest
    /// requests in flight.
    LeastRequest,
    Random,
    /// `consistentHash`: the same key, the same instance (sticky sessions).
    Hash(HashKey),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashKey {
    Header(String),
    Cookie(String),
    QueryParameter(String),
    SourceIp,
}

/// The balancing `policy` asks for (`None` when it sets no load balancer,
/// so a subset's policy keeps the host's, as Istio merges them field by
/// field); settings without a local meaning
/// (connection pool, outlier detection, TLS, locality, warm-up, ring size)
/// are named in a warning. Istio's validation refuses a load balancer with
/// both kinds, a hash with no key or several, and an unknown simple policy.
pub(crate) fn from_policy(
    policy: &model::TrafficPolicy,
    what: &str,
    warnings: &mut Vec<String>,
) -> Result<Option<Balancing>, String> {
    let mut ignored = present(&[
        ("connectionPool", policy.connection_pool.is_some()),
        ("outlierDetection", policy.outlier_detection.is_some()),
        ("tls", policy.tls.is_some()),
        ("portLevelSettings", policy.port_level_settings.is_some()),
        ("tunnel", policy.tunnel.is_some()),
        ("proxyProtocol", policy.proxy_protocol.is_some()),
        ("retryBudget", policy.retry_budget.is_some()),
    ]);
    let Some(lb) = &policy.load_balancer else {
        warn_ignored(what, &ignored, warnings);
        return Ok(None);
    };
    ignored.extend(present(&[
        (
            "loadBalancer.localityLbSetting",
            lb.locality_lb_setting.is_some(),
        ),
        (
            "loadBalancer.warmupDurationSecs",
            lb.warmup_duration_secs.is_some(),
        ),
        ("loadBalancer.warmup", lb.warmup.is_some()),
    ]));
    let balancing = match (&lb.simple, &lb.consistent_hash) {
        (Some(_), Some(_)) => {
            return Err(format!(
                "{what}: loadBalancer sets both simple and consistentHash"
            ));
        }
        (_, Some(hash)) => {
            ignored.extend(present(&[
                ("consistentHash.ringHash", hash.ring_hash.is_some()),
                ("consistentHash.maglev", hash.maglev.is_some()),
                (
                    "consistentHash.minimumRingSize",
                    hash.minimum_ring_size.is_some(),
                ),
            ]));
            if let Some(cookie) = &hash.http_cookie {
                // Envoy generates the cookie when a TTL is set and the
                // request has none; locally a request without it is not
                // pinned.
                ignored.extend(present(&[
                    ("httpCookie.path", cookie.path.is_some()),
                    ("httpCookie.ttl", cookie.ttl.is_some()),
                    ("httpCookie.attributes", cookie.attributes.is_some()),
                ]));
            }
            Balancing::Hash(hash_key(hash, what)?)
        }
        (Some(simple), None) => match simple.as_str() {
            "ROUND_ROBIN" | "PASSTHROUGH" | "UNSPECIFIED" => Balancing::RoundRobin,
            "RANDOM" => Balancing::Random,
            // LEAST_CONN is Istio's deprecated name for LEAST_REQUEST.
            "LEAST_REQUEST" | "LEAST_CONN" => Balancing::LeastRequest,
            other => return Err(format!("{what}: unknown loadBalancer.simple `{other}`")),
        },
        (None, None) => Balancing::default(),
    };
    warn_ignored(what, &ignored, warnings);
    Ok(Some(balancing))
}

/// The one key a consistent hash names (Istio refuses none or several).
fn hash_key(hash: &model::ConsistentHash, what: &str) -> Result<HashKey, String> {
    let keys = [
        hash.http_header_name.clone().map(HashKey::Header),
        hash.http_cookie
            .as_ref()
            .map(|c| HashKey::Cookie(c.name.clone())),
        hash.http_query_parameter_name
            .clone()
            .map(HashKey::QueryParameter),
        (hash.use_source_ip == Some(true)).then_some(HashKey::SourceIp),
    ];
    let mut set = keys.into_iter().flatten();
    match (set.next(), set.next()) {
        (Some(key), None) => Ok(key),
        _ => Err(format!(
            "{what}: consistentHash needs exactly one of httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName"
        )),
    }
}

fn present(fields: &[(&str, bool)]) -> Vec<String> {
    fields
        .iter()
        .filter(|(_, set)| *set)
        .map(|(name, _)| (*name).to_owned())
        .collect()
}

fn warn_ignored(what: &str, ignored: &[String], warnings: &mut Vec<String>) {
    if !ignored.is_empty() {
        warnings.push(format!(
            "{what}: trafficPolicy {} accepted but not applied locally",
            ignored.join(", ")
        ));
    }
}
