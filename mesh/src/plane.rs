//! The local data plane: proxy listeners for the service hosts (one per
//! host, or one for all that tells them apart by the Host header), routing
//! every request by the current table (VirtualService semantics: first matching
//! rule, fault injection, per-request weighted choice, mirror, timeout,
//! retries), and the routing state that admin and file watch change in
//! epochs.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use tokio::sync::Semaphore;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use bookinfo_routing::load::Object;
use bookinfo_routing::policy::{Balancing, HashKey};
use bookinfo_routing::table::{self, Selector, Table};

use crate::cluster::{Cluster, Overflow};
use crate::stats::{self, Flags, Stats};
use crate::trace::Hop;

/// Requests are buffered (so retries and mirrors can resend them); Bookinfo
/// bodies are tiny.
const MAX_BODY: usize = 1 << 20;
/// Envoy's retry back-off: before retry N a uniform wait in
/// [0, (2^N − 1) × 25 ms), capped at ten times the base.
const RETRY_BASE: Duration = Duration::from_millis(25);
const RETRY_MAX_FACTOR: u32 = 10;
/// Retries in flight at once across the plane; a retry beyond it is not
/// made and the last answer stands. Envoy's circuit breaker defaults to 3
/// per cluster and Istio lifts it; a fixed cap keeps a failing backend from
/// turning every request into a burst of retries.
const MAX_CONCURRENT_RETRIES: usize = 64;
/// Mirrored requests in flight at once; beyond it a mirror is skipped.
/// Mirrors are best effort and must never cost the primary route anything.
const MAX_MIRRORS_IN_FLIGHT: usize = 64;
/// Longest a mirrored request may take. Bookinfo answers in milliseconds; a
/// stalled mirror target would otherwise hold a socket per request.
const MIRROR_TIMEOUT: Duration = Duration::from_secs(2);

/// A running service process the plane can route to.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Instance {
    pub app: String,
    pub labels: BTreeMap<String, String>,
    /// `host:port` as dialled: an address, or a name resolved for each new
    /// connection, so an instance that comes back at another address (a
    /// restarted container) is found again.
    pub authority: String,
}

impl Instance {
    pub(crate) fn selected_by(&self, selector: &Selector) -> bool {
        self.app == selector.app
            && selector
                .labels
                .iter()
                .all(|(k, v)| self.labels.get(k) == Some(v))
    }
}

/// The routing state, shared by the proxies and the admin endpoint.
pub struct Plane {
    instances: Vec<Instance>,
    objects: Mutex<Vec<Object>>,
    routes: RwLock<Arc<Routes>>,
    epoch: AtomicU64,
    /// One turn counter per app, so each host's Service-style balancing is
    /// not skewed by picks for other hosts.
    round_robin: HashMap<String, AtomicUsize>,
    /// Requests in flight per instance (same order as `instances`).
    in_flight: Vec<AtomicUsize>,
    /// Answers per instance (same order), what `canary status` reads.
    answers: Vec<Answers>,
    /// Istio's standard metrics and the topology window.
    stats: Stats,
    /// Spans are made (the process exports them), with this tracer (got
    /// once: the global lookup builds one each time).
    tracing: AtomicBool,
    tracer: OnceLock<opentelemetry::global::BoxedTracer>,
    client: Client<HttpConnector, Full<Bytes>>,
    retries_in_flight: Arc<Semaphore>,
    mirrors_in_flight: Arc<Semaphore>,
    /// Istio's default retry conditions, parsed once.
    default_retry_on: table::RetryOn,
    /// Another router that must take each new table before it is in force
    /// (real Envoy under `bookinfo up --router envoy`).
    follower: OnceLock<Follower>,
}

/// Hands a new table to another router; an error keeps the routes in force.
pub type Follower = Box<dyn Fn(&Table) -> Result<(), String> + Send + Sync>;

/// A compiled table with the runtime state of its destinations that have a
/// traffic policy (pool places, ejections), made together as Envoy makes
/// its clusters from each configuration.
#[derive(Default)]
struct Routes {
    table: Arc<Table>,
    clusters: HashMap<Selector, Arc<Cluster>>,
    /// The instances (indices) each destination the table names selects.
    members: HashMap<Selector, Vec<usize>>,
}

/// Why a delete changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum DeleteError {
    /// None of the objects exists.
    #[error("{0}")]
    NotFound(String),
    /// What would be left does not compile (e.g. a route to a subset whose
    /// DestinationRule was to go).
    #[error("{0}")]
    Refused(String),
}

/// What an applied change produced.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Applied {
    pub epoch: u64,
    pub warnings: Vec<String>,
}

