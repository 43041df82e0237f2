//! `bookinfo demo`: the KubeSphere canary tutorial on one machine, done with
//! the canary commands (`bookinfo canary`) and each step
//! checked by the loadgen's verdict engine instead of by eye.
//!
//! - 1: deploy Bookinfo (all traffic to reviews v1: no stars);
//! - 2: create the canary of reviews v2 with a 30/70 v1/v2 split;
//! - 3: drive traffic like the tutorial's `curl` loop and verify the split;
//! - 4: the traffic topology the data plane saw, with its live figures (and
//!   the live page's address for the demo's duration);
//! - 5: one request's trace as a tree, received over OTLP from the running
//!   processes (every one exports to a receiver in this one);
//! - 6: take over: 100% to v2, verified;
//! - 7: take the job offline: stop reviews v1, and verify v2 still serves everything.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bookinfo_loadgen::Display;
use bookinfo_verdict::Verdict;
use reqwest::Url;

use bookinfo_canary::job::step_text;
use bookinfo_canary::{Job, Jobs, Step};
use bookinfo_mesh::up::{Up, UpConfig};
use bookinfo_support::telemetry::{LogFormat, Protocol, SamplerName, Telemetry, TelemetryArgs};

use crate::traces::{self, Receiver};

/// The tutorial's cadence: one request every 0.5 s.
pub(crate) const TUTORIAL_RATE: f64 = 2.0;

#[derive(Debug, Clone)]
pub(crate) struct DemoConfig {
    pub program: PathBuf,
    /// The `istio/` folder with the routing files.
    pub istio: PathBuf,
    /// Requests per second the loadgen sends.
    pub rate: f64,
    /// Longest each verification may run.
    pub step_limit: Duration,
    pub display: Display,
}

fn say(text: &str) {
    println!("\n== {text}");
}

struct Demo<'a> {
    config: &'a DemoConfig,
    up: Up,
    all_passed: bool,
    /// The spans every process exports, and this one's exporter.
    spans: Receiver,
    exporting: Telemetry,
}

/// How soon the services export a finished span (the SDK's batch delay,
/// 5 s by default): the trace is shown as soon as it is whole.
const DEMO_EXPORT_DELAY_MS: &str = "200";
/// How long step 5 waits for the request's trace to be whole.
const TRACE_WAIT: Duration = Duration::from_secs(10);

impl Demo<'_> {
    /// Sends one page with a new W3C trace and prints its trace once whole
    /// (every span's parent received, nothing new for a poll).
    async fn trace_one(&mut self) -> Result<(), String> {
        let trace = new_trace_id();
        let hex: String = trace.iter().map(|b| format!("{b:02x}")).collect();
        let page = format!("http://{}/productpage", self.up.entry);
        reqwest::Client::new()
            .get(&page)
            .header("traceparent", format!("00-{hex}-{}-01", &hex[..16]))
            .send()
            .await
            .map_err(|e| format!("{page}: {e}"))?;
        let deadline = tokio::time::Instant::now() + TRACE_WAIT;
        let mut seen = 0;
        loop {
            tokio::time::sleep(Duration::from_millis(300)).await;
            self.exporting.flush().await;
            let spans = self.spans.trace(&trace);
            let whole = spans
                .iter()
                .any(|s| s.is_service("ratings") || s.is_service("reviews"))
                && spans.len() == seen;
            if whole || tokio::time::Instant::now() >= deadline {
                println!("trace {hex}:");
                print!("{}", traces::tree(&spans));
                if !whole {
                    println!("(not whole within {} s)", TRACE_WAIT.as_secs());
                    self.all_passed = false;
                }
                return Ok(());
            }
            seen = spans.len();
        }
    }

    /// The canary commands, against this run's admin endpoint.
    fn canary(&self) -> Result<Jobs, String> {
        Jobs::new(&format!("http://{}", self.up.admin)).map_err(|e| e.to_string())
    }

    /// Says what a canary command did, as `bookinfo canary` does.
    fn done(&self, command: &str, job: &Job) {
        println!(
            "bookinfo canary {command}: {} (routing epoch {})",
            step_text(&job.step),
            self.up.plane.epoch()
        );
    }

    /// Drives traffic at the page and verifies the reviews split in force
    /// (read from the admin endpoint, and followed if it changes).
    async fn verify(&mut self, what: &str) -> Result<(), String> {
        let admin: Url = format!("http://{}/", self.up.admin)
            .parse()
            .map_err(|_| "admin URL")?;
        let url: Url = format!("http://{}/productpage", self.up.entry)
            .parse()
            .map_err(|_| "entry URL")?;
        let traffic = crate::verify::Traffic {
            url,
            rate: self.config.rate,
            limit: self.config.step_limit,
            display: self.config.display,
            ndjson: None,
        };
        let result = crate::verify::split(
            crate::verify::Expected::Admin(&admin),
            "reviews",
            traffic,
            bookinfo_loadgen::control(),
        )
        .await?;
        print!("{}", bookinfo_loadgen::summary(&result.report));
        let verdict = result.verdict.unwrap_or(Verdict::Running);
        println!("{what}: {verdict}");
        if !matches!(verdict, Verdict::Pass) {
            self.all_passed = false;
        }
        Ok(())
    }
}

