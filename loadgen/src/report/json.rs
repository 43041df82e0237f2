//! The JSON summary (`--json FILE`). Its schema is `loadgen/summary.schema.json` and the
//! README's "JSON summary" section; bump [`SCHEMA`] on any incompatible change.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::config::{EndReason, RunConfig};
use crate::latency::LatencySummary;
use crate::schedule::Load;
use crate::tally::Tally;
use bookinfo_verdict::Summary;
use bookinfo_verdict::stats::{Interval, Plan, wilson_interval};
use bookinfo_verdict::{SplitVerifier, Verdict};

/// Identifies the document format.
pub(crate) const SCHEMA: &str = "bookinfo-loadgen/summary/v1";

/// z for the 95 % Wilson interval of per-version error rates (a report, not a test).
const ERROR_RATE_Z: f64 = 1.959_963_984_540_054;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    pub schema: &'static str,
    pub target: String,
    pub user: Option<String>,
    pub end: EndReason,
    /// 0 PASS or measurement, 1 FAIL, 2 INCONCLUSIVE.
    pub exit_code: i32,
    pub elapsed_seconds: f64,
    pub load: LoadReport,
    pub requests: RequestCounts,
    /// Responses per outcome label: versions, `failed`, `timed-out`, `connect-error`,
    /// `reviews-unavailable`, `unclassifiable`.
    pub outcomes: BTreeMap<String, u64>,
    pub status_codes: BTreeMap<String, u64>,
    /// Which evidence classified the versioned responses: `header`, `markers`, `pod-name`.
    pub evidence: BTreeMap<String, u64>,
    pub connect_errors: BTreeMap<String, u64>,
    pub versions: Vec<VersionReport>,
    pub latency: LatencyReport,
    pub expected: Option<ExpectedReport>,
    pub plan: Option<Plan>,
    pub verdict: Option<Verdict>,
    /// The verdict engine's statistics (per epoch); `null` without `--expect`.
    pub verification: Option<Summary>,
    pub epochs: Vec<EpochReport>,
    pub timeline: TimelineReport,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadReport {
    /// `open-loop` or `closed-loop`.
    pub mode: &'static str,
    /// Target total rate (open loop).
    pub rate_per_second: Option<f64>,
    pub interval_ms: Option<f64>,
    /// Outstanding requests (closed loop).
    pub concurrency: Option<usize>,
    pub max_in_flight: usize,
    pub timeout_ms: f64,
    pub new_connection: bool,
    pub duration_limit_seconds: Option<f64>,
    pub request_limit: Option<u64>,
    pub settle_seconds: f64,
    /// True for the open loop: latency is measured from the intended send time.
    pub coordinated_omission_free: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestCounts {
    /// Slots handed out by the scheduler (sent + overflow).
    pub scheduled: u64,
    pub sent: u64,
    /// Not sent because `max_in_flight` requests were outstanding.
    pub overflow: u64,
    /// Responses counted in every statistic.
    pub completed: u64,
    /// Responses to requests sent in a settle window.
    pub discarded: u64,
    /// Outstanding when the run stopped.
    pub cancelled: u64,
    /// Counted responses per second of run time.
    pub achieved_rate_per_second: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionReport {
    pub version: String,
    pub count: u64,
    /// Share among versioned responses.
    pub share: f64,
    /// Error pages and failed reviews calls that named this version.
    pub errors: u64,
    /// `errors / (count + errors)`; `null` when both are 0.
    pub error_rate: Option<f64>,
    /// 95 % Wilson interval of the error rate.
    pub error_rate_interval: Option<Interval>,
    /// From the intended send time.
    pub latency: LatencySummary,
    /// From the actual send.
    pub service_time: LatencySummary,
    /// `[percentile, ms]` pairs from the intended send time, for plots.
    pub latency_percentiles: Vec<(f64, f64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutcomeLatency {
    pub latency: LatencySummary,
    pub service_time: LatencySummary,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatencyReport {
    pub all: OutcomeLatency,
    /// Actual send − intended send.
    pub lateness: LatencySummary,
    pub by_outcome: BTreeMap<String, OutcomeLatency>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExpectedReport {
    pub source: String,
    /// Normalised weights (sum 1), as in the current epoch.
    pub weights: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpochReport {
    pub at_seconds: f64,
    pub expectation: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineReport {
    pub bin_seconds: f64,
    /// Outcome counts per bin of completion time, from the start of the run.
    pub bins: Vec<BTreeMap<String, u64>>,
}

/// What [`RunReport::build`] reads.
pub(crate) struct Inputs<'a> {
    pub config: &'a RunConfig,
    pub tally: &'a Tally,
    pub scheduled: u64,
    pub verifier: Option<&'a SplitVerifier>,
    pub plan: Option<Plan>,
    pub end: EndReason,
    pub exit_code: i32,
    pub elapsed: Duration,
}

impl RunReport {
    pub(crate) fn build(i: Inputs<'_>) -> Self {
        let t = i.tally;
        let elapsed = i.elapsed.as_secs_f64();
        let versioned: u64 = t.versions().iter().map(|v| t.count(v)).sum();
        let mut names = t.versions();
        for v in t.attributed_errors.keys() {
            if !names.contains(v) {
                names.push(v.clone());
            }
        }
        let versions = names
            .into_iter()
            .map(|version| version_report(t, version, versioned))
            .collect();
        let by_outcome = t
            .outcomes
            .iter()
            .map(|(label, o)| {
                (
                    label.clone(),
                    OutcomeLatency {
                        latency: o.latency.summary(),
                        service_time: o.service_time.summary(),
                    },
                )
            })
            .collect();
        Self {
            schema: SCHEMA,
            target: i.config.url.to_string(),
            user: i.config.user.clone(),
            end: i.end,
            exit_code: i.exit_code,
            elapsed_seconds: elapsed,
            load: load_report(i.config),
            requests: RequestCounts {
                scheduled: i.scheduled,
                sent: i.scheduled.saturating_sub(t.overflow),
                overflow: t.overflow,
                completed: t.completed,
                discarded: t.discarded,
                cancelled: t.cancelled,
                achieved_rate_per_second: if elapsed > 0.0 {
                    t.completed as f64 / elapsed
                } else {
                    0.0
                },
            },
            outcomes: t
                .outcomes
                .iter()
                .map(|(k, o)| (k.clone(), o.count))
                .collect(),
            status_codes: t
                .status_codes
                .iter()
                .map(|(k, n)| (k.to_string(), *n))
                .collect(),
            evidence: t.evidence.clone(),
            connect_errors: t.connect_errors.clone(),
            versions,
            latency: LatencyReport {
                all: OutcomeLatency {
                    latency: t.all.latency.summary(),
                    service_time: t.all.service_time.summary(),
                },
                lateness: t.lateness.summary(),
                by_outcome,
            },
            expected: i.verifier.map(|v| ExpectedReport {
                source: t
                    .epochs
                    .last()
                    .map(|e| e.expectation.clone())
                    .unwrap_or_default(),
                weights: v.expectation().versions().iter().cloned().collect(),
            }),
            plan: i.plan,
            verdict: i.verifier.map(|v| v.verdict().clone()),
            verification: i.verifier.map(SplitVerifier::summary),
            epochs: t
                .epochs
                .iter()
                .map(|e| EpochReport {
                    at_seconds: e.at_seconds,
                    expectation: e.expectation.clone(),
                })
                .collect(),
            timeline: TimelineReport {
                bin_seconds: t.timeline.bin_seconds,
                bins: t.timeline.bins.clone(),
            },
        }
    }
}

fn version_report(t: &Tally, version: String, versioned: u64) -> VersionReport {
    let count = t.count(&version);
    let errors = t.attributed_errors.get(&version).copied().unwrap_or(0);
    let attempts = count + errors;
    let (latency, service_time, curve) = match t.outcomes.get(&version) {
        Some(o) => (
            o.latency.summary(),
            o.service_time.summary(),
            o.latency.curve(),
        ),
        None => Default::default(),
    };
    VersionReport {
        share: if versioned > 0 {
            count as f64 / versioned as f64
        } else {
            0.0
        },
        errors,
        error_rate: (attempts > 0).then(|| errors as f64 / attempts as f64),
        error_rate_interval: (attempts > 0)
            .then(|| wilson_interval(errors, attempts, ERROR_RATE_Z)),
        latency,
        service_time,
        latency_percentiles: curve,
        count,
        version,
    }
}

fn load_report(c: &RunConfig) -> LoadReport {
    let (mode, interval, concurrency) = match c.load {
        Load::Open { interval } => ("open-loop", Some(interval.as_secs_f64() * 1000.0), None),
        Load::Closed { concurrency } => ("closed-loop", None, Some(concurrency)),
    };
    LoadReport {
        mode,
        rate_per_second: c.load.rate(),
        interval_ms: interval,
        concurrency,
        max_in_flight: c.max_in_flight,
        timeout_ms: c.timeout.as_secs_f64() * 1000.0,
        new_connection: c.new_connection,
        duration_limit_seconds: c.limits.duration.map(|d| d.as_secs_f64()),
        request_limit: c.limits.requests,
        settle_seconds: c.settle.as_secs_f64(),
        coordinated_omission_free: matches!(c.load, Load::Open { .. }),
    }
}
