//! The runtime state of one destination with a traffic policy (an Envoy
//! cluster in Istio: a host, or one of its subsets): the requests its
//! connection pool admits, and the instances outlier detection has ejected.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    pub(crate) fn new(policy: Policy) -> Self {
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
                hosts: Mutex::new(HashMap::new()),
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

    /// Which of `candidates` (instance indices) may be picked now: those
    /// not ejected, or all of them below `minHealthPercent` healthy (Envoy's
    /// panic mode).
    pub(crate) fn healthy(&self, candidates: &[usize]) -> Vec<usize> {
        let Some(ejections) = &self.ejections else {
            return candidates.to_vec();
        };
        let now = Instant::now();
        let hosts = ejections.hosts.lock().unwrap_or_else(|e| e.into_inner());
        let healthy: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|i| !hosts.get(i).is_some_and(|h| h.ejected(now)))
            .collect();
        let min = ejections.settings.min_health_percent as usize;
        if healthy.len() * 100 < min * candidates.len() {
            return candidates.to_vec();
        }
        healthy
    }

    /// Counts one answer of `instance` (one of `members` instances of the
    /// destination); a 5xx (a local 503 or 504 for a failed connection or a
    /// timeout included) may eject it.
    pub(crate) fn record(&self, instance: usize, members: usize, status: u16) {
        if let Some(ejections) = &self.ejections {
            ejections.record(instance, members, status);
        }
    }
}

struct Ejections {
    settings: Outlier,
    /// Sweeps, which end ejections, run every `interval` from here.
    started: Instant,
    hosts: Mutex<HashMap<usize, Health>>,
}

#[derive(Default)]
struct Health {
    consecutive_5xx: u32,
    consecutive_gateway: u32,
    /// How often it was ejected: each ejection lasts that many base times.
    ejections: u32,
    until: Option<Instant>,
}

impl Health {
    fn ejected(&self, now: Instant) -> bool {
        self.until.is_some_and(|until| now < until)
    }
}

impl Ejections {
    fn record(&self, instance: usize, members: usize, status: u16) {
        let now = Instant::now();
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        let ejected = hosts.values().filter(|h| h.ejected(now)).count();
        let health = hosts.entry(instance).or_default();
        if health.ejected(now) {
            return;
        }
        let s = &self.settings;
        let (five, gateway) = match status {
            502..=504 => (true, true),
            500..=599 => (true, false),
            _ => (false, false),
        };
        health.consecutive_5xx = if five { health.consecutive_5xx + 1 } else { 0 };
        health.consecutive_gateway = if gateway {
            health.consecutive_gateway + 1
        } else {
            0
        };
        let tripped = (s.consecutive_5xx > 0 && health.consecutive_5xx >= s.consecutive_5xx)
            || (s.consecutive_gateway > 0 && health.consecutive_gateway >= s.consecutive_gateway);
        // Envoy ejects within `maxEjectionPercent` of the destination's
        // instances, but always at least one.
        let within =
            ejected == 0 || (ejected + 1) * 100 <= s.max_ejection_percent as usize * members;
        if tripped && within {
            health.ejections += 1;
            health.consecutive_5xx = 0;
            health.consecutive_gateway = 0;
            let time = s
                .base_ejection
                .saturating_mul(health.ejections)
                .min(MAX_EJECTION_TIME);
            health.until = Some(self.next_sweep(now + time));
        }
    }

    /// The first sweep at or after `at`: where Envoy returns an instance.
    fn next_sweep(&self, at: Instant) -> Instant {
        let interval = self.settings.interval.max(Duration::from_millis(1));
        let since = at.saturating_duration_since(self.started);
        let sweeps = since.as_nanos().div_ceil(interval.as_nanos());
        let sweeps = u32::try_from(sweeps).unwrap_or(u32::MAX);
        self.started + interval.saturating_mul(sweeps)
    }
}