impl Plane {
    pub fn new(instances: Vec<Instance>) -> Arc<Self> {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(1)));
        let round_robin = instances
            .iter()
            .map(|i| (i.app.clone(), AtomicUsize::new(0)))
            .collect();
        let in_flight = instances.iter().map(|_| AtomicUsize::new(0)).collect();
        let answers = instances.iter().map(|_| Answers::default()).collect();
        let stats = Stats::new(&instances);
        Arc::new(Self {
            in_flight,
            answers,
            stats,
            tracing: AtomicBool::new(false),
            tracer: OnceLock::new(),
            instances,
            objects: Mutex::new(Vec::new()),
            routes: RwLock::new(Arc::new(Routes::default())),
            epoch: AtomicU64::new(0),
            round_robin,
            client: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(bookinfo_api::POOL_IDLE_TIMEOUT)
                .build(connector),
            retries_in_flight: Arc::new(Semaphore::new(MAX_CONCURRENT_RETRIES)),
            mirrors_in_flight: Arc::new(Semaphore::new(MAX_MIRRORS_IN_FLIGHT)),
            default_retry_on: table::RetryOn::parse(table::ISTIO_DEFAULT_RETRY_ON)
                .unwrap_or_default(),
            follower: OnceLock::new(),
        })
    }

    /// From now on every change is handed to `follower` before it is in
    /// force; only the first call counts.
    pub fn follow(&self, follower: Follower) {
        let _ = self.follower.set(follower);
    }

    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// The instances requests are routed to.
    pub fn instances(&self) -> &[Instance] {
        &self.instances
    }

    /// From now on, each routed request makes a client and a server span
    /// (for a process that exports them).
    pub fn trace(&self, on: bool) {
        if on {
            let _ = self.tracer.set(opentelemetry::global::tracer("mesh"));
        }
        self.tracing.store(on, Ordering::Relaxed);
    }

    /// Istio's standard metrics of the requests routed so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Each instance's answers so far (same order as [`Plane::instances`]):
    /// requests it answered (each attempt, mirrored copies included) and,
    /// of those, 5xx answers and failures to answer.
    pub fn answers(&self) -> Vec<(u64, u64)> {
        self.answers
            .iter()
            .map(|a| {
                (
                    a.requests.load(Ordering::Relaxed),
                    a.errors.load(Ordering::Relaxed),
                )
            })
            .collect()
    }

    /// Routing objects in force (one per kind and name).
    pub fn object_count(&self) -> usize {
        self.objects.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn table(&self) -> Arc<Table> {
        self.routes().table.clone()
    }

    fn routes(&self) -> Arc<Routes> {
        self.routes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Adds `objects`, replacing those of the same kind and name as a
    /// cluster's `kubectl apply` does (so re-applying a file keeps one copy),
    /// and starts a new epoch; on any error the routes in force stay as they
    /// were. Compiling a large file takes a while: call it off the runtime's
    /// workers (`spawn_blocking`).
    pub fn apply(&self, objects: Vec<Object>) -> Result<Applied, String> {
        let mut current = self.objects.lock().unwrap_or_else(|e| e.into_inner());
        // An update keeps the object's place (a cluster keeps its creation
        // time), which decides precedence between objects for one host.
        let mut merged = current.clone();
        for object in objects {
            match merged.iter().position(|o| o.key() == object.key()) {
                Some(index) => merged[index] = object,
                None => merged.push(object),
            }
        }
        self.install(&mut current, merged)
    }

    /// Deletes the objects with these `Kind/name` keys, as `kubectl delete`;
    /// the keys no object had come back, and nothing changes if none did.
    pub fn delete(&self, keys: &[String]) -> Result<(Applied, Vec<String>), DeleteError> {
        let mut current = self.objects.lock().unwrap_or_else(|e| e.into_inner());
        let missing: Vec<String> = keys
            .iter()
            .filter(|key| !current.iter().any(|o| o.key() == **key))
            .cloned()
            .collect();
        if missing.len() == keys.len() {
            return Err(DeleteError::NotFound(format!(
                "not found: {}",
                missing.join(", ")
            )));
        }
        let kept: Vec<Object> = current
            .iter()
            .filter(|o| !keys.contains(&o.key()))
            .cloned()
            .collect();
        let applied = self
            .install(&mut current, kept)
            .map_err(DeleteError::Refused)?;
        Ok((applied, missing))
    }

    /// The routing objects in force, in the order they were first applied.
    pub fn objects(&self) -> Vec<Object> {
        self.objects
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the whole set of objects (file watch: the files are the truth).
    pub fn replace(&self, objects: Vec<Object>) -> Result<Applied, String> {
        let mut current = self.objects.lock().unwrap_or_else(|e| e.into_inner());
        self.install(&mut current, objects)
    }

    fn install(&self, current: &mut Vec<Object>, objects: Vec<Object>) -> Result<Applied, String> {
        let mut table = table::compile(&objects)?;
        // Each selector once, however many hosts share the rules naming it.
        let mut shared = HashSet::new();
        let selectors: BTreeSet<&Selector> = table
            .hosts
            .values()
            .filter(|rules| shared.insert(Arc::as_ptr(rules)))
            .flat_map(|rules| rules.iter())
            .flat_map(|rule| &rule.destinations)
            .map(|destination| &destination.selector)
            .collect();
        let missing: Vec<String> = selectors
            .into_iter()
            // Hosts nothing serves get one warning of their own, below.
            .filter(|selector| self.instances.iter().any(|i| i.app == selector.app))
            .filter(|selector| !self.instances.iter().any(|i| i.selected_by(selector)))
            // An undefined subset has its own warning.
            .filter(|selector| !selector.labels.contains_key(table::UNDEFINED_SUBSET))
            .map(|selector| {
                format!(
                    "host {}: no instance has labels {:?}; requests routed there get 503",
                    selector.app, selector.labels
                )
            })
            .collect();
        table.warnings.extend(missing);
        for host in table.hosts.keys().filter(|h| *h != table::INGRESS) {
            if !self.instances.iter().any(|i| i.app == *host) {
                table.warnings.push(format!(
                    "host {host}: nothing here serves it (an external host?); its routes are accepted but do not apply locally"
                ));
            }
        }
        if let Some(follower) = self.follower.get() {
            follower(&table)?;
        }
        let warnings = table.warnings.clone();
        // Every destination's instances, found once per table.
        let mut named: BTreeSet<Selector> = self
            .instances
            .iter()
            .map(|i| Selector {
                app: i.app.clone(),
                labels: BTreeMap::new(),
            })
            .collect();
        for rule in table.hosts.values().flat_map(|rules| rules.iter()) {
            named.extend(rule.destinations.iter().map(|d| d.selector.clone()));
            named.extend(rule.mirror.iter().map(|(m, _)| m.clone()));
        }
        named.extend(table.policies.keys().cloned());
        let members: HashMap<Selector, Vec<usize>> = named
            .into_iter()
            .map(|selector| {
                let members = self.members_of(&selector);
                (selector, members)
            })
            .collect();
        // A destination whose policy is unchanged keeps its state (an
        // ejected instance stays out), as Envoy keeps unchanged clusters.
        let old = self.routes();
        let clusters = table
            .policies
            .iter()
            .map(|(selector, policy)| {
                let cluster = match old.clusters.get(selector) {
                    Some(kept) if kept.policy == *policy => Arc::clone(kept),
                    _ => Arc::new(Cluster::new(
                        policy.clone(),
                        members.get(selector).map_or(0, Vec::len),
                    )),
                };
                (selector.clone(), cluster)
            })
            .collect();
        *current = objects;
        *self.routes.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(Routes {
            table: Arc::new(table),
            clusters,
            members,
        });
        let epoch = self.epoch.fetch_add(1, Ordering::SeqCst) + 1;
        for warning in &warnings {
            tracing::warn!(epoch, "{warning}");
        }
        Ok(Applied { epoch, warnings })
    }

    /// One instance for `selector`, by the destination's load balancer
    /// among those outlier detection has not ejected; `hash` is the
    /// request's consistent-hash key, if the policy has one.
    fn pick_instance(
        &self,
        routes: &Routes,
        selector: &Selector,
        hash: Option<u64>,
    ) -> Option<Picked<'_>> {
        let members: Cow<[usize]> = match routes.members.get(selector) {
            Some(members) => Cow::Borrowed(members),
            None => Cow::Owned(self.members_of(selector)),
        };
        let cluster = routes.clusters.get(selector);
        let candidates = match cluster {
            Some(cluster) => cluster.healthy(&members),
            None => Cow::Borrowed(&members[..]),
        };
        if candidates.is_empty() {
            return None;
        }
        let balancing = cluster.map_or(&Balancing::RoundRobin, |c| &c.policy.balancing);
        let turn = || {
            self.round_robin
                .get(&selector.app)
                .map_or(0, |counter| counter.fetch_add(1, Ordering::Relaxed))
        };
        let chosen = match balancing {
            Balancing::Random => rand::random_range(0..candidates.len()),
            Balancing::Hash(_) => match hash {
                // The key's place among the candidates: the same key, the
                // same instance while the set of instances stays.
                Some(hash) => (hash % candidates.len() as u64) as usize,
                None => turn() % candidates.len(),
            },
            Balancing::LeastRequest => {
                let start = turn();
                (0..candidates.len())
                    .map(|k| (start + k) % candidates.len())
                    .min_by_key(|&k| self.in_flight[candidates[k]].load(Ordering::Relaxed))
                    .unwrap_or(0)
            }
            Balancing::RoundRobin => turn() % candidates.len(),
        };
        let index = candidates[chosen];
        Some(Picked {
            index,
            place: members.iter().position(|&m| m == index).unwrap_or(0),
            authority: &self.instances[index].authority,
            _in_flight: InFlight::new(&self.in_flight[index]),
        })
    }

    /// The instances `selector` selects (indices into `instances`).
    fn members_of(&self, selector: &Selector) -> Vec<usize> {
        (0..self.instances.len())
            .filter(|&i| self.instances[i].selected_by(selector))
            .collect()
    }
}

/// Counters of one instance's answers.
#[derive(Default)]
struct Answers {
    requests: AtomicU64,
    errors: AtomicU64,
}

/// The instance a request goes to.
struct Picked<'a> {
    /// Its index in the plane's instances.
    index: usize,
    /// Its place among the destination's instances (outlier detection's
    /// count).
    place: usize,
    authority: &'a str,
    /// Counted in flight until dropped (least request).
    _in_flight: InFlight<'a>,
}

