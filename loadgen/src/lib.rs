//! Traffic generation and split verification for Bookinfo.
//!
//! The statistical core lives here: [`stats`] holds the formulas, [`verdict`] turns a
//! stream of classified responses into PASS / FAIL / INCONCLUSIVE, and [`summary`] is
//! the JSON report. The method is the one in the project's split-verification spec.

pub mod classify;
pub mod cli;
pub mod client;
pub mod control;
pub mod expect;
pub mod follow;
pub mod latency;
pub mod report;
pub mod run;
pub mod schedule;
pub mod tally;

// The runtime (scheduler, HTTP client, classification, reports) around the engine.
pub use classify::{Classification, ResponseClass, classify};
pub use control::{ControlReceiver, RunControl, control};
pub use expect::{ExpectError, ExpectedSplit, expect_from_file, parse_expect};
pub use report::progress::Display;
pub use run::{EndReason, OutputPaths, RunConfig, RunResult, SetupError, run, run_controlled};
pub use schedule::{Limits, Load};
