//! The human-readable summary printed at the end of a run.

use std::fmt::Write as _;

use super::json::RunReport;
use crate::config::EndReason;
use crate::format::{format_seconds, percent};
use crate::latency::LatencySummary;

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"))
}

fn latency_cells(l: &LatencySummary) -> String {
    format!(
        "{:>8} {:>8} {:>8} {:>8}",
        ms(l.p50_ms),
        ms(l.p90_ms),
        ms(l.p99_ms),
        ms(l.max_ms)
    )
}

/// Several lines, ending with the verdict.
pub fn summary(r: &RunReport) -> String {
    let mut out = String::new();
    let q = &r.requests;
    let _ = writeln!(
        out,
        "{} in {} ({}): {} sent, {} counted, {} overflow, {} discarded (settle), {} abandoned; {:.2} responses/s",
        r.target,
        format_seconds(r.elapsed_seconds),
        match r.end {
            EndReason::Decided => "stopped at the verdict",
            EndReason::Limit => "limit reached",
            EndReason::Stopped => "stopped early",
        },
        q.sent,
        q.completed,
        q.overflow,
        q.discarded,
        q.cancelled,
        q.achieved_rate_per_second
    );
    if q.overflow > 0 {
        let _ = writeln!(
            out,
            "warning: {} requests were not sent because {} were outstanding; the target is slower than the rate",
            q.overflow, r.load.max_in_flight
        );
    }
    let _ = writeln!(
        out,
        "{:<20} {:>7} {:>7} {:>7}  {:>8} {:>8} {:>8} {:>8}  (ms from intended send)",
        "outcome", "count", "share", "errors", "p50", "p90", "p99", "max"
    );
    for v in &r.versions {
        let errors = match v.error_rate {
            Some(rate) if v.errors > 0 => format!("{} ({})", v.errors, percent(rate)),
            _ => v.errors.to_string(),
        };
        let _ = writeln!(
            out,
            "{:<20} {:>7} {:>7} {:>7}  {}",
            v.version,
            v.count,
            percent(v.share),
            errors,
            latency_cells(&v.latency)
        );
    }
    for (label, n) in &r.outcomes {
        if crate::tally::is_version(label) {
            continue;
        }
        let latency = r
            .latency
            .by_outcome
            .get(label)
            .map(|o| latency_cells(&o.latency))
            .unwrap_or_default();
        let _ = writeln!(out, "{label:<20} {n:>7} {:>7} {:>7}  {latency}", "", "");
    }
    if !r.status_codes.is_empty() {
        let codes: Vec<String> = r
            .status_codes
            .iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect();
        let _ = writeln!(out, "HTTP status: {}", codes.join(", "));
    }
    for (message, n) in &r.connect_errors {
        let _ = writeln!(out, "connection error ×{n}: {message}");
    }
    let all = &r.latency;
    let _ = writeln!(
        out,
        "latency (ms) all: from intended send p50 {} p99 {}; from actual send p50 {} p99 {}; send lateness p99 {}",
        ms(all.all.latency.p50_ms),
        ms(all.all.latency.p99_ms),
        ms(all.all.service_time.p50_ms),
        ms(all.all.service_time.p99_ms),
        ms(all.lateness.p99_ms)
    );
    if !r.load.coordinated_omission_free {
        let _ = writeln!(
            out,
            "note: closed loop; latencies are not corrected for coordinated omission"
        );
    }
    if let Some(summary) = &r.verification {
        let c = &summary.current;
        for v in &c.versions {
            let _ = writeln!(
                out,
                "{}: expected {}, observed {} of {}, confidence sequence [{}, {}], band [{}, {}]",
                v.version,
                percent(v.weight),
                percent(v.share),
                c.classified,
                percent(v.confidence_sequence.lo),
                percent(v.confidence_sequence.hi),
                percent(v.band.lo),
                percent(v.band.hi)
            );
        }
        let _ = writeln!(
            out,
            "unclassified: {} of {} ({}), budget {}",
            c.unclassified,
            c.responses,
            percent(c.unclassified_share),
            percent(c.settings.unclassified_budget)
        );
        if c.dispersion.warning {
            let _ = writeln!(
                out,
                "warning: responses look dependent (over-dispersion p = {:.2e}); try --new-connection",
                c.dispersion.test.p_value
            );
        }
    }
    match &r.verdict {
        Some(v) => {
            let _ = writeln!(out, "verdict: {v}");
        }
        None => {
            let _ = writeln!(out, "measured only (no --expect)");
        }
    }
    out
}
