//! One epoch of the verdict engine: the counts and running statistics for one set of
//! expected weights, and the decision rules applied to them (see [`crate::verifier`]).

use crate::expectation::Expectation;
use crate::stats::{
    BetaPrior, ConfidenceSequence, DirichletMixture, Dispersion, Interval, g_test, normal_quantile,
    pearson_test, wilson_interval, worst_case_share,
};
use crate::summary::{
    DISPERSION_WARNING_P, DispersionSummary, EpochSummary, Settings, VersionSummary,
};
use crate::types::{Outcome, Verdict, VerdictConfig, default_concentration};

/// One version: expected ones first (same order as the expectation), unexpected ones
/// appended as they show up.
#[derive(Debug, Clone)]
struct Category {
    name: String,
    weight: f64,
    expected: bool,
    count: u64,
    /// Prior of this version's confidence sequence.
    prior: BetaPrior,
}

#[derive(Debug, Clone)]
pub(crate) struct Epoch {
    pub(crate) index: usize,
    pub(crate) expectation: Expectation,
    pub(crate) classified: u64,
    pub(crate) verdict: Verdict,
    config: VerdictConfig,
    concentration: f64,
    e_value_alpha: f64,
    per_version_alpha: f64,
    categories: Vec<Category>,
    failed: u64,
    timed_out: u64,
    unclassifiable: u64,
    mixture: DirichletMixture,
    dispersion: Dispersion,
    decided_after: Option<u64>,
}

fn percent(p: f64) -> String {
    format!("{:.2}%", 100.0 * p)
}

fn percent_interval(i: &Interval) -> String {
    format!("[{}, {}]", percent(i.lo), percent(i.hi))
}

impl Epoch {
    /// `config` must have been validated.
    pub(crate) fn new(index: usize, expectation: Expectation, config: &VerdictConfig) -> Self {
        let concentration = config
            .concentration
            .unwrap_or_else(|| default_concentration(&expectation, config.tolerance));
        // See the module docs of `verdict`: with ≤ 2 versions all FAIL rules are one
        // test; with K ≥ 3 split α between the e-value and K sequences.
        let k = expectation.len();
        let (e_value_alpha, per_version_alpha) = if k <= 2 {
            (config.alpha, config.alpha)
        } else {
            (config.alpha / 2.0, config.alpha / (2.0 * k as f64))
        };
        let categories: Vec<Category> = expectation
            .versions()
            .iter()
            .map(|(name, w)| Category {
                name: name.clone(),
                weight: *w,
                expected: true,
                count: 0,
                prior: BetaPrior::centred(*w, concentration),
            })
            .collect();
        let weights = categories.iter().map(|c| c.weight).collect();
        Self {
            index,
            expectation,
            classified: 0,
            verdict: Verdict::Running,
            config: config.clone(),
            concentration,
            e_value_alpha,
            per_version_alpha,
            categories,
            failed: 0,
            timed_out: 0,
            unclassifiable: 0,
            mixture: DirichletMixture::new(weights, concentration),
            dispersion: Dispersion::new(config.batch_size),
            decided_after: None,
        }
    }

    pub(crate) fn responses(&self) -> u64 {
        self.classified.saturating_add(self.unclassified())
    }

    fn unclassified(&self) -> u64 {
        self.failed
            .saturating_add(self.timed_out)
            .saturating_add(self.unclassifiable)
    }

    fn unclassified_share(&self) -> f64 {
        let total = self.responses();
        if total == 0 {
            0.0
        } else {
            self.unclassified() as f64 / total as f64
        }
    }

    fn band(&self, weight: f64) -> Interval {
        Interval {
            lo: (weight - self.config.tolerance).max(0.0),
            hi: (weight + self.config.tolerance).min(1.0),
        }
    }

    pub(crate) fn observe(&mut self, outcome: Outcome) {
        match outcome {
            // A blank name is a classifier that found nothing: not a version.
            Outcome::Version(name) if name.trim().is_empty() => self.unclassifiable += 1,
            Outcome::Version(name) => {
                let index = self.category_index(name);
                self.categories[index].count += 1;
                self.classified += 1;
                self.mixture.observe(index);
                self.dispersion.push(index);
            }
            Outcome::Failed => self.failed += 1,
            Outcome::TimedOut => self.timed_out += 1,
            Outcome::Unclassifiable => self.unclassifiable += 1,
        }
        if self.verdict == Verdict::Running
            && let Some(verdict) = self.decide()
        {
            self.verdict = verdict;
            self.decided_after = Some(self.responses());
        }
    }

