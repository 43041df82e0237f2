//! The Istio and Gateway API routing objects the local data plane reads:
//! `networking.istio.io/v1` VirtualService and DestinationRule, and
//! `gateway.networking.k8s.io/v1` HTTPRoute. Unknown fields are errors, so a
//! feature we do not implement is reported instead of silently ignored.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Where the object was read (`FILE, document N`), for errors; not a
    /// field of the object.
    #[serde(skip)]
    pub origin: Option<String>,
}

impl Metadata {
    /// How errors name the object: where it was read, its kind and name.
    pub fn describe(&self, kind: &str) -> String {
        match &self.origin {
            Some(origin) => format!("{origin}: {kind} {}", self.name),
            None => format!("{kind} {}", self.name),
        }
    }
}

/// A Kubernetes object of one of the kinds read here.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Resource<Spec> {
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub kind: String,
    pub metadata: Metadata,
    pub spec: Spec,
}

// ---------------------------------------------------------------- Istio

pub type VirtualService = Resource<VirtualServiceSpec>;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VirtualServiceSpec {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    /// Only mesh-internal routing is done locally; a VirtualService bound to
    /// an ingress gateway is taken for its routes to the app.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gateways: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http: Vec<HttpRoute>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpRoute {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, rename = "match", skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<HttpMatch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route: Vec<RouteDestination>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<Retries>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<Fault>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<Destination>,
    #[serde(
        default,
        rename = "mirrorPercentage",
        skip_serializing_if = "Option::is_none"
    )]
    pub mirror_percentage: Option<Percent>,
    // Istio fields the local router does not apply, kept as written (so
    // they list back) and named in a warning when the table is compiled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect: Option<serde_norway::Value>,
    #[serde(
        default,
        rename = "directResponse",
        skip_serializing_if = "Option::is_none"
    )]
    pub direct_response: Option<serde_norway::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegate: Option<serde_norway::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewrite: Option<serde_norway::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirrors: Option<serde_norway::Value>,
    #[serde(
        default,
        rename = "corsPolicy",
        skip_serializing_if = "Option::is_none"
    )]
    pub cors_policy: Option<serde_norway::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<serde_norway::Value>,
}

impl HttpRoute {
    /// The fields set that the local router does not apply.
    pub fn not_applied(&self) -> Vec<&'static str> {
        [
            ("redirect", self.redirect.is_some()),
            ("directResponse", self.direct_response.is_some()),
            ("delegate", self.delegate.is_some()),
            ("rewrite", self.rewrite.is_some()),
            ("mirrors", self.mirrors.is_some()),
            ("corsPolicy", self.cors_policy.is_some()),
            ("headers", self.headers.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect()
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpMatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<StringMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<StringMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<StringMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<StringMatch>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, StringMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u32>,
    #[serde(
        default,
        rename = "queryParams",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub query_params: BTreeMap<String, StringMatch>,
    #[serde(
        default,
        rename = "ignoreUriCase",
        skip_serializing_if = "Option::is_none"
    )]
    pub ignore_uri_case: Option<bool>,
    #[serde(
        default,
        rename = "withoutHeaders",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub without_headers: BTreeMap<String, StringMatch>,
    /// Matches on the calling workload, which the local router does not
    /// know; named in a warning.
    #[serde(
        default,
        rename = "sourceLabels",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub source_labels: BTreeMap<String, String>,
    #[serde(
        default,
        rename = "sourceNamespace",
        skip_serializing_if = "Option::is_none"
    )]
    pub source_namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gateways: Vec<String>,
    #[serde(
        default,
        rename = "statPrefix",
        skip_serializing_if = "Option::is_none"
    )]
    pub stat_prefix: Option<String>,
}

