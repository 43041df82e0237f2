//! `bookinfo canary progress`: a rollout in steps, each measured. At each
//! step the weights are applied and the change waited for (a new routing
//! epoch, which the data plane answers only once it took the change; on a
//! cluster, the VirtualService reconciled at its new generation), then
//! traffic is driven at the app's page and two things are decided from it:
//! the observed split, by the loadgen's verdict engine against the split in
//! force, and the canary's health against the stable version's (errors and
//! slow answers, by a sequential test). A step promotes when the split
//! PASSes and the canary is not found worse; anything else rolls the job
//! back and ends the rollout. The split is read from the product page,
//! which names the reviews version that answered, so the service is
//! `reviews`.

mod health;
mod html;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bookinfo_canary::{Job, Jobs, Step as JobStep};
use bookinfo_loadgen::{Display, parse_expect};
use bookinfo_verdict::Verdict;
use reqwest::Url;
use serde::Serialize;
use serde_json::{Value, json};

use crate::verify::{self, Expected, Traffic};
use health::StepHealth;

/// The one service whose version the product page shows.
const MEASURED_SERVICE: &str = "reviews";
/// The highest rate a rollout drives: beyond it the loadgen, not the app,
/// is what is measured on a small machine.
const MAX_RATE: f64 = 10_000.0;

pub(crate) struct Progress {
    pub(crate) service: String,
    pub(crate) version: String,
    /// Canary percentages, rising, the last 100.
    pub(crate) steps: Vec<u32>,
    /// The page traffic is driven at.
    pub(crate) url: Url,
    pub(crate) rate: f64,
    /// Longest a step's verification may run.
    pub(crate) hold: Duration,
    /// An answer slower than this is a slow answer.
    pub(crate) slow: Duration,
    /// The rollout as JSON.
    pub(crate) report: Option<PathBuf>,
    /// The rollout as an HTML page.
    pub(crate) html: Option<PathBuf>,
}

/// One step as the reports show it.
#[derive(Serialize)]
pub(crate) struct StepRecord {
    pub(crate) percent: u32,
    /// The split's verdict: PASS, FAIL, INCONCLUSIVE.
    pub(crate) verdict: String,
    pub(crate) reason: Option<String>,
    /// `None` at 100%, where no stable traffic is left to compare with.
    pub(crate) health: Option<StepHealth>,
    pub(crate) promoted: bool,
    pub(crate) seconds: f64,
    /// The loadgen's report of the step's traffic.
    pub(crate) report: Value,
}

/// Steps as `10,30,50,100`: rising, within 1..=100, ending at 100.
pub(crate) fn parse_steps(text: &str) -> Result<Vec<u32>, String> {
    let steps: Vec<u32> = text
        .split(',')
        .map(|s| {
            s.trim()
                .parse::<u32>()
                .map_err(|_| format!("`{s}` is not a percentage"))
        })
        .collect::<Result<_, _>>()?;
    let rising = steps.windows(2).all(|w| w[0] < w[1]);
    if steps.is_empty() || !rising || steps[0] == 0 || steps.last() != Some(&100) {
        return Err(format!(
            "--steps {text}: percentages must rise from above 0 and end at 100 (e.g. 10,30,50,100)"
        ));
    }
    Ok(steps)
}

/// The weights of the step at `percent`: the canary's and the other
/// version's, or the canary's alone at 100.
fn weights_at(job: &Job, canary: &str, percent: u32) -> Vec<(String, u32)> {
    let other = if canary == job.stable {
        &job.canary
    } else {
        &job.stable
    };
    if percent == 100 {
        return vec![(canary.to_owned(), 100)];
    }
    vec![(other.clone(), 100 - percent), (canary.to_owned(), percent)]
}

