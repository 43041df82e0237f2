//! A weighted stand-in for Bookinfo's productpage, and run configurations for it.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bookinfo_loadgen::Display;
use bookinfo_loadgen::{Limits, Load, RunConfig, parse_expect};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// How the stub answers `/productpage`.
#[derive(Debug, Clone)]
pub(crate) struct StubOptions {
    /// Versions and integer weights, e.g. `[("v1", 30), ("v2", 70)]`.
    pub weights: Vec<(&'static str, u32)>,
    pub seed: u64,
    /// Send `x-bookinfo-reviews-version`; without it only the page markers tell.
    pub header: bool,
    /// Every request waits this long before answering.
    pub delay: Duration,
    /// Requests with `hit % n == n - 1` wait this long (timeouts).
    pub slow_every: Option<(u64, Duration)>,
    /// Requests answered by this version wait this long (a slow canary).
    pub slow_version: Option<(&'static str, Duration)>,
}

impl StubOptions {
    pub(crate) fn weighted(weights: &[(&'static str, u32)]) -> Self {
        Self {
            weights: weights.to_vec(),
            seed: 20_261_126,
            header: true,
            delay: Duration::ZERO,
            slow_every: None,
            slow_version: None,
        }
    }
}

struct Stub {
    options: StubOptions,
    rng: Mutex<StdRng>,
    hits: AtomicU64,
    peers: Mutex<HashSet<SocketAddr>>,
}

/// A running stub.
pub(crate) struct StubServer {
    server: bookinfo_support::testing::Running,
    stub: Arc<Stub>,
}

impl StubServer {
    pub(crate) fn url(&self, path: &str) -> reqwest::Url {
        let text = format!("http://{}{path}", self.server.addr);
        reqwest::Url::parse(&text).expect("stub URL")
    }

    /// Distinct client connections seen (by peer address).
    pub(crate) fn connections(&self) -> usize {
        self.stub.peers.lock().map(|p| p.len()).unwrap_or(0)
    }

    pub(crate) fn hits(&self) -> u64 {
        self.stub.hits.load(Ordering::SeqCst)
    }
}

pub(crate) async fn spawn_stub(options: StubOptions) -> StubServer {
    let stub = Arc::new(Stub {
        rng: Mutex::new(StdRng::seed_from_u64(options.seed)),
        options,
        hits: AtomicU64::new(0),
        peers: Mutex::new(HashSet::new()),
    });
    let app = Router::new()
        .route("/productpage", get(product_page))
        .route("/login", post(login))
        .route("/sorry", get(sorry))
        .route("/hello", get(|| async { "hello, world" }))
        .with_state(Arc::clone(&stub));
    StubServer {
        server: bookinfo_support::testing::serve(app).await,
        stub,
    }
}

fn page(version: &str, markers: bool) -> String {
    let stars = match (markers, version) {
        (false, _) | (true, "v1") => String::new(),
        (true, "v2") => {
            "<div class=\"stars text-black-500\"><span class=\"glyphicon glyphicon-star\"></span></div>"
                .to_owned()
        }
        (true, _) => {
            "<div class=\"stars text-red-500\"><span class=\"glyphicon glyphicon-star\"></span></div>"
                .to_owned()
        }
    };
    format!(
        "<title>Simple Bookstore App</title>\n<h2>Book Reviews</h2>\n<article>{stars}\
         <blockquote>Fun</blockquote><p>Reviews served by: <span>reviews-{version}-stub</span></p></article>\n"
    )
}

async fn product_page(
    State(stub): State<Arc<Stub>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let hit = stub.hits.fetch_add(1, Ordering::SeqCst);
    if let Ok(mut peers) = stub.peers.lock() {
        peers.insert(peer);
    }
    let o = &stub.options;
    let mut delay = o.delay;
    if let Some((n, slow)) = o.slow_every
        && hit % n == n - 1
    {
        delay = slow;
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let logged_in = headers
        .get(header::COOKIE)
        .and_then(|c| c.to_str().ok())
        .is_some_and(|c| c.contains("session=jason"));
    // The test user is routed to v2, everyone else by weight (like test-v2 rules).
    let version = if logged_in {
        "v2"
    } else {
        let total: u32 = o.weights.iter().map(|(_, w)| w).sum();
        let mut draw = stub
            .rng
            .lock()
            .map(|mut r| r.random_range(0..total.max(1)))
            .unwrap_or(0);
        let mut chosen = "v1";
        for (v, w) in &o.weights {
            if draw < *w {
                chosen = v;
                break;
            }
            draw -= w;
        }
        chosen
    };
    if let Some((slow, wait)) = o.slow_version
        && slow == version
    {
        tokio::time::sleep(wait).await;
    }
    let mut response = page(version, !o.header).into_response();
    if o.header {
        let value = HeaderValue::from_str(&format!("reviews-{version}")).expect("header");
        response
            .headers_mut()
            .insert("x-bookinfo-reviews-version", value);
    }
    response
}

async fn login(body: String) -> Response {
    let user = body
        .split('&')
        .find_map(|kv| kv.strip_prefix("username="))
        .unwrap_or("");
    let cookie = format!("session={user}-signed; HttpOnly; Path=/");
    (
        StatusCode::FOUND,
        [
            (header::LOCATION, "/productpage".to_owned()),
            (header::SET_COOKIE, cookie),
        ],
    )
        .into_response()
}

async fn sorry() -> &'static str {
    "<title>Simple Bookstore App</title><h2>Error fetching product reviews</h2>\
     <p>Sorry, product reviews are currently unavailable for this book.</p>"
}

/// A quiet, fast run against `url`: 1,000 req/s, at most `requests`.
pub(crate) fn fast_config(url: reqwest::Url, requests: u64) -> RunConfig {
    let mut c = RunConfig::new(url);
    c.load = Load::Open {
        interval: Duration::from_millis(1),
    };
    c.limits = Limits {
        duration: Some(Duration::from_secs(20)),
        requests: Some(requests),
    };
    c.timeout = Duration::from_secs(5);
    c.display = Display::Quiet;
    c
}

/// Expect `split` with a 10-point tolerance and α = 0.01, so a decision comes within
/// about a thousand responses.
pub(crate) fn expect(c: &mut RunConfig, split: &str) {
    c.expected = Some(parse_expect(split).expect("valid split"));
    c.verdict.tolerance = 0.10;
    c.verdict.alpha = 0.01;
}
