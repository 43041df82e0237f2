//! Deterministic behaviour of the verdict engine: rules, edge cases, epochs, report.
#![allow(clippy::unwrap_used)]

use bookinfo_verdict::{ConfigError, Expectation, Outcome, SplitVerifier, Verdict, VerdictConfig};

fn thirty_seventy() -> Expectation {
    Expectation::new([("v1", 30.0), ("v2", 70.0)]).unwrap()
}

/// Exactly 30 % v1 in every block of ten responses.
fn exact_split(i: u64) -> Outcome {
    Outcome::version(if i % 10 < 3 { "v1" } else { "v2" })
}

#[test]
fn unexpected_version_fails_at_once() {
    let mut v = SplitVerifier::new(thirty_seventy(), VerdictConfig::default()).unwrap();
    for i in 0..50 {
        assert_eq!(v.observe(exact_split(i)), &Verdict::Running);
    }
    let verdict = v.observe(Outcome::version("v3")).clone();
    assert_eq!(verdict.label(), "FAIL", "{verdict}");
    assert!(verdict.reason().unwrap().contains("v3"), "{verdict}");
    let summary = v.summary().current;
    assert_eq!(summary.decided_after, Some(51));
    let v3 = summary.versions.iter().find(|s| s.version == "v3").unwrap();
    assert!(!v3.expected);
    assert_eq!(summary.pearson.p_value, 0.0);
    // The e-value is infinite and serialises as null; the JSON stays valid.
    assert!(summary.log10_e_value.is_infinite());
    let json = serde_json::to_value(v.summary()).unwrap();
    assert!(json["current"]["log10_e_value"].is_null());
    assert_eq!(json["current"]["verdict"]["state"], "fail");
}

#[test]
fn version_named_with_weight_zero_fails_at_once() {
    let e = Expectation::new([("v1", 100.0), ("v2", 0.0)]).unwrap();
    let mut v = SplitVerifier::new(e, VerdictConfig::default()).unwrap();
    v.observe(Outcome::version("v1"));
    assert_eq!(v.observe(Outcome::version("v2")).label(), "FAIL");
}

#[test]
fn single_version_passes_after_enough_responses() {
    let mut v =
        SplitVerifier::new(Expectation::single("v1").unwrap(), VerdictConfig::default()).unwrap();
    let mut passed_at = None;
    for i in 1..=1_000u64 {
        if v.observe(Outcome::version("v1")) == &Verdict::Pass {
            passed_at = Some(i);
            break;
        }
    }
    // {p : p^n > α} leaves [0.95, 1] once n > ln(1000)/−ln(0.95) ≈ 134.7.
    eprintln!("single version 100 %: PASS after {passed_at:?} responses");
    assert!(
        passed_at.is_some_and(|n| (130..=140).contains(&n)),
        "{passed_at:?}"
    );
}

#[test]
fn single_version_with_a_stray_fails() {
    let mut v =
        SplitVerifier::new(Expectation::single("v1").unwrap(), VerdictConfig::default()).unwrap();
    for _ in 0..40 {
        v.observe(Outcome::version("v1"));
    }
    // Failures and unclassifiable responses are not versions and do not fail the split.
    v.observe(Outcome::Failed);
    v.observe(Outcome::Unclassifiable);
    assert_eq!(v.verdict(), &Verdict::Running);
    assert_eq!(v.observe(Outcome::version("v2")).label(), "FAIL");
}

#[test]
fn exact_split_passes_and_the_decision_is_final() {
    let mut v = SplitVerifier::new(thirty_seventy(), VerdictConfig::default()).unwrap();
    let mut i = 0;
    while v.verdict() == &Verdict::Running && i < 10_000 {
        v.observe(exact_split(i));
        i += 1;
    }
    eprintln!("exact 30/70 stream: {} after {i} responses", v.verdict());
    assert_eq!(v.verdict(), &Verdict::Pass);
    assert!((1_000..3_000).contains(&i), "{i}");
    // Later evidence is counted but does not overturn the decision.
    for _ in 0..100 {
        v.observe(Outcome::version("v1"));
    }
    assert_eq!(v.verdict(), &Verdict::Pass);
    assert_eq!(v.finish(), &Verdict::Pass);
    assert_eq!(v.classified(), i + 100);
}

#[test]
fn unclassified_above_budget_prevents_a_pass() {
    let mut v = SplitVerifier::new(thirty_seventy(), VerdictConfig::default()).unwrap();
    for i in 0..6_000u64 {
        v.observe(exact_split(i));
        // 2 % of responses have no version: twice the default budget.
        if i % 49 == 0 {
            v.observe(Outcome::Unclassifiable);
        }
    }
    assert_eq!(v.verdict(), &Verdict::Running);
    let verdict = v.finish().clone();
    assert_eq!(verdict.label(), "INCONCLUSIVE");
    assert!(verdict.reason().unwrap().contains("budget"), "{verdict}");
    let summary = v.summary().current;
    assert!(!summary.unclassified_within_budget);
    assert!(summary.unclassified_share > 0.01);
}

#[test]
fn worst_case_bound_blocks_a_pass_within_budget() {
    // A generous budget lets 4 % through, but 4 % against the band of ±5 pp does not
    // leave room for the sampling uncertainty at both worst-case ends.
    let config = VerdictConfig {
        unclassified_budget: 0.10,
        ..VerdictConfig::default()
    };
    let mut v = SplitVerifier::new(thirty_seventy(), config).unwrap();
    for i in 0..6_000u64 {
        v.observe(exact_split(i));
        if i % 25 == 0 {
            v.observe(if i % 50 == 0 {
                Outcome::Failed
            } else {
                Outcome::TimedOut
            });
        }
    }
    assert_eq!(v.verdict(), &Verdict::Running);
    let verdict = v.finish().clone();
    assert!(
        verdict
            .reason()
            .unwrap()
            .contains("unclassified responses counted"),
        "{verdict}"
    );
    let s = v.summary().current;
    assert_eq!(s.failed + s.timed_out, s.unclassified);
    let v1 = &s.versions[0];
    assert!(v1.worst_case_share.lo < v1.share && v1.share < v1.worst_case_share.hi);
}