/// Istio's `StringMatch`: exactly one of the three is set (checked when
/// the table is compiled).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StringMatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RouteDestination {
    pub destination: Destination,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Destination {
    pub host: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subset: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<PortSelector>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PortSelector {
    pub number: u16,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Retries {
    pub attempts: u32,
    #[serde(
        default,
        rename = "perTryTimeout",
        skip_serializing_if = "Option::is_none"
    )]
    pub per_try_timeout: Option<String>,
    #[serde(default, rename = "retryOn", skip_serializing_if = "Option::is_none")]
    pub retry_on: Option<String>,
    #[serde(
        default,
        rename = "retryRemoteLocalities",
        skip_serializing_if = "Option::is_none"
    )]
    pub retry_remote_localities: Option<bool>,
    #[serde(
        default,
        rename = "retryIgnorePreviousHosts",
        skip_serializing_if = "Option::is_none"
    )]
    pub retry_ignore_previous_hosts: Option<bool>,
    /// Envoy's base interval of the back-off (25 ms when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Delay>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort: Option<Abort>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Delay {
    /// Istio also has `exponentialDelay`, which it never implemented; only
    /// the fixed delay is accepted, as Istio's validation does.
    #[serde(rename = "fixedDelay")]
    pub fixed_delay: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentage: Option<Percent>,
    /// The deprecated integer form (`percent: 100`), still accepted by Istio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Abort {
    /// `grpcStatus` and `http2Error` are the other kinds; Bookinfo speaks
    /// HTTP/1.1, so they are accepted and named in a warning.
    #[serde(default, rename = "httpStatus")]
    pub http_status: Option<u16>,
    #[serde(
        default,
        rename = "grpcStatus",
        skip_serializing_if = "Option::is_none"
    )]
    pub grpc_status: Option<String>,
    #[serde(
        default,
        rename = "http2Error",
        skip_serializing_if = "Option::is_none"
    )]
    pub http2_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentage: Option<Percent>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Percent {
    pub value: f64,
}

pub type DestinationRule = Resource<DestinationRuleSpec>;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DestinationRuleSpec {
    pub host: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subsets: Vec<Subset>,
    /// The load balancer (simple and consistent hash) is applied; the rest
    /// is accepted and reported as not applied.
    #[serde(
        default,
        rename = "trafficPolicy",
        skip_serializing_if = "Option::is_none"
    )]
    pub traffic_policy: Option<Box<TrafficPolicy>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Subset {
    pub name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(
        default,
        rename = "trafficPolicy",
        skip_serializing_if = "Option::is_none"
    )]
    pub traffic_policy: Option<Box<TrafficPolicy>>,
}

// ---------------------------------------------------------------- Gateway API

pub type HttpRouteObject = Resource<HttpRouteSpec>;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpRouteSpec {
    #[serde(default, rename = "parentRefs", skip_serializing_if = "Vec::is_empty")]
    pub parent_refs: Vec<ParentRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hostnames: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<HttpRouteRule>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ParentRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(
        default,
        rename = "sectionName",
        skip_serializing_if = "Option::is_none"
    )]
    pub section_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpRouteRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<HttpRouteMatch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<HttpRouteFilter>,
    #[serde(default, rename = "backendRefs", skip_serializing_if = "Vec::is_empty")]
    pub backend_refs: Vec<BackendRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<HttpRouteTimeouts>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpRouteMatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathMatch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<HeaderMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, rename = "queryParams", skip_serializing_if = "Vec::is_empty")]
    pub query_params: Vec<HeaderMatch>,
}

/// One filter of a rule (`HTTPRouteFilter`): `type` names which of the
/// other fields it sets.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpRouteFilter {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_mirror: Option<RequestMirror>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_header_modifier: Option<serde_norway::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_header_modifier: Option<serde_norway::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_redirect: Option<serde_norway::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_rewrite: Option<serde_norway::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_ref: Option<serde_norway::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors: Option<serde_norway::Value>,
}

/// `HTTPRequestMirrorFilter`: a copy of each request (or of `percent` or
/// `fraction` of them; all by default) to another backend.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RequestMirror {
    pub backend_ref: BackendRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fraction: Option<Fraction>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Fraction {
    pub numerator: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denominator: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PathMatch {
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub value: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderMatch {
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BackendRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Per-backend filters: named in a warning, not applied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<serde_norway::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpRouteTimeouts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    #[serde(
        default,
        rename = "backendRequest",
        skip_serializing_if = "Option::is_none"
    )]
    pub backend_request: Option<String>,
}

/// Istio's `TrafficPolicy`: the load balancer is applied; the other
/// settings are kept as written and named in a warning.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficPolicy {
    #[serde(
        default,
        rename = "loadBalancer",
        skip_serializing_if = "Option::is_none"
    )]
    pub load_balancer: Option<LoadBalancer>,
    #[serde(
        default,
        rename = "connectionPool",
        skip_serializing_if = "Option::is_none"
    )]
    pub connection_pool: Option<ConnectionPool>,
    #[serde(
        default,
        rename = "outlierDetection",
        skip_serializing_if = "Option::is_none"
    )]
    pub outlier_detection: Option<OutlierDetection>,
    #[serde(default, rename = "tls", skip_serializing_if = "Option::is_none")]
    pub tls: Option<serde_norway::Value>,
    #[serde(
        default,
        rename = "portLevelSettings",
        skip_serializing_if = "Option::is_none"
    )]
    pub port_level_settings: Option<serde_norway::Value>,
    #[serde(default, rename = "tunnel", skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<serde_norway::Value>,
    #[serde(
        default,
        rename = "proxyProtocol",
        skip_serializing_if = "Option::is_none"
    )]
    pub proxy_protocol: Option<serde_norway::Value>,
    #[serde(
        default,
        rename = "retryBudget",
        skip_serializing_if = "Option::is_none"
    )]
    pub retry_budget: Option<serde_norway::Value>,
}

