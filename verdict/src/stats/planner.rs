//! Sample-size planning before a run (docs/split-verification.md, "Planning"): how many classified responses a split
//! check needs, and what a given number of responses can detect.
//!
//! These use the normal approximation of the fixed-sample score test. The sequential
//! verdict needs about the same n on average (docs/split-verification.md, "The decision rules"), so they are the honest "how
//! long will this take" figure to print before the run starts.

use serde::Serialize;

use super::special::normal_quantile;

fn valid_probability(p: f64) -> bool {
    p.is_finite() && p > 0.0 && p < 1.0
}

/// Unrounded n for the two-sided score test of `p0` against `p1` at level `alpha` with
/// the given power:
/// `n = (z_{1−α/2} √(p0 q0) + z_{1−β} √(p1 q1))² / (p1 − p0)²`.
///
/// `None` when `p1` is not in (0, 1), equals `p0`, or `alpha`/`power` are not in (0, 1).
/// `p0` may be 0 or 1 (a version expected to get nothing or everything).
pub fn score_test_n(p0: f64, p1: f64, alpha: f64, power: f64) -> Option<f64> {
    if !(0.0..=1.0).contains(&p0) || !valid_probability(p1) || p1 == p0 {
        return None;
    }
    if !valid_probability(alpha) || !valid_probability(power) {
        return None;
    }
    let z_alpha = normal_quantile(1.0 - alpha / 2.0);
    let z_beta = normal_quantile(power);
    let root = z_alpha * (p0 * (1.0 - p0)).sqrt() + z_beta * (p1 * (1.0 - p1)).sqrt();
    Some(root * root / ((p1 - p0) * (p1 - p0)))
}

/// [`score_test_n`] rounded up to whole responses.
pub fn score_test_sample_size(p0: f64, p1: f64, alpha: f64, power: f64) -> Option<u64> {
    score_test_n(p0, p1, alpha, power).map(round_up)
}

/// n for showing equivalence with two one-sided tests (TOST) at `alpha` per side, with
/// the given power when the truth is exactly `p0`:
/// `n = (z_{1−α} + z_{1−β/2})² p0 q0 / δ²`.
///
/// This is the "PASS" side: failing to reject a mismatch is not evidence of a correct
/// split, so the planner shows this n next to the mismatch n.
pub fn tost_sample_size(p0: f64, delta: f64, alpha: f64, power: f64) -> Option<u64> {
    if !(0.0..=1.0).contains(&p0) || !valid_probability(delta) {
        return None;
    }
    if !valid_probability(alpha) || !valid_probability(power) {
        return None;
    }
    if p0 == 0.0 || p0 == 1.0 {
        // The variance term vanishes and the normal formula says 0. Exactly:
        // every response must be the expected one, and n of them rule out
        // a share δ away only when that share would give them with a
        // probability of at most α, (1 − δ)^n ≤ α.
        return Some(round_up(alpha.ln() / (1.0 - delta).ln()));
    }
    let z = normal_quantile(1.0 - alpha) + normal_quantile(1.0 - (1.0 - power) / 2.0);
    Some(round_up(z * z * p0 * (1.0 - p0) / (delta * delta)))
}

/// Smallest deviation `Δ` that `n` responses detect in *both* directions (where a
/// direction exists: a share of 0 can only go up), at level `alpha` with `power`.
///
/// Found by bisection on `score_test_n(p0, p0 ± Δ) = n`; the required n falls as Δ
/// grows. `None` if `n` is 0, the inputs are invalid, or no deviation inside (0, 1)
/// is detectable with `n`.
pub fn detectable_deviation(p0: f64, n: u64, alpha: f64, power: f64) -> Option<f64> {
    if n == 0 || !(0.0..=1.0).contains(&p0) {
        return None;
    }
    if !valid_probability(alpha) || !valid_probability(power) {
        return None;
    }
    let n = n as f64;
    let directions: [(f64, f64); 2] = [(1.0, 1.0 - p0), (-1.0, p0)];
    let mut worst: Option<f64> = None;
    for (sign, room) in directions {
        if room <= 0.0 {
            continue;
        }
        let needed = |delta: f64| score_test_n(p0, p0 + sign * delta, alpha, power);
        // Largest deviation available in this direction, kept strictly inside (0, 1).
        let max_delta = room * (1.0 - 1e-9);
        match needed(max_delta) {
            Some(m) if m <= n => {}
            _ => return None,
        }
        let (mut small, mut large) = (0.0, max_delta);
        for _ in 0..100 {
            let mid = 0.5 * (small + large);
            match needed(mid) {
                Some(m) if m <= n => large = mid,
                _ => small = mid,
            }
        }
        worst = Some(worst.map_or(large, |w: f64| w.max(large)));
    }
    worst
}

fn round_up(n: f64) -> u64 {
    if n.is_finite() && n > 0.0 {
        // Saturating float-to-int conversion; planner figures are far below u64::MAX.
        n.ceil() as u64
    } else {
        0
    }
}

/// What to expect for one version before the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionPlan {
    pub version: String,
    pub weight: f64,
    /// Responses to detect a deviation of δ in either direction (the larger of the two).
    pub mismatch_n: Option<u64>,
    /// Responses to show the share is within ±δ (TOST).
    pub equivalence_n: Option<u64>,
}

/// The planner table printed before a run (docs/split-verification.md, "Planning").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub delta: f64,
    pub alpha: f64,
    pub power: f64,
    pub versions: Vec<VersionPlan>,
    /// The largest of the per-version figures: the run needs this many.
    pub mismatch_n: u64,
    pub equivalence_n: u64,
}

