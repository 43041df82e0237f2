//! The command line of the `loadgen` binary, turned into a [`RunConfig`].
//!
//! Kept in the library so that it can be tested without spawning a process and reused by
//! other front ends; `main.rs` only maps results to exit codes.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use reqwest::Url;

use crate::config::Display;
use crate::config::{OutputPaths, RunConfig};
use crate::expect::{ExpectedSplit, expect_from_file, parse_expect};
use crate::schedule::{Limits, Load};
use bookinfo_verdict::VerdictConfig;

/// Drive traffic at a Bookinfo product page, classify every response by reviews
/// version, and verify the observed split: PASS (exit 0), FAIL (1), INCONCLUSIVE (2).
/// Usage and setup errors exit with 3.
#[derive(Debug, Clone, Parser)]
#[command(name = "loadgen", version, about, long_about = None)]
pub struct Cli {
    /// The product page, e.g. http://localhost:9080/productpage (http:// may be left out).
    pub url: String,

    /// Total request rate, requests per second across all connections [default: 2].
    #[arg(long, value_parser = parse_rate, conflicts_with = "interval")]
    pub rate: Option<f64>,

    /// Time between two requests, e.g. 500ms (the total rate is 1/interval).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub interval: Option<Duration>,

    /// Stop sending after this long, e.g. 10m; without a limit the run goes on until a
    /// verdict or Ctrl-C.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,

    /// Stop after this many requests (overflowed ones included).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub requests: Option<u64>,

    /// Expected split in percent, e.g. v1=30,v2=70 (must add up to 100).
    #[arg(long, conflicts_with = "expect_from")]
    pub expect: Option<String>,

    /// Read the expected split from a VirtualService or HTTPRoute file for reviews.
    #[arg(long, value_name = "FILE")]
    pub expect_from: Option<PathBuf>,

    /// Log in as this user first (POST /login) and keep its session cookie.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,

    /// Accepted deviation of each version's share, in percentage points.
    #[arg(long, default_value_t = 5.0)]
    pub tolerance: f64,

    /// Accepted probability of a false FAIL over the whole run.
    #[arg(long, default_value_t = 0.001)]
    pub alpha: f64,

    /// Power the planner uses for the sample size it prints.
    #[arg(long, default_value_t = 0.99)]
    pub power: f64,

    /// Discard responses to requests sent in this first window, e.g. 30s.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "0s")]
    pub settle: Duration,

    /// Largest share (percent) of responses without a version that still allows a PASS.
    #[arg(long, default_value_t = 1.0)]
    pub max_unclassified: f64,

    /// Keep sending after PASS or FAIL until the limit (the verdict stays as decided).
    #[arg(long)]
    pub no_stop: bool,

    /// Write the JSON summary here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Write one JSON line per request here.
    #[arg(long, value_name = "FILE")]
    pub ndjson: Option<PathBuf>,

    /// Write a self-contained HTML report here.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// Closed loop: keep N requests outstanding, as fast as the target answers
    /// (benchmarks; latencies then suffer from coordinated omission).
    #[arg(long, value_name = "N", conflicts_with_all = ["rate", "interval"],
          value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub concurrency: Option<u64>,

    /// Open loop: requests due while this many are outstanding are not sent but counted
    /// as overflow.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_in_flight: u64,

    /// Per-request timeout, e.g. 10s (above the 6 s page of the delay fault).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10s")]
    pub timeout: Duration,

    /// Open a new connection for every request (no keep-alive), so that
    /// connection-level routing cannot make responses dependent.
    #[arg(long)]
    pub new_connection: bool,

    /// No plan and no progress: only warnings and the final summary.
    #[arg(long)]
    pub quiet: bool,

    /// Skip the Bookinfo check: accept any target that answers (not 4xx), e.g. a
    /// hello-world for benchmarks; responses are then counted as unclassifiable.
    /// Without --expect / --expect-from only.
    #[arg(long, conflicts_with_all = ["expect", "expect_from"])]
    pub any_target: bool,
    /// Admin endpoint of the local data plane (`bookinfo up`), e.g.
    /// http://127.0.0.1:15000/: the expected split is the reviews route in
    /// force (unless --expect gives one), and the statistics restart for the
    /// new weights whenever the routing epoch changes.
    #[arg(long, value_name = "URL", value_parser = parse_admin_url, conflicts_with = "any_target")]
    pub follow_admin: Option<Url>,
}

fn parse_admin_url(text: &str) -> Result<Url, String> {
    let with_slash = if text.ends_with('/') {
        text.to_owned()
    } else {
        format!("{text}/")
    };
    Url::parse(&with_slash).map_err(|e| format!("invalid URL {text:?}: {e}"))
}

