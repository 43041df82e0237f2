//! Traffic at the app's page and the split in force verified by the
//! loadgen's verdict engine: what `bookinfo demo` and `canary progress` do
//! at each step.

use std::time::Duration;

use bookinfo_loadgen::{
    Display, Limits, Load, RunConfig, RunResult, control, follow, run_controlled,
};
use reqwest::Url;

/// How often the routing epoch is polled while traffic runs.
const FOLLOW_EVERY: Duration = Duration::from_secs(1);

/// Sends `rate` requests/s to `url` for at most `limit`, expecting the
/// split of `service` that the admin endpoint `admin` has in force (and
/// following it if it changes).
pub(crate) async fn split(
    admin: &Url,
    service: &str,
    url: Url,
    rate: f64,
    limit: Duration,
    display: Display,
) -> Result<RunResult, String> {
    let client = reqwest::Client::new();
    let epoch = follow::current(&client, admin, service)
        .await
        .map_err(|e| e.to_string())?;
    let expected = epoch
        .split
        .ok_or_else(|| format!("no weighted route for {service} is in force"))?;
    let mut run = RunConfig::new(url);
    run.load = Load::Open {
        interval: Duration::try_from_secs_f64(1.0 / rate)
            .map_err(|_| format!("the rate {rate} is out of range"))?,
    };
    run.limits = Limits {
        duration: Some(limit),
        requests: None,
    };
    run.expected = Some(expected);
    run.display = display;
    let (handle, receiver) = control();
    let follower = tokio::spawn(follow::follow(
        admin.clone(),
        service.to_owned(),
        epoch.number,
        handle,
        FOLLOW_EVERY,
    ));
    let result = run_controlled(run, receiver)
        .await
        .map_err(|e| e.to_string());
    follower.abort();
    result
}
