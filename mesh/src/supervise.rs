//! The service processes of `bookinfo up`, supervised as a kubelet does its
//! containers: one that exits is restarted on the same address, after a
//! back-off that doubles while it keeps failing, and its state is shown on
//! the admin endpoint. They die with the launcher (the child side asks the
//! kernel for a signal when its parent goes, see `bookinfo service`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bookinfo_api::contract::LISTENING;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The variable that tells a service it runs under `bookinfo up`, and which
/// process that is (so it can stop when that process is gone).
pub const SUPERVISOR_PID: &str = "BOOKINFO_SUPERVISOR_PID";
/// Longest a service may take from spawn to listening.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// The line a service prints once it listens; anything longer is not it.
const MAX_REPORT_LINE: usize = 256;
/// First wait before a restart, doubling while the process keeps failing.
const RESTART_BASE: Duration = Duration::from_secs(1);
/// The longest wait between restarts (kubelet's is 5 min; this is a laptop).
const RESTART_MAX: Duration = Duration::from_secs(30);
/// A process that ran this long counts as healthy again: the next failure
/// waits the base back-off.
const STABLE_AFTER: Duration = Duration::from_secs(30);
/// Time a service has to drain and stop after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// How to start one service process.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    pub(crate) name: String,
    pub(crate) program: PathBuf,
    pub(crate) args: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
}

impl Spec {
    fn spawn(&self, listen: SocketAddr) -> Result<Child, String> {
        Command::new(&self.program)
            .args(&self.args)
            .envs(self.env.iter().cloned())
            .env("LISTEN_ADDR", listen.to_string())
            .env(SUPERVISOR_PID, std::process::id().to_string())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.name))
    }
}

/// What the admin endpoint shows of a process.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Status {
    pub pid: Option<u32>,
    /// `running`, `restarting` or `stopped`.
    pub state: &'static str,
    pub restarts: u32,
    /// How the last run ended (`exit status: 1`, `signal: 9 (SIGKILL)`), if one did.
    pub last_exit: Option<String>,
}

/// The supervised processes themselves, by workload name, shared by the
/// launcher and the admin endpoint (which may stop one for good).
#[derive(Clone, Default)]
pub struct Children(Arc<tokio::sync::Mutex<Vec<(String, Supervisor)>>>);

impl Children {
    pub(crate) async fn add(&self, name: String, supervisor: Supervisor) {
        self.0.lock().await.push((name, supervisor));
    }

    /// Stops `name` for good, without a restart: SIGKILL when `kill`, else
    /// SIGTERM first (so it drains). `false` when no such process runs.
    pub async fn remove(&self, name: &str, kill: bool) -> bool {
        let taken = {
            let mut children = self.0.lock().await;
            let index = children.iter().position(|(n, _)| n == name);
            index.map(|i| children.remove(i).1)
        };
        match taken {
            Some(supervisor) if kill => supervisor.kill().await,
            Some(supervisor) => supervisor.stop().await,
            None => return false,
        }
        true
    }

    /// Stops every process (SIGTERM first).
    pub(crate) async fn stop_all(&self) {
        let all: Vec<(String, Supervisor)> = self.0.lock().await.drain(..).collect();
        futures_util::future::join_all(all.into_iter().map(|(_, child)| child.stop())).await;
    }
}

/// What the admin endpoint sees of the workloads under `bookinfo up`.
#[derive(Clone)]
pub struct Workloads {
    pub processes: Processes,
    pub children: Children,
}

/// The state of every supervised process, shared with the admin endpoint.
#[derive(Debug, Clone, Default)]
pub struct Processes(Arc<Mutex<BTreeMap<String, Status>>>);

impl Processes {
    pub fn snapshot(&self) -> BTreeMap<String, Status> {
        self.lock().clone()
    }

