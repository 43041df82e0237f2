//! A wake-up at an exact instant for the open loop's send times.
//!
//! Tokio's timer counts whole milliseconds and rounds a deadline up to the next one, so a
//! request sent on it leaves 0–1 ms late (more when the runtime parks in `epoll_wait`,
//! whose timeout is in milliseconds too). A thread waiting on a condition variable with
//! a timeout wakes within tens of microseconds of the deadline and then notifies the run
//! loop. One thread per run; it sleeps while no deadline is armed.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;

use tokio::sync::Notify;
use tokio::time::Instant;

#[derive(Default)]
struct State {
    deadline: Option<std::time::Instant>,
    quit: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    fired: Notify,
}

pub(crate) struct PreciseTimer {
    shared: Arc<Shared>,
    /// The deadline last armed, so an unchanged one costs no lock.
    armed: Option<Instant>,
    thread: Option<JoinHandle<()>>,
}

impl PreciseTimer {
    pub(crate) fn new() -> std::io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let inner = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("loadgen-timer".into())
            .spawn(move || wait_loop(&inner))?;
        Ok(Self {
            shared,
            armed: None,
            thread: Some(thread),
        })
    }

    /// Fire at `deadline` (replacing any earlier one); `None` disarms.
    pub(crate) fn arm(&mut self, deadline: Option<Instant>) {
        if self.armed == deadline {
            return;
        }
        self.armed = deadline;
        let mut state = self
            .shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        state.deadline = deadline.map(Instant::into_std);
        drop(state);
        self.shared.changed.notify_one();
    }

    /// Completes when an armed deadline has passed (possibly spuriously: the caller
    /// checks the time itself).
    pub(crate) async fn fired(&self) {
        self.shared.fired.notified().await;
    }
}

fn wait_loop(shared: &Shared) {
    let mut state = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
    while !state.quit {
        state = match state.deadline {
            None => shared
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner),
            Some(deadline) => {
                let now = std::time::Instant::now();
                if now >= deadline {
                    state.deadline = None;
                    shared.fired.notify_one();
                    state
                } else {
                    shared
                        .changed
                        .wait_timeout(state, deadline - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            }
        };
    }
}

impl Drop for PreciseTimer {
    fn drop(&mut self) {
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .quit = true;
        self.shared.changed.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn fires_at_the_deadline_and_can_be_moved() {
        let mut timer = PreciseTimer::new().unwrap();
        let start = Instant::now();
        // Moved earlier before it fires: the later deadline is forgotten.
        timer.arm(Some(start + Duration::from_secs(60)));
        timer.arm(Some(start + Duration::from_millis(20)));
        tokio::time::timeout(Duration::from_secs(5), timer.fired())
            .await
            .unwrap();
        assert!(start.elapsed() >= Duration::from_millis(20));
        timer.arm(None);
        let quiet = tokio::time::timeout(Duration::from_millis(50), timer.fired()).await;
        assert!(quiet.is_err(), "disarmed");
    }
}
