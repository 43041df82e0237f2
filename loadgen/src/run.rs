//! The run loop: log in, check the target once, print the plan, then send on schedule,
//! classify, feed the verdict engine and report until a verdict, a limit or a stop.
//!
//! It lives in the library so that other front ends (a `bookinfo demo` command) can run
//! it in-process and steer it with a [`RunControl`](crate::control::RunControl).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use serde::Serialize;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

use crate::classify::ResponseClass;
use crate::client::Target;
use crate::control::{Command, ControlReceiver, control};
use crate::expect::ExpectedSplit;
use crate::report::json::RunReport;
use crate::report::ndjson::NdjsonWriter;
use crate::report::progress::{Console, Display, Snapshot};
use crate::report::{self, OutputFiles, format_duration};
use crate::schedule::{Completed, Limits, Load, PreciseTimer, Scheduler, send};
use crate::tally::{EpochMark, Tally};
use bookinfo_api::exit;
use bookinfo_verdict::{ConfigError, SplitVerifier, Verdict, VerdictConfig};

/// The exit code of a verification (the table of `bookinfo_api::exit`):
/// PASS or a measurement without expectation 0, FAIL 1, anything undecided 2.
pub fn exit_code(verdict: Option<&Verdict>) -> u8 {
    match verdict {
        None | Some(Verdict::Pass) => exit::SUCCESS,
        Some(Verdict::Fail(_)) => exit::FAILURE,
        Some(Verdict::Inconclusive(_) | Verdict::Running) => exit::INCONCLUSIVE,
    }
}

/// How long after a send time tokio's timer dispatches if the precise timer's wake-up
/// was lost (it should never be needed).
const TIMER_BACKSTOP: Duration = Duration::from_millis(2);

/// Dispatch at most this many overdue slots before looking at responses again, so a
/// stalled timer at a very high rate cannot starve the rest of the loop.
const MAX_BURST: usize = 1024;

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
}

/// Why the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// PASS or FAIL was reached (and the run stops on a decision).
    Decided,
    /// The duration or request limit was reached.
    Limit,
    /// Stopped from outside (Ctrl-C or [`RunControl::stop`](crate::control::RunControl::stop)).
    Stopped,
}

/// What a finished run hands back.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// `None` when no split was expected (measurement only).
    pub verdict: Option<Verdict>,
    pub end: EndReason,
    /// 0 PASS (or a completed measurement), 1 FAIL, 2 INCONCLUSIVE.
    pub exit_code: i32,
    /// The JSON summary, also written to `--json`.
    pub report: RunReport,
}

/// Run with no outside control (Ctrl-C handling is the caller's business; see
/// [`run_controlled`]).
pub async fn run(config: RunConfig) -> Result<RunResult, SetupError> {
    let (_keep_open, receiver) = control();
    run_controlled(config, receiver).await
}

/// Run, obeying the commands sent through the [`RunControl`](crate::control::RunControl)
/// paired with `control`.
pub async fn run_controlled(
    config: RunConfig,
    control: ControlReceiver,
) -> Result<RunResult, SetupError> {
    config.validate()?;
    let files = OutputFiles::open(&config.outputs)?;
    let mut target = Target::new(config.url.clone(), config.timeout, config.new_connection)?;
    let mut console = Console::new(config.display);
    if let Some(user) = &config.user {
        target.login(user).await?;
    }
    for warning in preflight(&target, config.timeout, config.any_target).await? {
        console.warn(&warning);
    }
    let verifier = match &config.expected {
        Some(e) => Some(SplitVerifier::new(
            e.expectation.clone(),
            config.verdict.clone(),
        )?),
        None => None,
    };
    let plan = config.expected.as_ref().map(|e| {
        let (plan, lines) = report::plan::plan(e, &config);
        for line in lines {
            console.info(&line);
        }
        plan
    });
    let ndjson = files
        .ndjson
        .map(|(path, file)| NdjsonWriter::new(path, file));
    let start = Instant::now();
    let mut runner = Runner {
        scheduler: Scheduler::new(config.load, config.limits, start),
        tally: Tally::new(start),
        discard_before: later(start, config.settle),
        in_flight: JoinSet::new(),
        target: Arc::new(target),
        verifier,
        ndjson,
        console,
        config: &config,
        start,
    };
    if let Some(e) = &config.expected {
        runner.tally.epochs.push(EpochMark {
            at_seconds: 0.0,
            expectation: e.source.clone(),
        });
    }
    let end = runner.drive(control).await;
    let result = runner.finish(end, plan);
    for warning in report::write_files(files.json, files.html, &result.report) {
        runner.console.warn(&warning);
    }
    Ok(result)
}

