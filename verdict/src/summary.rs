//! The serialisable report of a verification run: one [`EpochSummary`] per set of
//! expected weights, with every statistic a reader needs to check the verdict.
//!
//! Infinite values (an e-value or X² after a version with expected weight 0 showed up)
//! are written as `null` by serde_json; the verdict reason says what happened.

use serde::Serialize;

use crate::stats::{DispersionTest, GofTest, Interval};
use crate::types::Verdict;

/// Over-dispersion p-value below which the summary warns that responses do not look
/// independent (connection pinning, sticky sessions), so the intervals are too narrow.
pub(crate) const DISPERSION_WARNING_P: f64 = 0.001;

/// Everything the verifier knows: the current epoch and the ones before it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub current: EpochSummary,
    /// Earlier epochs, oldest first, each frozen with its final verdict.
    pub previous_epochs: Vec<EpochSummary>,
}

/// The settings an epoch was judged with, including the derived per-test levels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    /// δ: a version passes when its share is provably within ±δ of its weight.
    pub tolerance: f64,
    /// Overall false-FAIL budget α.
    pub alpha: f64,
    /// Level of the joint e-value test: FAIL when `M_n ≥ 1/e_value_alpha`.
    pub e_value_alpha: f64,
    /// Level of each per-version confidence sequence (after Bonferroni).
    pub per_version_alpha: f64,
    /// Normal quantile of the Wilson intervals, at the same per-version level.
    pub interval_z: f64,
    /// c, the prior concentration of the mixtures.
    pub concentration: f64,
    pub unclassified_budget: f64,
    pub min_responses: u64,
    pub batch_size: u64,
}

/// One expected or observed version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionSummary {
    pub version: String,
    /// False for a version that is not in the expected split (always a mismatch).
    pub expected: bool,
    /// Normalised expected weight (0 for unexpected versions).
    pub weight: f64,
    pub count: u64,
    /// Share among classified responses.
    pub share: f64,
    /// `[w − δ, w + δ]` clipped to [0, 1].
    pub band: Interval,
    /// Fixed-n Wilson interval at the per-version level (a report, not a decision rule).
    pub wilson: Interval,
    /// Anytime-valid confidence sequence at the per-version level.
    pub confidence_sequence: Interval,
    /// `[x/(n+u), (x+u)/(n+u)]` with u unclassified responses.
    pub worst_case_share: Interval,
    /// Envelope of the confidence sequences at both worst-case ends.
    pub worst_case_sequence: Interval,
}

/// The over-dispersion index and whether it looks inflated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DispersionSummary {
    #[serde(flatten)]
    pub test: DispersionTest,
    /// `p_value < DISPERSION_WARNING_P`.
    pub warning: bool,
}

/// The state of one epoch (one set of expected weights).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpochSummary {
    /// 0 for the first epoch, +1 per restart.
    pub epoch: usize,
    pub settings: Settings,
    /// All responses, classified or not.
    pub responses: u64,
    pub classified: u64,
    /// HTTP errors.
    pub failed: u64,
    pub timed_out: u64,
    pub unclassifiable: u64,
    /// failed + timed_out + unclassifiable: responses without a version.
    pub unclassified: u64,
    pub unclassified_share: f64,
    pub unclassified_within_budget: bool,
    /// Expected versions in the order given, then unexpected ones in order of arrival.
    pub versions: Vec<VersionSummary>,
    /// log10 of the Dirichlet-mixture e-value now.
    pub log10_e_value: f64,
    /// Its running maximum, which sets the anytime p-value.
    pub max_log10_e_value: f64,
    /// log10(1 / e_value_alpha): the FAIL line.
    pub log10_e_value_threshold: f64,
    /// `min(1, min_t 1/M_t)`: valid however often it was looked at.
    pub anytime_p_value: f64,
    /// Fixed-n goodness of fit (valid for a single look only).
    pub pearson: GofTest,
    pub g_test: GofTest,
    pub dispersion: DispersionSummary,
    pub verdict: Verdict,
    /// Responses (all outcomes) seen when the verdict was reached.
    pub decided_after: Option<u64>,
}
