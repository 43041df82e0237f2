//! Everything the run counts besides the verdict: outcomes, status codes, evidence,
//! latency per outcome (HDR, from the intended and from the actual send), send lateness,
//! and the outcome mix over time for the HTML plot.

use std::collections::BTreeMap;

use tokio::time::Instant;

use crate::classify::{Evidence, ResponseClass};
use crate::latency::Latency;
use crate::sample::Completed;

/// Timeline bins kept at most; when full, neighbours are merged and the width doubles,
/// so memory stays bounded however long the run is.
const MAX_BINS: usize = 512;

/// Counts and latency of one outcome label (`v1`, `failed`, …).
#[derive(Debug, Clone, Default)]
pub(crate) struct OutcomeTally {
    pub count: u64,
    /// From the intended send time (coordinated-omission free).
    pub latency: Latency,
    /// From the actual send.
    pub service_time: Latency,
}

/// Outcome counts per time bin of completion time.
#[derive(Debug, Clone)]
pub(crate) struct Timeline {
    pub bin_seconds: f64,
    pub bins: Vec<BTreeMap<String, u64>>,
}

impl Default for Timeline {
    fn default() -> Self {
        Self {
            bin_seconds: 1.0,
            bins: Vec::new(),
        }
    }
}

impl Timeline {
    fn push(&mut self, seconds: f64, label: &str) {
        let mut index = (seconds.max(0.0) / self.bin_seconds) as usize;
        while index >= MAX_BINS {
            self.halve();
            index = (seconds.max(0.0) / self.bin_seconds) as usize;
        }
        if self.bins.len() <= index {
            self.bins.resize_with(index + 1, BTreeMap::new);
        }
        if let Some(bin) = self.bins.get_mut(index) {
            *bin.entry(label.to_owned()).or_insert(0) += 1;
        }
    }

    fn halve(&mut self) {
        let old = std::mem::take(&mut self.bins);
        for pair in old.chunks(2) {
            let mut merged = BTreeMap::new();
            for bin in pair {
                for (label, n) in bin {
                    *merged.entry(label.clone()).or_insert(0) += n;
                }
            }
            self.bins.push(merged);
        }
        self.bin_seconds *= 2.0;
    }
}

/// A change of expected weights during the run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EpochMark {
    pub at_seconds: f64,
    pub expectation: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Tally {
    start: Instant,
    /// Responses counted (after the settle window).
    pub completed: u64,
    /// Slots that could not be sent because `max_in_flight` requests were outstanding.
    pub overflow: u64,
    /// Responses dropped because they were sent inside a settle window.
    pub discarded: u64,
    /// Requests still outstanding when the run stopped early (abandoned).
    pub cancelled: u64,
    pub outcomes: BTreeMap<String, OutcomeTally>,
    pub status_codes: BTreeMap<u16, u64>,
    pub evidence: BTreeMap<String, u64>,
    /// Error pages and failed reviews calls that named a version (header or pod name).
    pub attributed_errors: BTreeMap<String, u64>,
    /// Distinct connection-error messages with counts (a handful at most in practice).
    pub connect_errors: BTreeMap<String, u64>,
    pub all: OutcomeTally,
    pub lateness: Latency,
    pub timeline: Timeline,
    pub epochs: Vec<EpochMark>,
}

impl Tally {
    pub(crate) fn new(start: Instant) -> Self {
        Self {
            start,
            completed: 0,
            overflow: 0,
            discarded: 0,
            cancelled: 0,
            outcomes: BTreeMap::new(),
            status_codes: BTreeMap::new(),
            evidence: BTreeMap::new(),
            attributed_errors: BTreeMap::new(),
            connect_errors: BTreeMap::new(),
            all: OutcomeTally::default(),
            lateness: Latency::new(),
            timeline: Timeline::default(),
            epochs: Vec::new(),
        }
    }

    pub(crate) fn seconds_since_start(&self, at: Instant) -> f64 {
        at.saturating_duration_since(self.start).as_secs_f64()
    }

    pub(crate) fn record(&mut self, c: &Completed) {
        let class = &c.fetched.classification;
        let label = class.class.label().to_owned();
        self.completed += 1;
        let entry = self.outcomes.entry(label.clone()).or_default();
        for tally in [entry, &mut self.all] {
            tally.count += 1;
            tally.latency.record(c.latency());
            tally.service_time.record(c.service_time());
        }
        self.lateness.record(c.lateness());
        if let Some(status) = c.fetched.status {
            *self.status_codes.entry(status).or_insert(0) += 1;
        }
        if class.evidence != Evidence::None {
            let name = match class.evidence {
                Evidence::Header => "header",
                Evidence::Markers => "markers",
                Evidence::PodName => "pod-name",
                Evidence::None => "none",
            };
            *self.evidence.entry(name.to_owned()).or_insert(0) += 1;
        }
        if let Some(version) = &class.attributed {
            *self.attributed_errors.entry(version.clone()).or_insert(0) += 1;
        }
        if class.class == ResponseClass::ConnectError {
            let message = c.fetched.error.clone().unwrap_or_default();
            // Bounded: a flood of distinct messages must not grow memory.
            if self.connect_errors.len() < 20 || self.connect_errors.contains_key(&message) {
                *self.connect_errors.entry(message).or_insert(0) += 1;
            }
        }
        let at = self.seconds_since_start(c.done);
        self.timeline.push(at, &label);
    }

    /// Count of one outcome label.
    pub(crate) fn count(&self, label: &str) -> u64 {
        self.outcomes.get(label).map_or(0, |o| o.count)
    }

    /// Versions seen, in name order.
    pub(crate) fn versions(&self) -> Vec<String> {
        self.outcomes
            .keys()
            .filter(|k| is_version(k))
            .cloned()
            .collect()
    }
}

/// Outcome labels that are versions (everything except the fixed error labels).
pub(crate) fn is_version(label: &str) -> bool {
    !matches!(
        label,
        "failed" | "timed-out" | "connect-error" | "reviews-unavailable" | "unclassifiable"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeline_stays_bounded() {
        let mut t = Timeline::default();
        for s in 0..5_000 {
            t.push(f64::from(s), "v1");
        }
        assert!(t.bins.len() <= MAX_BINS);
        let total: u64 = t.bins.iter().flat_map(|b| b.values()).sum();
        assert_eq!(total, 5_000);
        assert!(t.bin_seconds >= 8.0);
    }
}