/// A request counted as in flight on an instance until dropped.
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    fn new(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Self(counter)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Index of the destination a uniform draw `u` in [0, 1) falls on, by
/// relative weight. Each request draws on its own, as Envoy's weighted
/// clusters do, so consecutive choices are independent.
pub fn pick_weighted(weights: &[u32], u: f64) -> usize {
    let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
    let mut point = u * total as f64;
    for (index, &weight) in weights.iter().enumerate() {
        point -= f64::from(weight);
        if point < 0.0 {
            return index;
        }
    }
    weights.iter().rposition(|&w| w > 0).unwrap_or(0)
}

/// The service whose listener is the entry point under `bookinfo up`: no
/// service calls it, only clients do.
pub(crate) const ENTRY_HOST: &str = "productpage";

/// Which service host a listener's requests are for.
#[derive(Debug, Clone)]
enum Hosts {
    /// One host for every request (`bookinfo up` gives each host a port).
    Fixed(String),
    /// The host the Host header names, as a sidecar's outbound listener
    /// tells services apart on one port; requests that name no known host
    /// go to `default` (those arriving from outside on a published port),
    /// or get Envoy's 404 for "no route" when there is none.
    ByHeader { default: Option<String> },
}

#[derive(Clone)]
struct HostProxy {
    plane: Arc<Plane>,
    hosts: Hosts,
    /// The workload whose outbound listener this is (an instance's index),
    /// as a sidecar knows its own; `None` for clients outside the mesh.
    source: Option<usize>,
}

/// The service host a Host header names: its first DNS label, so `reviews`,
/// `reviews:9080`, `reviews.mesh:9080` and
/// `reviews.default.svc.cluster.local` all name `reviews` (routing files
/// use short names, which Istio qualifies with the namespace).
fn named_host(authority: &str) -> &str {
    let name = match authority.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => authority,
    };
    name.split('.').next().unwrap_or(name)
}

