//! The compiled routing table: for each service host, the ordered rules of
//! its VirtualService (or HTTPRoute) with destinations resolved to instance
//! selectors through DestinationRule subsets. Compiling checks everything a
//! request would otherwise trip over later.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use regex::{Regex, RegexBuilder};

use crate::load::Object;
use crate::model::{self, StringMatch};
use crate::policy::{self, Policy};

// Limits far above any real routing file (Istio's samples and the
// canary tools' generated objects name one host and a handful of rules);
// a file beyond them is refused with the limit named, instead of growing
// the data plane by gigabytes.

/// Objects compiled into one table.
pub const MAX_OBJECTS: usize = 4_096;
/// Hosts one VirtualService or HTTPRoute installs its rules for.
pub const MAX_HOSTS_PER_OBJECT: usize = 256;
/// `http` routes of a VirtualService, or rules of an HTTPRoute.
pub const MAX_RULES_PER_OBJECT: usize = 1_024;
/// Matches of one rule, and header matches of one match.
pub const MAX_MATCHES_PER_RULE: usize = 64;
/// Destinations of one rule.
pub const MAX_DESTINATIONS_PER_RULE: usize = 64;
/// Characters of one regular expression, and the bytes its compiled form
/// may take (Envoy bounds RE2 programs too); header and path patterns are
/// a few dozen characters.
pub const MAX_REGEX_LEN: usize = 4_096;
const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// Istio's default retry policy (`retry.DefaultPolicy` in istio/pilot), for
/// routes without `retries`: two more attempts, on the conditions below.
pub const ISTIO_DEFAULT_RETRIES: u32 = 2;
/// The conditions of Istio's default retry policy, which are also what
/// `retries` without `retryOn` retries on (`retriable-status-codes` means
/// 503 unless codes are listed).
pub const ISTIO_DEFAULT_RETRY_ON: &str =
    "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes";

/// The conditions of Envoy's `x-envoy-retry-on` (and its gRPC ones) that
/// Istio accepts in `retryOn`, parsed once; an HTTP status code in the list
/// is a retriable status code, as Istio translates it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetryOn {
    /// Any 5xx, and timeouts and resets (`5xx`).
    pub server_error: bool,
    /// 502, 503, 504 (`gateway-error`).
    pub gateway_error: bool,
    /// No answer: a reset or a connection closed early (`reset`).
    pub reset: bool,
    /// The connection could not be made (`connect-failure`).
    pub connect_failure: bool,
    /// 409 (`retriable-4xx`).
    pub conflict: bool,
    /// These statuses (`retriable-status-codes` and listed codes; 503 when
    /// the policy is named without codes).
    pub status_codes: Vec<u16>,
}

/// Conditions Envoy knows that no request here can meet (gRPC status,
/// HTTP/2 and HTTP/3 stream events, rate limiting): accepted, never true.
const RETRY_ON_NEVER_LOCAL: [&str; 10] = [
    "refused-stream",
    "reset-before-request",
    "envoy-ratelimited",
    "retriable-headers",
    "http3-post-connect-failure",
    "cancelled",
    "deadline-exceeded",
    "internal",
    "resource-exhausted",
    "unavailable",
];

impl RetryOn {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut on = Self::default();
        let mut status_codes_named = false;
        for policy in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match policy {
                "5xx" => on.server_error = true,
                "gateway-error" => on.gateway_error = true,
                "reset" => on.reset = true,
                "connect-failure" => on.connect_failure = true,
                "retriable-4xx" => on.conflict = true,
                "retriable-status-codes" => status_codes_named = true,
                known if RETRY_ON_NEVER_LOCAL.contains(&known) => {}
                code => match code.parse::<u16>() {
                    Ok(code) if (100..=599).contains(&code) => on.status_codes.push(code),
                    _ => return Err(format!("`{code}` is not a retry policy Istio knows")),
                },
            }
        }
        if status_codes_named && on.status_codes.is_empty() {
            on.status_codes.push(503);
        }
        Ok(on)
    }

    /// Whether an answer with `status` is retried.
    pub fn status(&self, status: u16) -> bool {
        (self.server_error && (500..=599).contains(&status))
            || (self.gateway_error && (502..=504).contains(&status))
            || (self.conflict && status == 409)
            || self.status_codes.contains(&status)
    }

    /// Whether a try with no answer is retried: a per-try timeout, or a
    /// connection that failed (`connect`) or was reset before the answer.
    /// As Envoy: `5xx` and `gateway-error` cover all three, `reset` the
    /// resets, `connect-failure` only failed connections.
    pub fn no_answer(&self, connect: bool, timed_out: bool) -> bool {
        self.server_error
            || self.gateway_error
            || (!timed_out && (self.reset || (connect && self.connect_failure)))
    }
}

