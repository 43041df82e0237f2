//! When requests are sent.
//!
//! Open loop (the default): request `i` has the intended send time `start + i·interval`,
//! whatever happened to earlier requests. The rate is the *total* rate of the run, not a
//! per-worker rate. If `max_in_flight` requests are outstanding when a slot comes up,
//! that request is not sent and is counted as overflow (k6's `dropped_iterations`):
//! delaying it instead would hide the slowdown from the latency figures (coordinated
//! omission). Latency is measured both from the intended time and from the actual send.
//!
//! Closed loop (`--concurrency N` without a rate): N requests are kept outstanding, each
//! sent as soon as the previous one finished. It measures throughput; its latencies
//! suffer from coordinated omission by construction, which the report says.

mod timer;

use std::time::Duration;

use tokio::time::Instant;

pub(crate) use timer::PreciseTimer;

/// How the load is generated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Load {
    /// One request every `interval` (total, across all connections).
    Open { interval: Duration },
    /// `concurrency` requests outstanding at all times.
    Closed { concurrency: usize },
}

impl Load {
    /// Requests per second for an open loop; `None` for a closed loop.
    pub fn rate(&self) -> Option<f64> {
        match self {
            Self::Open { interval } => {
                let s = interval.as_secs_f64();
                (s > 0.0).then(|| 1.0 / s)
            }
            Self::Closed { .. } => None,
        }
    }
}

/// When the run stops sending (either limit may be absent: then only a verdict or a
/// stop request ends the run).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Limits {
    pub duration: Option<Duration>,
    pub requests: Option<u64>,
}

/// One request slot.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    pub index: u64,
    pub intended: Instant,
}

/// The request sequence: which slot comes next, and when.
#[derive(Debug)]
pub(crate) struct Scheduler {
    load: Load,
    limits: Limits,
    start: Instant,
    next: u64,
}

impl Scheduler {
    pub(crate) fn new(load: Load, limits: Limits, start: Instant) -> Self {
        Self {
            load,
            limits,
            start,
            next: 0,
        }
    }

    /// Slots handed out so far (sent or overflowed).
    pub(crate) fn scheduled(&self) -> u64 {
        self.next
    }

    /// When the next slot is due, or `None` if no slot will come (limit reached, or a
    /// closed loop that is at its concurrency). A closed loop's due time is `start`,
    /// i.e. "now".
    pub(crate) fn next_due(&self, in_flight: usize, now: Instant) -> Option<Instant> {
        if self.limits.requests.is_some_and(|n| self.next >= n) {
            return None;
        }
        // An unrepresentable deadline is as good as none (no panic on overflow).
        let deadline = self.limits.duration.and_then(|d| self.start.checked_add(d));
        match self.load {
            Load::Open { interval } => {
                // Exact integer arithmetic: no drift however long the run is.
                let nanos = interval.as_nanos().saturating_mul(u128::from(self.next));
                let offset = Duration::from_nanos(u64::try_from(nanos).ok()?);
                let due = self.start.checked_add(offset)?;
                if deadline.is_some_and(|d| due >= d) {
                    return None;
                }
                Some(due)
            }
            Load::Closed { concurrency } => {
                if in_flight >= concurrency || deadline.is_some_and(|d| now >= d) {
                    return None;
                }
                Some(self.start)
            }
        }
    }

    /// Hand out the next slot; call only when [`Self::next_due`] said it is due.
    pub(crate) fn take(&mut self, due: Instant, now: Instant) -> Slot {
        let intended = match self.load {
            Load::Open { .. } => due,
            // A closed loop has no schedule: the intended time is the moment of sending.
            Load::Closed { .. } => now,
        };
        let slot = Slot {
            index: self.next,
            intended,
        };
        self.next += 1;
        slot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_loop_slots_follow_the_interval() {
        let start = Instant::now();
        let load = Load::Open {
            interval: Duration::from_millis(500),
        };
        let limits = Limits {
            duration: Some(Duration::from_secs(2)),
            requests: None,
        };
        let mut s = Scheduler::new(load, limits, start);
        let mut times = Vec::new();
        while let Some(due) = s.next_due(0, start) {
            times.push(due - start);
            s.take(due, start);
        }
        let ms: Vec<u128> = times.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, vec![0, 500, 1000, 1500]);
        assert_eq!(s.scheduled(), 4);
        assert_eq!(load.rate(), Some(2.0));
    }

    #[test]
    fn request_limit_and_stop() {
        let start = Instant::now();
        let load = Load::Open {
            interval: Duration::from_millis(1),
        };
        let limits = Limits {
            duration: None,
            requests: Some(3),
        };
        let mut s = Scheduler::new(load, limits, start);
        for _ in 0..3 {
            let due = s.next_due(100, start);
            assert!(
                due.is_some(),
                "open loop ignores in-flight: overflow is counted"
            );
            if let Some(due) = due {
                s.take(due, start);
            }
        }
        assert_eq!(s.next_due(0, start), None);
        let unlimited = Scheduler::new(load, Limits::default(), start);
        assert!(unlimited.next_due(0, start).is_some());
    }

    #[test]
    fn closed_loop_keeps_concurrency() {
        let start = Instant::now();
        let load = Load::Closed { concurrency: 2 };
        let limits = Limits {
            duration: Some(Duration::from_secs(1)),
            requests: None,
        };
        let s = Scheduler::new(load, limits, start);
        assert_eq!(s.next_due(1, start), Some(start));
        assert_eq!(s.next_due(2, start), None);
        assert_eq!(s.next_due(0, start + Duration::from_secs(1)), None);
        assert_eq!(load.rate(), None);
    }
}
