//! Traffic at the app's page and the split in force verified by the
//! loadgen's verdict engine: what `bookinfo demo` and `canary progress` do
//! at each step.

use std::path::PathBuf;
use std::time::Duration;

use bookinfo_loadgen::{
    ControlReceiver, Display, ExpectedSplit, Limits, Load, OutputPaths, RunConfig, RunControl,
    RunResult, follow, run_controlled,
};
use reqwest::Url;

/// How often the routing epoch is polled while traffic runs.
const FOLLOW_EVERY: Duration = Duration::from_secs(1);

/// Where the expected split comes from.
pub(crate) enum Expected<'a> {
    /// The shares a local data plane's admin endpoint has in force, followed
    /// if they change while traffic runs.
    Admin(&'a Url),
    /// A split known to be in force (a cluster's, applied and observed).
    Fixed(ExpectedSplit),
}

/// One verification: `rate` requests/s at `url` for at most `limit`.
pub(crate) struct Traffic {
    pub(crate) url: Url,
    pub(crate) rate: f64,
    pub(crate) limit: Duration,
    pub(crate) display: Display,
    /// Where to write one line per response, if wanted.
    pub(crate) ndjson: Option<PathBuf>,
}

/// Sends the traffic and verifies the split of `service` it observes,
/// steered by `control` (whose other end the caller may keep, to stop the
/// run early).
pub(crate) async fn split(
    expected: Expected<'_>,
    service: &str,
    traffic: Traffic,
    control: (RunControl, ControlReceiver),
) -> Result<RunResult, String> {
    let client = reqwest::Client::new();
    let (expected, admin) = match expected {
        Expected::Admin(admin) => {
            let epoch = follow::current(&client, admin, service)
                .await
                .map_err(|e| e.to_string())?;
            let split = epoch
                .split
                .ok_or_else(|| format!("no weighted route for {service} is in force"))?;
            (split, Some((admin.clone(), epoch.number)))
        }
        Expected::Fixed(split) => (split, None),
    };
    let mut run = RunConfig::new(traffic.url);
    run.load = Load::Open {
        interval: Duration::try_from_secs_f64(1.0 / traffic.rate)
            .map_err(|_| format!("the rate {} is out of range", traffic.rate))?,
    };
    run.limits = Limits {
        duration: Some(traffic.limit),
        requests: None,
    };
    run.expected = Some(expected);
    run.display = traffic.display;
    run.outputs = OutputPaths {
        ndjson: traffic.ndjson,
        ..OutputPaths::default()
    };
    let (handle, receiver) = control;
    let follower = admin.map(|(admin, number)| {
        tokio::spawn(follow::follow(
            admin,
            service.to_owned(),
            number,
            handle,
            FOLLOW_EVERY,
        ))
    });
    let result = run_controlled(run, receiver)
        .await
        .map_err(|e| e.to_string());
    if let Some(follower) = follower {
        follower.abort();
    }
    result
}
