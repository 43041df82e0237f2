//! The vocabulary of a run, below every module that uses it: what to run
//! ([`RunConfig`], validated in one place), where to write ([`OutputPaths`]),
//! how to show progress ([`Display`]), why a run could not start
//! ([`SetupError`]) and why it ended ([`EndReason`]).

use std::path::PathBuf;
use std::time::Duration;

use reqwest::Url;
use serde::Serialize;

use crate::expect::ExpectedSplit;
use crate::schedule::{Limits, Load};
use bookinfo_verdict::{ConfigError, VerdictConfig};

/// Everything a run needs. [`RunConfig::new`] gives the CLI defaults.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The product page, e.g. `http://localhost:9080/productpage`.
    pub url: Url,
    pub load: Load,
    pub limits: Limits,
    /// Open loop: outstanding requests beyond this are not sent but counted as overflow.
    pub max_in_flight: usize,
    /// Per request, for the whole exchange.
    pub timeout: Duration,
    /// One connection per request (no keep-alive).
    pub new_connection: bool,
    /// Skip the preflight's Bookinfo check (benchmarks against any HTTP server). Only
    /// without `expected`: a verdict on a target that is not Bookinfo means nothing.
    pub any_target: bool,
    /// Log in as this user first and send its session cookie with every request.
    pub user: Option<String>,
    /// Verify this split; `None` only measures.
    pub expected: Option<ExpectedSplit>,
    pub verdict: VerdictConfig,
    /// Power used by the planner printed before the run.
    pub power: f64,
    /// Responses to requests sent in this window after the start are discarded.
    pub settle: Duration,
    /// Stop at the first PASS or FAIL.
    pub stop_on_decision: bool,
    pub outputs: OutputPaths,
    pub display: Display,
}

/// Files to write; each is optional.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutputPaths {
    pub json: Option<PathBuf>,
    pub ndjson: Option<PathBuf>,
    pub html: Option<PathBuf>,
}

impl RunConfig {
    /// One request every 0.5 s, no limit, 10 s timeout, keep-alive, stop on a decision.
    pub fn new(url: Url) -> Self {
        Self {
            url,
            load: Load::Open {
                interval: Duration::from_millis(500),
            },
            limits: Limits::default(),
            max_in_flight: 256,
            timeout: Duration::from_secs(10),
            new_connection: false,
            any_target: false,
            user: None,
            expected: None,
            verdict: VerdictConfig::default(),
            power: 0.99,
            settle: Duration::ZERO,
            stop_on_decision: true,
            outputs: OutputPaths::default(),
            display: Display::Auto,
        }
    }

    pub fn validate(&self) -> Result<(), SetupError> {
        let bad = |m: &str| Err(SetupError::Config(m.to_owned()));
        if self.url.scheme() != "http" {
            return bad("only http:// URLs are supported (TLS is not built in)");
        }
        match self.load {
            Load::Open { interval } if interval.is_zero() => {
                return bad("the interval between requests must be above 0");
            }
            Load::Closed { concurrency: 0 } => return bad("--concurrency must be at least 1"),
            _ => {}
        }
        if self.max_in_flight == 0 {
            return bad("--max-in-flight must be at least 1");
        }
        if self.timeout.is_zero() {
            return bad("--timeout must be above 0");
        }
        if self.limits.requests == Some(0) {
            return bad("--requests must be at least 1");
        }
        if self.limits.duration.is_some_and(|d| d.is_zero()) {
            return bad("--duration must be above 0");
        }
        if !(self.power.is_finite() && self.power > 0.0 && self.power < 1.0) {
            return bad("--power must be between 0 and 1 (exclusive)");
        }
        if self.any_target && self.expected.is_some() {
            return bad("--any-target skips the Bookinfo check and cannot be used with --expect");
        }
        self.verdict.validate()?;
        Ok(())
    }
}

/// Why a run could not start. All map to exit code 3.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SetupError {
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Verdict(#[from] ConfigError),
    #[error("cannot create the HTTP client: {0}")]
    Client(String),
    #[error("{0}")]
    Unreachable(String),
    #[error("{0}")]
    NotBookinfo(String),
    #[error("{0}")]
    Login(String),
    #[error("cannot write {path}: {message}")]
    Output { path: String, message: String },
    #[error("interrupted before the first response")]
    Interrupted,
}

/// Why the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// PASS or FAIL was reached (and the run stops on a decision).
    Decided,
    /// The duration or request limit was reached.
    Limit,
    /// Stopped from outside (Ctrl-C, or the run control's `stop`).
    Stopped,
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Display {
    /// Live line on a terminal, plain lines otherwise.
    #[default]
    Auto,
    /// Plain periodic lines.
    Plain,
    /// Nothing but warnings (and decisions go unannounced).
    Quiet,
}
