//! Monte-Carlo properties of the verdict engine: false-alarm rate at the true split,
//! detection time for gross mismatches, time to PASS, and the over-dispersion warning.
//!
//! Every test is seeded and deterministic, and each measures a statistic that a broken
//! engine would push past its bound (a fixed-n test re-checked after every response,
//! for instance, fails the false-alarm test). Sizes are chosen to stay within seconds
//! in a debug build. Run with `--nocapture` to see the figures quoted in the README.
#![allow(clippy::unwrap_used)]

use bookinfo_verdict::stats::normal_quantile;
use bookinfo_verdict::{Expectation, Outcome, SplitVerifier, Verdict, VerdictConfig};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const NAMES: [&str; 3] = ["v1", "v2", "v3"];

/// Draw a version name from `truth` (probabilities aligned with `NAMES`).
fn draw(rng: &mut StdRng, truth: &[f64]) -> Outcome {
    let u: f64 = rng.random();
    let mut acc = 0.0;
    for (name, p) in NAMES.iter().zip(truth) {
        acc += p;
        if u < acc {
            return Outcome::version(*name);
        }
    }
    Outcome::version(NAMES[truth.len() - 1])
}

/// One run: feed draws from `truth` until a decision or `cap`; returns the verdict and
/// the number of classified responses it took.
fn run(
    expected: &[(&str, f64)],
    truth: &[f64],
    config: &VerdictConfig,
    cap: u64,
    rng: &mut StdRng,
) -> (Verdict, u64) {
    let expectation = Expectation::new(expected.iter().copied()).unwrap();
    let mut verifier = SplitVerifier::new(expectation, config.clone()).unwrap();
    for n in 1..=cap {
        if verifier.observe(draw(rng, truth)).is_decided() {
            return (verifier.verdict().clone(), n);
        }
    }
    (verifier.finish().clone(), cap)
}

struct Runs {
    fails: usize,
    passes: usize,
    decided_n: Vec<u64>,
}

impl Runs {
    fn mean_n(&self) -> f64 {
        self.decided_n.iter().sum::<u64>() as f64 / self.decided_n.len().max(1) as f64
    }

    fn median_n(&self) -> u64 {
        let mut sorted = self.decided_n.clone();
        sorted.sort_unstable();
        sorted.get(sorted.len() / 2).copied().unwrap_or(0)
    }
}

fn simulate(
    expected: &[(&str, f64)],
    truth: &[f64],
    config: &VerdictConfig,
    runs: usize,
    cap: u64,
    seed: u64,
) -> Runs {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Runs {
        fails: 0,
        passes: 0,
        decided_n: Vec::with_capacity(runs),
    };
    for _ in 0..runs {
        let (verdict, n) = run(expected, truth, config, cap, &mut rng);
        match verdict {
            Verdict::Fail(_) => out.fails += 1,
            Verdict::Pass => out.passes += 1,
            _ => continue,
        }
        out.decided_n.push(n);
    }
    out
}

/// A configuration that never passes, so every run is exposed to false alarms for its
/// whole length (a PASS would otherwise end it early and hide them).
fn never_pass(alpha: f64) -> VerdictConfig {
    VerdictConfig {
        alpha,
        min_responses: u64::MAX,
        ..VerdictConfig::default()
    }
}

fn false_alarm_bound(alpha: f64, runs: usize) -> f64 {
    alpha + 3.0 * (alpha * (1.0 - alpha) / runs as f64).sqrt()
}

#[test]
fn false_alarm_rate_at_the_true_split_is_within_alpha() {
    let (alpha, runs, cap) = (0.05, 400, 2_000);
    let r = simulate(
        &[("v1", 30.0), ("v2", 70.0)],
        &[0.3, 0.7],
        &never_pass(alpha),
        runs,
        cap,
        1,
    );
    let rate = r.fails as f64 / runs as f64;
    let bound = false_alarm_bound(alpha, runs);
    eprintln!(
        "30/70 true split, α = {alpha}: {} FAIL in {runs} runs of {cap} = {:.2}% (bound {:.2}%)",
        r.fails,
        100.0 * rate,
        100.0 * bound
    );
    assert!(rate <= bound, "false-alarm rate {rate} above {bound}");
}

/// The harness can fail: the same draws judged by a fixed-n z-test re-checked after
/// every response (what "retry until green" amounts to) break the bound many times over.
#[test]
fn naive_peeking_breaks_the_false_alarm_bound() {
    let (alpha, runs, cap) = (0.05, 400, 2_000u64);
    let z = normal_quantile(1.0 - alpha / 2.0);
    let mut rng = StdRng::seed_from_u64(1);
    let mut alarms = 0;
    for _ in 0..runs {
        let mut hits = 0u64;
        for n in 1..=cap {
            if rng.random::<f64>() < 0.3 {
                hits += 1;
            }
            let n = n as f64;
            let score = (hits as f64 - 0.3 * n) / (0.21 * n).sqrt();
            if score.abs() > z {
                alarms += 1;
                break;
            }
        }
    }
    let rate = alarms as f64 / runs as f64;
    eprintln!(
        "naive z-test at α = {alpha} checked after every response: {:.1}% false alarms in {runs} runs of {cap}",
        100.0 * rate
    );
    assert!(rate > false_alarm_bound(alpha, runs));
}

