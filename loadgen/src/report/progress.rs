//! The live progress line on stderr.
//!
//! On a terminal it is one line rewritten in place (carriage return + erase to end of
//! line) five times a second; anywhere else (CI logs, files) it is a plain line every
//! ten seconds, because carriage returns turn a log into one unreadable line.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use tokio::time::Instant;

use crate::config::Display;
use crate::format::format_duration;
use crate::tally::Tally;
use bookinfo_verdict::Verdict;

const PLAIN_EVERY: Duration = Duration::from_secs(10);
/// The measured rate is averaged over this window.
const RATE_WINDOW: Duration = Duration::from_secs(5);

/// What one progress line shows.
pub(crate) struct Snapshot<'a> {
    pub elapsed: Duration,
    pub scheduled: u64,
    pub in_flight: usize,
    pub tally: &'a Tally,
    /// The current verdict and the classified responses it is based on.
    pub verdict: Option<(&'a Verdict, u64)>,
    pub target_rate: Option<f64>,
}

#[derive(Debug)]
pub(crate) struct Console {
    live: bool,
    quiet: bool,
    line_open: bool,
    last_plain: Option<Instant>,
    samples: VecDeque<(Instant, u64)>,
}

impl Console {
    pub(crate) fn new(display: Display) -> Self {
        let live = display == Display::Auto && std::io::stderr().is_terminal();
        Self {
            live,
            quiet: display == Display::Quiet,
            line_open: false,
            last_plain: None,
            samples: VecDeque::new(),
        }
    }

    /// A message that always shows (warnings).
    pub(crate) fn warn(&mut self, message: &str) {
        self.clear_line();
        eprintln!("{message}");
    }

    /// Informational lines (the plan, decisions); suppressed by `Quiet`.
    pub(crate) fn info(&mut self, message: &str) {
        if !self.quiet {
            self.clear_line();
            eprintln!("{message}");
        }
    }

    pub(crate) fn progress(&mut self, s: &Snapshot<'_>) {
        if self.quiet {
            return;
        }
        let now = Instant::now();
        let rate = self.measured_rate(now, s.tally.completed + s.tally.discarded);
        if self.live {
            let line = progress_line(s, rate);
            let mut err = std::io::stderr().lock();
            // Progress is best effort: a closed stderr must not end the run.
            let _ = write!(err, "\r{line}\x1b[K");
            let _ = err.flush();
            self.line_open = true;
        } else if self
            .last_plain
            .is_none_or(|t| now.duration_since(t) >= PLAIN_EVERY)
        {
            // The first tick at the very start says nothing yet; wait for one period.
            if self.last_plain.is_some() {
                eprintln!("{}", progress_line(s, rate));
            }
            self.last_plain = Some(now);
        }
    }

    /// End the live line so that the summary starts on a fresh line.
    pub(crate) fn end_progress(&mut self) {
        self.clear_line();
    }

    fn clear_line(&mut self) {
        if self.line_open {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[K");
            let _ = err.flush();
            self.line_open = false;
        }
    }

    fn measured_rate(&mut self, now: Instant, done: u64) -> Option<f64> {
        self.samples.push_back((now, done));
        while self
            .samples
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > RATE_WINDOW)
        {
            self.samples.pop_front();
        }
        let (t0, n0) = *self.samples.front()?;
        let dt = now.duration_since(t0).as_secs_f64();
        (dt >= 0.5).then(|| done.saturating_sub(n0) as f64 / dt)
    }
}

/// `12.3s | sent 24 | v1 7 (29%) v2 17 (71%) | failed 1 | overflow 0, in flight 1 | 2.0/s (target 2.0/s) | RUNNING n=24`
pub(crate) fn progress_line(s: &Snapshot<'_>, rate: Option<f64>) -> String {
    let t = s.tally;
    let versions = t.versions();
    let versioned: u64 = versions.iter().map(|v| t.count(v)).sum();
    let mut line = format!(
        "{:>7} | sent {} |",
        format_duration(s.elapsed),
        s.scheduled - t.overflow.min(s.scheduled)
    );
    if versions.is_empty() {
        line.push_str(" no version yet");
    }
    for v in &versions {
        let n = t.count(v);
        let share = if versioned > 0 {
            100.0 * n as f64 / versioned as f64
        } else {
            0.0
        };
        let _ = write!(line, " {v} {n} ({share:.1}%)");
    }
    let others: Vec<String> = t
        .outcomes
        .iter()
        .filter(|(k, o)| !crate::tally::is_version(k) && o.count > 0)
        .map(|(k, o)| format!("{k} {}", o.count))
        .collect();
    if !others.is_empty() {
        let _ = write!(line, " | {}", others.join(", "));
    }
    let _ = write!(line, " | in flight {}", s.in_flight);
    if t.overflow > 0 {
        let _ = write!(line, ", overflow {}", t.overflow);
    }
    if t.discarded > 0 {
        let _ = write!(line, ", settling {}", t.discarded);
    }
    match (rate, s.target_rate) {
        (Some(r), Some(target)) => {
            let _ = write!(line, " | {r:.1}/s (target {target:.1}/s)");
        }
        (Some(r), None) => {
            let _ = write!(line, " | {r:.1}/s");
        }
        (None, Some(target)) => {
            let _ = write!(line, " | target {target:.1}/s");
        }
        (None, None) => {}
    }
    if let Some((verdict, n)) = s.verdict {
        let _ = write!(line, " | {} n={n}", verdict.label());
    }
    line
}
