//! Traffic at Bookinfo and verification of the split it sees, around the
//! engine of `bookinfo-verdict`.
//!
//! Layers, bottom up (a module uses only those below it): `format` (how
//! durations, shares and errors print); `classify` (which version a page
//! is), `latency`, `schedule` (when requests are due) and `expect` (the
//! expected split from the command line or a routing file); `config` (the
//! run's settings and set-up errors, validated once); `client` (the HTTP
//! GET and the login); `sample` (one request sent and timed); `tally` (the
//! counts); `report` (plan, progress, text, JSON, NDJSON, HTML); `control`
//! and `follow` (steering a run, following routing epochs); `order` (answers
//! to the verdict engine in schedule order); `run` (the event loop); `cli` (arguments to a configuration). Modules are private; the
//! root exports what `loadgen`'s main, `bookinfo demo` and the tests use.

mod classify;
pub mod cli;
mod client;
mod config;
mod control;
mod expect;
pub mod follow;
mod format;
mod latency;
mod order;
mod report;
mod run;
mod sample;
mod schedule;
mod tally;

pub use classify::{Classification, ResponseClass, classify};
pub use config::{Display, EndReason, OutputPaths, RunConfig, SetupError};
pub use control::{ControlReceiver, RunControl, control};
pub use expect::{ExpectError, ExpectedSplit, expect_from_file, parse_expect};
pub use report::RunReport;
pub use report::text::summary;
pub use run::{RunResult, run, run_controlled};
pub use schedule::{Limits, Load};
