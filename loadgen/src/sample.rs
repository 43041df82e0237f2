//! One request sent and timed: the record every later layer (tally, reports,
//! the run loop) is built from. It sits above the client and the scheduler
//! because it joins the two.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::client::{Fetched, Target};
use crate::schedule::Slot;

/// A finished request with its timing.
#[derive(Debug, Clone)]
pub(crate) struct Completed {
    pub index: u64,
    pub intended: Instant,
    pub sent: Instant,
    pub done: Instant,
    pub fetched: Fetched,
}

impl Completed {
    /// From the intended send time: the latency a user arriving on schedule saw.
    pub(crate) fn latency(&self) -> Duration {
        self.done.saturating_duration_since(self.intended)
    }

    /// From the actual send: the service time alone.
    pub(crate) fn service_time(&self) -> Duration {
        self.done.saturating_duration_since(self.sent)
    }

    /// How late the request left (actual − intended).
    pub(crate) fn lateness(&self) -> Duration {
        self.sent.saturating_duration_since(self.intended)
    }
}

/// Send one request for `slot` and time it.
pub(crate) async fn send(target: Arc<Target>, slot: Slot) -> Completed {
    let sent = Instant::now();
    let fetched = target.fetch().await;
    Completed {
        index: slot.index,
        intended: slot.intended,
        sent,
        done: Instant::now(),
        fetched,
    }
}