impl Cli {
    /// The run's configuration, checked by [`RunConfig::validate`] (the one
    /// place where settings are validated) before it is handed back.
    pub fn into_config(self) -> Result<RunConfig, String> {
        let text = self.url.trim();
        let with_scheme = if text.contains("://") {
            text.to_owned()
        } else {
            format!("http://{text}")
        };
        let url = Url::parse(&with_scheme).map_err(|e| format!("invalid URL {text:?}: {e}"))?;
        let user = self.user.as_deref().map(str::trim).map(str::to_owned);
        if user.as_deref() == Some("") {
            return Err("--user must not be empty".to_owned());
        }
        let expected: Option<ExpectedSplit> = match (&self.expect, &self.expect_from) {
            (Some(text), _) => Some(parse_expect(text).map_err(|e| e.to_string())?),
            (None, Some(path)) => {
                Some(expect_from_file(path, user.as_deref()).map_err(|e| e.to_string())?)
            }
            (None, None) => None,
        };
        let load = match (self.concurrency, self.rate, self.interval) {
            (Some(n), _, _) => Load::Closed {
                concurrency: usize::try_from(n).unwrap_or(usize::MAX),
            },
            (None, Some(rate), _) => Load::Open {
                interval: Duration::try_from_secs_f64(1.0 / rate)
                    .map_err(|_| format!("--rate {rate} is out of range"))?,
            },
            (None, None, Some(interval)) => Load::Open { interval },
            (None, None, None) => Load::Open {
                interval: Duration::from_millis(500),
            },
        };
        let verdict = VerdictConfig {
            tolerance: self.tolerance / 100.0,
            alpha: self.alpha,
            unclassified_budget: self.max_unclassified / 100.0,
            ..VerdictConfig::default()
        };
        let mut config = RunConfig::new(url);
        config.load = load;
        config.limits = Limits {
            duration: self.duration,
            requests: self.requests,
        };
        config.max_in_flight = usize::try_from(self.max_in_flight).unwrap_or(usize::MAX);
        config.timeout = self.timeout;
        config.new_connection = self.new_connection;
        config.any_target = self.any_target;
        config.user = user;
        config.expected = expected;
        config.verdict = verdict;
        config.power = self.power;
        config.settle = self.settle;
        config.stop_on_decision = !self.no_stop;
        config.outputs = OutputPaths {
            json: self.json,
            ndjson: self.ndjson,
            html: self.html,
        };
        config.display = if self.quiet {
            Display::Quiet
        } else {
            Display::Auto
        };
        config.validate().map_err(|e| e.to_string())?;
        Ok(config)
    }
}

/// A positive, finite number of requests per second.
fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .trim()
        .trim_end_matches("/s")
        .parse()
        .map_err(|_| format!("{text:?} is not a number of requests per second"))?;
    if rate.is_finite() && rate > 0.0 && rate <= 1e6 {
        Ok(rate)
    } else {
        Err(format!(
            "the rate must be above 0 and at most 1e6 per second, got {text}"
        ))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Result<RunConfig, String> {
        let mut all = vec!["loadgen"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all)
            .map_err(|e| e.to_string())?
            .into_config()
    }

    #[test]
    fn defaults() {
        let c = cli(&["localhost:9080/productpage"]).unwrap();
        assert_eq!(c.url.as_str(), "http://localhost:9080/productpage");
        assert_eq!(c.load.rate(), Some(2.0));
        assert_eq!(c.timeout, Duration::from_secs(10));
        assert!(c.stop_on_decision);
        assert!(c.expected.is_none());
        assert_eq!(c.max_in_flight, 256);
    }

    #[test]
    fn options() {
        let c = cli(&[
            "http://h/productpage",
            "--rate",
            "50",
            "--requests",
            "1000",
            "--expect",
            "v1=30,v2=70",
            "--tolerance",
            "10",
            "--alpha",
            "0.01",
            "--max-unclassified",
            "2",
            "--no-stop",
            "--new-connection",
        ])
        .unwrap();
        assert_eq!(c.load.rate(), Some(50.0));
        assert_eq!(c.limits.requests, Some(1000));
        assert!((c.verdict.tolerance - 0.1).abs() < 1e-12);
        assert!((c.verdict.unclassified_budget - 0.02).abs() < 1e-12);
        assert!(!c.stop_on_decision && c.new_connection);
        let c = cli(&["h", "--interval", "100ms"]).unwrap();
        assert_eq!(c.load.rate(), Some(10.0));
        let c = cli(&["h", "--concurrency", "8"]).unwrap();
        assert_eq!(c.load, Load::Closed { concurrency: 8 });
        assert!(!c.any_target);
        let c = cli(&["h/", "--concurrency", "8", "--any-target"]).unwrap();
        assert!(c.any_target);
    }

    #[test]
    fn usage_errors_are_messages() {
        for args in [
            &["h", "--rate", "0"][..],
            &["h", "--rate", "abc"],
            &["h", "--rate", "2", "--interval", "1s"],
            &["h", "--concurrency", "4", "--rate", "2"],
            &["h", "--any-target", "--expect", "v1=30,v2=70"],
            &["h", "--any-target", "--expect-from", "x.yaml"],
            &["h", "--expect", "v1=30,v2=60"],
            &["h", "--expect", "v1=50,v9=50"],
            &["h", "--expect", "v1=30", "--expect-from", "x.yaml"],
            &["h", "--expect-from", "/nonexistent/file.yaml"],
            &["h", "--tolerance", "0"],
            &["h", "--alpha", "1"],
            &["h", "--timeout", "0"],
            &["h", "--requests", "0"],
            &["h", "--max-in-flight", "0"],
            &["h", "--user", " "],
            &["https://h/productpage"],
            &["http://"],
        ] {
            let result = cli(args);
            assert!(result.is_err(), "{args:?} should be rejected");
        }
    }
}