/// Runs the tutorial; `Ok(true)` when every verification passed.
pub(crate) async fn run(config: &DemoConfig) -> Result<bool, String> {
    if config.rate > TUTORIAL_RATE {
        println!(
            "The tutorial sends one request every 0.5 s; at that rate a split verdict within \
             ±5 points (false alarm 0.1%) needs about 2,000 responses, some 17 minutes. \
             This demo sends {} requests/s instead, so each step decides in under a minute.",
            config.rate
        );
    }
    say(
        "1. Deploy Bookinfo (productpage, details, reviews v1/v2/v3, ratings), all reviews traffic to v1",
    );
    let (spans, collector) = Receiver::start().await?;
    let args = TelemetryArgs {
        log_format: LogFormat::Plain,
        log_filter: "warn".into(),
        otlp_endpoint: Some(format!("http://{collector}")),
        otlp_protocol: Protocol::HttpProtobuf,
        service_name: None,
        sampler: SamplerName::ParentBasedAlwaysOn,
        sample_ratio: 1.0,
    };
    let exporting = crate::plane_telemetry(&args)?;
    let mut export_env = args.export_env().unwrap_or_default();
    export_env.push((
        "OTEL_BSP_SCHEDULE_DELAY".into(),
        DEMO_EXPORT_DELAY_MS.into(),
    ));
    let up = Up::start(&UpConfig {
        program: config.program.clone(),
        listen: "127.0.0.1:0".parse().map_err(|_| "address")?,
        admin: "127.0.0.1:0".parse().map_err(|_| "address")?,
        routes: vec![
            config.istio.join("destination-rule-all.yaml"),
            config.istio.join("virtual-service-all-v1.yaml"),
        ],
        watch: false,
        service_log: "warn".into(),
        router: bookinfo_mesh::up::Router::Local,
        env: Vec::new(),
        tracing: Some(export_env),
    })
    .await?;
    println!(
        "product page: http://{}/productpage  (live topology while the demo runs: http://{}/)",
        up.entry, up.admin
    );
    let mut demo = Demo {
        config,
        up,
        all_passed: true,
        spans,
        exporting,
    };
    let outcome = steps(&mut demo).await;
    say("Stopping everything");
    demo.up.stop().await;
    demo.exporting.shutdown().await;
    outcome.map(|()| demo.all_passed)
}

async fn steps(demo: &mut Demo<'_>) -> Result<(), String> {
    demo.verify("every page from reviews v1 (no stars)").await?;

    say("2. Canary release of reviews v2: v1 30% / v2 70% (forward by traffic ratio)");
    let canary = demo.canary()?;
    let fail = |e: bookinfo_canary::CanaryError| e.to_string();
    let job = canary
        .create("reviews", "v2", None, None)
        .await
        .map_err(fail)?;
    demo.done("create reviews v2", &job);
    let weights = vec![("v1".to_owned(), 30), ("v2".to_owned(), 70)];
    let job = canary
        .step("reviews", Step::Weights(weights))
        .await
        .map_err(fail)?;
    demo.done("weight reviews v1=30 v2=70", &job);
    say("3. Traffic like the tutorial's curl loop; is the split what was configured?");
    demo.verify("canary split 30/70").await?;

    say("4. Traffic topology: what the data plane routed over the last 30 s");
    print!("{}", topology_text(&demo.up.plane));

    say("5. Tracing: one request, every hop, as the processes exported it over OTLP");
    demo.trace_one().await?;

    say("6. Take over: 100% of reviews traffic to v2");
    let job = canary
        .step("reviews", Step::All("v2".into()))
        .await
        .map_err(fail)?;
    demo.done("take-over reviews v2", &job);
    demo.verify("every page from reviews v2 (black stars)")
        .await?;

    say("7. Take the canary job offline: reviews v1 removed");
    let (stays, stopped) = canary.offline("reviews", "v1").await.map_err(fail)?;
    println!("bookinfo canary offline reviews v1: every request on {stays}; the job ended");
    if stopped {
        println!("stopped the reviews-v1 process");
    }
    demo.verify("v2 serves everything with v1 gone").await?;
    Ok(())
}

/// The plane's topology window as a table: each edge with its requests
/// per second, success rate and p50/p99.
fn topology_text(plane: &bookinfo_mesh::plane::Plane) -> String {
    let stats = plane.stats();
    let mut text = format!(
        "{:<34} {:>8} {:>8} {:>8} {:>8}\n",
        "from -> to", "req/s", "success", "p50 ms", "p99 ms"
    );
    let ms = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"));
    for (edge, figures) in stats.window() {
        let destination = match edge.destination {
            Some(_) => stats.workload(edge.destination).0.to_owned(),
            None => stats.hosts()[edge.host].clone(),
        };
        let success = figures
            .success_rate
            .map_or_else(|| "-".to_owned(), |r| format!("{:.1}%", r * 100.0));
        text.push_str(&format!(
            "{:<34} {:>8.1} {:>8} {:>8} {:>8}\n",
            format!("{} -> {destination}", stats.workload(edge.source).0),
            figures.per_second,
            success,
            ms(figures.p50_ms),
            ms(figures.p99_ms)
        ));
    }
    text
}

/// A trace id no other run has: the clock and the process, hashed.
fn new_trace_id() -> [u8; 16] {
    use std::hash::{BuildHasher, Hasher};
    let state = std::collections::hash_map::RandomState::new();
    let mut bytes = [0; 16];
    for (i, half) in bytes.chunks_mut(8).enumerate() {
        let mut hasher = state.build_hasher();
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        hasher.write_u32(std::process::id());
        hasher.write_usize(i);
        half.copy_from_slice(&hasher.finish().to_be_bytes());
    }
    bytes
}

/// The `istio/` folder: next to the working directory, or beside the repo of
/// this build.
pub(crate) fn default_istio_dir() -> PathBuf {
    let here = Path::new("istio");
    if here.join("destination-rule-all.yaml").exists() {
        return here.to_path_buf();
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../istio")
}
