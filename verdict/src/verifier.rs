//! The verdict engine: feed it one classified response at a time and it answers
//! PASS / FAIL / INCONCLUSIVE with a controlled false-alarm rate (docs/split-verification.md).
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

use crate::epoch::Epoch;
use crate::expectation::Expectation;
use crate::summary::{EpochSummary, Summary};
use crate::types::{ConfigError, Outcome, Verdict, VerdictConfig};

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