/// Istio's `ConnectionPoolSettings`: limits of the connections and
/// requests to each instance of the destination.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionPool {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpSettings>,
}

/// `ConnectionPoolSettings.TCPSettings` (Istio's int32 fields).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TcpSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_keepalive: Option<serde_norway::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connection_duration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<String>,
}

/// `ConnectionPoolSettings.HTTPSettings` (Istio's int32 fields).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http1_max_pending_requests: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http2_max_requests: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_requests_per_connection: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub h2_upgrade_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_client_protocol: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent_streams: Option<i64>,
}

/// Istio's `OutlierDetection`: instances that keep failing are ejected
/// from the destination for a while.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OutlierDetection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_external_local_origin_errors: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_local_origin_failures: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_gateway_errors: Option<i64>,
    #[serde(
        default,
        rename = "consecutive5xxErrors",
        skip_serializing_if = "Option::is_none"
    )]
    pub consecutive_5xx_errors: Option<i64>,
    /// Deprecated in Istio for `consecutiveGatewayErrors`, which it means.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_errors: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_ejection_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ejection_percent: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_health_percent: Option<i64>,
}

/// Istio's `LoadBalancerSettings`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancer {
    /// `ROUND_ROBIN`, `LEAST_REQUEST`, `RANDOM`, `PASSTHROUGH`, `UNSPECIFIED`.
    #[serde(default, rename = "simple", skip_serializing_if = "Option::is_none")]
    pub simple: Option<String>,
    #[serde(
        default,
        rename = "consistentHash",
        skip_serializing_if = "Option::is_none"
    )]
    pub consistent_hash: Option<ConsistentHash>,
    /// One locality, and no warm-up, on one machine.
    #[serde(
        default,
        rename = "localityLbSetting",
        skip_serializing_if = "Option::is_none"
    )]
    pub locality_lb_setting: Option<serde_norway::Value>,
    #[serde(
        default,
        rename = "warmupDurationSecs",
        skip_serializing_if = "Option::is_none"
    )]
    pub warmup_duration_secs: Option<serde_norway::Value>,
    #[serde(default, rename = "warmup", skip_serializing_if = "Option::is_none")]
    pub warmup: Option<serde_norway::Value>,
}

/// What a consistent hash keys on (one of them), and its ring settings,
/// which change nothing for the few instances of a local run.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistentHash {
    #[serde(
        default,
        rename = "httpHeaderName",
        skip_serializing_if = "Option::is_none"
    )]
    pub http_header_name: Option<String>,
    #[serde(
        default,
        rename = "httpCookie",
        skip_serializing_if = "Option::is_none"
    )]
    pub http_cookie: Option<HttpCookie>,
    #[serde(
        default,
        rename = "useSourceIp",
        skip_serializing_if = "Option::is_none"
    )]
    pub use_source_ip: Option<bool>,
    #[serde(
        default,
        rename = "httpQueryParameterName",
        skip_serializing_if = "Option::is_none"
    )]
    pub http_query_parameter_name: Option<String>,
    #[serde(default, rename = "ringHash", skip_serializing_if = "Option::is_none")]
    pub ring_hash: Option<serde_norway::Value>,
    #[serde(default, rename = "maglev", skip_serializing_if = "Option::is_none")]
    pub maglev: Option<serde_norway::Value>,
    #[serde(
        default,
        rename = "minimumRingSize",
        skip_serializing_if = "Option::is_none"
    )]
    pub minimum_ring_size: Option<serde_norway::Value>,
}

/// The cookie a consistent hash keys on; the rest is for generating it.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCookie {
    pub name: String,
    #[serde(default, rename = "path", skip_serializing_if = "Option::is_none")]
    pub path: Option<serde_norway::Value>,
    #[serde(default, rename = "ttl", skip_serializing_if = "Option::is_none")]
    pub ttl: Option<serde_norway::Value>,
    #[serde(
        default,
        rename = "attributes",
        skip_serializing_if = "Option::is_none"
    )]
    pub attributes: Option<serde_norway::Value>,
}
