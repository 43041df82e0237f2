//! The Istio and Gateway API routing objects the local data plane reads:
//! `networking.istio.io/v1` VirtualService and DestinationRule, and
//! `gateway.networking.k8s.io/v1` HTTPRoute. Unknown fields are errors, so a
//! feature we do not implement is reported instead of silently ignored.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    pub name: String,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// A Kubernetes object of one of the kinds read here.
#[derive(Debug, Clone, Deserialize)]
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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VirtualServiceSpec {
    pub hosts: Vec<String>,
    /// Only mesh-internal routing is done locally; a VirtualService bound to
    /// an ingress gateway is taken for its routes to the app.
    #[serde(default)]
    pub gateways: Vec<String>,
    #[serde(default)]
    pub http: Vec<HttpRoute>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpRoute {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, rename = "match")]
    pub matches: Vec<HttpMatch>,
    #[serde(default)]
    pub route: Vec<RouteDestination>,
    #[serde(default)]
    pub timeout: Option<String>,
    #[serde(default)]
    pub retries: Option<Retries>,
    #[serde(default)]
    pub fault: Option<Fault>,
    #[serde(default)]
    pub mirror: Option<Destination>,
    #[serde(default, rename = "mirrorPercentage")]
    pub mirror_percentage: Option<Percent>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpMatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub uri: Option<StringMatch>,
    #[serde(default)]
    pub headers: BTreeMap<String, StringMatch>,
}

/// Istio's `StringMatch`: exactly one of the three is set (checked when
/// the table is compiled).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StringMatch {
    #[serde(default)]
    pub exact: Option<String>,
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub regex: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteDestination {
    pub destination: Destination,
    #[serde(default)]
    pub weight: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Destination {
    pub host: String,
    #[serde(default)]
    pub subset: Option<String>,
    #[serde(default)]
    pub port: Option<PortSelector>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortSelector {
    pub number: u16,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retries {
    pub attempts: u32,
    #[serde(default, rename = "perTryTimeout")]
    pub per_try_timeout: Option<String>,
    #[serde(default, rename = "retryOn")]
    pub retry_on: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    #[serde(default)]
    pub delay: Option<Delay>,
    #[serde(default)]
    pub abort: Option<Abort>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delay {
    #[serde(rename = "fixedDelay")]
    pub fixed_delay: String,
    #[serde(default)]
    pub percentage: Option<Percent>,
    /// The deprecated integer form (`percent: 100`), still accepted by Istio.
    #[serde(default)]
    pub percent: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Abort {
    #[serde(rename = "httpStatus")]
    pub http_status: u16,
    #[serde(default)]
    pub percentage: Option<Percent>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Percent {
    pub value: f64,
}

pub type DestinationRule = Resource<DestinationRuleSpec>;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DestinationRuleSpec {
    pub host: String,
    #[serde(default)]
    pub subsets: Vec<Subset>,
    /// Load-balancer and TLS settings change nothing on one machine (every
    /// pick is per request, and there is no mTLS between local processes);
    /// they are accepted and reported as not applied.
    #[serde(default, rename = "trafficPolicy")]
    pub traffic_policy: Option<serde_norway::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subset {
    pub name: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default, rename = "trafficPolicy")]
    pub traffic_policy: Option<serde_norway::Value>,
}

// ---------------------------------------------------------------- Gateway API

pub type HttpRouteObject = Resource<HttpRouteSpec>;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpRouteSpec {
    #[serde(default, rename = "parentRefs")]
    pub parent_refs: Vec<ParentRef>,
    #[serde(default)]
    pub hostnames: Vec<String>,
    #[serde(default)]
    pub rules: Vec<HttpRouteRule>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParentRef {
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    pub name: String,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default, rename = "sectionName")]
    pub section_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpRouteRule {
    #[serde(default)]
    pub matches: Vec<HttpRouteMatch>,
    #[serde(default, rename = "backendRefs")]
    pub backend_refs: Vec<BackendRef>,
    #[serde(default)]
    pub timeouts: Option<HttpRouteTimeouts>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpRouteMatch {
    #[serde(default)]
    pub path: Option<PathMatch>,
    #[serde(default)]
    pub headers: Vec<HeaderMatch>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathMatch {
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    pub value: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderMatch {
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendRef {
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    pub name: String,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub weight: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpRouteTimeouts {
    #[serde(default)]
    pub request: Option<String>,
    #[serde(default, rename = "backendRequest")]
    pub backend_request: Option<String>,
}