impl HostProxy {
    /// The host a request is for, and whether it came in through the entry
    /// point (productpage's listener under `bookinfo up`; a Host naming no
    /// service under `bookinfo proxy`), where ingress routes apply.
    fn host_of<'a>(&'a self, headers: &'a HeaderMap) -> Option<(&'a str, bool)> {
        match &self.hosts {
            Hosts::Fixed(host) => Some((host, host == ENTRY_HOST)),
            Hosts::ByHeader { default } => {
                let named = headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .map(named_host)
                    .filter(|name| self.plane.instances.iter().any(|i| i.app == *name));
                match named {
                    Some(named) => Some((named, false)),
                    None => default.as_deref().map(|d| (d, true)),
                }
            }
        }
    }
}

fn envoy_reply(status: StatusCode, body: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain")], body).into_response()
}

/// Envoy's answer when a destination's connection pool and its queue are
/// full: 503 marked as the proxy's own overload.
fn overflow_reply() -> Response {
    let mut response = envoy_reply(
        StatusCode::SERVICE_UNAVAILABLE,
        "upstream connect error or disconnect/reset before headers. reset reason: overflow",
    );
    response
        .headers_mut()
        .insert("x-envoy-overloaded", HeaderValue::from_static("true"));
    response
}

const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "upgrade",
    "trailer",
];