/// Retry attempts of one route. Istio sets no maximum; with Envoy's
/// back-off (up to 250 ms a try) 100 already spans far beyond any route
/// timeout, and `2^32 − 1` must not wrap to "no attempt at all".
pub const MAX_RETRY_ATTEMPTS: u32 = 100;
/// The largest weight: Istio's `weight` is an int32 (the Gateway API's is
/// bounded lower still, at 1,000,000).
pub const MAX_WEIGHT: i64 = i32::MAX as i64;

fn at_most(what: &str, count: usize, limit: usize, of: &str) -> Result<(), String> {
    if count > limit {
        return Err(format!(
            "{what}: {count} {of}; at most {limit} are accepted (far above any real routing file)"
        ));
    }
    Ok(())
}

/// The per-rule limits: destinations, matches, and header matches of each match.
fn rule_sizes(
    what: &str,
    destinations: usize,
    matches: usize,
    mut headers: impl Iterator<Item = usize>,
) -> Result<(), String> {
    at_most(
        what,
        destinations,
        MAX_DESTINATIONS_PER_RULE,
        "destinations",
    )?;
    at_most(what, matches, MAX_MATCHES_PER_RULE, "matches")?;
    headers.try_for_each(|n| at_most(what, n, MAX_MATCHES_PER_RULE, "header matches"))
}

/// Which instances a destination means: an app and the labels a subset
/// (or a per-version Service) selects.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Selector {
    pub app: String,
    pub labels: BTreeMap<String, String>,
}

impl Selector {
    /// The `version` label, which is how Bookinfo names its subsets.
    pub fn version(&self) -> Option<&str> {
        self.labels.get("version").map(String::as_str)
    }
}

#[derive(Debug, Clone)]
pub enum Matcher {
    Exact(String),
    Prefix(String),
    Regex(Regex),
}

impl Matcher {
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Self::Exact(want) => value == want,
            Self::Prefix(want) => value.starts_with(want.as_str()),
            Self::Regex(re) => re.is_match(value),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Match {
    pub uri: Option<Matcher>,
    /// `ignoreUriCase`: exact and prefix URI matches ignore case.
    pub ignore_uri_case: bool,
    pub headers: Vec<(String, Matcher)>,
    /// Envoy's pseudo-headers, looked up as `:method`, `:authority`, `:scheme`.
    pub method: Option<Matcher>,
    pub authority: Option<Matcher>,
    pub scheme: Option<Matcher>,
    pub query: Vec<(String, Matcher)>,
    /// The request matches only if none of these does.
    pub without_headers: Vec<(String, Matcher)>,
    /// The destination port the match names; every Bookinfo service is
    /// reached on [`SERVICE_PORT`], so another port never matches here.
    pub port: Option<u32>,
}

/// The key of the entry point's rules among the hosts (Istio's wildcard
/// host; no service has this name): the routes bound to an ingress Gateway.
pub const INGRESS: &str = "*";

/// The label of a destination whose subset no DestinationRule defines. No
/// instance has it, so requests routed there get 503, as in Istio, which
/// accepts such a route and sends it to a cluster that does not exist.
pub const UNDEFINED_SUBSET: &str = "bookinfo.local/undefined-subset";

/// The port of every Bookinfo Service (`port: 9080`, named `http`).
pub const SERVICE_PORT: u32 = 9080;

impl Match {
    /// `header(name)` gives request headers, and Envoy's pseudo-headers
    /// `:method`, `:authority`, `:scheme` and `:path` (with the query).
    fn accepts<'h>(&self, path: &str, header: &impl Fn(&str) -> Option<&'h str>) -> bool {
        let uri = |m: &Matcher| match m {
            Matcher::Exact(want) if self.ignore_uri_case => want.eq_ignore_ascii_case(path),
            Matcher::Prefix(want) if self.ignore_uri_case => path
                .get(..want.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(want)),
            other => other.matches(path),
        };
        let pseudo = |name: &str, m: &Option<Matcher>| {
            m.as_ref()
                .is_none_or(|m| header(name).is_some_and(|v| m.matches(v)))
        };
        let query = header(":path")
            .and_then(|p| p.split_once('?'))
            .map_or("", |(_, q)| q);
        self.uri.as_ref().is_none_or(uri)
            && self.port.is_none_or(|port| port == SERVICE_PORT)
            && pseudo(":method", &self.method)
            && pseudo(":authority", &self.authority)
            && pseudo(":scheme", &self.scheme)
            && self
                .headers
                .iter()
                .all(|(name, m)| header(name).is_some_and(|v| m.matches(v)))
            && !self
                .without_headers
                .iter()
                .any(|(name, m)| header(name).is_some_and(|v| m.matches(v)))
            && self.query.iter().all(|(name, m)| {
                query
                    .split('&')
                    .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
                    .find(|(key, _)| key == name)
                    .is_some_and(|(_, value)| m.matches(value))
            })
    }
}

