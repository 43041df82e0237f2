//! A destination's traffic policy, read from a DestinationRule with Istio's
//! meaning: how one instance is chosen (`loadBalancer`), how many requests
//! it takes at once (`connectionPool`), and when a failing instance is
//! ejected (`outlierDetection`).

use std::time::Duration;

use crate::model;
use crate::table::istio_duration;

/// What the local router applies for one destination (a host or a subset,
/// an Envoy cluster in Istio).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub balancing: Balancing,
    pub pool: Option<Pool>,
    pub outlier: Option<Outlier>,
}

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

/// `connectionPool` limits that change what a client observes; `None` is
/// Istio's default, no limit (it sets Envoy's thresholds to 2^32 − 1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pool {
    /// Requests sent to the destination at once: `tcp.maxConnections` (an
    /// HTTP/1.1 connection carries one request at a time) and
    /// `http.http2MaxRequests`, whichever is smaller.
    pub max_active: Option<u32>,
    /// Requests waiting for a connection (`http.http1MaxPendingRequests`);
    /// beyond them a request is answered 503 at once, as Envoy's overflow.
    pub max_pending: Option<u32>,
    /// Retries in flight at once (`http.maxRetries`); a retry beyond them is
    /// not made and the failed answer stands.
    pub max_retries: Option<u32>,
}

/// `outlierDetection` with Istio's defaults (those of Envoy it leaves in
/// place, except the panic threshold, which it sets to `minHealthPercent`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outlier {
    /// Consecutive 5xx answers (connection failures count) that eject an
    /// instance; 0 never ejects.
    pub consecutive_5xx: u32,
    /// Consecutive 502, 503 and 504 answers that eject; 0 never ejects.
    pub consecutive_gateway: u32,
    /// Ejections end at the first sweep, every `interval`, after their time.
    pub interval: Duration,
    /// An ejection lasts this times the instance's number of ejections, at
    /// most [`MAX_EJECTION_TIME`].
    pub base_ejection: Duration,
    /// At most this share of the instances is ejected, but always one.
    pub max_ejection_percent: u32,
    /// Below this share of healthy instances, all are used (Envoy's panic
    /// mode); 0, Istio's default, never.
    pub min_health_percent: u32,
}

/// Envoy's defaults where Istio sets nothing: 5 consecutive 5xx, sweeps
/// every 10 s, 30 s base ejection, 10% of the instances, and ejections of at
/// most 300 s (`max_ejection_time`).
const DEFAULT_CONSECUTIVE_5XX: u32 = 5;
const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
const DEFAULT_BASE_EJECTION: Duration = Duration::from_secs(30);
const DEFAULT_MAX_EJECTION_PERCENT: u32 = 10;
pub const MAX_EJECTION_TIME: Duration = Duration::from_secs(300);

/// One traffic policy as written, each part `None` when absent: a subset's
/// parts replace the host's one by one, as Istio merges a subset's policy
/// over its host's.
#[derive(Debug, Clone, Default)]
pub(crate) struct Parts {
    balancing: Option<Balancing>,
    pool: Option<Pool>,
    outlier: Option<Outlier>,
}

impl Parts {
    /// These parts over `host`'s.
    pub(crate) fn over(&self, host: &Parts) -> Parts {
        Parts {
            balancing: self.balancing.clone().or_else(|| host.balancing.clone()),
            pool: self.pool.clone().or_else(|| host.pool.clone()),
            outlier: self.outlier.clone().or_else(|| host.outlier.clone()),
        }
    }

    /// The policy to apply, `None` when nothing is set.
    pub(crate) fn policy(&self) -> Option<Policy> {
        if self.balancing.is_none() && self.pool.is_none() && self.outlier.is_none() {
            return None;
        }
        Some(Policy {
            balancing: self.balancing.clone().unwrap_or_default(),
            pool: self.pool.clone(),
            outlier: self.outlier.clone(),
        })
    }
}

/// The parts of `policy`; settings without a local meaning (TLS, tunnels,
/// keep-alive, idle timeouts, locality, warm-up, ring sizes) are named in a
/// warning. What Istio's validation refuses is refused: a load balancer
/// with both kinds, a hash with no key or several, an unknown simple policy,
/// negative limits, percentages outside 0..100, durations below 1 ms.
pub(crate) fn parts(
    policy: &model::TrafficPolicy,
    what: &str,
    warnings: &mut Vec<String>,
) -> Result<Parts, String> {
    let mut ignored = present(&[
        ("tls", policy.tls.is_some()),
        ("portLevelSettings", policy.port_level_settings.is_some()),
        ("tunnel", policy.tunnel.is_some()),
        ("proxyProtocol", policy.proxy_protocol.is_some()),
        ("retryBudget", policy.retry_budget.is_some()),
    ]);
    let balancing = policy
        .load_balancer
        .as_ref()
        .map(|lb| balancing(lb, what, &mut ignored))
        .transpose()?;
    let pool = policy
        .connection_pool
        .as_ref()
        .map(|pool| connection_pool(pool, what, &mut ignored))
        .transpose()?;
    let outlier = policy
        .outlier_detection
        .as_ref()
        .map(|o| outlier(o, what, &mut ignored))
        .transpose()?;
    if !ignored.is_empty() {
        warnings.push(format!(
            "{what}: trafficPolicy {} accepted but not applied locally",
            ignored.join(", ")
        ));
    }
    Ok(Parts {
        balancing,
        pool,
        outlier,
    })
}

fn balancing(
    lb: &model::LoadBalancer,
    what: &str,
    ignored: &mut Vec<String>,
) -> Result<Balancing, String> {
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
    Ok(match (&lb.simple, &lb.consistent_hash) {
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
    })
}

