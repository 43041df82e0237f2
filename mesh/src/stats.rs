//! Istio's standard metrics, counted by the local data plane as a pair of
//! sidecars counts them, so dashboards and queries written for Istio work
//! unchanged: `istio_requests_total`, `istio_request_duration_milliseconds`,
//! `istio_request_bytes` and `istio_response_bytes`, with Istio's labels
//! (Istio's "Standard Metrics" reference). Every routed request is reported
//! by the source's side (`reporter="source"`, as the client sidecar, which
//! sees faults, missing routes and upstream failures), and, when it reached
//! an instance, by the destination's (`reporter="destination"`).
//!
//! Beside the cumulative series, a window of the last [`WINDOW_SECONDS`]
//! seconds per edge (source workload → destination workload) feeds the
//! live topology page: requests per second, success rate, p50 and p99.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::plane::Instance;

/// Envoy's default histogram bounds, which Istio's histograms use:
/// milliseconds for durations, bytes for sizes.
const BUCKETS: [f64; 19] = [
    0.5,
    1.0,
    5.0,
    10.0,
    25.0,
    50.0,
    100.0,
    250.0,
    500.0,
    1_000.0,
    2_500.0,
    5_000.0,
    10_000.0,
    30_000.0,
    60_000.0,
    300_000.0,
    600_000.0,
    1_800_000.0,
    3_600_000.0,
];
/// The sliding window of the topology page: long enough to smooth a
/// request every 0.5 s, short enough to show a route change within it.
pub const WINDOW_SECONDS: u64 = 30;
/// Fine latency bins of the window: quarter-octaves from 1/16 ms, so a
/// percentile is known within 19%; 96 bins reach past 10 minutes.
const FINE_BINS: usize = 96;
const FINE_BASE_MS: f64 = 1.0 / 16.0;
/// Series kept at most: each is a combination of label values; beyond it
/// new combinations are counted under one overflow series rather than
/// growing without bound (status codes are the only open-ended label).
const MAX_SERIES: usize = 4_096;

/// Envoy's response flags the plane can set, printed in Envoy's order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Flags(u8);

impl Flags {
    /// No healthy upstream (`UH`).
    pub const NO_HEALTHY_UPSTREAM: Flags = Flags(1);
    /// Upstream request timeout (`UT`).
    pub const UPSTREAM_TIMEOUT: Flags = Flags(1 << 1);
    /// Upstream connection failure (`UF`).
    pub const CONNECT_FAILURE: Flags = Flags(1 << 2);
    /// Upstream connection termination (`UC`).
    pub const CONNECTION_TERMINATED: Flags = Flags(1 << 3);
    /// Upstream overflow, the circuit breaker (`UO`).
    pub const OVERFLOW: Flags = Flags(1 << 4);
    /// No route found (`NR`).
    pub const NO_ROUTE: Flags = Flags(1 << 5);
    /// Delay injected by the fault filter (`DI`).
    pub const DELAY_INJECTED: Flags = Flags(1 << 6);
    /// Aborted by the fault filter (`FI`).
    pub const FAULT_INJECTED: Flags = Flags(1 << 7);
    const NAMES: [(Flags, &'static str); 8] = [
        (Self::NO_HEALTHY_UPSTREAM, "UH"),
        (Self::UPSTREAM_TIMEOUT, "UT"),
        (Self::CONNECT_FAILURE, "UF"),
        (Self::CONNECTION_TERMINATED, "UC"),
        (Self::OVERFLOW, "UO"),
        (Self::NO_ROUTE, "NR"),
        (Self::DELAY_INJECTED, "DI"),
        (Self::FAULT_INJECTED, "FI"),
    ];

    pub fn insert(&mut self, other: Flags) {
        self.0 |= other.0;
    }

    pub fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// As Envoy's `%RESPONSE_FLAGS%`: `-` for none, else `DI,FI`.
    pub fn text(self) -> String {
        let names: Vec<&str> = Self::NAMES
            .iter()
            .filter(|(flag, _)| self.contains(*flag))
            .map(|(_, name)| *name)
            .collect();
        if names.is_empty() {
            "-".into()
        } else {
            names.join(",")
        }
    }

    /// The destination never saw the request.
    fn before_upstream(self) -> bool {
        self.0
            & (Self::NO_HEALTHY_UPSTREAM.0
                | Self::CONNECT_FAILURE.0
                | Self::OVERFLOW.0
                | Self::NO_ROUTE.0
                | Self::FAULT_INJECTED.0)
            != 0
    }
}

/// One routed request, as the plane saw it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The calling workload (an instance's index), `None` for a client
    /// outside the mesh.
    pub source: Option<usize>,
    pub host: &'a str,
    /// The instance that answered (its index), if one was reached.
    pub destination: Option<usize>,
    pub code: u16,
    pub flags: Flags,
    pub duration: Duration,
    pub request_bytes: u64,
    pub response_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Reporter {
    Source,
    Destination,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    reporter: Reporter,
    source: Option<usize>,
    host: usize,
    destination: Option<usize>,
    code: u16,
    flags: Flags,
}

#[derive(Debug, Clone, Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, value: f64) {
        if let Some(i) = BUCKETS.iter().position(|&bound| value <= bound) {
            self.buckets[i] += 1;
        }
        self.sum += value;
        self.count += 1;
    }
}