    fn update(&self, name: &str, change: impl FnOnce(&mut Status)) {
        let mut all = self.lock();
        let status = all.entry(name.to_owned()).or_insert(Status {
            pid: None,
            state: "running",
            restarts: 0,
            last_exit: None,
        });
        change(status);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Status>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Control {
    Run,
    /// SIGTERM, then SIGKILL after the grace period.
    Stop,
    /// SIGKILL now, and no restart (the demo takes a version offline).
    Kill,
}

/// One supervised process.
pub(crate) struct Supervisor {
    control: watch::Sender<Control>,
    task: JoinHandle<()>,
}

impl Supervisor {
    /// Starts the process on a port of its choosing and waits until it
    /// listens; the supervisor then keeps it running on that address.
    pub(crate) async fn start(
        spec: Spec,
        processes: Processes,
    ) -> Result<(Self, SocketAddr), String> {
        let unbound = SocketAddr::from(([127, 0, 0, 1], 0));
        let mut child = spec.spawn(unbound)?;
        let addr = wait_listening(&spec.name, &mut child).await?;
        processes.update(&spec.name, |s| s.pid = child.id());
        let (control, changes) = watch::channel(Control::Run);
        let task = tokio::spawn(supervise(spec, addr, child, changes, processes));
        Ok((Self { control, task }, addr))
    }

    /// Kills the process for good (no restart).
    pub(crate) async fn kill(self) {
        let _ = self.control.send(Control::Kill);
        let _ = self.task.await;
    }

    /// Stops the process (SIGTERM, then SIGKILL after the grace period).
    pub(crate) async fn stop(self) {
        let _ = self.control.send(Control::Stop);
        let _ = self.task.await;
    }
}

fn describe(status: std::io::Result<ExitStatus>) -> String {
    match status {
        Ok(status) => status.to_string(),
        Err(e) => format!("cannot wait for it: {e}"),
    }
}

async fn supervise(
    spec: Spec,
    addr: SocketAddr,
    mut child: Child,
    mut control: watch::Receiver<Control>,
    processes: Processes,
) {
    let name = spec.name.as_str();
    let mut started = Instant::now();
    let mut failures = 0u32;
    loop {
        let exited = tokio::select! {
            status = child.wait() => describe(status),
            _ = control.changed() => {
                let how = *control.borrow();
                end(name, &mut child, how).await;
                processes.update(name, |s| { s.state = "stopped"; s.pid = None; });
                return;
            }
        };
        if started.elapsed() >= STABLE_AFTER {
            failures = 0;
        }
        // Restart until it listens again, or until told to stop.
        loop {
            failures = failures.saturating_add(1);
            let wait = RESTART_BASE
                .saturating_mul(2u32.saturating_pow(failures - 1))
                .min(RESTART_MAX);
            tracing::warn!("{name} exited ({exited}); restarting in {wait:?}");
            processes.update(name, |s| {
                s.state = "restarting";
                s.pid = None;
                s.restarts += 1;
                s.last_exit = Some(exited.clone());
            });
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = control.changed() => {
                    processes.update(name, |s| s.state = "stopped");
                    return;
                }
            }
            let restarted = match spec.spawn(addr) {
                Ok(mut next) => match wait_listening(name, &mut next).await {
                    Ok(_) => Ok(next),
                    Err(error) => {
                        let _ = next.kill().await;
                        Err(error)
                    }
                },
                Err(error) => Err(error),
            };
            match restarted {
                Ok(next) => {
                    child = next;
                    started = Instant::now();
                    processes.update(name, |s| {
                        s.state = "running";
                        s.pid = child.id();
                    });
                    break;
                }
                Err(error) => tracing::warn!("{name}: restart failed: {error}"),
            }
        }
    }
}

async fn end(name: &str, child: &mut Child, how: Control) {
    if how == Control::Stop
        && let Some(pid) = child
            .id()
            .and_then(|id| rustix::process::Pid::from_raw(i32::try_from(id).ok()?))
    {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        if tokio::time::timeout(STOP_GRACE, child.wait()).await.is_ok() {
            return;
        }
        tracing::warn!("{name} did not stop on SIGTERM; killing it");
    }
    let _ = child.kill().await;
}

/// Waits for the child's `listening on ADDR` line on stdout and returns ADDR,
/// then keeps draining its stdout so the child never blocks on a full pipe.
async fn wait_listening(name: &str, child: &mut Child) -> Result<SocketAddr, String> {
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| format!("{name}: no stdout to read its address from"))?;
    let mut reader = BufReader::new(stdout);
    let read = async {
        loop {
            let mut line = String::new();
            let read = (&mut reader)
                .take(MAX_REPORT_LINE as u64)
                .read_line(&mut line)
                .await
                .map_err(|e| e.to_string())?;
            if read == 0 {
                return Err("exited during start-up".to_owned());
            }
            if let Some(addr) = line.trim_end().strip_prefix(LISTENING) {
                let addr = addr.trim();
                return addr
                    .parse::<SocketAddr>()
                    .map_err(|_| format!("reported `{addr}`, which is not an address"));
            }
        }
    };
    let addr = tokio::time::timeout(START_TIMEOUT, read)
        .await
        .map_err(|_| format!("{name} did not listen within {START_TIMEOUT:?}"))?
        .map_err(|e| format!("{name}: {e}"))?;
    tokio::spawn(async move {
        let _ = tokio::io::copy(&mut reader, &mut tokio::io::sink()).await;
    });
    Ok(addr)
}