#[test]
fn finish_without_data_is_inconclusive() {
    let mut v = SplitVerifier::new(thirty_seventy(), VerdictConfig::default()).unwrap();
    let verdict = v.finish().clone();
    assert_eq!(verdict.label(), "INCONCLUSIVE");
    assert!(verdict.reason().unwrap().contains("no responses"));
    // A summary of nothing is still well-formed.
    let s = v.summary().current;
    assert_eq!(s.classified, 0);
    assert_eq!(s.anytime_p_value, 1.0);
    assert!(serde_json::to_string(&v.summary()).is_ok());
}

#[test]
fn restart_resets_counts_and_records_the_epoch() {
    let mut v = SplitVerifier::new(thirty_seventy(), VerdictConfig::default()).unwrap();
    for i in 0..300 {
        v.observe(exact_split(i));
    }
    v.restart(Expectation::new([("v1", 50.0), ("v2", 50.0)]).unwrap());
    assert_eq!((v.epoch(), v.classified(), v.responses()), (1, 0, 0));
    assert_eq!(v.verdict(), &Verdict::Running);
    assert_eq!(v.expectation().weight("v1"), Some(0.5));
    let previous = v.previous_epochs();
    assert_eq!(previous.len(), 1);
    assert_eq!(previous[0].epoch, 0);
    assert_eq!(previous[0].classified, 300);
    assert_eq!(previous[0].verdict.label(), "INCONCLUSIVE");
    // The old traffic (30 % v1) would fail a 50/50 check; the new epoch starts clean.
    v.observe(Outcome::version("v3"));
    v.restart(thirty_seventy());
    let summary = v.summary();
    assert_eq!(summary.previous_epochs.len(), 2);
    assert_eq!(summary.previous_epochs[1].verdict.label(), "FAIL");
    assert_eq!(summary.current.epoch, 2);
}

#[test]
fn invalid_configuration_is_rejected() {
    let bad = |config: VerdictConfig| SplitVerifier::new(thirty_seventy(), config).err();
    let base = VerdictConfig::default;
    assert_eq!(
        bad(VerdictConfig {
            tolerance: 0.0,
            ..base()
        }),
        Some(ConfigError::Tolerance(0.0))
    );
    assert!(matches!(
        bad(VerdictConfig {
            alpha: f64::NAN,
            ..base()
        }),
        Some(ConfigError::Alpha(_))
    ));
    assert_eq!(
        bad(VerdictConfig {
            unclassified_budget: 1.5,
            ..base()
        }),
        Some(ConfigError::UnclassifiedBudget(1.5))
    );
    assert_eq!(
        bad(VerdictConfig {
            concentration: Some(-1.0),
            ..base()
        }),
        Some(ConfigError::Concentration(-1.0))
    );
    assert_eq!(
        bad(VerdictConfig {
            batch_size: 1,
            ..base()
        }),
        Some(ConfigError::BatchSize(1))
    );
}

#[test]
fn summary_reports_every_statistic() {
    let mut v = SplitVerifier::new(thirty_seventy(), VerdictConfig::default()).unwrap();
    for i in 0..1_000 {
        v.observe(exact_split(i));
    }
    v.observe(Outcome::TimedOut);
    let s = v.summary().current;
    assert_eq!((s.classified, s.timed_out, s.responses), (1_000, 1, 1_001));
    assert!((s.settings.concentration - 84.0).abs() < 1e-9);
    let v1 = &s.versions[0];
    assert!((v1.share - 0.3).abs() < 1e-12);
    assert!(v1.wilson.lo < 0.3 && 0.3 < v1.wilson.hi);
    // The anytime sequence is wider than the fixed-n Wilson interval at the same level.
    assert!(v1.confidence_sequence.lo < v1.wilson.lo);
    assert!(v1.confidence_sequence.hi > v1.wilson.hi);
    assert!(v1.worst_case_sequence.lo <= v1.confidence_sequence.lo);
    assert!(s.pearson.p_value > 0.99 && s.g_test.p_value > 0.99);
    assert_eq!(s.dispersion.test.batches, 50);
    // Batches of 20 from the exact pattern all hold 6 v1: no dispersion at all.
    assert_eq!(s.dispersion.test.statistic, 0.0);
    assert!(!s.dispersion.warning);
    assert!(s.log10_e_value < 0.0 && s.anytime_p_value > 0.5, "{s:?}");
    let json = serde_json::to_value(v.summary()).unwrap();
    for key in [
        "versions",
        "pearson",
        "g_test",
        "dispersion",
        "anytime_p_value",
    ] {
        assert!(json["current"].get(key).is_some(), "{key} missing");
    }
    assert_eq!(json["current"]["verdict"]["state"], "running");
}

#[test]
fn blank_version_names_are_unclassifiable_and_names_are_trimmed() {
    let mut v = SplitVerifier::new(thirty_seventy(), VerdictConfig::default()).unwrap();
    v.observe(Outcome::version("  "));
    v.observe(Outcome::version(" v1 "));
    assert_eq!(v.verdict(), &Verdict::Running);
    let s = v.summary().current;
    assert_eq!(
        (s.unclassifiable, s.classified, s.versions.len()),
        (1, 1, 2)
    );
    assert_eq!(s.versions[0].count, 1);
}
