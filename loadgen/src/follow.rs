//! Following the routing epochs of the local data plane (`bookinfo up`):
//! its admin endpoint reports an epoch number and the shares in force; when
//! the epoch changes, the run's statistics restart for the new weights, so
//! responses routed by the old rules never count against the new ones.

use std::time::Duration;

use reqwest::Url;
use serde_json::Value;

use crate::control::RunControl;
use crate::expect::ExpectedSplit;
use bookinfo_verdict::Expectation;

/// The service whose split the loadgen verifies.
pub const HOST: &str = "reviews";

/// How often the admin endpoint is asked; a route change is noticed within this.
pub const POLL: Duration = Duration::from_millis(200);

/// The routing state the admin endpoint reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Epoch {
    pub number: u64,
    /// Shares of `host` in force, `None` when no route is set for it
    /// (then a Kubernetes Service balances round robin, with no weights).
    pub split: Option<ExpectedSplit>,
}

#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error("cannot reach the admin endpoint {0}: {1}")]
    Unreachable(String, String),
    #[error("the admin endpoint {0} did not answer an epoch")]
    NotAdmin(String),
}

/// Reads the current epoch and the shares of `host` (e.g. `reviews`).
pub async fn current(
    client: &reqwest::Client,
    admin: &Url,
    host: &str,
) -> Result<Epoch, FollowError> {
    let url = admin
        .join("epoch")
        .map_err(|e| FollowError::Unreachable(admin.to_string(), e.to_string()))?;
    let answer: Value = client
        .get(url.clone())
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .map_err(|e| FollowError::Unreachable(url.to_string(), e.to_string()))?
        .json()
        .await
        .map_err(|_| FollowError::NotAdmin(url.to_string()))?;
    let number = answer["epoch"]
        .as_u64()
        .ok_or_else(|| FollowError::NotAdmin(url.to_string()))?;
    let split = answer["shares"][host].as_object().and_then(|shares| {
        let pairs = shares
            .iter()
            .filter_map(|(version, share)| Some((version.clone(), share.as_f64()? * 100.0)));
        Expectation::new(pairs)
            .ok()
            .map(|expectation| ExpectedSplit {
                expectation,
                source: format!("local data plane, routing epoch {number}"),
            })
    });
    Ok(Epoch { number, split })
}

/// Polls until the run ends, restarting its statistics at each new epoch
/// (after `settle`, by send time). `start` is the epoch the run began in.
pub async fn follow(admin: Url, host: String, start: u64, control: RunControl, settle: Duration) {
    let client = reqwest::Client::new();
    let mut last = start;
    loop {
        tokio::time::sleep(POLL).await;
        let Ok(epoch) = current(&client, &admin, &host).await else {
            continue; // a missed poll is retried; the run goes on meanwhile
        };
        if epoch.number == last {
            continue;
        }
        last = epoch.number;
        let Some(split) = epoch.split else {
            tracing::warn!(
                epoch = last,
                "no weighted route for {host} any more; statistics keep the last weights"
            );
            continue;
        };
        if !control.restart(split, settle) {
            return; // the run has ended
        }
    }
}
