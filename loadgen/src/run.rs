//! The run loop: log in, check the target once, print the plan, then send on schedule,
//! classify, feed the verdict engine and report until a verdict, a limit or a stop.
//!
//! It lives in the library so that other front ends (a `bookinfo demo` command) can run
//! it in-process and steer it with a [`RunControl`](crate::control::RunControl).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

use crate::classify::ResponseClass;
use crate::client::Target;
use crate::config::{EndReason, RunConfig, SetupError};
use crate::control::{Command, ControlReceiver, control};
use crate::expect::ExpectedSplit;
use crate::format::format_duration;
use crate::order::InOrder;
use crate::report::json::RunReport;
use crate::report::ndjson::NdjsonWriter;
use crate::report::progress::{Console, Snapshot};
use crate::report::{self, OutputFiles};
use crate::sample::{Completed, send};
use crate::schedule::{Load, PreciseTimer, Scheduler};
use crate::tally::{EpochMark, Tally};
use bookinfo_api::exit;
use bookinfo_verdict::{Outcome, SplitVerifier, Verdict};

/// The exit code of a verification (the table of `bookinfo_api::exit`):
/// PASS or a measurement without expectation 0, FAIL 1, anything undecided 2.
pub(crate) fn exit_code(verdict: Option<&Verdict>) -> u8 {
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
    mut control: ControlReceiver,
) -> Result<RunResult, SetupError> {
    config.validate()?;
    let files = OutputFiles::open(&config.outputs)?;
    let mut target = Target::new(config.url.clone(), config.timeout, config.new_connection)?;
    let mut console = Console::new(config.display);
    // A stop during the login or the first request ends the wait at once;
    // a new epoch announced meanwhile is applied once the run starts.
    let mut pending_restart = None;
    if let Some(user) = &config.user {
        unless_stopped(&mut control, &mut pending_restart, target.login(user)).await?;
    }
    let first = preflight(&target, config.timeout, config.any_target);
    for warning in unless_stopped(&mut control, &mut pending_restart, first).await? {
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
        order: InOrder::default(),
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
    if let Some((expected, settle)) = pending_restart {
        runner.restart(expected, settle);
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

/// Awaits `work` unless a stop arrives first (then the run is interrupted
/// before it started); a restart meanwhile is kept in `restart`.
async fn unless_stopped<T>(
    control: &mut ControlReceiver,
    restart: &mut Option<(ExpectedSplit, Duration)>,
    work: impl Future<Output = Result<T, SetupError>>,
) -> Result<T, SetupError> {
    let mut work = std::pin::pin!(work);
    loop {
        tokio::select! {
            result = &mut work => return result,
            command = control.recv() => match command {
                Some(Command::Stop) => return Err(SetupError::Interrupted),
                Some(Command::Restart { expected, settle }) => *restart = Some((expected, settle)),
                // Nobody can stop the run any more: just wait.
                None => return work.await,
            },
        }
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
    /// Answers on their way to the verifier, in schedule order.
    order: InOrder<Outcome>,
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
                let released = self.order.done(slot.index, None);
                self.observe(released);
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
            let released = self.order.done(c.index, None);
            self.observe(released);
            return;
        }
        self.tally.record(c);
        let outcome = c.fetched.classification.class.to_outcome();
        let released = self.order.done(c.index, Some(outcome));
        self.observe(released);
    }

    /// Feeds answers, in schedule order, to the verdict engine.
    fn observe(&mut self, outcomes: Vec<Outcome>) {
        let Some(v) = &mut self.verifier else {
            return;
        };
        for outcome in outcomes {
            let before = v.verdict().is_decided();
            let verdict = v.observe(outcome).clone();
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
        self.order.forget();
        let at = self.tally.seconds_since_start(now);
        self.console.info(&format!(
            "new expected split at {}: {}",
            crate::format::format_seconds(at),
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
