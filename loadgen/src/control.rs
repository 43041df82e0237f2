//! Steering a run from outside: new expected weights (a routing epoch) or an early stop.
//!
//! The run owns the verdict engine; callers only hold a [`RunControl`], which is cheap to
//! clone and safe to use from any task. Commands are applied between two responses, so
//! every response belongs to exactly one epoch.

use std::time::Duration;

use tokio::sync::mpsc;

use crate::expect::ExpectedSplit;

#[derive(Debug, Clone)]
pub enum Command {
    /// Close the current epoch and verify `expected` from now on. Responses to requests
    /// sent within `settle` after the restart are discarded: the new routing needs time
    /// to reach every proxy.
    Restart {
        expected: ExpectedSplit,
        settle: Duration,
    },
    /// End the run now (as Ctrl-C does): outstanding requests are abandoned and the
    /// summary is produced.
    Stop,
}

/// The caller's end; see [`control`].
#[derive(Debug, Clone)]
pub struct RunControl {
    tx: mpsc::UnboundedSender<Command>,
}

/// The receiving end, for the run loop (`run_controlled`).
#[derive(Debug)]
pub struct ControlReceiver {
    rx: mpsc::UnboundedReceiver<Command>,
}

/// A connected pair of control ends.
pub fn control() -> (RunControl, ControlReceiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    (RunControl { tx }, ControlReceiver { rx })
}

impl RunControl {
    /// Start a new epoch with new expected weights. `false` if the run has ended.
    pub fn restart(&self, expected: ExpectedSplit, settle: Duration) -> bool {
        self.tx.send(Command::Restart { expected, settle }).is_ok()
    }

    /// Stop the run early. `false` if the run has ended.
    pub fn stop(&self) -> bool {
        self.tx.send(Command::Stop).is_ok()
    }
}

impl ControlReceiver {
    /// The next command; `None` once every [`RunControl`] is dropped.
    pub async fn recv(&mut self) -> Option<Command> {
        self.rx.recv().await
    }
}