#[derive(Debug, Clone)]
pub struct Weighted {
    pub selector: Selector,
    /// Relative weight; the shares are weight / sum.
    pub weight: u32,
}

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub per_try_timeout: Option<Duration>,
    pub retry_on: RetryOn,
    /// The base interval of Envoy's back-off (`backoff`; 25 ms when absent).
    pub backoff: Option<Duration>,
}

#[derive(Debug, Clone)]
pub struct Rule {
    /// Where it was written (`VirtualService reviews (FILE), http[1]`), as
    /// the route a request took is named in traces.
    pub name: String,
    /// Any one of them (an empty list matches every request).
    pub matches: Vec<Match>,
    pub destinations: Vec<Weighted>,
    pub timeout: Option<Duration>,
    pub retries: Option<RetryPolicy>,
    pub delay: Option<(Duration, f64)>,
    pub abort: Option<(u16, f64)>,
    pub mirror: Option<(Selector, f64)>,
}

/// Routes of every host that has a VirtualService or HTTPRoute; hosts
/// without one are balanced round-robin over all their instances.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Shared between the hosts of one object: rules are compiled once.
    pub hosts: HashMap<String, Arc<[Rule]>>,
    /// The DestinationRule traffic policy of a destination (how instances
    /// are chosen, pool limits, ejection), by the selector of the host or
    /// subset; a destination without one has the local defaults.
    pub policies: HashMap<Selector, Policy>,
    pub warnings: Vec<String>,
}

impl Table {
    /// The first rule of `host` that accepts a request for `path` with
    /// `header(name)` values, as Istio evaluates `http` routes in order (an
    /// empty match list accepts every request). `None`: no route applies.
    pub fn rule_for<'h>(
        &self,
        host: &str,
        path: &str,
        header: impl Fn(&str) -> Option<&'h str>,
    ) -> Option<&Rule> {
        self.hosts.get(host)?.iter().find(|rule| {
            rule.matches.is_empty() || rule.matches.iter().any(|m| m.accepts(path, &header))
        })
    }

    /// The configured shares per version of the rule that applies to such
    /// a request (what the loadgen expects to observe).
    pub fn shares<'h>(
        &self,
        host: &str,
        path: &str,
        header: impl Fn(&str) -> Option<&'h str>,
    ) -> Option<BTreeMap<String, f64>> {
        let rule = self.rule_for(host, path, header)?;
        // In 64 bits: 64 destinations of at most 2^31 cannot overflow it.
        let total: u64 = rule.destinations.iter().map(|d| u64::from(d.weight)).sum();
        let mut shares = BTreeMap::new();
        for destination in &rule.destinations {
            let version = destination.selector.version().unwrap_or("all").to_owned();
            *shares.entry(version).or_insert(0.0) += destination.weight as f64 / total as f64;
        }
        Some(shares)
    }
}

/// Where subset labels come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subsets {
    /// From the DestinationRules among the objects; an undefined subset is an error.
    Declared,
    /// As Bookinfo names them, subset `v2` selects `version: v2`, unless a
    /// DestinationRule says otherwise (reading a route file on its own).
    NamedAsVersions,
}

/// The service a host names: `reviews`, `reviews.default`,
/// `reviews.default.svc` and `reviews.default.svc.cluster.local` are all
/// `reviews` (routing files use short names, which Istio qualifies with the
/// namespace). Any other name with a dot (`www.googleapis.com`) is an
/// external host and stays whole.
pub fn short_host(host: &str) -> String {
    let labels: Vec<&str> = host.split('.').collect();
    let cluster_local = matches!(
        labels.as_slice(),
        [_] | [_, _] | [_, _, "svc"] | [_, _, "svc", "cluster", "local"]
    );
    if cluster_local {
        labels[0].to_owned()
    } else {
        host.to_owned()
    }
}

/// One `HTTPMatchRequest`. Matches on the calling workload (`sourceLabels`,
/// `sourceNamespace`) and on gateways cannot be decided by the local router:
/// they are named in a warning and ignored.
fn compile_match(
    m: &model::HttpMatch,
    what: &str,
    warnings: &mut Vec<String>,
) -> Result<Match, String> {
    let one = |m: &Option<StringMatch>| m.as_ref().map(|m| matcher(m, what)).transpose();
    let many = |m: &BTreeMap<String, StringMatch>,
                lower: bool|
     -> Result<Vec<(String, Matcher)>, String> {
        m.iter()
            .map(|(name, value)| {
                let name = if lower {
                    name.to_ascii_lowercase()
                } else {
                    name.clone()
                };
                Ok((name, matcher(value, what)?))
            })
            .collect()
    };
    for (field, set) in [
        ("sourceLabels", !m.source_labels.is_empty()),
        ("sourceNamespace", m.source_namespace.is_some()),
        ("gateways", !m.gateways.is_empty()),
    ] {
        if set {
            warnings.push(format!(
                "{what}: match `{field}` is not applied: the local router does not know the caller"
            ));
        }
    }
    Ok(Match {
        uri: one(&m.uri)?,
        ignore_uri_case: m.ignore_uri_case.unwrap_or(false),
        headers: many(&m.headers, true)?,
        method: one(&m.method)?,
        authority: one(&m.authority)?,
        scheme: one(&m.scheme)?,
        query: many(&m.query_params, false)?,
        without_headers: many(&m.without_headers, true)?,
        port: m.port,
    })
}

