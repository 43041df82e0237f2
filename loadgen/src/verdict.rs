//! The verdict engine: feed it one classified response at a time and it answers
//! PASS / FAIL / INCONCLUSIVE with a controlled false-alarm rate (spec C.4–C.7).
//!
//! Decision rules, checked after every response of the current epoch:
//!
//! - **FAIL (strict)** when the Dirichlet-mixture e-value reaches `1/α`. It is a
//!   nonnegative martingale under the expected split, so checking it after every
//!   response keeps `P(false FAIL) ≤ α` (Ville's inequality).
//! - **FAIL (unexpected version)** as soon as a version with expected weight 0 (named
//!   with weight 0, or not named at all) is classified. Under the expected split its
//!   probability is exactly 0, so the likelihood ratio is infinite after one response;
//!   no amount of further data could bring it back. Responses that cannot be attributed
//!   with confidence belong in [`Outcome::Unclassifiable`], not in a version.
//! - **FAIL (tolerance)** when some version's confidence sequence lies entirely outside
//!   `[w − δ, w + δ]`.
//! - **PASS** when every version's confidence sequence lies inside its band, the same
//!   holds at both worst-case ends with the unclassified responses, the unclassified
//!   share is within budget, and at least `min_responses` were classified.
//! - **INCONCLUSIVE** from [`SplitVerifier::finish`] when the run ends undecided.
//!
//! A decision is final for its epoch: later responses are still counted in the summary
//! but do not change the verdict (the anytime guarantee covers stopping at the first
//! crossing, not re-deciding). Settling after a config change is the caller's job:
//! they simply do not feed responses until the new routing has taken effect.
//!
//! α is shared out so that the whole FAIL side stays within it:
//!
//! - one or two named versions: the per-version sequences *are* the e-value (for two
//!   versions the Beta mixture is the two-category Dirichlet and v2's sequence mirrors
//!   v1's), so every rule runs at α and no correction is needed;
//! - three or more: the e-value gets α/2 and each of the K sequences α/(2K)
//!   (Bonferroni), so the union of all FAIL rules stays within α.

use std::fmt;

use serde::Serialize;

use crate::epoch::Epoch;
use crate::expectation::Expectation;
use crate::summary::{EpochSummary, Summary};

/// What one response turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Classified as this version (by version header, pod name or body fingerprint).
    Version(String),
    /// An HTTP error that no version can be held responsible for.
    Failed,
    /// No response within the timeout.
    TimedOut,
    /// A response whose version could not be determined (or was ambiguous).
    Unclassifiable,
}

impl Outcome {
    pub fn version(name: impl Into<String>) -> Self {
        Self::Version(name.into())
    }
}

/// The state of the check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "reason", rename_all = "snake_case")]
pub enum Verdict {
    /// Still collecting evidence.
    Running,
    /// Every version is provably within its tolerance band.
    Pass,
    /// The split does not match; the reason says which rule fired.
    Fail(String),
    /// The run ended without a decision; the reason says what was missing.
    Inconclusive(String),
}

impl Verdict {
    /// Process exit code for CI: PASS 0, FAIL 1, INCONCLUSIVE 2. An undecided
    /// (`Running`) check is reported as inconclusive.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Pass => 0,
            Self::Fail(_) => 1,
            Self::Inconclusive(_) | Self::Running => 2,
        }
    }

    /// PASS or FAIL: the caller may stop sending.
    pub fn is_decided(&self) -> bool {
        matches!(self, Self::Pass | Self::Fail(_))
    }

    /// Upper-case name, as printed.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Running => "RUNNING",
            Self::Pass => "PASS",
            Self::Fail(_) => "FAIL",
            Self::Inconclusive(_) => "INCONCLUSIVE",
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::Fail(r) | Self::Inconclusive(r) => Some(r),
            Self::Running | Self::Pass => None,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason() {
            Some(reason) => write!(f, "{}: {reason}", self.label()),
            None => f.write_str(self.label()),
        }
    }
}

/// How strict the check is.
#[derive(Debug, Clone, PartialEq)]
pub struct VerdictConfig {
    /// δ, the accepted absolute deviation of each share (0.05 = 5 percentage points).
    pub tolerance: f64,
    /// α, the accepted probability of a false FAIL over the whole (unbounded) run.
    pub alpha: f64,
    /// Largest share of responses without a version that still allows a PASS.
    pub unclassified_budget: f64,
    /// Classified responses required before a PASS (FAIL may come earlier).
    pub min_responses: u64,
    /// Prior concentration c of the mixtures; `None` uses [`default_concentration`].
    pub concentration: Option<f64>,
    /// Consecutive classified responses per batch of the over-dispersion index.
    pub batch_size: u64,
}

impl Default for VerdictConfig {
    fn default() -> Self {
        Self {
            tolerance: 0.05,
            alpha: 0.001,
            unclassified_budget: 0.01,
            min_responses: 100,
            concentration: None,
            batch_size: 20,
        }
    }
}

