//! The canary's health against the stable version's over one step: its
//! errors and its slow answers, each compared by the verdict engine's
//! sequential test ([`bookinfo_verdict::compare`]), fed the step's
//! responses in the order they completed (the loadgen's per-response
//! lines). A response counts for the version that served its reviews: the
//! version the page names, or, for a degraded page or an error, the version
//! it was attributed to; responses no version can be held responsible for
//! are left to the split's verdict, which counts them against the split.

use std::io::BufRead;
use std::path::Path;
use std::time::Duration;

use bookinfo_verdict::compare::{CompareConfig, Comparison, Health};
use serde::Serialize;
use serde_json::Value;

/// Longest per-response line read; the loadgen writes about 300 bytes.
const MAX_LINE: usize = 64 * 1024;

/// The step's two comparisons.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct StepHealth {
    /// Failed requests and degraded pages.
    pub(crate) errors: Comparison,
    /// Answers slower than `slow_ms`, from the intended send time.
    pub(crate) slow: Comparison,
    pub(crate) slow_ms: f64,
}

impl StepHealth {
    /// The first comparison that found the canary worse, if one did.
    pub(crate) fn worse(&self) -> Option<&'static str> {
        if self.errors.health == Health::Worse {
            Some("errors")
        } else if self.slow.health == Health::Worse {
            Some("slow answers")
        } else {
            None
        }
    }

    pub(crate) fn line(&self) -> String {
        let one = |name: &str, c: &Comparison| {
            format!(
                "{name} canary {}/{} stable {}/{}: {}",
                c.canary.bad,
                c.canary.requests,
                c.stable.bad,
                c.stable.requests,
                c.health.label()
            )
        };
        format!(
            "{}; {}",
            one("errors", &self.errors),
            one(&format!("over {:.0} ms", self.slow_ms), &self.slow)
        )
    }
}

/// Reads the step's responses from `ndjson` and compares `canary` (with
/// `percent` of the traffic) against `stable`.
pub(crate) fn compare(
    ndjson: &Path,
    stable: &str,
    canary: &str,
    percent: u32,
    slow: Duration,
) -> Result<StepHealth, String> {
    let config = CompareConfig::default();
    let new = || Comparison::new(config).map_err(|e| e.to_string());
    let mut health = StepHealth {
        errors: new()?,
        slow: new()?,
        slow_ms: slow.as_secs_f64() * 1000.0,
    };
    let share = f64::from(percent) / 100.0;
    let file = std::fs::File::open(ndjson).map_err(|e| format!("{}: {e}", ndjson.display()))?;
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(|e| format!("{}: {e}", ndjson.display()))?;
        if line.len() > MAX_LINE {
            continue;
        }
        let Ok(response) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if response["discarded"] == true {
            continue;
        }
        let served = response["version"].as_str();
        let Some(version) = served.or(response["attributed"].as_str()) else {
            continue;
        };
        let is_canary = match version {
            v if v == canary => true,
            v if v == stable => false,
            _ => continue,
        };
        health.errors.observe(is_canary, served.is_none(), share);
        if let Some(latency) = response["latency_ms"].as_f64() {
            health
                .slow
                .observe(is_canary, latency > health.slow_ms, share);
        }
    }
    Ok(health)
}

/// How often the live comparison rereads the step's responses.
const WATCH_EVERY: Duration = Duration::from_millis(250);

/// Rereads the step's responses every [`WATCH_EVERY`] while traffic runs
/// and stops the run through `control` once the canary is found worse
/// (the file is written as responses arrive, a buffer's worth behind).
pub(crate) async fn watch(
    ndjson: std::path::PathBuf,
    stable: String,
    canary: String,
    percent: u32,
    slow: Duration,
    control: bookinfo_loadgen::RunControl,
) {
    if percent >= 100 {
        return;
    }
    loop {
        tokio::time::sleep(WATCH_EVERY).await;
        let Ok(health) = compare(&ndjson, &stable, &canary, percent, slow) else {
            continue;
        };
        if health.worse().is_some() {
            control.stop();
            return;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::io::Write;

    fn lines(responses: &[(&str, Option<&str>, Option<&str>, f64)]) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        for (i, (outcome, version, attributed, latency)) in responses.iter().enumerate() {
            let line = serde_json::json!({"index": i, "outcome": outcome, "version": version,
                "attributed": attributed, "latency_ms": latency, "discarded": false});
            writeln!(file, "{line}").unwrap();
        }
        writeln!(file, "not json").unwrap();
        file
    }

    #[test]
    fn a_slow_canary_is_worse_at_slow_answers_and_not_at_errors() {
        let mut responses = Vec::new();
        for i in 0..400 {
            if i % 5 == 0 {
                responses.push(("v2", Some("v2"), None, 320.0));
            } else {
                responses.push(("v1", Some("v1"), None, 4.0));
            }
        }
        let file = lines(&responses);
        let health = compare(file.path(), "v1", "v2", 20, Duration::from_millis(200)).unwrap();
        assert_eq!(health.slow.health, Health::Worse);
        assert_eq!(health.errors.health, Health::Undecided);
        assert_eq!(health.worse(), Some("slow answers"));
        assert_eq!(health.slow.canary.requests, 80);
    }

    #[test]
    fn failures_count_for_the_version_they_are_attributed_to() {
        let mut responses = Vec::new();
        for i in 0..300 {
            responses.push(match i % 3 {
                0 => ("reviews-unavailable", None, Some("v3"), 9.0),
                1 => ("v2", Some("v2"), None, 5.0),
                // Nobody's failure: left to the split verdict.
                _ => ("connect-error", None, None, 1.0),
            });
        }
        let file = lines(&responses);
        let health = compare(file.path(), "v2", "v3", 50, Duration::from_millis(200)).unwrap();
        assert_eq!(health.errors.health, Health::Worse);
        assert_eq!(
            health.errors.canary.requests + health.errors.stable.requests,
            200
        );
        assert_eq!(health.slow.health, Health::Undecided);
    }

    #[test]
    fn a_missing_file_is_an_error() {
        let missing = Path::new("/nonexistent/responses.ndjson");
        assert!(compare(missing, "v1", "v2", 10, Duration::ZERO).is_err());
    }
}