/// The path as Istio's default normalisation (`BASE`, Envoy's
/// `normalize_path`) leaves it before routing and forwarding, per RFC 3986:
/// percent-encoded unreserved characters decoded (`%62` is `b`), dot
/// segments removed (`/a/../b` is `/b`). Repeated slashes stay (merging them
/// is the `MERGE_SLASHES` option, not the default).
pub fn normalize_path(path: &str) -> Cow<'_, str> {
    // Most paths have nothing to normalise: no escape, no dot segment.
    let dot_segment = path
        .split('/')
        .any(|segment| segment == "." || segment == "..");
    if path.starts_with('/') && !path.contains('%') && !dot_segment {
        return Cow::Borrowed(path);
    }
    let decoded = decode_unreserved(path);
    let mut output: Vec<&str> = Vec::new();
    let segments: Vec<&str> = decoded.split('/').collect();
    let last = segments.len().saturating_sub(1);
    for (index, segment) in segments.iter().enumerate() {
        match *segment {
            "." | ".." => {
                if *segment == ".." && output.len() > 1 {
                    output.pop();
                }
                // A trailing dot segment leaves the path ending in `/`.
                if index == last {
                    output.push("");
                }
            }
            other => output.push(other),
        }
    }
    let joined = output.join("/");
    Cow::Owned(if joined.starts_with('/') {
        joined
    } else {
        format!("/{joined}")
    })
}

/// `%XX` of an unreserved character (RFC 3986, section 2.3) as the character.
fn decode_unreserved(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = path.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
            && (byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~'))
        {
            out.push(char::from(byte));
            i += 3;
            continue;
        }
        let next = path[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&path[i..i + next]);
        i += next;
    }
    out
}

/// Removes the hop-by-hop headers: the fixed list, and every header the
/// `Connection` header names (RFC 9110, section 7.6.1: they are for this
/// hop only).
fn drop_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .filter(|name| !name.is_empty())
        .collect();
    for name in named.iter().map(String::as_str).chain(HOP_BY_HOP) {
        headers.remove(name);
    }
}

/// A buffered request, ready to be sent (and resent) to any instance.
#[derive(Clone)]
struct Outgoing {
    method: axum::http::Method,
    path_and_query: String,
    headers: HeaderMap,
    body: Bytes,
}

/// What routing a request came to, for the metrics and the spans.
#[derive(Debug, Clone, Default)]
struct Outcome {
    flags: Flags,
    /// The instance that answered (or was being tried).
    destination: Option<usize>,
    /// When traced: the subset chosen and the route taken.
    subset: Option<String>,
    route: Option<String>,
}

impl Outcome {
    fn flagged(flags: Flags) -> Self {
        Self {
            flags,
            ..Self::default()
        }
    }
}

/// Routes one request and counts it in the plane's metrics.
async fn proxy(State(proxy): State<HostProxy>, request: Request) -> Response {
    let started = std::time::Instant::now();
    let request_bytes = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .unwrap_or(0);
    let plane = Arc::clone(&proxy.plane);
    let source = proxy.source;
    let hop = match (proxy.host_of(request.headers()), plane.tracer.get()) {
        (Some((host, _)), Some(tracer)) if plane.tracing.load(Ordering::Relaxed) => {
            let caller = plane.stats.workload(source).0;
            Some(Hop::start(tracer, request.headers(), host, caller))
        }
        _ => None,
    };
    let (response, host, outcome) = route(proxy, request, hop.as_ref()).await;
    if let (Some(hop), Some(host)) = (hop, &host) {
        hop.end(
            host,
            outcome.subset.as_deref(),
            outcome.route.as_deref(),
            response.status().as_u16(),
            &outcome.flags.text(),
        );
    }
    if let Some(host) = host {
        let response_bytes = response
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse().ok())
            .unwrap_or(0);
        plane.stats.record(&stats::Request {
            source,
            host: &host,
            destination: outcome.destination,
            code: response.status().as_u16(),
            flags: outcome.flags,
            duration: started.elapsed(),
            request_bytes,
            response_bytes,
        });
    }
    response
}