/// One of a series' histograms.
type Pick = fn(&Series) -> &Histogram;

#[derive(Debug, Clone, Default)]
struct Series {
    requests: u64,
    duration: Histogram,
    request_bytes: Histogram,
    response_bytes: Histogram,
}

/// An edge of the topology: who called which service, and which instance
/// answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Edge {
    pub source: Option<usize>,
    pub host: usize,
    pub destination: Option<usize>,
}

/// One second of one edge.
#[derive(Debug, Clone)]
struct Slot {
    requests: u64,
    failures: u64,
    latency: [u32; FINE_BINS],
}

impl Default for Slot {
    fn default() -> Self {
        Self {
            requests: 0,
            failures: 0,
            latency: [0; FINE_BINS],
        }
    }
}

fn fine_bin(ms: f64) -> usize {
    if ms <= FINE_BASE_MS {
        return 0;
    }
    ((ms / FINE_BASE_MS).log2() * 4.0)
        .ceil()
        .min((FINE_BINS - 1) as f64) as usize
}

fn fine_upper(bin: usize) -> f64 {
    FINE_BASE_MS * 2f64.powf(bin as f64 / 4.0)
}

/// An edge's figures over the window.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EdgeFigures {
    pub requests: u64,
    pub per_second: f64,
    /// Share of answers that were neither 5xx nor a failure to answer.
    pub success_rate: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

struct Window {
    /// `WINDOW_SECONDS` slots, by second since `start` modulo the length.
    slots: Vec<(u64, HashMap<Edge, Slot>)>,
}

/// The plane's metrics.
pub struct Stats {
    start: Instant,
    /// Workload names, apps and versions of the instances (same order).
    workloads: Vec<(String, String, String)>,
    /// The service hosts, by first appearance among the instances.
    hosts: Vec<String>,
    series: Mutex<HashMap<Key, Series>>,
    window: Mutex<Window>,
}

/// Prometheus' text format escapes backslash, quote and newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The workload an instance belongs to: `reviews-v2`, as the Deployment
/// of `app` and `version` is named.
pub fn workload_name(instance: &Instance) -> String {
    match instance.labels.get("version") {
        Some(version) => format!("{}-{version}", instance.app),
        None => instance.app.clone(),
    }
}