impl Plan {
    /// Per-version figures for the expected `(version, weight)` pairs (normalised).
    pub fn new(weights: &[(String, f64)], delta: f64, alpha: f64, power: f64) -> Self {
        let versions: Vec<VersionPlan> = weights
            .iter()
            .map(|(version, w)| {
                let up = score_test_sample_size(*w, w + delta, alpha, power);
                let down = score_test_sample_size(*w, w - delta, alpha, power);
                let mismatch_n = match (up, down) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                };
                VersionPlan {
                    version: version.clone(),
                    weight: *w,
                    mismatch_n,
                    equivalence_n: tost_sample_size(*w, delta, alpha, power),
                }
            })
            .collect();
        let mismatch_n = versions
            .iter()
            .filter_map(|v| v.mismatch_n)
            .max()
            .unwrap_or(0);
        let equivalence_n = versions
            .iter()
            .filter_map(|v| v.equivalence_n)
            .max()
            .unwrap_or(0);
        Self {
            delta,
            alpha,
            power,
            versions,
            mismatch_n,
            equivalence_n,
        }
    }

    /// Seconds needed for `n` responses at `rate` responses per second (total rate).
    pub fn seconds_at(n: u64, rate: f64) -> Option<f64> {
        (rate.is_finite() && rate > 0.0).then(|| n as f64 / rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The method's figure for 30/70, Δ = 5 pp, α = 0.001, power 0.99.
    #[test]
    fn planner_reproduces_the_spec_example() {
        let up = score_test_sample_size(0.3, 0.35, 0.001, 0.99);
        let down = score_test_sample_size(0.3, 0.25, 0.001, 0.99);
        let tost = tost_sample_size(0.3, 0.05, 0.001, 0.99);
        eprintln!(
            "planner 30/70, 5 pp, α 0.001, power 0.99: up {up:?}, down {down:?}, TOST {tost:?}"
        );
        assert!(up.is_some_and(|n| n.abs_diff(2_741) <= 1), "{up:?}");
        assert!(down.is_some_and(|n| n.abs_diff(2_531) <= 1), "{down:?}");
        assert!(tost.is_some_and(|n| n.abs_diff(2_697) <= 1), "{tost:?}");
    }

    /// The method's trade-off table, rows α = 0.05 / power 0.8 and α = 0.001 / power 0.99.
    #[test]
    fn planner_reproduces_the_trade_off_table() {
        let rows = [
            (0.05, 0.80, [172u64, 676, 4_166]),
            (0.01, 0.90, [327, 1_285, 7_906]),
            (0.001, 0.99, [701, 2_741, 16_811]),
        ];
        for (alpha, power, expected) in rows {
            for (delta, want) in [0.10, 0.05, 0.02].into_iter().zip(expected) {
                let n = score_test_sample_size(0.3, 0.3 + delta, alpha, power);
                eprintln!("α {alpha}, power {power}, Δ {delta}: n = {n:?} (predicted {want})");
                assert!(n.is_some_and(|n| n.abs_diff(want) <= 1), "{n:?} vs {want}");
            }
        }
    }

    /// The method's "smallest deviation detectable at 2 rps" (α 0.001, power 0.99, p0 0.3).
    #[test]
    fn detectable_deviation_reproduces_the_spec_table() {
        for (n, want) in [
            (120u64, 0.24),
            (600, 0.11),
            (1_200, 0.076),
            (3_600, 0.044),
            (7_200, 0.031),
        ] {
            let d = detectable_deviation(0.3, n, 0.001, 0.99);
            eprintln!("n = {n}: detectable deviation {d:?} (predicted ≈ {want})");
            assert!(
                d.is_some_and(|d| (d - want).abs() < 0.005),
                "{d:?} vs {want}"
            );
            // Round trip: that deviation needs at most n responses.
            let back = d.and_then(|d| score_test_n(0.3, 0.3 + d, 0.001, 0.99));
            assert!(back.is_some_and(|m| m <= n as f64 + 1e-6));
        }
    }

    #[test]
    fn planner_rejects_nonsense_without_panicking() {
        assert_eq!(score_test_sample_size(0.3, 0.3, 0.001, 0.99), None);
        assert_eq!(score_test_sample_size(0.3, 1.2, 0.001, 0.99), None);
        assert_eq!(score_test_sample_size(f64::NAN, 0.4, 0.001, 0.99), None);
        assert_eq!(tost_sample_size(0.3, 0.0, 0.001, 0.99), None);
        // A single version: all of n responses its own, 0.95^n <= 0.001.
        assert_eq!(tost_sample_size(1.0, 0.05, 0.001, 0.99), Some(135));
        assert_eq!(tost_sample_size(0.0, 0.05, 0.001, 0.99), Some(135));
        assert_eq!(detectable_deviation(0.3, 0, 0.001, 0.99), None);
        assert_eq!(detectable_deviation(0.3, 2, 0.001, 0.99), None);
        // A 100 % version can only deviate downwards.
        assert!(detectable_deviation(1.0, 1_000, 0.001, 0.99).is_some());
        let plan = Plan::new(&[("v1".into(), 0.3), ("v2".into(), 0.7)], 0.05, 0.001, 0.99);
        assert!(plan.mismatch_n.abs_diff(2_741) <= 1, "{plan:?}");
        assert_eq!(Plan::seconds_at(2_741, 0.0), None);
    }
}
