//! Latency histograms (HDR, mergeable, fixed memory) and their printable summary.
//!
//! Values are recorded in microseconds from 1 µs to one hour with three significant
//! digits; anything longer saturates at the top instead of being lost.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

const LOWEST_US: u64 = 1;
const HIGHEST_US: u64 = 3_600_000_000;
const SIGNIFICANT_DIGITS: u8 = 3;

/// Percentiles drawn in the HTML report's percentile plot.
pub(crate) const CURVE_PERCENTILES: [f64; 12] = [
    0.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99, 100.0,
];

#[derive(Debug, Clone)]
pub(crate) struct Latency {
    histogram: Option<Histogram<u64>>,
}

impl Default for Latency {
    fn default() -> Self {
        Self::new()
    }
}

impl Latency {
    pub(crate) fn new() -> Self {
        // The bounds are constants that hdrhistogram accepts; `None` (never expected)
        // just means nothing is recorded rather than a panic.
        Self {
            histogram: Histogram::new_with_bounds(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS).ok(),
        }
    }

    pub(crate) fn record(&mut self, value: Duration) {
        let us = u64::try_from(value.as_micros()).unwrap_or(u64::MAX);
        if let Some(h) = &mut self.histogram {
            h.saturating_record(us.clamp(LOWEST_US, HIGHEST_US));
        }
    }

    /// Latency in ms at `percentile` (0–100), `None` when empty.
    pub(crate) fn percentile_ms(&self, percentile: f64) -> Option<f64> {
        let h = self.histogram.as_ref().filter(|h| !h.is_empty())?;
        Some(ms(h.value_at_percentile(percentile)))
    }

    pub(crate) fn summary(&self) -> LatencySummary {
        let Some(h) = self.histogram.as_ref().filter(|h| !h.is_empty()) else {
            return LatencySummary::default();
        };
        LatencySummary {
            count: h.len(),
            min_ms: Some(ms(h.min())),
            mean_ms: Some(h.mean() / 1000.0),
            p50_ms: Some(ms(h.value_at_percentile(50.0))),
            p90_ms: Some(ms(h.value_at_percentile(90.0))),
            p99_ms: Some(ms(h.value_at_percentile(99.0))),
            p999_ms: Some(ms(h.value_at_percentile(99.9))),
            max_ms: Some(ms(h.max())),
        }
    }

    /// `(percentile, ms)` points for a percentile plot.
    pub(crate) fn curve(&self) -> Vec<(f64, f64)> {
        CURVE_PERCENTILES
            .iter()
            .filter_map(|p| self.percentile_ms(*p).map(|v| (*p, v)))
            .collect()
    }
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// Latency figures in milliseconds; all `null` when nothing was recorded.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    pub count: u64,
    pub min_ms: Option<f64>,
    pub mean_ms: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub p999_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn records_and_summarises() {
        let mut l = Latency::new();
        assert_eq!(l.summary(), LatencySummary::default());
        for ms in 1..=100u64 {
            l.record(Duration::from_millis(ms));
        }
        let s = l.summary();
        assert_eq!(s.count, 100);
        assert!((s.p50_ms.unwrap() - 50.0).abs() < 0.1, "{s:?}");
        assert!((s.max_ms.unwrap() - 100.0).abs() < 0.1, "{s:?}");
        // Out of range values saturate instead of panicking.
        l.record(Duration::from_secs(1_000_000));
        l.record(Duration::ZERO);
        assert_eq!(l.summary().count, 102);
        assert_eq!(l.curve().len(), CURVE_PERCENTILES.len());
    }
}