/// Routes one request: the answer, the service host it was for (none when
/// it named none) and what routing came to.
async fn route(
    proxy: HostProxy,
    request: Request,
    hop: Option<&Hop>,
) -> (Response, Option<String>, Outcome) {
    let (parts, body) = request.into_parts();
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    // Answers before routing: counted for no service.
    let unrouted = |response: Response| (response, None, Outcome::default());
    let Some((host, entry)) = proxy.host_of(&parts.headers) else {
        return unrouted(StatusCode::NOT_FOUND.into_response());
    };
    if parts.uri.path() == "*" {
        // `OPTIONS *` asks the proxy itself, which routes nothing for it.
        return unrouted(envoy_reply(StatusCode::BAD_REQUEST, "bad request"));
    }
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
            return unrouted(envoy_reply(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body too large",
            ));
        }
        // A malformed body (bad chunk framing) is the client's error.
        Err(_) => return unrouted(envoy_reply(StatusCode::BAD_REQUEST, "bad request body")),
    };
    let named = host.to_owned();
    let plane = &proxy.plane;
    let routes = plane.routes();
    let table = &routes.table;
    // Through the entry point with ingress routes in force, only they apply,
    // as at the Istio ingress gateway (404 for any other path).
    let host = if entry && table.hosts.contains_key(table::INGRESS) {
        table::INGRESS
    } else {
        host
    };
    let path = normalize_path(parts.uri.path());
    let path = path.as_ref();
    let mut outgoing = Outgoing {
        method: parts.method.clone(),
        path_and_query: match parts.uri.query() {
            Some(query) => format!("{path}?{query}"),
            None => path.to_owned(),
        },
        headers: parts.headers.clone(),
        body,
    };
    drop_hop_by_hop(&mut outgoing.headers);
    if let Some(hop) = hop {
        hop.inject(&mut outgoing.headers);
    }

    // Envoy's pseudo-headers, which VirtualService matches on method,
    // authority, scheme and query parameters read.
    let method = parts.method.as_str();
    let path_and_query = outgoing.path_and_query.clone();
    let rule = table.rule_for(host, path, |name| match name {
        ":method" => Some(method),
        ":scheme" => Some("http"),
        ":path" => Some(path_and_query.as_str()),
        ":authority" => parts
            .headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok()),
        _ => parts.headers.get(name).and_then(|v| v.to_str().ok()),
    });
    let Some(rule) = rule else {
        if table.hosts.contains_key(host) {
            // Routes exist but none matches: Envoy answers 404 (no route),
            // and Istio expects a host's routing to be total.
            return (
                StatusCode::NOT_FOUND.into_response(),
                Some(named),
                Outcome::flagged(Flags::NO_ROUTE),
            );
        }
        // No VirtualService: a Kubernetes Service balances over all pods.
        let selector = Selector {
            app: host.to_owned(),
            labels: BTreeMap::new(),
        };
        let hash = request_hash(table, &selector, &parts, peer);
        let (response, outcome) = forward(
            plane,
            &routes,
            &selector,
            hash,
            &outgoing,
            Retries::Default,
            None,
        )
        .await;
        return (response, Some(named), outcome);
    };

    // Envoy's fault filter delays first, then aborts.
    let mut faults = Flags::default();
    if let Some((delay, share)) = rule.delay
        && rand::random::<f64>() < share
    {
        tokio::time::sleep(delay).await;
        faults.insert(Flags::DELAY_INJECTED);
    }
    if let Some((status, share)) = rule.abort
        && rand::random::<f64>() < share
    {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        faults.insert(Flags::FAULT_INJECTED);
        return (
            envoy_reply(status, "fault filter abort"),
            Some(named),
            Outcome::flagged(faults),
        );
    }
    let weights: Vec<u32> = rule.destinations.iter().map(|d| d.weight).collect();
    let chosen = &rule.destinations[pick_weighted(&weights, rand::random::<f64>())].selector;

    if let Some((mirror, share)) = &rule.mirror
        && rand::random::<f64>() < *share
    {
        let hash = request_hash(table, mirror, &parts, peer);
        mirror_request(
            plane.clone(),
            &routes,
            mirror.clone(),
            hash,
            outgoing.clone(),
        );
    }
    let retries = rule
        .retries
        .as_ref()
        .map_or(Retries::Default, Retries::Route);
    let hash = request_hash(table, chosen, &parts, peer);
    let send = forward(
        plane,
        &routes,
        chosen,
        hash,
        &outgoing,
        retries,
        rule.timeout,
    );
    let (response, mut outcome) = match rule.timeout {
        Some(timeout) => tokio::time::timeout(timeout, send)
            .await
            .unwrap_or_else(|_| {
                (
                    envoy_reply(StatusCode::GATEWAY_TIMEOUT, "upstream request timeout"),
                    Outcome::flagged(Flags::UPSTREAM_TIMEOUT),
                )
            }),
        None => send.await,
    };
    outcome.flags.insert(faults);
    if hop.is_some() {
        outcome.subset = chosen.labels.get("version").cloned();
        outcome.route = Some(rule.name.clone());
    }
    // Counted for the service routed to (productpage, for an ingress route).
    (response, Some(chosen.app.clone()), outcome)
}

/// The request's consistent-hash key for `selector`'s load balancer, if it
/// hashes and the request carries the key (without it, the pick falls back
/// to the turn, where Envoy's ring picks at random).
fn request_hash(
    table: &Table,
    selector: &Selector,
    parts: &axum::http::request::Parts,
    peer: Option<IpAddr>,
) -> Option<u64> {
    let Some(Balancing::Hash(key)) = table.policies.get(selector).map(|p| &p.balancing) else {
        return None;
    };
    let mut hasher = std::hash::DefaultHasher::new();
    match key {
        HashKey::Header(name) => parts
            .headers
            .get(name.as_str())?
            .as_bytes()
            .hash(&mut hasher),
        HashKey::Cookie(name) => parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|pair| pair.trim().strip_prefix(name.as_str())?.strip_prefix('='))?
            .hash(&mut hasher),
        HashKey::QueryParameter(name) => parts
            .uri
            .query()?
            .split('&')
            .find_map(|pair| pair.strip_prefix(name.as_str())?.strip_prefix('='))?
            .hash(&mut hasher),
        HashKey::SourceIp => peer?.hash(&mut hasher),
    }
    Some(hasher.finish())
}