fn matcher(m: &StringMatch, what: &str) -> Result<Matcher, String> {
    match (&m.exact, &m.prefix, &m.regex) {
        (Some(s), None, None) => Ok(Matcher::Exact(s.clone())),
        (None, Some(s), None) => Ok(Matcher::Prefix(s.clone())),
        (None, None, Some(s)) => regex_matcher(s, what),
        _ => Err(format!(
            "{what}: a string match needs exactly one of exact, prefix, regex"
        )),
    }
}

/// Istio (RE2 via Envoy) matches the whole value.
fn regex_matcher(pattern: &str, what: &str) -> Result<Matcher, String> {
    if pattern.len() > MAX_REGEX_LEN {
        return Err(format!(
            "{what}: a regex of {} characters; at most {MAX_REGEX_LEN} are accepted",
            pattern.len()
        ));
    }
    RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map(Matcher::Regex)
        .map_err(|e| format!("{what}: bad regex `{pattern}`: {e}"))
}

/// Istio's validation of VirtualService durations (timeouts, per-try
/// timeouts, fixed delays): at least 1 ms. `0s` would answer every request
/// with a timeout.
const MIN_ISTIO_DURATION: Duration = Duration::from_millis(1);

pub(crate) fn istio_duration(text: &str, what: &str) -> Result<Duration, String> {
    let parsed = duration(text, what)?;
    if parsed < MIN_ISTIO_DURATION {
        return Err(format!(
            "{what}: duration `{text}` is below Istio's minimum of 1ms"
        ));
    }
    Ok(parsed)
}

fn duration(text: &str, what: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|e| format!("{what}: `{text}` is not a duration like 500ms or 2.5s: {e}"))
}

/// Istio's defaults where no percentage is given: a fault applies to no
/// request (its translation to Envoy takes the deprecated integer `percent`,
/// 0 when absent), a mirror to every request (the API's documented default).
const FAULT_DEFAULT_PERCENT: f64 = 0.0;
const MIRROR_DEFAULT_PERCENT: f64 = 100.0;

fn percent(value: Option<f64>, default: f64, what: &str) -> Result<f64, String> {
    let value = value.unwrap_or(default);
    if !(0.0..=100.0).contains(&value) || value.is_nan() {
        return Err(format!("{what}: percentage {value} is not within 0..100"));
    }
    Ok(value / 100.0)
}

