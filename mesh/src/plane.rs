//! The local data plane: proxy listeners for the service hosts (one per
//! host, or one for all that tells them apart by the Host header), routing
//! every request by the current table (VirtualService semantics: first matching
//! rule, fault injection, per-request weighted choice, mirror, timeout,
//! retries), and the routing state that admin and file watch change in
//! epochs.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use bookinfo_routing::load::Object;
use bookinfo_routing::table::{self, Selector, Table};

/// Requests are buffered (so retries and mirrors can resend them); Bookinfo
/// bodies are tiny.
const MAX_BODY: usize = 1 << 20;
/// Istio's default when a route sets no retries: two more attempts, on
/// connection failures only.
const DEFAULT_RETRIES: u32 = 2;

/// A running service process the plane can route to.
#[derive(Debug, Clone)]
pub struct Instance {
    pub app: String,
    pub labels: BTreeMap<String, String>,
    /// `host:port` as dialled: an address, or a name resolved for each new
    /// connection, so an instance that comes back at another address (a
    /// restarted container) is found again.
    pub authority: String,
}

impl Instance {
    fn selected_by(&self, selector: &Selector) -> bool {
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
    table: RwLock<Arc<Table>>,
    epoch: AtomicU64,
    /// One turn counter per app, so each host's Service-style balancing is
    /// not skewed by picks for other hosts.
    round_robin: HashMap<String, AtomicUsize>,
    client: Client<HttpConnector, Full<Bytes>>,
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
        Arc::new(Self {
            instances,
            objects: Mutex::new(Vec::new()),
            table: RwLock::new(Arc::new(Table::default())),
            epoch: AtomicU64::new(0),
            round_robin,
            client: Client::builder(TokioExecutor::new()).build(connector),
        })
    }

    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Routing objects in force (one per kind and name).
    pub fn object_count(&self) -> usize {
        self.objects.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn table(&self) -> Arc<Table> {
        self.table.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Adds `objects`, replacing those of the same kind and name as a
    /// cluster's `kubectl apply` does (so re-applying a file keeps one copy),
    /// and starts a new epoch; on any error the routes in force stay as they
    /// were. Compiling a large file takes a while: call it off the runtime's
    /// workers (`spawn_blocking`).
    pub fn apply(&self, objects: Vec<Object>) -> Result<Applied, String> {
        let mut current = self.objects.lock().unwrap_or_else(|e| e.into_inner());
        let replaced: HashSet<String> = objects.iter().map(Object::key).collect();
        let mut merged: Vec<Object> = current
            .iter()
            .filter(|o| !replaced.contains(&o.key()))
            .cloned()
            .collect();
        merged.extend(objects);
        self.install(&mut current, merged)
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
            .filter(|selector| !self.instances.iter().any(|i| i.selected_by(selector)))
            .map(|selector| {
                format!(
                    "host {}: no instance has labels {:?}; requests routed there get 503",
                    selector.app, selector.labels
                )
            })
            .collect();
        table.warnings.extend(missing);
        let warnings = table.warnings.clone();
        *current = objects;
        *self.table.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(table);
        let epoch = self.epoch.fetch_add(1, Ordering::SeqCst) + 1;
        for warning in &warnings {
            tracing::warn!(epoch, "{warning}");
        }
        Ok(Applied { epoch, warnings })
    }

    fn pick_instance(&self, selector: &Selector) -> Option<&str> {
        let candidates: Vec<&Instance> = self
            .instances
            .iter()
            .filter(|i| i.selected_by(selector))
            .collect();
        if candidates.is_empty() {
            return None;
        }
        let turn = self
            .round_robin
            .get(&selector.app)
            .map_or(0, |counter| counter.fetch_add(1, Ordering::Relaxed));
        Some(&candidates[turn % candidates.len()].authority)
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
    fn host_of<'a>(&'a self, headers: &'a HeaderMap) -> Option<&'a str> {
        match &self.hosts {
            Hosts::Fixed(host) => Some(host),
            Hosts::ByHeader { default } => {
                let named = headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .map(named_host)
                    .filter(|name| self.plane.instances.iter().any(|i| i.app == *name));
                named.or(default.as_deref())
            }
        }
    }
}

fn envoy_reply(status: StatusCode, body: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain")], body).into_response()
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

/// A buffered request, ready to be sent (and resent) to any instance.
#[derive(Clone)]
struct Outgoing {
    method: axum::http::Method,
    path_and_query: String,
    headers: HeaderMap,
    body: Bytes,
}

async fn proxy(State(proxy): State<HostProxy>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Some(host) = proxy.host_of(&parts.headers) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return envoy_reply(StatusCode::PAYLOAD_TOO_LARGE, "request body too large"),
    };
    let plane = &proxy.plane;
    let table = plane.table();
    let path = parts.uri.path();
    let mut outgoing = Outgoing {
        method: parts.method.clone(),
        path_and_query: parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned(),
        headers: parts.headers.clone(),
        body,
    };
    for name in HOP_BY_HOP {
        outgoing.headers.remove(name);
    }

    let rule = table.rule_for(host, path, |name| {
        parts.headers.get(name).and_then(|v| v.to_str().ok())
    });
    let Some(rule) = rule else {
        // No VirtualService: a Kubernetes Service balances over all pods.
        let selector = Selector {
            app: host.to_owned(),
            labels: BTreeMap::new(),
        };
        return forward(plane, &selector, &outgoing, None, None).await;
    };

    if let Some((status, share)) = rule.abort
        && rand::random::<f64>() < share
    {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return envoy_reply(status, "fault filter abort");
    }
    if let Some((delay, share)) = rule.delay
        && rand::random::<f64>() < share
    {
        tokio::time::sleep(delay).await;
    }
    let weights: Vec<u32> = rule.destinations.iter().map(|d| d.weight).collect();
    let chosen = &rule.destinations[pick_weighted(&weights, rand::random::<f64>())].selector;

    if let Some((mirror, share)) = &rule.mirror
        && rand::random::<f64>() < *share
    {
        mirror_request(plane.clone(), mirror.clone(), outgoing.clone());
    }
    let send = forward(
        plane,
        chosen,
        &outgoing,
        rule.retries.as_ref(),
        rule.timeout,
    );
    match rule.timeout {
        Some(timeout) => tokio::time::timeout(timeout, send)
            .await
            .unwrap_or_else(|_| {
                envoy_reply(StatusCode::GATEWAY_TIMEOUT, "upstream request timeout")
            }),
        None => send.await,
    }
}

/// Mirrored requests go to the mirror's instance with `-shadow` appended to
/// the authority, as Envoy does; the answer is dropped.
fn mirror_request(plane: Arc<Plane>, selector: Selector, mut outgoing: Outgoing) {
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
    tokio::spawn(async move {
        let _ = forward(&plane, &selector, &outgoing, None, None).await;
    });
}

async fn forward(
    plane: &Plane,
    selector: &Selector,
    outgoing: &Outgoing,
    retries: Option<&table::RetryPolicy>,
    route_timeout: Option<Duration>,
) -> Response {
    let attempts = 1 + retries.map_or(DEFAULT_RETRIES, |r| r.attempts);
    let retry_on: Vec<String> = retries.map_or_else(
        || vec!["connect-failure".to_owned()],
        |r| r.retry_on.clone(),
    );
    let per_try = retries.and_then(|r| r.per_try_timeout).or(route_timeout);
    let mut last = envoy_reply(StatusCode::SERVICE_UNAVAILABLE, "no healthy upstream");
    for _ in 0..attempts {
        let Some(authority) = plane.pick_instance(selector) else {
            return envoy_reply(StatusCode::SERVICE_UNAVAILABLE, "no healthy upstream");
        };
        let uri: Uri = match format!("http://{authority}{}", outgoing.path_and_query).parse() {
            Ok(uri) => uri,
            Err(_) => return envoy_reply(StatusCode::BAD_REQUEST, "bad request path"),
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
        let (response, retry) = match outcome {
            None => (
                envoy_reply(StatusCode::GATEWAY_TIMEOUT, "upstream request timeout"),
                retry_on.iter().any(|r| r == "5xx" || r == "gateway-error"),
            ),
            Some(Err(error)) => {
                let connect = error.is_connect();
                (
                    envoy_reply(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "upstream connect error or disconnect/reset before headers",
                    ),
                    retry_on.iter().any(|r| {
                        r == "5xx"
                            || r == "reset"
                            || (connect && (r == "connect-failure" || r == "gateway-error"))
                    }),
                )
            }
            Some(Ok(response)) => {
                let status = response.status();
                let retry = retry_on.iter().any(|r| match r.as_str() {
                    "5xx" => status.is_server_error(),
                    "gateway-error" => matches!(status.as_u16(), 502..=504),
                    "retriable-4xx" => status == StatusCode::CONFLICT,
                    _ => false,
                });
                let (mut parts, body) = response.into_parts();
                for name in HOP_BY_HOP {
                    parts.headers.remove(name);
                }
                (Response::from_parts(parts, Body::new(body)), retry)
            }
        };
        last = response;
        if !retry {
            break;
        }
    }
    last
}

/// Listens for one host; the router lives as long as the plane.
pub fn host_router(plane: Arc<Plane>, host: &str) -> axum::Router {
    axum::Router::new().fallback(proxy).with_state(HostProxy {
        plane,
        hosts: Hosts::Fixed(host.to_owned()),
    })
}

/// Listens for every host of the plane's instances, chosen by the Host
/// header; `default` takes requests that name none of them.
pub fn shared_router(plane: Arc<Plane>, default: Option<String>) -> axum::Router {
    axum::Router::new().fallback(proxy).with_state(HostProxy {
        plane,
        hosts: Hosts::ByHeader { default },
    })
}

/// Shares per version of each host's default route, for the admin endpoint
/// and the loadgen.
pub fn shares(table: &Table) -> HashMap<String, BTreeMap<String, f64>> {
    table
        .hosts
        .keys()
        .filter_map(|host| table.shares(host, "/", |_| None).map(|s| (host.clone(), s)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::named_host;

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