/// Mirrored requests go to the mirror's instance with `-shadow` appended to
/// the authority, as Envoy does; the answer is dropped.
fn mirror_request(
    plane: Arc<Plane>,
    routes: &Arc<Routes>,
    selector: Selector,
    hash: Option<u64>,
    mut outgoing: Outgoing,
) {
    let headers = &mut outgoing.headers;
    if let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
        let shadow = match host.split_once(':') {
            Some((name, port)) => format!("{name}-shadow:{port}"),
            None => format!("{host}-shadow"),
        };
        if let Ok(value) = HeaderValue::from_str(&shadow) {
            headers.insert(header::HOST, value);
        }
    }
    let Ok(permit) = Arc::clone(&plane.mirrors_in_flight).try_acquire_owned() else {
        tracing::debug!("{MAX_MIRRORS_IN_FLIGHT} mirrored requests in flight: this one is skipped");
        return;
    };
    let routes = Arc::clone(routes);
    tokio::spawn(async move {
        let send = forward(
            &plane,
            &routes,
            &selector,
            hash,
            &outgoing,
            Retries::None,
            Some(MIRROR_TIMEOUT),
        );
        let _ = tokio::time::timeout(MIRROR_TIMEOUT, send).await;
        drop(permit);
    });
}

/// Which retries a forward may make.
#[derive(Clone, Copy)]
enum Retries<'a> {
    /// Istio's default for a route without a retry policy.
    Default,
    Route(&'a table::RetryPolicy),
    /// One attempt (mirrors).
    None,
}

/// The wait before retry `n` (1 for the first), as Envoy's back-off from
/// `base` (the route's `backoff`, or 25 ms): uniform in
/// [0, (2^n − 1) × base), capped at ten times the base.
fn retry_wait(n: u32, base: Option<Duration>) -> Duration {
    let base = base.unwrap_or(RETRY_BASE);
    let ceiling = base
        .saturating_mul(2u32.saturating_pow(n).saturating_sub(1))
        .min(base.saturating_mul(RETRY_MAX_FACTOR));
    ceiling.mul_f64(rand::random::<f64>())
}

async fn forward(
    plane: &Plane,
    routes: &Routes,
    selector: &Selector,
    hash: Option<u64>,
    outgoing: &Outgoing,
    retries: Retries<'_>,
    route_timeout: Option<Duration>,
) -> (Response, Outcome) {
    let (retry_count, retry_on, per_try, backoff) = match retries {
        Retries::Default => (
            table::ISTIO_DEFAULT_RETRIES,
            &plane.default_retry_on,
            None,
            None,
        ),
        Retries::Route(r) => (r.attempts, &r.retry_on, r.per_try_timeout, r.backoff),
        Retries::None => (0, &plane.default_retry_on, None, None),
    };
    let per_try = per_try.or(route_timeout);
    let cluster = routes.clusters.get(selector);
    let mut last = (
        envoy_reply(StatusCode::SERVICE_UNAVAILABLE, "no healthy upstream"),
        Outcome::flagged(Flags::NO_HEALTHY_UPSTREAM),
    );
    let mut retry_permits = None;
    for attempt in 0..=retry_count {
        if attempt > 0 {
            // A retry needs a place in the plane's budget and in its
            // destination's (`maxRetries`), then waits.
            if retry_permits.is_none() {
                let Ok(plane_permit) = Arc::clone(&plane.retries_in_flight).try_acquire_owned()
                else {
                    break;
                };
                let Ok(cluster_permit) = cluster.map_or(Ok(None), |c| c.retry()) else {
                    break;
                };
                retry_permits = Some((plane_permit, cluster_permit));
            }
            tokio::time::sleep(retry_wait(attempt, backoff)).await;
        }
        // A place in the destination's connection pool, held (as the
        // in-flight count least request compares) until the answer's
        // headers arrive; Bookinfo's bodies are small.
        let _admitted = match cluster.map(|c| c.admit()) {
            Some(admit) => match admit.await {
                Ok(admitted) => admitted,
                Err(Overflow) => return (overflow_reply(), Outcome::flagged(Flags::OVERFLOW)),
            },
            None => None,
        };
        let Some(picked) = plane.pick_instance(routes, selector, hash) else {
            return (
                envoy_reply(StatusCode::SERVICE_UNAVAILABLE, "no healthy upstream"),
                Outcome::flagged(Flags::NO_HEALTHY_UPSTREAM),
            );
        };
        let reached = |flags: Flags| Outcome {
            flags,
            destination: Some(picked.index),
            ..Outcome::default()
        };
        let authority = picked.authority;
        let uri: Uri = match format!("http://{authority}{}", outgoing.path_and_query).parse() {
            Ok(uri) => uri,
            Err(_) => {
                return (
                    envoy_reply(StatusCode::BAD_REQUEST, "bad request path"),
                    Outcome::default(),
                );
            }
        };
        let mut request = axum::http::Request::new(Full::new(outgoing.body.clone()));
        *request.method_mut() = outgoing.method.clone();
        *request.uri_mut() = uri;
        *request.headers_mut() = outgoing.headers.clone();
        let sent = plane.client.request(request);
        let outcome = match per_try {
            Some(timeout) => tokio::time::timeout(timeout, sent).await.ok(),
            None => Some(sent.await),
        };
        let (response, retry, flags) = match outcome {
            None => (
                envoy_reply(StatusCode::GATEWAY_TIMEOUT, "upstream request timeout"),
                retry_on.no_answer(false, true),
                Flags::UPSTREAM_TIMEOUT,
            ),
            Some(Err(error)) => {
                let connect = error.is_connect();
                (
                    envoy_reply(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "upstream connect error or disconnect/reset before headers",
                    ),
                    retry_on.no_answer(connect, false),
                    if connect {
                        Flags::CONNECT_FAILURE
                    } else {
                        Flags::CONNECTION_TERMINATED
                    },
                )
            }
            Some(Ok(response)) => {
                let status = response.status();
                let retry = retry_on.status(status.as_u16());
                let (mut parts, body) = response.into_parts();
                drop_hop_by_hop(&mut parts.headers);
                (
                    Response::from_parts(parts, Body::new(body)),
                    retry,
                    Flags::default(),
                )
            }
        };
        if let Some(cluster) = cluster {
            cluster.record(picked.place, response.status().as_u16());
        }
        let answers = &plane.answers[picked.index];
        answers.requests.fetch_add(1, Ordering::Relaxed);
        if response.status().is_server_error() {
            answers.errors.fetch_add(1, Ordering::Relaxed);
        }
        last = (response, reached(flags));
        if !retry {
            break;
        }
    }
    last
}