/// An int32 limit where 0 (or absence) means Istio's default, no limit.
fn limit(value: Option<i64>, field: &str, what: &str) -> Result<Option<u32>, String> {
    match value {
        None | Some(0) => Ok(None),
        Some(n) if n < 0 => Err(format!("{what}: {field} must not be negative, not {n}")),
        Some(n) => i32::try_from(n)
            .map(|n| Some(n.unsigned_abs()))
            .map_err(|_| format!("{what}: {field} {n} is beyond Istio's int32")),
    }
}

fn connection_pool(
    pool: &model::ConnectionPool,
    what: &str,
    ignored: &mut Vec<String>,
) -> Result<Pool, String> {
    let tcp = pool.tcp.clone().unwrap_or_default();
    let http = pool.http.clone().unwrap_or_default();
    let connections = limit(tcp.max_connections, "tcp.maxConnections", what)?;
    let requests = limit(http.http2_max_requests, "http.http2MaxRequests", what)?;
    for (field, value) in [
        (
            "http.maxRequestsPerConnection",
            http.max_requests_per_connection,
        ),
        ("http.maxConcurrentStreams", http.max_concurrent_streams),
    ] {
        limit(value, field, what)?;
    }
    for (field, value) in [
        ("tcp.connectTimeout", &tcp.connect_timeout),
        ("tcp.maxConnectionDuration", &tcp.max_connection_duration),
        ("tcp.idleTimeout", &tcp.idle_timeout),
        ("http.idleTimeout", &http.idle_timeout),
    ] {
        if let Some(text) = value {
            istio_duration(text, &format!("{what}: connectionPool.{field}"))?;
        }
    }
    // Connection reuse and protocol choices change no answer a client sees.
    ignored.extend(present(&[
        (
            "connectionPool.tcp.connectTimeout",
            tcp.connect_timeout.is_some(),
        ),
        (
            "connectionPool.tcp.tcpKeepalive",
            tcp.tcp_keepalive.is_some(),
        ),
        (
            "connectionPool.tcp.maxConnectionDuration",
            tcp.max_connection_duration.is_some(),
        ),
        ("connectionPool.tcp.idleTimeout", tcp.idle_timeout.is_some()),
        (
            "connectionPool.http.maxRequestsPerConnection",
            http.max_requests_per_connection.is_some(),
        ),
        (
            "connectionPool.http.idleTimeout",
            http.idle_timeout.is_some(),
        ),
        (
            "connectionPool.http.h2UpgradePolicy",
            http.h2_upgrade_policy.is_some(),
        ),
        (
            "connectionPool.http.useClientProtocol",
            http.use_client_protocol.is_some(),
        ),
        (
            "connectionPool.http.maxConcurrentStreams",
            http.max_concurrent_streams.is_some(),
        ),
    ]));
    Ok(Pool {
        max_active: match (connections, requests) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        },
        max_pending: limit(
            http.http1_max_pending_requests,
            "http.http1MaxPendingRequests",
            what,
        )?,
        max_retries: limit(http.max_retries, "http.maxRetries", what)?,
    })
}

fn outlier(
    o: &model::OutlierDetection,
    what: &str,
    ignored: &mut Vec<String>,
) -> Result<Outlier, String> {
    let count = |value: Option<i64>, field: &str| -> Result<Option<u32>, String> {
        value
            .map(|n| {
                u32::try_from(n).map_err(|_| {
                    format!("{what}: outlierDetection.{field} {n} is not within 0..2^32")
                })
            })
            .transpose()
    };
    let percent = |value: Option<i64>, field: &str, default: u32| -> Result<u32, String> {
        match value {
            None => Ok(default),
            Some(n @ 0..=100) => Ok(n.unsigned_abs() as u32),
            Some(n) => Err(format!(
                "{what}: outlierDetection.{field} {n} is not within 0..100"
            )),
        }
    };
    let time = |value: &Option<String>, field: &str, default: Duration| match value {
        Some(text) => istio_duration(text, &format!("{what}: outlierDetection.{field}")),
        None => Ok(default),
    };
    ignored.extend(present(&[
        (
            "outlierDetection.splitExternalLocalOriginErrors",
            o.split_external_local_origin_errors.is_some(),
        ),
        (
            "outlierDetection.consecutiveLocalOriginFailures",
            o.consecutive_local_origin_failures.is_some(),
        ),
    ]));
    count(
        o.consecutive_local_origin_failures,
        "consecutiveLocalOriginFailures",
    )?;
    let gateway = count(o.consecutive_gateway_errors, "consecutiveGatewayErrors")?;
    let deprecated = count(o.consecutive_errors, "consecutiveErrors")?;
    let five = count(o.consecutive_5xx_errors, "consecutive5xxErrors")?;
    // Istio reads the deprecated `consecutiveErrors` as gateway errors only
    // (and then turns the 5xx ejection off) when the new fields are unset.
    let (consecutive_5xx, consecutive_gateway) = match (five, gateway, deprecated) {
        (None, None, Some(n)) if n > 0 => (0, n),
        (five, gateway, _) => (
            five.unwrap_or(DEFAULT_CONSECUTIVE_5XX),
            gateway.unwrap_or(0),
        ),
    };
    Ok(Outlier {
        consecutive_5xx,
        consecutive_gateway,
        interval: time(&o.interval, "interval", DEFAULT_INTERVAL)?,
        base_ejection: time(
            &o.base_ejection_time,
            "baseEjectionTime",
            DEFAULT_BASE_EJECTION,
        )?,
        max_ejection_percent: percent(
            o.max_ejection_percent,
            "maxEjectionPercent",
            DEFAULT_MAX_EJECTION_PERCENT,
        )?,
        min_health_percent: percent(o.min_health_percent, "minHealthPercent", 0)?,
    })
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