/// Why a configuration was rejected.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigError {
    /// δ must be in (0, 1).
    Tolerance(f64),
    /// α must be in (0, 1).
    Alpha(f64),
    /// The unclassified budget must be in [0, 1].
    UnclassifiedBudget(f64),
    /// c must be a positive finite number.
    Concentration(f64),
    /// Batches need at least 2 responses.
    BatchSize(u64),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tolerance(v) => {
                write!(f, "tolerance must be between 0 and 1 (exclusive), got {v}")
            }
            Self::Alpha(v) => write!(f, "alpha must be between 0 and 1 (exclusive), got {v}"),
            Self::UnclassifiedBudget(v) => {
                write!(f, "unclassified budget must be between 0 and 1, got {v}")
            }
            Self::Concentration(v) => write!(f, "concentration must be positive, got {v}"),
            Self::BatchSize(v) => write!(f, "batch size must be at least 2, got {v}"),
        }
    }
}

impl std::error::Error for ConfigError {}

impl VerdictConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let open_unit = |v: f64| v.is_finite() && v > 0.0 && v < 1.0;
        if !open_unit(self.tolerance) {
            return Err(ConfigError::Tolerance(self.tolerance));
        }
        if !open_unit(self.alpha) {
            return Err(ConfigError::Alpha(self.alpha));
        }
        if !(self.unclassified_budget.is_finite()
            && (0.0..=1.0).contains(&self.unclassified_budget))
        {
            return Err(ConfigError::UnclassifiedBudget(self.unclassified_budget));
        }
        if let Some(c) = self.concentration
            && !(c.is_finite() && c > 0.0)
        {
            return Err(ConfigError::Concentration(c));
        }
        if self.batch_size < 2 {
            return Err(ConfigError::BatchSize(self.batch_size));
        }
        Ok(())
    }
}

/// The spec's choice `c ≈ p q / δ²` (84 for 30/70 and δ = 5 pp), taken at the version
/// with the largest variance so that the prior spreads over about ±δ around every
/// weight. A 100 % split has no variance, so `δ(1 − δ)` is the floor.
pub fn default_concentration(expectation: &Expectation, tolerance: f64) -> f64 {
    let variance = expectation
        .versions()
        .iter()
        .map(|(_, w)| w * (1.0 - w))
        .fold(tolerance * (1.0 - tolerance), f64::max);
    variance / (tolerance * tolerance)
}

/// Verifies an observed traffic split against the expected one, epoch by epoch.
#[derive(Debug, Clone)]
pub struct SplitVerifier {
    config: VerdictConfig,
    epoch: Epoch,
    previous: Vec<EpochSummary>,
}

impl SplitVerifier {
    pub fn new(expectation: Expectation, config: VerdictConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let epoch = Epoch::new(0, expectation, &config);
        Ok(Self {
            config,
            epoch,
            previous: Vec::new(),
        })
    }

    /// Count one response and re-check the rules; returns the (possibly new) verdict.
    pub fn observe(&mut self, outcome: Outcome) -> &Verdict {
        self.epoch.observe(outcome);
        &self.epoch.verdict
    }

    pub fn verdict(&self) -> &Verdict {
        &self.epoch.verdict
    }

    /// End of the run (time or response limit): an undecided check becomes
    /// INCONCLUSIVE, with what was still missing as the reason.
    pub fn finish(&mut self) -> &Verdict {
        self.epoch.finish("limit reached before a decision");
        &self.epoch.verdict
    }

    /// New expected weights (a canary step): the current epoch is closed, an undecided
    /// one as INCONCLUSIVE, and kept in the summary; statistics start from zero.
    pub fn restart(&mut self, expectation: Expectation) {
        self.epoch
            .finish("expected weights changed before a decision");
        let index = self.epoch.index + 1;
        let next = Epoch::new(index, expectation, &self.config);
        let closed = std::mem::replace(&mut self.epoch, next);
        self.previous.push(closed.summary());
    }

    pub fn config(&self) -> &VerdictConfig {
        &self.config
    }

    pub fn expectation(&self) -> &Expectation {
        &self.epoch.expectation
    }

    /// Index of the current epoch (0 before any restart).
    pub fn epoch(&self) -> usize {
        self.epoch.index
    }

    /// Classified responses in the current epoch.
    pub fn classified(&self) -> u64 {
        self.epoch.classified
    }

    /// All responses in the current epoch.
    pub fn responses(&self) -> u64 {
        self.epoch.responses()
    }

    /// Earlier epochs with their final verdicts, oldest first.
    pub fn previous_epochs(&self) -> &[EpochSummary] {
        &self.previous
    }

    /// The full report (computes interval ends by bisection: call it for display, not
    /// after every response in a hot loop).
    pub fn summary(&self) -> Summary {
        Summary {
            current: self.epoch.summary(),
            previous_epochs: self.previous.clone(),
        }
    }
}
