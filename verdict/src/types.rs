//! The engine's vocabulary, below everything that uses it: what a response
//! was ([`Outcome`]), the state of the check ([`Verdict`]), and how strict it
//! is ([`VerdictConfig`]).

use std::fmt;

use serde::Serialize;

use crate::expectation::Expectation;

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
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// δ must be in (0, 1).
    #[error("tolerance must be between 0 and 1 (exclusive), got {0}")]
    Tolerance(f64),
    /// α must be in (0, 1).
    #[error("alpha must be between 0 and 1 (exclusive), got {0}")]
    Alpha(f64),
    /// The unclassified budget must be in [0, 1].
    #[error("unclassified budget must be between 0 and 1, got {0}")]
    UnclassifiedBudget(f64),
    /// c must be a positive finite number.
    #[error("concentration must be positive, got {0}")]
    Concentration(f64),
    /// Batches need at least 2 responses.
    #[error("batch size must be at least 2, got {0}")]
    BatchSize(u64),
}

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

/// The method's choice `c ≈ p q / δ²` (84 for 30/70 and δ = 5 pp), taken at the version
/// with the largest variance so that the prior spreads over about ±δ around every
/// weight. A 100 % split has no variance, so `δ(1 − δ)` is the floor.
pub(crate) fn default_concentration(expectation: &Expectation, tolerance: f64) -> f64 {
    let variance = expectation
        .versions()
        .iter()
        .map(|(_, w)| w * (1.0 - w))
        .fold(tolerance * (1.0 - tolerance), f64::max);
    variance / (tolerance * tolerance)
}