    /// Index of `name`, adding it as an unexpected version (weight 0) if it is new.
    fn category_index(&mut self, name: String) -> usize {
        let trimmed = name.trim();
        if let Some(i) = self.categories.iter().position(|c| c.name == trimmed) {
            return i;
        }
        self.categories.push(Category {
            name: trimmed.to_owned(),
            weight: 0.0,
            expected: false,
            count: 0,
            prior: BetaPrior::centred(0.0, self.concentration),
        });
        self.categories.len() - 1
    }

    fn sequence(&self, category: &Category) -> ConfidenceSequence {
        ConfidenceSequence::new(
            category.count,
            self.classified,
            &category.prior,
            self.per_version_alpha,
        )
    }

    /// The first rule that fires, in order: unexpected version, e-value, tolerance FAIL,
    /// PASS.
    fn decide(&self) -> Option<Verdict> {
        if let Some(stray) = self
            .categories
            .iter()
            .find(|c| c.weight <= 0.0 && c.count > 0)
        {
            let what = if stray.expected {
                "is expected to receive no traffic"
            } else {
                "is not part of the expected split"
            };
            return Some(Verdict::Fail(format!(
                "version {} {what} but received {} classified response(s); its probability under the expected split is 0, so one response is decisive",
                stray.name, stray.count
            )));
        }
        let log_e = self.mixture.log_e_value();
        if log_e >= -self.e_value_alpha.ln() {
            return Some(Verdict::Fail(format!(
                "split mismatch: e-value 10^{:.2} reached 1/α = {:.0} after {} classified responses ({})",
                log_e / std::f64::consts::LN_10,
                1.0 / self.e_value_alpha,
                self.classified,
                self.shares()
            )));
        }
        for c in self.categories.iter().filter(|c| c.expected) {
            let band = self.band(c.weight);
            let sequence = self.sequence(c);
            if sequence.is_outside(&band) {
                return Some(Verdict::Fail(format!(
                    "version {} share {} is outside its band {}: confidence sequence {} after {} classified responses",
                    c.name,
                    percent(sequence.share()),
                    percent_interval(&band),
                    percent_interval(&sequence.interval()),
                    self.classified
                )));
            }
        }
        self.pass_blockers(false)
            .is_empty()
            .then_some(Verdict::Pass)
    }