impl Stats {
    pub fn new(instances: &[Instance]) -> Self {
        let workloads = instances
            .iter()
            .map(|i| {
                let version = i
                    .labels
                    .get("version")
                    .cloned()
                    .unwrap_or_else(|| "unknown".into());
                (workload_name(i), i.app.clone(), version)
            })
            .collect();
        let mut hosts: Vec<String> = Vec::new();
        for instance in instances {
            if !hosts.contains(&instance.app) {
                hosts.push(instance.app.clone());
            }
        }
        Self {
            start: Instant::now(),
            workloads,
            hosts,
            series: Mutex::new(HashMap::new()),
            window: Mutex::new(Window {
                slots: (0..WINDOW_SECONDS)
                    .map(|_| (u64::MAX, HashMap::new()))
                    .collect(),
            }),
        }
    }

    /// The index of `host`, if the plane has instances of it.
    pub fn host_index(&self, host: &str) -> Option<usize> {
        self.hosts.iter().position(|h| h == host)
    }

    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }

    /// Counts one request.
    pub fn record(&self, request: &Request) {
        // Requests for hosts with no instance (the ingress host) are
        // counted under the first label of the host they named.
        let Some(host) = self.host_index(request.host) else {
            return;
        };
        let ms = request.duration.as_secs_f64() * 1000.0;
        {
            let mut series = self.series.lock().unwrap_or_else(|e| e.into_inner());
            let mut add = |key: Key| {
                let full = series.len() >= MAX_SERIES && !series.contains_key(&key);
                // One overflow series per reporter and host.
                let key = if full {
                    Key {
                        source: None,
                        destination: None,
                        code: 0,
                        flags: Flags::default(),
                        ..key
                    }
                } else {
                    key
                };
                let entry = series.entry(key).or_default();
                entry.requests += 1;
                entry.duration.observe(ms);
                entry.request_bytes.observe(request.request_bytes as f64);
                entry.response_bytes.observe(request.response_bytes as f64);
            };
            let key = Key {
                reporter: Reporter::Source,
                source: request.source,
                host,
                destination: request.destination,
                code: request.code,
                flags: request.flags,
            };
            add(key);
            if request.destination.is_some() && !request.flags.before_upstream() {
                add(Key {
                    reporter: Reporter::Destination,
                    flags: Flags::default(),
                    ..key
                });
            }
        }
        let second = self.start.elapsed().as_secs();
        let mut window = self.window.lock().unwrap_or_else(|e| e.into_inner());
        let (stamp, edges) = &mut window.slots[(second % WINDOW_SECONDS) as usize];
        if *stamp != second {
            *stamp = second;
            edges.clear();
        }
        let slot = edges
            .entry(Edge {
                source: request.source,
                host,
                destination: request.destination,
            })
            .or_default();
        slot.requests += 1;
        if request.code >= 500 || request.flags.before_upstream() {
            slot.failures += 1;
        }
        slot.latency[fine_bin(ms)] += 1;
    }

    /// Every edge seen within the window, with its figures.
    pub fn window(&self) -> Vec<(Edge, EdgeFigures)> {
        let now = self.start.elapsed().as_secs();
        let window = self.window.lock().unwrap_or_else(|e| e.into_inner());
        let mut sums: HashMap<Edge, Slot> = HashMap::new();
        for (stamp, edges) in &window.slots {
            // The current second is partial; the window is the whole
            // seconds before it and this one.
            if *stamp == u64::MAX || now.saturating_sub(*stamp) >= WINDOW_SECONDS {
                continue;
            }
            for (edge, slot) in edges {
                let sum = sums.entry(*edge).or_default();
                sum.requests += slot.requests;
                sum.failures += slot.failures;
                for (total, n) in sum.latency.iter_mut().zip(slot.latency) {
                    *total += n;
                }
            }
        }
        let seconds = (now + 1).min(WINDOW_SECONDS) as f64;
        let mut edges: Vec<(Edge, EdgeFigures)> = sums
            .into_iter()
            .map(|(edge, slot)| {
                let percentile = |p: f64| {
                    let rank = (p * slot.requests as f64).ceil().max(1.0) as u64;
                    let mut seen = 0;
                    slot.latency.iter().enumerate().find_map(|(bin, &n)| {
                        seen += u64::from(n);
                        (seen >= rank).then(|| fine_upper(bin))
                    })
                };
                let figures = EdgeFigures {
                    requests: slot.requests,
                    per_second: slot.requests as f64 / seconds,
                    success_rate: (slot.requests > 0)
                        .then(|| (slot.requests - slot.failures) as f64 / slot.requests as f64),
                    p50_ms: percentile(0.5),
                    p99_ms: percentile(0.99),
                };
                (edge, figures)
            })
            .collect();
        edges.sort_by_key(|(edge, _)| (edge.source, edge.host, edge.destination));
        edges
    }

    /// A workload's name, app and version (`unknown` for none), as Istio
    /// labels a peer it has no metadata for.
    pub fn workload(&self, index: Option<usize>) -> (&str, &str, &str) {
        match index.and_then(|i| self.workloads.get(i)) {
            Some((name, app, version)) => (name, app, version),
            None => ("unknown", "unknown", "unknown"),
        }
    }

    fn labels(&self, key: &Key) -> String {
        let (source, source_app, source_version) = self.workload(key.source);
        let (destination, destination_app, destination_version) = self.workload(key.destination);
        let host = &self.hosts[key.host];
        let reporter = match key.reporter {
            Reporter::Source => "source",
            Reporter::Destination => "destination",
        };
        let code = if key.code == 0 {
            "overflow".to_owned()
        } else {
            key.code.to_string()
        };
        let pairs = [
            ("reporter", reporter),
            ("source_workload", source),
            (
                "source_workload_namespace",
                if key.source.is_some() {
                    "default"
                } else {
                    "unknown"
                },
            ),
            ("source_app", source_app),
            ("source_version", source_version),
            ("destination_workload", destination),
            (
                "destination_workload_namespace",
                if key.destination.is_some() {
                    "default"
                } else {
                    "unknown"
                },
            ),
            ("destination_app", destination_app),
            ("destination_version", destination_version),
            (
                "destination_service",
                &format!("{host}.default.svc.cluster.local"),
            ),
            ("destination_service_name", host),
            ("destination_service_namespace", "default"),
            ("request_protocol", "http"),
            ("response_code", &code),
            ("response_flags", &key.flags.text()),
        ];
        let mut text = String::new();
        for (name, value) in pairs {
            if !text.is_empty() {
                text.push(',');
            }
            let _ = write!(text, "{name}=\"{}\"", escape(value));
        }
        text
    }

    /// The metrics in Prometheus' text format (version 0.0.4), what
    /// Istio's sidecars serve at `:15090/stats/prometheus`.
    pub fn encode(&self) -> String {
        let series: Vec<(Key, Series)> = {
            let map = self.series.lock().unwrap_or_else(|e| e.into_inner());
            map.iter().map(|(k, s)| (*k, s.clone())).collect()
        };
        let labelled: Vec<(String, &Series)> = series
            .iter()
            .map(|(key, s)| (self.labels(key), s))
            .collect();
        let mut out = String::new();
        let _ = writeln!(out, "# TYPE istio_requests_total counter");
        for (labels, s) in &labelled {
            let _ = writeln!(out, "istio_requests_total{{{labels}}} {}", s.requests);
        }
        let histograms: [(&str, Pick); 3] = [
            ("istio_request_duration_milliseconds", |s| &s.duration),
            ("istio_request_bytes", |s| &s.request_bytes),
            ("istio_response_bytes", |s| &s.response_bytes),
        ];
        for (name, histogram) in histograms {
            let _ = writeln!(out, "# TYPE {name} histogram");
            for (labels, s) in &labelled {
                let h = histogram(s);
                let mut cumulative = 0;
                for (bound, n) in BUCKETS.iter().zip(h.buckets) {
                    cumulative += n;
                    let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
                }
                let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", h.count);
                let _ = writeln!(out, "{name}_sum{{{labels}}} {}", h.sum);
                let _ = writeln!(out, "{name}_count{{{labels}}} {}", h.count);
            }
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn instances() -> Vec<Instance> {
        ["productpage/v1", "reviews/v1", "reviews/v2"]
            .iter()
            .map(|s| {
                let (app, version) = s.split_once('/').unwrap();
                Instance {
                    app: app.into(),
                    labels: BTreeMap::from([("version".into(), version.into())]),
                    authority: "127.0.0.1:1".into(),
                }
            })
            .collect()
    }

    fn request(destination: Option<usize>, code: u16, flags: Flags, ms: u64) -> Request<'static> {
        Request {
            source: Some(0),
            host: "reviews",
            destination,
            code,
            flags,
            duration: Duration::from_millis(ms),
            request_bytes: 0,
            response_bytes: 300,
        }
    }

    #[test]
    fn flags_print_as_envoy_prints_them() {
        let mut flags = Flags::default();
        assert_eq!(flags.text(), "-");
        flags.insert(Flags::FAULT_INJECTED);
        flags.insert(Flags::DELAY_INJECTED);
        assert_eq!(flags.text(), "DI,FI");
        assert_eq!(Flags::CONNECT_FAILURE.text(), "UF");
    }

    #[test]
    fn a_request_is_reported_by_both_sides_and_a_fault_by_the_source_only() {
        let stats = Stats::new(&instances());
        stats.record(&request(Some(2), 200, Flags::default(), 3));
        stats.record(&request(None, 503, Flags::FAULT_INJECTED, 0));
        let text = stats.encode();
        let line = |needle: &str| {
            text.lines()
                .filter(|l| l.starts_with("istio_requests_total{") && l.contains(needle))
                .count()
        };
        assert_eq!(line(r#"reporter="source""#), 2, "{text}");
        assert_eq!(line(r#"reporter="destination""#), 1, "{text}");
        assert_eq!(line(r#"response_flags="FI""#), 1);
        assert!(text.contains(r#"source_workload="productpage-v1""#));
        assert!(text.contains(r#"destination_workload="reviews-v2",destination_workload_namespace="default",destination_app="reviews",destination_version="v2",destination_service="reviews.default.svc.cluster.local""#));
        // 3 ms falls in the bucket up to 5 (and all above), not in 1's.
        assert!(
            text.contains(r#"le="1"} 0"#) && text.contains(r#"le="5"} 1"#),
            "{text}"
        );
        assert!(text.contains("istio_response_bytes_sum{"));
    }

    #[test]
    fn the_window_gives_rate_success_and_percentiles_per_edge() {
        let stats = Stats::new(&instances());
        for i in 0..100 {
            stats.record(&request(
                Some(1),
                if i < 10 { 503 } else { 200 },
                Flags::default(),
                2,
            ));
        }
        let edges = stats.window();
        assert_eq!(edges.len(), 1);
        let (edge, figures) = &edges[0];
        assert_eq!((edge.source, edge.destination), (Some(0), Some(1)));
        assert_eq!(figures.requests, 100);
        assert_eq!(figures.success_rate, Some(0.9));
        let p50 = figures.p50_ms.unwrap();
        assert!((2.0..2.0 * 1.19).contains(&p50), "{p50}");
    }

    #[test]
    fn label_values_are_escaped_and_series_are_bounded() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        let stats = Stats::new(&instances());
        for code in 100..1000 {
            for flags in [
                Flags::default(),
                Flags::UPSTREAM_TIMEOUT,
                Flags::DELAY_INJECTED,
                Flags::CONNECTION_TERMINATED,
            ] {
                stats.record(&request(Some(1), code, flags, 1));
            }
        }
        let series = stats.series.lock().unwrap().len();
        assert!(series <= MAX_SERIES + 2, "{series}");
        assert!(stats.encode().contains(r#"response_code="overflow""#));
    }
}
