//! The runtime state of one destination with a traffic policy (an Envoy
//! cluster in Istio: a host, or one of its subsets): the requests its
//! connection pool admits, and the instances outlier detection has ejected.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use bookinfo_routing::policy::{MAX_EJECTION_TIME, Outlier, Policy};

pub(crate) struct Cluster {
    pub(crate) policy: Policy,
    /// Requests sent at once (`None`: no limit).
    active: Option<Arc<Semaphore>>,
    /// Requests waiting for one of `active`'s places.
    pending: AtomicUsize,
    retries: Option<Arc<Semaphore>>,
    ejections: Option<Ejections>,
}

/// The pool has no place and its queue is full: Envoy's overflow.
pub(crate) struct Overflow;

/// A place in the pool, held until the answer's headers arrive.
pub(crate) type Admitted = Option<OwnedSemaphorePermit>;

impl Cluster {
    /// The state of a destination with `members` instances.
    pub(crate) fn new(policy: Policy, members: usize) -> Self {
        let semaphore = |limit: Option<u32>| {
            limit.map(|n| Arc::new(Semaphore::new((n as usize).min(Semaphore::MAX_PERMITS))))
        };
        let pool = policy.pool.clone().unwrap_or_default();
        Self {
            active: semaphore(pool.max_active),
            pending: AtomicUsize::new(0),
            retries: semaphore(pool.max_retries),
            ejections: policy.outlier.clone().map(|settings| Ejections {
                settings,
                started: Instant::now(),
                hosts: (0..members).map(|_| Health::default()).collect(),
                latest_end: AtomicU64::new(0),
                eject: Mutex::new(()),
            }),
            policy,
        }
    }

    /// A place to send one request: at once if the pool has one, after a
    /// wait if the queue (`http1MaxPendingRequests`) has room, else
    /// [`Overflow`].
    pub(crate) async fn admit(&self) -> Result<Admitted, Overflow> {
        let Some(active) = &self.active else {
            return Ok(None);
        };
        if let Ok(permit) = Arc::clone(active).try_acquire_owned() {
            return Ok(Some(permit));
        }
        let max_pending = self
            .policy
            .pool
            .as_ref()
            .and_then(|p| p.max_pending)
            .map_or(usize::MAX, |n| n as usize);
        if self.pending.fetch_add(1, Ordering::SeqCst) >= max_pending {
            self.pending.fetch_sub(1, Ordering::SeqCst);
            return Err(Overflow);
        }
        let permit = Arc::clone(active).acquire_owned().await;
        self.pending.fetch_sub(1, Ordering::SeqCst);
        // The semaphore is never closed.
        permit.map(Some).map_err(|_| Overflow)
    }

    /// A place in the retry budget (`http.maxRetries`), `Err` when it is
    /// spent: the retry is not made.
    pub(crate) fn retry(&self) -> Result<Admitted, Overflow> {
        match &self.retries {
            None => Ok(None),
            Some(retries) => Arc::clone(retries)
                .try_acquire_owned()
                .map(Some)
                .map_err(|_| Overflow),
        }
    }

    /// Which of `members` (the destination's instance indices) may be
    /// picked now: those not ejected, or all of them below
    /// `minHealthPercent` healthy (Envoy's panic mode). Without an ejection
    /// in force this is `members` itself, with no lock and no copy.
    pub(crate) fn healthy<'a>(&self, members: &'a [usize]) -> Cow<'a, [usize]> {
        let Some(ejections) = &self.ejections else {
            return Cow::Borrowed(members);
        };
        let now = ejections.now();
        if ejections.latest_end.load(Ordering::Relaxed) <= now {
            return Cow::Borrowed(members);
        }
        let healthy: Vec<usize> = members
            .iter()
            .enumerate()
            .filter(|(k, _)| !ejections.hosts[*k].ejected(now))
            .map(|(_, &i)| i)
            .collect();
        let min = ejections.settings.min_health_percent as usize;
        if healthy.len() * 100 < min * members.len() {
            return Cow::Borrowed(members);
        }
        Cow::Owned(healthy)
    }

    /// Counts one answer of the member at `place` in the destination's
    /// member list; a 5xx (a local 503 or 504 for a failed connection or a
    /// timeout included) may eject it.
    pub(crate) fn record(&self, place: usize, status: u16) {
        if let Some(ejections) = &self.ejections {
            ejections.record(place, status);
        }
    }
}

