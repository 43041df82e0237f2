//! Traffic generation and split verification for Bookinfo.
//!
//! The statistical core lives here: [`stats`] holds the formulas, [`verdict`] turns a
//! stream of classified responses into PASS / FAIL / INCONCLUSIVE, and [`summary`] is
//! the JSON report. The method is the one in the project's split-verification spec.

mod epoch;
pub mod expectation;
pub mod stats;
pub mod summary;
pub mod verdict;

pub use expectation::{Expectation, ExpectationError};
pub use summary::{EpochSummary, Summary, VersionSummary};
pub use verdict::{ConfigError, Outcome, SplitVerifier, Verdict, VerdictConfig};
