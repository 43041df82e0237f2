//! Traffic generation and split verification for Bookinfo.
//!
//! The statistical core lives here: [`stats`] holds the formulas, [`verdict`] turns a
//! stream of classified responses into PASS / FAIL / INCONCLUSIVE, and [`summary`] is
//! the JSON report. The method is the one in the project's split-verification spec.

pub mod classify;
pub mod cli;
pub mod client;
pub mod control;
mod epoch;
pub mod expect;
pub mod expectation;
pub mod follow;
pub mod latency;
pub mod report;
pub mod run;
pub mod schedule;
pub mod stats;
pub mod summary;
pub mod tally;
pub mod verdict;

pub use expectation::{Expectation, ExpectationError};
pub use summary::{EpochSummary, Summary, VersionSummary};
pub use verdict::{ConfigError, Outcome, SplitVerifier, Verdict, VerdictConfig};
// The runtime (scheduler, HTTP client, classification, reports) around the engine.
pub use classify::{Classification, ResponseClass, classify};
pub use control::{ControlReceiver, RunControl, control};
pub use expect::{ExpectError, ExpectedSplit, expect_from_file, parse_expect};
pub use report::progress::Display;
pub use run::{EndReason, OutputPaths, RunConfig, RunResult, SetupError, run, run_controlled};
pub use schedule::{Limits, Load};
