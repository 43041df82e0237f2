//! The planner printed before a run (docs/split-verification.md, "Planning"): how many responses the check
//! needs, how long that takes at this rate, and what the configured limit can detect.

use crate::config::RunConfig;
use crate::expect::ExpectedSplit;
use crate::format::{format_seconds, percent};
use crate::schedule::Load;
use bookinfo_verdict::stats::{Plan, detectable_deviation};

/// The plan and its printable lines.
pub(crate) fn plan(expected: &ExpectedSplit, config: &RunConfig) -> (Plan, Vec<String>) {
    let v = &config.verdict;
    let weights = expected.expectation.versions();
    let plan = Plan::new(weights, v.tolerance, v.alpha, config.power);
    let pp = v.tolerance * 100.0;
    let mut lines = vec![
        format!("expected: {} ({})", split_text(weights), expected.source),
        format!(
            "plan: tolerance ±{pp:.1} pp, alpha {}, power {}, unclassified budget {}",
            v.alpha,
            config.power,
            percent(v.unclassified_budget)
        ),
    ];
    for vp in &plan.versions {
        let n = |x: Option<u64>| x.map_or_else(|| "-".to_owned(), |n| format!("≈{n}"));
        let line = if vp.weight <= 0.0 {
            format!(
                "  {} 0%: must receive nothing; its first response fails the check",
                vp.version
            )
        } else if vp.equivalence_n.is_some_and(|n| n > 0) {
            format!(
                "  {} {}: a {pp:.1} pp mismatch needs {} responses, showing it is within ±{pp:.1} pp {}",
                vp.version,
                percent(vp.weight),
                n(vp.mismatch_n),
                n(vp.equivalence_n)
            )
        } else {
            format!(
                "  {} {}: a {pp:.1} pp shortfall needs {} responses",
                vp.version,
                percent(vp.weight),
                n(vp.mismatch_n)
            )
        };
        lines.push(line);
    }
    // The engine also wants a minimum number of classified responses before a PASS.
    let needed = plan.mismatch_n.max(plan.equivalence_n).max(v.min_responses);
    let rate = config.load.rate();
    lines.push(match rate {
        Some(r) => format!(
            "  needed: ≈{needed} responses, ≈{} at {r:.1} req/s (total rate); a gross mismatch is caught much sooner",
            format_seconds(Plan::seconds_at(needed, r).unwrap_or(f64::NAN))
        ),
        None => format!(
            "  needed: ≈{needed} responses; the wall time depends on the throughput (closed loop)"
        ),
    });
    if let Some(line) = limit_line(config, weights, needed, rate) {
        lines.push(line);
    }
    (plan, lines)
}

/// What the configured limit can detect, with advice when it is too short.
fn limit_line(
    config: &RunConfig,
    weights: &[(String, f64)],
    needed: u64,
    rate: Option<f64>,
) -> Option<String> {
    let by_time = match (config.limits.duration, config.load) {
        (Some(d), Load::Open { .. }) => rate.map(|r| (d.as_secs_f64() * r).floor() as u64),
        _ => None,
    };
    let limit = match (config.limits.requests, by_time) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b)?,
    };
    let v = &config.verdict;
    // A version expected at 0 % is caught by its first response; it sets no limit.
    let deviation = weights
        .iter()
        .filter(|(_, w)| *w > 0.0)
        .filter_map(|(_, w)| detectable_deviation(*w, limit, v.alpha, config.power))
        .fold(None, |acc: Option<f64>, d| {
            Some(acc.map_or(d, |a| a.max(d)))
        });
    let what = match deviation {
        Some(d) => format!("detects deviations of ≈{:.1} pp", d * 100.0),
        None => "is too small to detect any deviation".to_owned(),
    };
    let mut line = format!("  limit: ≈{limit} responses {what}");
    if limit < needed {
        line.push_str("; expect INCONCLUSIVE unless the split is far off");
        if let Some(r) = rate {
            let seconds = needed as f64 / r;
            line.push_str(&format!(
                " (for ±{:.1} pp: --duration {} at this rate",
                v.tolerance * 100.0,
                format_seconds(seconds.ceil()).replace(' ', "")
            ));
            if let Some(d) = config.limits.duration {
                let faster = needed as f64 / d.as_secs_f64();
                line.push_str(&format!(", or --rate {faster:.1} for this duration"));
            }
            line.push(')');
        }
    }
    Some(line)
}

fn split_text(weights: &[(String, f64)]) -> String {
    weights
        .iter()
        .map(|(v, w)| format!("{v} {}", percent(*w)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::expect::parse_expect;

    #[test]
    fn plan_for_the_spec_example() {
        let mut config = RunConfig::new("http://localhost/productpage".parse().unwrap());
        config.limits.duration = Some(Duration::from_secs(600));
        let expected = parse_expect("v1=30,v2=70").unwrap();
        let (figures, lines) = plan(&expected, &config);
        assert!(figures.mismatch_n.abs_diff(2_741) <= 1, "{figures:?}");
        let text = lines.join("\n");
        assert!(text.contains("2.0 req/s"), "{text}");
        // 10 minutes at 2 req/s = 1,200 responses: ≈7.6 pp.
        assert!(
            text.contains("≈1200 responses detects deviations of ≈7.6 pp"),
            "{text}"
        );
        assert!(text.contains("INCONCLUSIVE"), "{text}");

        let all_v1 = parse_expect("v1=100,v2=0").unwrap();
        let (_, lines) = plan(&all_v1, &config);
        let text = lines.join("\n");
        assert!(text.contains("v2 0%: must receive nothing"), "{text}");
        assert!(!text.contains("≈0 "), "{text}");
    }
}
