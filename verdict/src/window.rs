//! A verdict on the counts of one window (one look at counters, not a
//! stream of responses): what `canary status` says of the traffic a data
//! plane routed while it watched. One look needs no sequential correction:
//! FAIL when Pearson's X² rejects the expected split at α; PASS when every
//! version's (1 − α) Wilson interval lies within ±δ of its expected share
//! (a two one-sided tests equivalence at α) and the window holds at least
//! `min_responses`; INCONCLUSIVE otherwise.

use crate::expectation::Expectation;
use crate::stats::special::normal_quantile;
use crate::stats::{pearson_test, wilson_interval};
use crate::types::{Verdict, VerdictConfig};

/// The verdict on `counts` (requests per version) against `expected`.
/// Versions outside the expectation count against it.
pub fn window_verdict(
    counts: &[(String, u64)],
    expected: &Expectation,
    config: &VerdictConfig,
) -> Verdict {
    let mut names: Vec<&str> = expected
        .versions()
        .iter()
        .map(|(v, _)| v.as_str())
        .collect();
    for (version, _) in counts {
        if !names.contains(&version.as_str()) {
            names.push(version);
        }
    }
    let count = |name: &str| {
        counts
            .iter()
            .filter(|(v, _)| v == name)
            .map(|(_, n)| n)
            .sum::<u64>()
    };
    let observed: Vec<u64> = names.iter().map(|n| count(n)).collect();
    let weights: Vec<f64> = names
        .iter()
        .map(|n| expected.weight(n).unwrap_or(0.0))
        .collect();
    let n: u64 = observed.iter().sum();
    let test = pearson_test(&observed, &weights);
    if test.p_value < config.alpha {
        return Verdict::Fail(format!(
            "split mismatch: X² = {:.1} on {} df, p = {:.2e} < α = {} over {n} requests",
            test.statistic, test.df, test.p_value, config.alpha
        ));
    }
    if n < config.min_responses {
        return Verdict::Inconclusive(format!(
            "{n} requests in the window; a PASS needs {}",
            config.min_responses
        ));
    }
    // One-sided at α each side: the (1 − 2α) two-sided interval.
    let z = normal_quantile(1.0 - config.alpha);
    for (k, name) in names.iter().enumerate() {
        let interval = wilson_interval(observed[k], n, z);
        let share = weights[k];
        if interval.lo < share - config.tolerance || interval.hi > share + config.tolerance {
            return Verdict::Inconclusive(format!(
                "{name}'s share is within [{:.1}%, {:.1}%], not yet provably within ±{:.0} pp of {:.1}%",
                interval.lo * 100.0,
                interval.hi * 100.0,
                config.tolerance * 100.0,
                share * 100.0
            ));
        }
    }
    Verdict::Pass
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn split() -> Expectation {
        Expectation::new([("v1", 30.0), ("v2", 70.0)]).unwrap()
    }

    fn counts(pairs: &[(&str, u64)]) -> Vec<(String, u64)> {
        pairs.iter().map(|(v, n)| ((*v).to_owned(), *n)).collect()
    }

    #[test]
    fn a_window_as_configured_passes() {
        let verdict = window_verdict(
            &counts(&[("v1", 3010), ("v2", 6990)]),
            &split(),
            &VerdictConfig::default(),
        );
        assert_eq!(verdict, Verdict::Pass);
    }

    #[test]
    fn an_inverted_window_fails_and_a_small_one_is_inconclusive() {
        let config = VerdictConfig::default();
        let inverted = window_verdict(&counts(&[("v1", 700), ("v2", 300)]), &split(), &config);
        assert!(matches!(inverted, Verdict::Fail(_)), "{inverted:?}");
        let small = window_verdict(&counts(&[("v1", 3), ("v2", 7)]), &split(), &config);
        assert!(matches!(small, Verdict::Inconclusive(_)), "{small:?}");
        let few = window_verdict(&counts(&[("v1", 60), ("v2", 140)]), &split(), &config);
        assert!(
            matches!(few, Verdict::Inconclusive(_)),
            "±5 pp needs more than 200: {few:?}"
        );
    }

    #[test]
    fn a_version_outside_the_expectation_fails() {
        let verdict = window_verdict(
            &counts(&[("v1", 300), ("v2", 650), ("v3", 50)]),
            &split(),
            &VerdictConfig::default(),
        );
        assert!(matches!(verdict, Verdict::Fail(_)), "{verdict:?}");
    }
}