/// One GET before the run: a clear error for a target that is unreachable or is not
/// Bookinfo, instead of a run full of failures. Returns warnings. With `any_target`
/// only reachability and a non-4xx answer are checked.
async fn preflight(
    target: &Target,
    timeout: Duration,
    any_target: bool,
) -> Result<Vec<String>, SetupError> {
    let url = target.url();
    let fetched = target.fetch().await;
    let class = &fetched.classification;
    match &class.class {
        ResponseClass::ConnectError => Err(SetupError::Unreachable(format!(
            "cannot reach {url}: {}",
            fetched.error.as_deref().unwrap_or("connection failed")
        ))),
        ResponseClass::TimedOut => Err(SetupError::Unreachable(format!(
            "no answer from {url} within {} (raise --timeout if the page is this slow)",
            format_duration(timeout)
        ))),
        ResponseClass::Failed(status) if *status < 500 && any_target => Err(
            SetupError::NotBookinfo(format!("{url} answered HTTP {status}")),
        ),
        ResponseClass::Failed(status) if *status < 500 => Err(SetupError::NotBookinfo(format!(
            "{url} answered HTTP {status}: not a Bookinfo product page (expected e.g. http://HOST:9080/productpage)"
        ))),
        ResponseClass::Failed(status) => Ok(vec![format!(
            "warning: the first request to {url} answered HTTP {status}; running anyway (errors are counted)"
        )]),
        ResponseClass::Unclassifiable if !class.product_page && !any_target => {
            Err(SetupError::NotBookinfo(format!(
                "{url} is not a Bookinfo product page (no {} header, no \"Book Reviews\", no \"Reviews served by:\"); point loadgen at /productpage",
                bookinfo_api::contract::REVIEWS_VERSION_HEADER
            )))
        }
        _ => Ok(Vec::new()),
    }
}

/// `at + d`, saturating at a far-future instant: a silly `--settle 100000000h` must not
/// overflow `Instant` (which panics).
fn later(at: Instant, d: Duration) -> Instant {
    at.checked_add(d)
        .or_else(|| at.checked_add(Duration::from_secs(100 * 365 * 86_400)))
        .unwrap_or(at)
}

struct Runner<'a> {
    config: &'a RunConfig,
    start: Instant,
    scheduler: Scheduler,
    tally: Tally,
    /// Responses to requests sent before this instant are discarded (settle window).
    discard_before: Instant,
    in_flight: JoinSet<Completed>,
    target: Arc<Target>,
    verifier: Option<SplitVerifier>,
    ndjson: Option<NdjsonWriter>,
    console: Console,
}

