//! The split-verification engine, with no I/O: feed it one classified
//! response at a time and it answers PASS / FAIL / INCONCLUSIVE with a
//! controlled false-alarm rate, epoch by epoch (the method is written down
//! in `docs/split-verification.md`).
//!
//! Layers, bottom up; a module uses only those below it:
//! [`stats`] (the formulas) and [`expectation`] (the expected split) use
//! nothing of the crate; `types` (outcome, verdict, configuration) uses the
//! expectation; `summary` (the report of a run) uses both; `epoch` (the
//! rules applied to the responses of one routing epoch) uses all of them;
//! `verifier` ([`SplitVerifier`], epochs in sequence) is the top.
//! [`compare`] (is a canary worse than stable at errors or slow answers)
//! stands beside them and uses nothing of the crate; `window` (a verdict on
//! one window's counts) uses the statistics, the expectation and the types.

pub mod compare;
mod epoch;
mod expectation;
pub mod stats;
mod summary;
mod types;
mod verifier;
mod window;

pub use expectation::{Expectation, ExpectationError};
pub use summary::{EpochSummary, Summary, VersionSummary};
pub use types::{ConfigError, Outcome, Verdict, VerdictConfig};
pub use verifier::SplitVerifier;
pub use window::window_verdict;