/// Turns raw weights into relative ones as Istio does since 1.15: they need
/// not sum to 100 (a warning says so), but none may be negative and not all
/// may be zero.
fn weights(
    raw: &[Option<i64>],
    what: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<u32>, String> {
    if raw.len() == 1 && raw[0].is_none() {
        return Ok(vec![100]);
    }
    let mut out = Vec::with_capacity(raw.len());
    for weight in raw {
        let weight = weight.unwrap_or(0);
        if weight < 0 {
            return Err(format!("{what}: negative weight {weight}"));
        }
        if weight > MAX_WEIGHT {
            return Err(format!(
                "{what}: weight {weight} is above Istio's limit of {MAX_WEIGHT}"
            ));
        }
        out.push(
            u32::try_from(weight).map_err(|_| format!("{what}: weight {weight} is too large"))?,
        );
    }
    let sum: u64 = out.iter().map(|&w| u64::from(w)).sum();
    if sum == 0 {
        return Err(format!("{what}: all weights are zero"));
    }
    if sum != 100 {
        warnings.push(format!(
            "{what}: weights sum to {sum}, not 100; they are taken as relative (as Istio does)"
        ));
    }
    Ok(out)
}

/// Compiles the objects (later ones replace earlier ones of the same
/// kind and name) into a table.
pub fn compile(objects: &[Object]) -> Result<Table, String> {
    compile_with(objects, Subsets::Declared)
}

pub fn compile_with(objects: &[Object], subset_labels: Subsets) -> Result<Table, String> {
    at_most("the routing objects", objects.len(), MAX_OBJECTS, "objects")?;
    // A later object of the same kind and name replaces an earlier one in
    // its place: the order is the order of creation, which decides between
    // routes for one host.
    let mut latest: Vec<&Object> = Vec::with_capacity(objects.len());
    for object in objects {
        match latest.iter().position(|o| o.key() == object.key()) {
            Some(index) => latest[index] = object,
            None => latest.push(object),
        }
    }
    let mut subsets: HashMap<(String, String), BTreeMap<String, String>> = HashMap::new();
    let mut table = Table::default();
    for object in &latest {
        if let Object::DestinationRule(dr) = object {
            let host = short_host(&dr.spec.host);
            let what = dr.metadata.describe("DestinationRule");
            let host_parts = match &dr.spec.traffic_policy {
                Some(p) => policy::parts(p, &what, &mut table.warnings)?,
                None => policy::Parts::default(),
            };
            if let Some(policy) = host_parts.policy() {
                let selector = Selector {
                    app: host.clone(),
                    labels: BTreeMap::new(),
                };
                table.policies.insert(selector, policy);
            }
            for subset in &dr.spec.subsets {
                subsets.insert((host.clone(), subset.name.clone()), subset.labels.clone());
                // Each part of a subset's policy replaces the host's, as
                // Istio merges a subset's traffic policy over the host's.
                let what = format!("{what}, subset {}", subset.name);
                let own = match &subset.traffic_policy {
                    Some(p) => policy::parts(p, &what, &mut table.warnings)?,
                    None => policy::Parts::default(),
                };
                if let Some(policy) = own.over(&host_parts).policy() {
                    let selector = Selector {
                        app: host.clone(),
                        labels: subset.labels.clone(),
                    };
                    table.policies.insert(selector, policy);
                }
            }
        }
    }
    let mut owners = Owners::default();
    let mut http_routes: BTreeMap<String, Ranked> = BTreeMap::new();
    for object in &latest {
        match object {
            Object::VirtualService(vs) => {
                compile_vs(vs, &subsets, subset_labels, &mut owners, &mut table)?;
            }
            Object::HttpRoute(route) => {
                compile_http_route(route, &mut owners, &mut http_routes, &mut table.warnings)?;
            }
            Object::DestinationRule(_) => {}
        }
    }
    // The Gateway API merges the rules of every HTTPRoute of a parent and
    // orders them by precedence; equal ones keep the order of creation
    // (the sort is stable).
    for (host, mut ranked) in http_routes {
        ranked.sort_by_key(|(rank, _)| std::cmp::Reverse(*rank));
        table
            .hosts
            .insert(host, ranked.into_iter().map(|(_, rule)| rule).collect());
    }
    Ok(table)
}

/// Gateway API precedence of a match: exact path, path length, method,
/// header count, query parameter count.
type Rank = (bool, usize, bool, usize, usize);
/// The rules of a host's HTTPRoutes with their precedence, before sorting.
type Ranked = Vec<(Rank, Rule)>;

/// Which object routes each host, so a second one is refused by name.
#[derive(Default)]
struct Owners(HashMap<String, (&'static str, String)>);

impl Owners {
    /// Claims `host` for an object of `kind` named `name`. HTTPRoutes of one
    /// parent share it (their rules merge); a VirtualService and another
    /// VirtualService or an HTTPRoute do not: Istio leaves the outcome of
    /// two mesh routes for one host undefined, so the second is refused.
    fn claim(&mut self, host: &str, kind: &'static str, name: &str) -> Result<(), String> {
        match self.0.get(host) {
            None => {
                self.0.insert(host.to_owned(), (kind, name.to_owned()));
                Ok(())
            }
            Some((owner, _)) if *owner == "HTTPRoute" && kind == "HTTPRoute" => Ok(()),
            Some((owner, owner_name)) => Err(format!(
                "{kind} {name}: host `{host}` is already routed by {owner} {owner_name}; \
                 Istio does not define which of two routes for one host applies, \
                 so delete {owner} {owner_name} first (or apply under its name)"
            )),
        }
    }
}

fn compile_vs(
    vs: &model::VirtualService,
    subsets: &HashMap<(String, String), BTreeMap<String, String>>,
    subset_labels: Subsets,
    owners: &mut Owners,
    table: &mut Table,
) -> Result<(), String> {
    let name = &vs.metadata.name;
    let resolve = |d: &model::Destination, what: &str, warnings: &mut Vec<String>| -> Selector {
        let app = short_host(&d.host);
        let labels = match &d.subset {
            None => BTreeMap::new(),
            Some(subset) => match subsets.get(&(app.clone(), subset.clone())) {
                Some(labels) => labels.clone(),
                None if subset_labels == Subsets::NamedAsVersions => {
                    BTreeMap::from([("version".to_owned(), subset.clone())])
                }
                None => {
                    warnings.push(format!(
                        "{what}: subset `{subset}` of host `{app}` is not defined by any DestinationRule; requests routed there get 503 (as in Istio, where istioctl analyze reports it)"
                    ));
                    BTreeMap::from([(UNDEFINED_SUBSET.to_owned(), subset.clone())])
                }
            },
        };
        Selector { app, labels }
    };
    let object = vs.metadata.describe("VirtualService");
    at_most(&object, vs.spec.hosts.len(), MAX_HOSTS_PER_OBJECT, "hosts")?;
    at_most(
        &object,
        vs.spec.http.len(),
        MAX_RULES_PER_OBJECT,
        "http routes",
    )?;
    let mut rules = Vec::new();
    for (index, http) in vs.spec.http.iter().enumerate() {
        let what = format!("{object}, http[{index}]");
        if http.route.is_empty() {
            return Err(format!("{what}: no route"));
        }
        let headers = http.matches.iter().map(|m| m.headers.len());
        rule_sizes(&what, http.route.len(), http.matches.len(), headers)?;
        let raw: Vec<Option<i64>> = http.route.iter().map(|r| r.weight).collect();
        let weights = weights(&raw, &what, &mut table.warnings)?;
        let mut destinations = Vec::new();
        for (route, weight) in http.route.iter().zip(weights) {
            destinations.push(Weighted {
                selector: resolve(&route.destination, &what, &mut table.warnings),
                weight,
            });
        }
        let mut matches = Vec::new();
        for m in &http.matches {
            matches.push(compile_match(m, &what, &mut table.warnings)?);
        }
        for field in http.not_applied() {
            table.warnings.push(format!(
                "{what}: `{field}` is accepted but not applied by the local router"
            ));
        }
        let fault = http.fault.as_ref();
        let delay = match fault.and_then(|f| f.delay.as_ref()) {
            None => None,
            Some(d) => Some((
                istio_duration(&d.fixed_delay, &what)?,
                percent(
                    d.percentage.as_ref().map(|p| p.value).or(d.percent),
                    FAULT_DEFAULT_PERCENT,
                    &what,
                )?,
            )),
        };
        let abort = match fault.and_then(|f| f.abort.as_ref()) {
            None => None,
            Some(a) => match a.http_status {
                Some(status) if !(200..=599).contains(&status) => {
                    return Err(format!(
                        "{what}: abort httpStatus {status} is outside Istio's range 200..599"
                    ));
                }
                None if a.grpc_status.is_some() || a.http2_error.is_some() => {
                    table.warnings.push(format!(
                        "{what}: a gRPC or HTTP/2 abort is accepted but not applied (Bookinfo speaks HTTP/1.1)"
                    ));
                    None
                }
                None => {
                    return Err(format!(
                        "{what}: an abort needs httpStatus, grpcStatus or http2Error"
                    ));
                }
                Some(status) => Some((
                    status,
                    percent(
                        a.percentage.as_ref().map(|p| p.value),
                        FAULT_DEFAULT_PERCENT,
                        &what,
                    )?,
                )),
            },
        };
        let mirror = match &http.mirror {
            None => None,
            Some(m) => Some((
                resolve(m, &what, &mut table.warnings),
                percent(
                    http.mirror_percentage.as_ref().map(|p| p.value),
                    MIRROR_DEFAULT_PERCENT,
                    &what,
                )?,
            )),
        };
        if let Some(r) = &http.retries {
            for (field, set) in [
                ("retryRemoteLocalities", r.retry_remote_localities.is_some()),
                (
                    "retryIgnorePreviousHosts",
                    r.retry_ignore_previous_hosts.is_some(),
                ),
            ] {
                if set {
                    table.warnings.push(format!(
                        "{what}: retries `{field}` is accepted but not applied (one locality, hosts not tracked)"
                    ));
                }
            }
        }
        let retries = match &http.retries {
            None => None,
            Some(r) if r.attempts > MAX_RETRY_ATTEMPTS => {
                return Err(format!(
                    "{what}: {} retry attempts; at most {MAX_RETRY_ATTEMPTS} are accepted",
                    r.attempts
                ));
            }
            Some(r) => Some(RetryPolicy {
                attempts: r.attempts,
                per_try_timeout: r
                    .per_try_timeout
                    .as_deref()
                    .map(|t| istio_duration(t, &what))
                    .transpose()?,
                retry_on: RetryOn::parse(r.retry_on.as_deref().unwrap_or(ISTIO_DEFAULT_RETRY_ON))
                    .map_err(|e| format!("{what}: retryOn: {e}"))?,
                backoff: r
                    .backoff
                    .as_deref()
                    .map(|b| istio_duration(b, &what))
                    .transpose()?,
            }),
        };
        rules.push(Rule {
            name: what.clone(),
            matches,
            destinations,
            timeout: http
                .timeout
                .as_deref()
                .map(|t| istio_duration(t, &what))
                .transpose()?,
            retries,
            delay,
            abort,
            mirror,
        });
    }
    let rules: Arc<[Rule]> = rules.into();
    // Bound to a gateway: the rules of the local entry point, as the Istio
    // ingress gateway applies them (whatever Host the client sent). `mesh`
    // among the gateways also binds them to the hosts.
    let gateways: Vec<&String> = vs.spec.gateways.iter().filter(|g| *g != "mesh").collect();
    if !gateways.is_empty() {
        owners.claim(INGRESS, "VirtualService", name)?;
        table.hosts.insert(INGRESS.to_owned(), Arc::clone(&rules));
    }
    let mesh = vs.spec.gateways.is_empty() || vs.spec.gateways.iter().any(|g| g == "mesh");
    for host in &vs.spec.hosts {
        if !mesh || host == "*" {
            continue;
        }
        let host = short_host(host);
        owners.claim(&host, "VirtualService", name)?;
        table.hosts.insert(host, Arc::clone(&rules));
    }
    Ok(())
}

/// A per-version Service name (`reviews-v2`, from bookinfo-versions.yaml)
/// selects app `reviews` with `version: v2`; a plain name selects the app.
fn backend_selector(name: &str) -> Selector {
    match name.rsplit_once("-v") {
        Some((app, version))
            if !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Selector {
                app: app.to_owned(),
                labels: BTreeMap::from([("version".to_owned(), format!("v{version}"))]),
            }
        }
        _ => Selector {
            app: name.to_owned(),
            labels: BTreeMap::new(),
        },
    }
}

/// Gateway API precedence between the matches of a route: an exact path
/// before a prefix, a longer path before a shorter, a method match before
/// none, more header matches before fewer, then more query parameter
/// matches; ties keep their order.
fn specificity(m: &model::HttpRouteMatch) -> Rank {
    let (exact, length) = match &m.path {
        Some(p) => (p.kind.as_deref() == Some("Exact"), p.value.len()),
        None => (false, 1), // the implicit `PathPrefix /`
    };
    (
        exact,
        length,
        m.method.is_some(),
        m.headers.len(),
        m.query_params.len(),
    )
}

/// The methods an HTTPRoute match may name (its schema's enum).
const HTTP_ROUTE_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

/// An Exact or RegularExpression match of a header or query parameter.
fn value_matcher(m: &model::HeaderMatch, of: &str, what: &str) -> Result<Matcher, String> {
    match m.kind.as_deref().unwrap_or("Exact") {
        "Exact" => Ok(Matcher::Exact(m.value.clone())),
        "RegularExpression" => regex_matcher(&m.value, what),
        other => Err(format!("{what}: {of} match type {other} is not supported")),
    }
}

/// A rule's mirror filter as the router's mirror: the backend and the share
/// of requests (`percent`, or `fraction` over a default denominator of
/// 100; all when neither is set).
fn mirror_filter(mirror: &model::RequestMirror, what: &str) -> Result<(Selector, f64), String> {
    let share = match (&mirror.percent, &mirror.fraction) {
        (Some(_), Some(_)) => {
            return Err(format!("{what}: a mirror sets both percent and fraction"));
        }
        (Some(percent), None) => *percent as f64,
        (None, Some(f)) => {
            let denominator = f.denominator.unwrap_or(100);
            if denominator <= 0 || f.numerator < 0 || f.numerator > denominator {
                return Err(format!(
                    "{what}: mirror fraction {}/{denominator} is not within 0..1",
                    f.numerator
                ));
            }
            f.numerator as f64 * 100.0 / denominator as f64
        }
        (None, None) => MIRROR_DEFAULT_PERCENT,
    };
    Ok((
        backend_selector(&mirror.backend_ref.name),
        percent(Some(share), MIRROR_DEFAULT_PERCENT, what)?,
    ))
}

fn compile_http_route(
    route: &model::HttpRouteObject,
    owners: &mut Owners,
    merged: &mut BTreeMap<String, Ranked>,
    warnings: &mut Vec<String>,
) -> Result<(), String> {
    let name = &route.metadata.name;
    // One rule per match, most specific first, so the first rule that
    // matches is the one Gateway API picks.
    let object = route.metadata.describe("HTTPRoute");
    at_most(
        &object,
        route.spec.parent_refs.len(),
        MAX_HOSTS_PER_OBJECT,
        "parentRefs",
    )?;
    at_most(
        &object,
        route.spec.rules.len(),
        MAX_RULES_PER_OBJECT,
        "rules",
    )?;
    let mut ranked: Ranked = Vec::new();
    for (index, rule) in route.spec.rules.iter().enumerate() {
        let what = format!("{object}, rules[{index}]");
        if rule.backend_refs.is_empty() {
            return Err(format!("{what}: no backendRefs"));
        }
        let headers = rule.matches.iter().map(|m| m.headers.len());
        rule_sizes(&what, rule.backend_refs.len(), rule.matches.len(), headers)?;
        let raw: Vec<Option<i64>> = rule
            .backend_refs
            .iter()
            .map(|b| Some(b.weight.unwrap_or(1)))
            .collect();
        let weights = weights(&raw, &what, warnings)?;
        if rule.backend_refs.iter().any(|b| !b.filters.is_empty()) {
            warnings.push(format!(
                "{what}: backendRefs `filters` are accepted but not applied by the local router"
            ));
        }
        let mut mirror = None;
        for filter in &rule.filters {
            match (filter.kind.as_str(), &filter.request_mirror) {
                ("RequestMirror", Some(m)) if mirror.is_none() => {
                    mirror = Some(mirror_filter(m, &what)?);
                }
                ("RequestMirror", None) => {
                    return Err(format!(
                        "{what}: a RequestMirror filter needs requestMirror"
                    ));
                }
                (kind, _) => warnings.push(format!(
                    "{what}: filter `{kind}` is accepted but not applied by the local router{}",
                    if kind == "RequestMirror" {
                        " (one mirror per rule)"
                    } else {
                        ""
                    }
                )),
            }
        }
        let destinations: Vec<Weighted> = rule
            .backend_refs
            .iter()
            .zip(weights)
            .map(|(b, weight)| Weighted {
                selector: backend_selector(&b.name),
                weight,
            })
            .collect();
        // Gateway API: a zero timeout disables it. Istio applies
        // `backendRequest` as each try's timeout, with its default retries.
        let timeouts = rule.timeouts.clone().unwrap_or_default();
        let nonzero = |t: Option<&str>| -> Result<Option<Duration>, String> {
            Ok(t.map(|t| duration(t, &what))
                .transpose()?
                .filter(|d| !d.is_zero()))
        };
        let timeout = nonzero(timeouts.request.as_deref())?;
        let retries = nonzero(timeouts.backend_request.as_deref())?
            .map(|per_try| -> Result<RetryPolicy, String> {
                Ok(RetryPolicy {
                    attempts: ISTIO_DEFAULT_RETRIES,
                    per_try_timeout: Some(per_try),
                    retry_on: RetryOn::parse(ISTIO_DEFAULT_RETRY_ON)?,
                    backoff: None,
                })
            })
            .transpose()?;
        let implicit = [model::HttpRouteMatch::default()];
        let route_matches = if rule.matches.is_empty() {
            &implicit[..]
        } else {
            &rule.matches[..]
        };
        for m in route_matches {
            let uri = match &m.path {
                None => None,
                Some(p) => Some(match p.kind.as_deref().unwrap_or("PathPrefix") {
                    "Exact" => Matcher::Exact(p.value.clone()),
                    "PathPrefix" => Matcher::Prefix(p.value.clone()),
                    "RegularExpression" => regex_matcher(&p.value, &what)?,
                    other => {
                        return Err(format!("{what}: path match type {other} is not supported"));
                    }
                }),
            };
            let mut headers = Vec::new();
            for h in &m.headers {
                headers.push((
                    h.name.to_ascii_lowercase(),
                    value_matcher(h, "header", &what)?,
                ));
            }
            let mut query = Vec::new();
            for q in &m.query_params {
                query.push((q.name.clone(), value_matcher(q, "query parameter", &what)?));
            }
            let method = match m.method.as_deref() {
                None => None,
                Some(method) if HTTP_ROUTE_METHODS.contains(&method) => {
                    Some(Matcher::Exact(method.to_owned()))
                }
                Some(other) => {
                    return Err(format!(
                        "{what}: method `{other}` is not one Gateway API allows"
                    ));
                }
            };
            ranked.push((
                specificity(m),
                Rule {
                    name: what.clone(),
                    matches: vec![Match {
                        uri,
                        headers,
                        method,
                        query,
                        ..Match::default()
                    }],
                    destinations: destinations.clone(),
                    timeout,
                    retries: retries.clone(),
                    delay: None,
                    abort: None,
                    mirror: mirror.clone(),
                },
            ));
        }
    }
    for parent in &route.spec.parent_refs {
        // Mesh routes attach to a Service (GAMMA); routes on a Gateway (the
        // default kind) are the local entry point's.
        let host = match parent.kind.as_deref() {
            Some("Service") => Some(short_host(&parent.name)),
            None | Some("Gateway") => Some(INGRESS.to_owned()),
            Some(_) => None,
        };
        if let Some(host) = host {
            owners.claim(&host, "HTTPRoute", name)?;
            merged
                .entry(host)
                .or_default()
                .extend(ranked.iter().cloned());
        }
    }
    Ok(())
}