/// Outlier detection's state, one entry per member of the destination, in
/// atomics: every answer is counted without a lock; only an ejection takes
/// one, to keep within `maxEjectionPercent`.
struct Ejections {
    settings: Outlier,
    /// Sweeps, which end ejections, run every `interval` from here; times
    /// below are nanoseconds since then.
    started: Instant,
    hosts: Vec<Health>,
    /// When the last ejection in force ends (0: none was ever made).
    latest_end: AtomicU64,
    eject: Mutex<()>,
}

#[derive(Default)]
struct Health {
    consecutive_5xx: AtomicU32,
    consecutive_gateway: AtomicU32,
    /// How often it was ejected: each ejection lasts that many base times.
    ejections: AtomicU32,
    /// When its ejection ends (0: not ejected).
    until: AtomicU64,
}

impl Health {
    fn ejected(&self, now: u64) -> bool {
        now < self.until.load(Ordering::Relaxed)
    }
}

/// Adds one to a consecutive count, or resets it (without a write when it
/// is 0 already, so healthy answers do not contend); the new count.
fn count(counter: &AtomicU32, failed: bool) -> u32 {
    if failed {
        counter.fetch_add(1, Ordering::Relaxed).saturating_add(1)
    } else {
        if counter.load(Ordering::Relaxed) != 0 {
            counter.store(0, Ordering::Relaxed);
        }
        0
    }
}

impl Ejections {
    fn now(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn record(&self, place: usize, status: u16) {
        let Some(health) = self.hosts.get(place) else {
            return;
        };
        let now = self.now();
        if health.ejected(now) {
            return;
        }
        let (five, gateway) = match status {
            502..=504 => (true, true),
            500..=599 => (true, false),
            _ => (false, false),
        };
        let s = &self.settings;
        let fives = count(&health.consecutive_5xx, five);
        let gateways = count(&health.consecutive_gateway, gateway);
        let tripped = (s.consecutive_5xx > 0 && fives >= s.consecutive_5xx)
            || (s.consecutive_gateway > 0 && gateways >= s.consecutive_gateway);
        if !tripped {
            return;
        }
        let _one_at_a_time = self.eject.lock().unwrap_or_else(|e| e.into_inner());
        if health.ejected(now) {
            return;
        }
        // Envoy ejects within `maxEjectionPercent` of the destination's
        // instances, but always at least one.
        let ejected = self.hosts.iter().filter(|h| h.ejected(now)).count();
        let members = self.hosts.len();
        if ejected > 0 && (ejected + 1) * 100 > s.max_ejection_percent as usize * members {
            return;
        }
        let times = health.ejections.fetch_add(1, Ordering::Relaxed) + 1;
        health.consecutive_5xx.store(0, Ordering::Relaxed);
        health.consecutive_gateway.store(0, Ordering::Relaxed);
        let time = s.base_ejection.saturating_mul(times).min(MAX_EJECTION_TIME);
        let end =
            self.next_sweep(now.saturating_add(u64::try_from(time.as_nanos()).unwrap_or(u64::MAX)));
        health.until.store(end, Ordering::Relaxed);
        self.latest_end.fetch_max(end, Ordering::Relaxed);
    }

    /// The first sweep at or after `at`: where Envoy returns an instance.
    fn next_sweep(&self, at: u64) -> u64 {
        let interval = u64::try_from(self.settings.interval.as_nanos())
            .unwrap_or(u64::MAX)
            .max(1);
        at.div_ceil(interval).saturating_mul(interval)
    }
}