impl Runner<'_> {
    async fn drive(&mut self, mut control: ControlReceiver) -> EndReason {
        let mut ticker = tokio::time::interval(Duration::from_millis(200));
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut control_open = true;
        // The open loop's send times come from a precise timer; tokio's (1 ms ticks)
        // stays as a backstop. A closed loop's slots are always due at once.
        let mut timer = match self.config.load {
            Load::Open { .. } => PreciseTimer::new().ok(),
            Load::Closed { .. } => None,
        };
        let backstop = if timer.is_some() {
            TIMER_BACKSTOP
        } else {
            Duration::ZERO
        };
        loop {
            let now = Instant::now();
            let due = self.scheduler.next_due(self.in_flight.len(), now);
            if due.is_none() && self.in_flight.is_empty() {
                return EndReason::Limit;
            }
            if let Some(timer) = &mut timer {
                timer.arm(due);
            }
            let precise = async {
                match &timer {
                    Some(timer) => timer.fired().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                command = control.recv(), if control_open => match command {
                    None => control_open = false,
                    Some(Command::Stop) => return EndReason::Stopped,
                    Some(Command::Restart { expected, settle }) => self.restart(expected, settle),
                },
                joined = self.in_flight.join_next(), if !self.in_flight.is_empty() => {
                    match joined {
                        Some(Ok(completed)) => self.on_completed(&completed),
                        // A request task cannot panic by design; count it as abandoned.
                        Some(Err(_)) => self.tally.cancelled += 1,
                        None => {}
                    }
                    if self.config.stop_on_decision && self.decided() {
                        return EndReason::Decided;
                    }
                    // A closed loop replaces the finished request at once.
                    self.dispatch();
                }
                () = precise, if due.is_some() => self.dispatch(),
                () = tokio::time::sleep_until(later(due.unwrap_or(now), backstop)), if due.is_some() => {
                    self.dispatch();
                }
                _ = ticker.tick() => self.progress(),
            }
        }
    }

    fn decided(&self) -> bool {
        self.verifier
            .as_ref()
            .is_some_and(|v| v.verdict().is_decided())
    }

    /// Send (or overflow) every slot that is due now.
    fn dispatch(&mut self) {
        let now = Instant::now();
        for _ in 0..MAX_BURST {
            let Some(due) = self.scheduler.next_due(self.in_flight.len(), now) else {
                break;
            };
            if due > now {
                break;
            }
            let slot = self.scheduler.take(due, now);
            if self.in_flight.len() >= self.config.max_in_flight {
                self.tally.overflow += 1;
                let offset = self.tally.seconds_since_start(slot.intended);
                if let Some(w) = &mut self.ndjson {
                    w.overflow(slot.index, offset);
                }
                continue;
            }
            self.in_flight.spawn(send(Arc::clone(&self.target), slot));
        }
    }

    fn on_completed(&mut self, c: &Completed) {
        let discarded = c.sent < self.discard_before;
        let epoch = self.verifier.as_ref().map(SplitVerifier::epoch);
        if let Some(w) = &mut self.ndjson {
            w.completed(c, &self.tally, discarded, epoch);
        }
        if discarded {
            self.tally.discarded += 1;
            return;
        }
        self.tally.record(c);
        if let Some(v) = &mut self.verifier {
            let before = v.verdict().is_decided();
            let verdict = v
                .observe(c.fetched.classification.class.to_outcome())
                .clone();
            if !before && verdict.is_decided() {
                let msg = format!(
                    "{verdict} after {} responses ({})",
                    v.responses(),
                    format_duration(self.start.elapsed())
                );
                self.console.info(&msg);
            }
        }
    }

    fn restart(&mut self, expected: ExpectedSplit, settle: Duration) {
        let now = Instant::now();
        self.discard_before = later(now, settle);
        let at = self.tally.seconds_since_start(now);
        self.console.info(&format!(
            "new expected split at {}: {}",
            format_duration(Duration::from_secs_f64(at)),
            expected.source
        ));
        self.tally.epochs.push(EpochMark {
            at_seconds: at,
            expectation: expected.source.clone(),
        });
        match &mut self.verifier {
            Some(v) => v.restart(expected.expectation),
            None => {
                // The configuration was validated at the start, so this cannot fail.
                self.verifier =
                    SplitVerifier::new(expected.expectation, self.config.verdict.clone()).ok();
            }
        }
    }

    fn progress(&mut self) {
        let snapshot = Snapshot {
            elapsed: self.start.elapsed(),
            scheduled: self.scheduler.scheduled(),
            in_flight: self.in_flight.len(),
            tally: &self.tally,
            verdict: self
                .verifier
                .as_ref()
                .map(|v| (v.verdict(), v.classified())),
            target_rate: self.config.load.rate(),
        };
        self.console.progress(&snapshot);
    }

    fn finish(&mut self, end: EndReason, plan: Option<bookinfo_verdict::stats::Plan>) -> RunResult {
        self.tally.cancelled += self.in_flight.len() as u64;
        self.in_flight.abort_all();
        self.console.end_progress();
        if let Some(w) = &mut self.ndjson
            && let Some(warning) = w.finish()
        {
            self.console.warn(&warning);
        }
        let verdict = self.verifier.as_mut().map(|v| {
            if !v.verdict().is_decided() {
                v.finish();
            }
            v.verdict().clone()
        });
        let exit_code = i32::from(exit_code(verdict.as_ref()));
        let report = RunReport::build(report::json::Inputs {
            config: self.config,
            tally: &self.tally,
            scheduled: self.scheduler.scheduled(),
            verifier: self.verifier.as_ref(),
            plan,
            end,
            exit_code,
            elapsed: self.start.elapsed(),
        });
        RunResult {
            verdict,
            end,
            exit_code,
            report,
        }
    }
}