    /// Observed shares, for messages.
    fn shares(&self) -> String {
        let n = self.classified.max(1) as f64;
        self.categories
            .iter()
            .map(|c| format!("{} {}", c.name, percent(c.count as f64 / n)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// What stands between the current state and a PASS; empty means PASS. With
    /// `all == false` it stops at the first blocker (the per-response hot path).
    fn pass_blockers(&self, all: bool) -> Vec<String> {
        let mut blockers = Vec::new();
        if self.classified < self.config.min_responses {
            blockers.push(format!(
                "{} classified responses, fewer than the {} required before a PASS",
                self.classified, self.config.min_responses
            ));
            if !all {
                return blockers;
            }
        }
        let share = self.unclassified_share();
        if share > self.config.unclassified_budget {
            blockers.push(format!(
                "unclassified share {} ({} of {}) exceeds the budget of {}",
                percent(share),
                self.unclassified(),
                self.responses(),
                percent(self.config.unclassified_budget)
            ));
            if !all {
                return blockers;
            }
        }
        let u = self.unclassified();
        let n = self.classified;
        for c in self.categories.iter().filter(|c| c.expected) {
            let band = self.band(c.weight);
            let sequence = self.sequence(c);
            if !sequence.is_within(&band) {
                let shown = if n == 0 {
                    "no data".to_owned()
                } else {
                    percent_interval(&sequence.interval())
                };
                blockers.push(format!(
                    "version {}: confidence sequence {shown} is not yet inside its band {}",
                    c.name,
                    percent_interval(&band)
                ));
                if !all {
                    return blockers;
                }
                continue;
            }
            if u > 0 {
                let (low, high) = self.worst_cases(c, n, u);
                if !(low.is_within(&band) && high.is_within(&band)) {
                    blockers.push(format!(
                        "version {}: with the {u} unclassified responses counted against or for it, its share could be {}, not inside its band {}",
                        c.name,
                        percent_interval(&worst_case_share(c.count, n, u)),
                        percent_interval(&band)
                    ));
                    if !all {
                        return blockers;
                    }
                }
            }
        }
        blockers
    }

    /// The confidence sequences of `c` with every one of the `u`
    /// unclassified responses counted against it (`low`) and for it (`high`).
    fn worst_cases(
        &self,
        c: &Category,
        n: u64,
        u: u64,
    ) -> (ConfidenceSequence, ConfidenceSequence) {
        let total = n.saturating_add(u);
        let sequence =
            |count| ConfidenceSequence::new(count, total, &c.prior, self.per_version_alpha);
        (sequence(c.count), sequence(c.count.saturating_add(u)))
    }

    /// Turn an undecided epoch into INCONCLUSIVE, saying what was missing.
    pub(crate) fn finish(&mut self, why: &str) {
        if self.verdict != Verdict::Running {
            return;
        }
        let blockers = if self.responses() == 0 {
            vec!["no responses were observed".to_owned()]
        } else {
            self.pass_blockers(true)
        };
        self.verdict = Verdict::Inconclusive(format!("{why}: {}", blockers.join("; ")));
        self.decided_after = Some(self.responses());
    }

    pub(crate) fn summary(&self) -> EpochSummary {
        let n = self.classified;
        let u = self.unclassified();
        let z = normal_quantile(1.0 - self.per_version_alpha / 2.0);
        let versions = self
            .categories
            .iter()
            .map(|c| {
                let (low, high) = self.worst_cases(c, n, u);
                VersionSummary {
                    version: c.name.clone(),
                    expected: c.expected,
                    weight: c.weight,
                    count: c.count,
                    share: if n == 0 {
                        0.0
                    } else {
                        c.count as f64 / n as f64
                    },
                    band: self.band(c.weight),
                    wilson: wilson_interval(c.count, n, z),
                    confidence_sequence: self.sequence(c).interval(),
                    worst_case_share: worst_case_share(c.count, n, u),
                    worst_case_sequence: Interval {
                        lo: low.interval().lo,
                        hi: high.interval().hi,
                    },
                }
            })
            .collect();
        let counts: Vec<u64> = self.categories.iter().map(|c| c.count).collect();
        let weights: Vec<f64> = self.categories.iter().map(|c| c.weight).collect();
        let dispersion = self.dispersion.test();
        let ln10 = std::f64::consts::LN_10;
        EpochSummary {
            epoch: self.index,
            settings: Settings {
                tolerance: self.config.tolerance,
                alpha: self.config.alpha,
                e_value_alpha: self.e_value_alpha,
                per_version_alpha: self.per_version_alpha,
                interval_z: z,
                concentration: self.concentration,
                unclassified_budget: self.config.unclassified_budget,
                min_responses: self.config.min_responses,
                batch_size: self.config.batch_size,
            },
            responses: self.responses(),
            classified: n,
            failed: self.failed,
            timed_out: self.timed_out,
            unclassifiable: self.unclassifiable,
            unclassified: u,
            unclassified_share: self.unclassified_share(),
            unclassified_within_budget: self.unclassified_share()
                <= self.config.unclassified_budget,
            versions,
            log10_e_value: self.mixture.log_e_value() / ln10,
            max_log10_e_value: self.mixture.max_log_e_value() / ln10,
            log10_e_value_threshold: -self.e_value_alpha.log10(),
            anytime_p_value: self.mixture.anytime_p_value(),
            pearson: pearson_test(&counts, &weights),
            g_test: g_test(&counts, &weights),
            dispersion: DispersionSummary {
                warning: dispersion.p_value < DISPERSION_WARNING_P,
                test: dispersion,
            },
            verdict: self.verdict.clone(),
            decided_after: self.decided_after,
        }
    }
}