#[test]
fn false_alarm_rate_with_three_versions_is_within_alpha() {
    let (alpha, runs, cap) = (0.05, 200, 1_500);
    let r = simulate(
        &[("v1", 70.0), ("v2", 20.0), ("v3", 10.0)],
        &[0.7, 0.2, 0.1],
        &never_pass(alpha),
        runs,
        cap,
        2,
    );
    let rate = r.fails as f64 / runs as f64;
    let bound = false_alarm_bound(alpha, runs);
    eprintln!(
        "70/20/10 true split, α = {alpha}: {} FAIL in {runs} runs of {cap} = {:.2}% (bound {:.2}%)",
        r.fails,
        100.0 * rate,
        100.0 * bound
    );
    assert!(rate <= bound, "false-alarm rate {rate} above {bound}");
}

/// Gross mismatches against 30/70 at α = 0.001 (the figures the method predicts: 54, 67 and 136).
#[test]
fn gross_mismatches_are_detected_fast() {
    let config = VerdictConfig::default();
    let cases = [
        ("inverted weights 70/30", [0.7, 0.3], 54.0, 70.0, 3),
        ("starved canary 0/100", [0.0, 1.0], 67.0, 80.0, 4),
        ("50/50 fallback", [0.5, 0.5], 136.0, 160.0, 5),
    ];
    for (label, truth, spec, bound, seed) in cases {
        let runs = 200;
        let r = simulate(
            &[("v1", 30.0), ("v2", 70.0)],
            &truth,
            &config,
            runs,
            5_000,
            seed,
        );
        eprintln!(
            "{label}: FAIL in {}/{runs} runs, mean n {:.1}, median {} (predicted ≈ {spec})",
            r.fails,
            r.mean_n(),
            r.median_n()
        );
        assert_eq!(r.fails, runs, "{label}: not every run failed");
        assert!(
            r.mean_n() <= bound,
            "{label}: mean n {} above {bound}",
            r.mean_n()
        );
    }
}

/// The correct split reaches PASS with δ = 5 pp, α = 0.001 (the figure the method predicts: mean ≈ 1,980 when
/// checked every 20 responses; this engine checks after every one).
#[test]
fn true_split_reaches_pass() {
    let runs = 60;
    let r = simulate(
        &[("v1", 30.0), ("v2", 70.0)],
        &[0.3, 0.7],
        &VerdictConfig::default(),
        runs,
        10_000,
        6,
    );
    eprintln!(
        "30/70 true split, δ 5 pp, α 0.001: PASS in {}/{runs} runs, mean n {:.0}, median {}",
        r.passes,
        r.mean_n(),
        r.median_n()
    );
    assert_eq!(r.passes, runs);
    assert!(
        (1_300.0..=2_700.0).contains(&r.mean_n()),
        "mean n {}",
        r.mean_n()
    );
}

/// The Dirichlet mixture with c = 100: 70/20/10 expected, truth 50/30/20, ≈ 140.
#[test]
fn three_version_mismatch_is_detected() {
    let config = VerdictConfig {
        concentration: Some(100.0),
        ..VerdictConfig::default()
    };
    let runs = 200;
    let r = simulate(
        &[("v1", 70.0), ("v2", 20.0), ("v3", 10.0)],
        &[0.5, 0.3, 0.2],
        &config,
        runs,
        5_000,
        7,
    );
    eprintln!(
        "70/20/10 expected, truth 50/30/20, c 100: FAIL in {}/{runs}, mean n {:.1}, median {} (predicted ≈ 140)",
        r.fails,
        r.mean_n(),
        r.median_n()
    );
    assert_eq!(r.fails, runs);
    assert!(r.mean_n() <= 175.0, "mean n {}", r.mean_n());
}

/// Connection pinning: blocks of 10 consecutive responses routed together must raise
/// the over-dispersion warning; independent draws must not.
#[test]
fn over_dispersion_flags_pinned_connections() {
    let expected = Expectation::new([("v1", 30.0), ("v2", 70.0)]).unwrap();
    let config = never_pass(0.001);
    let mut rng = StdRng::seed_from_u64(8);

    let mut pinned = SplitVerifier::new(expected.clone(), config.clone()).unwrap();
    for _ in 0..200 {
        let outcome = draw(&mut rng, &[0.3, 0.7]);
        for _ in 0..10 {
            pinned.observe(outcome.clone());
        }
    }
    let mut independent = SplitVerifier::new(expected, config).unwrap();
    for _ in 0..2_000 {
        independent.observe(draw(&mut rng, &[0.3, 0.7]));
    }
    let p = pinned.summary().current.dispersion;
    let i = independent.summary().current.dispersion;
    eprintln!(
        "over-dispersion, batches of 20: pinned blocks of 10 D = {:.1} (df {}, p {:.2e}); independent D = {:.1} (p {:.3})",
        p.test.statistic, p.test.df, p.test.p_value, i.test.statistic, i.test.p_value
    );
    assert!(p.warning && p.test.p_value < 1e-6);
    assert!(!i.warning && i.test.p_value > 0.01);
}