/// Listens for one host; the router lives as long as the plane.
/// `source` is the calling workload whose outbound listener this is (an
/// instance's index), `None` for the entry point.
pub fn host_router(plane: Arc<Plane>, host: &str, source: Option<usize>) -> axum::Router {
    axum::Router::new().fallback(proxy).with_state(HostProxy {
        plane,
        hosts: Hosts::Fixed(host.to_owned()),
        source,
    })
}

/// Listens for every host of the plane's instances, chosen by the Host
/// header; `default` takes requests that name none of them.
pub fn shared_router(
    plane: Arc<Plane>,
    default: Option<String>,
    source: Option<usize>,
) -> axum::Router {
    axum::Router::new().fallback(proxy).with_state(HostProxy {
        plane,
        hosts: Hosts::ByHeader { default },
        source,
    })
}

/// Shares per version of each host's default route, for the admin endpoint
/// and the loadgen.
pub fn shares(table: &Table) -> HashMap<String, BTreeMap<String, f64>> {
    table
        .hosts
        .keys()
        .filter(|host| *host != table::INGRESS)
        .filter_map(|host| table.shares(host, "/", |_| None).map(|s| (host.clone(), s)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::named_host;

    #[test]
    fn paths_are_normalised_as_istios_base_setting() {
        use super::normalize_path;
        assert_eq!(normalize_path("/a/../blocked/x"), "/blocked/x");
        assert_eq!(normalize_path("/./blocked"), "/blocked");
        assert_eq!(normalize_path("/%62locked"), "/blocked");
        assert_eq!(normalize_path("/%2e%2e/blocked"), "/blocked");
        assert_eq!(
            normalize_path("//blocked"),
            "//blocked",
            "slashes are not merged"
        );
        assert_eq!(normalize_path("/a/b/.."), "/a/");
        assert_eq!(normalize_path("/../.."), "/");
        assert_eq!(normalize_path("/reviews/0"), "/reviews/0");
        assert_eq!(normalize_path("/%2F/%zz/%e2%82%ac"), "/%2F/%zz/%e2%82%ac");
        assert_eq!(normalize_path("/caf\u{e9}"), "/caf\u{e9}");
    }

    #[test]
    fn a_host_header_names_the_service_by_its_first_label() {
        assert_eq!(named_host("reviews"), "reviews");
        assert_eq!(named_host("reviews:9080"), "reviews");
        assert_eq!(named_host("reviews.mesh:9080"), "reviews");
        assert_eq!(named_host("reviews.default.svc.cluster.local"), "reviews");
        assert_eq!(named_host("127.0.0.1:9080"), "127");
        assert_eq!(named_host("[::1]:9080"), "[::1]");
        assert_eq!(named_host(""), "");
    }
}