/// Runs the rollout on `jobs`' target; `admin` is the local data plane's
/// admin endpoint, whose shares are the expected split (`None` on a
/// cluster: the split applied is the one expected). `Ok(true)` when every
/// step passed, `Ok(false)` when one did not and the job was rolled back.
pub(crate) async fn run(
    jobs: &Jobs,
    admin: Option<Url>,
    progress: Progress,
) -> Result<bool, String> {
    if progress.service != MEASURED_SERVICE {
        return Err(format!(
            "progress measures the split on the product page, which shows the {MEASURED_SERVICE} version only; `{}` cannot be measured there",
            progress.service
        ));
    }
    if !(progress.rate > 0.0 && progress.rate <= MAX_RATE) {
        return Err(format!(
            "--rate must be between 0 and {MAX_RATE} requests/s"
        ));
    }
    let fail = |e: bookinfo_canary::CanaryError| e.to_string();
    let job = jobs.job(&progress.service).await.map_err(fail)?;
    job.check_version(&progress.version)
        .map_err(|e| e.to_string())?;
    let stable = if progress.version == job.stable {
        job.canary.clone()
    } else {
        job.stable.clone()
    };
    // The change that made the job in force first: a cluster that cannot
    // show it is found here, before the rollout changes anything.
    jobs.wait_in_force(&progress.service).await.map_err(fail)?;
    let scratch = tempfile::tempdir().map_err(|e| format!("a scratch folder: {e}"))?;
    let started = Instant::now();
    let mut steps: Vec<StepRecord> = Vec::new();
    let mut passed = true;
    for &percent in &progress.steps {
        let run = Step {
            jobs,
            admin: admin.as_ref(),
            progress: &progress,
            job: &job,
            stable: &stable,
            scratch: scratch.path(),
        };
        let record = match run.at(percent).await {
            Ok(record) => record,
            // Whatever went wrong mid-rollout, the canary is not left with
            // traffic nobody watches.
            Err(error) => {
                return Err(match jobs.rollback(&progress.service).await {
                    Ok(_) => format!("{error}; the job was rolled back to where it started"),
                    Err(also) => format!("{error}; rolling the job back failed too: {also}"),
                });
            }
        };
        let promoted = record.promoted;
        steps.push(record);
        if !promoted {
            jobs.rollback(&progress.service).await.map_err(fail)?;
            jobs.wait_in_force(&progress.service).await.map_err(fail)?;
            println!("{}: rolled back to where the job started", progress.service);
            passed = false;
            break;
        }
    }
    let outcome = if passed { "promoted" } else { "rolled back" };
    let seconds = started.elapsed().as_secs_f64();
    if let Some(path) = &progress.report {
        let report = json!({
            "service": progress.service,
            "stable": stable,
            "version": progress.version,
            "outcome": outcome,
            "seconds": seconds,
            "steps": steps,
        });
        let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        write(path, &text)?;
    }
    if let Some(path) = &progress.html {
        let page = html::render(&html::Rollout {
            service: &progress.service,
            stable: &stable,
            canary: &progress.version,
            outcome,
            seconds,
            steps: &steps,
        });
        write(path, &page)?;
    }
    Ok(passed)
}

/// One step of a rollout and what it needs.
struct Step<'a> {
    jobs: &'a Jobs,
    admin: Option<&'a Url>,
    progress: &'a Progress,
    job: &'a Job,
    stable: &'a str,
    scratch: &'a std::path::Path,
}

impl Step<'_> {
    /// Applies the step at `percent`, waits for it, drives its traffic and
    /// decides.
    async fn at(&self, percent: u32) -> Result<StepRecord, String> {
        let progress = self.progress;
        let weights = weights_at(self.job, &progress.version, percent);
        let change = if percent == 100 {
            JobStep::All(progress.version.clone())
        } else {
            JobStep::Weights(weights.clone())
        };
        let fail = |e: bookinfo_canary::CanaryError| e.to_string();
        self.jobs
            .step(&progress.service, change)
            .await
            .map_err(fail)?;
        self.jobs
            .wait_in_force(&progress.service)
            .await
            .map_err(fail)?;
        let started = Instant::now();
        let expected = match self.admin {
            Some(admin) => Expected::Admin(admin),
            None => {
                let pairs: Vec<String> = weights.iter().map(|(v, w)| format!("{v}={w}")).collect();
                Expected::Fixed(parse_expect(&pairs.join(",")).map_err(|e| e.to_string())?)
            }
        };
        let ndjson = self.scratch.join(format!("step-{percent}.ndjson"));
        let traffic = Traffic {
            url: progress.url.clone(),
            rate: progress.rate,
            limit: progress.hold,
            display: Display::Quiet,
            ndjson: Some(ndjson.clone()),
        };
        let (handle, receiver) = bookinfo_loadgen::control();
        // The health comparison runs live too: a canary found worse ends
        // the step at once, not when the split is decided.
        let watcher = tokio::spawn(health::watch(
            ndjson.clone(),
            self.stable.to_owned(),
            progress.version.clone(),
            percent,
            progress.slow,
            handle.clone(),
        ));
        let result = verify::split(expected, &progress.service, traffic, (handle, receiver)).await;
        watcher.abort();
        let result = result?;
        let verdict = result.verdict.unwrap_or(Verdict::Running);
        let health = (percent < 100)
            .then(|| {
                health::compare(
                    &ndjson,
                    self.stable,
                    &progress.version,
                    percent,
                    progress.slow,
                )
            })
            .transpose()?;
        let worse = health.as_ref().and_then(StepHealth::worse);
        let report = serde_json::to_value(&result.report).map_err(|e| e.to_string())?;
        // The planner's estimate of the responses a decision needs, beside
        // what it took.
        let plan = &report["plan"];
        let planned = plan["mismatch_n"]
            .as_u64()
            .max(plan["equivalence_n"].as_u64())
            .map_or_else(|| "-".to_owned(), |n| format!("≈{n}"));
        println!(
            "step {percent}% {}: {verdict} after {:.1} s, {} responses (planned {planned})",
            progress.version,
            started.elapsed().as_secs_f64(),
            report["requests"]["completed"]
        );
        if let Some(health) = &health {
            println!("  health: {}", health.line());
        }
        if let Some(what) = worse {
            println!("  the canary is worse than {} at {what}", self.stable);
        }
        Ok(StepRecord {
            percent,
            promoted: matches!(verdict, Verdict::Pass) && worse.is_none(),
            verdict: verdict.label().to_owned(),
            reason: verdict.reason().map(str::to_owned),
            health,
            seconds: started.elapsed().as_secs_f64(),
            report,
        })
    }
}

fn write(path: &std::path::Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}
