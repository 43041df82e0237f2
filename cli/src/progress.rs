//! `bookinfo canary progress`: a rollout in steps, each measured. At each
//! step the weights are applied (taken by the data plane before the admin
//! answers: a new routing epoch), then traffic is driven at the app's page
//! and the observed split is verified by the loadgen's verdict engine
//! against the split in force; PASS promotes to the next step, anything else
//! rolls the job back and ends the rollout. The split is read from the
//! product page, which names the reviews version that answered, so the
//! service is `reviews`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bookinfo_canary::{Jobs, Step};
use bookinfo_loadgen::Display;
use bookinfo_verdict::Verdict;
use reqwest::Url;
use serde_json::json;

/// The one service whose version the product page shows.
const MEASURED_SERVICE: &str = "reviews";

pub(crate) struct Progress {
    pub(crate) admin: String,
    pub(crate) service: String,
    pub(crate) version: String,
    /// Canary percentages, rising, the last 100.
    pub(crate) steps: Vec<u32>,
    /// The page traffic is driven at.
    pub(crate) url: Url,
    pub(crate) rate: f64,
    /// Longest a step's verification may run.
    pub(crate) hold: Duration,
    pub(crate) report: Option<PathBuf>,
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

/// Runs the rollout; `Ok(true)` when every step passed, `Ok(false)` when
/// one did not and the job was rolled back.
pub(crate) async fn run(progress: Progress) -> Result<bool, String> {
    if progress.service != MEASURED_SERVICE {
        return Err(format!(
            "progress measures the split on the product page, which shows the {MEASURED_SERVICE} version only; `{}` cannot be measured there",
            progress.service
        ));
    }
    if !(progress.rate > 0.0 && progress.rate <= 10_000.0) {
        return Err("--rate must be between 0 and 10000 requests/s".into());
    }
    let local = Jobs::new(&progress.admin).map_err(|e| e.to_string())?;
    let job = local
        .job(&progress.service)
        .await
        .map_err(|e| e.to_string())?;
    job.check_version(&progress.version)
        .map_err(|e| e.to_string())?;
    let other = if progress.version == job.stable {
        job.canary.clone()
    } else {
        job.stable.clone()
    };
    let admin: Url = format!("{}/", progress.admin.trim_end_matches('/'))
        .parse()
        .map_err(|e| format!("--admin {}: {e}", progress.admin))?;
    let started = Instant::now();
    let mut steps = Vec::new();
    let mut passed = true;
    for &percent in &progress.steps {
        let step = if percent == 100 {
            Step::All(progress.version.clone())
        } else {
            Step::Weights(vec![
                (other.clone(), 100 - percent),
                (progress.version.clone(), percent),
            ])
        };
        local
            .step(&progress.service, step)
            .await
            .map_err(|e| e.to_string())?;
        let step_started = Instant::now();
        let (verdict, report) = verify(&progress, &admin).await?;
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
            step_started.elapsed().as_secs_f64(),
            report["requests"]["completed"]
        );
        steps.push(json!({
            "percent": percent,
            "verdict": verdict.to_string(),
            "seconds": step_started.elapsed().as_secs_f64(),
            "report": report,
        }));
        if !matches!(verdict, Verdict::Pass) {
            local
                .rollback(&progress.service)
                .await
                .map_err(|e| e.to_string())?;
            println!("{}: rolled back to where the job started", progress.service);
            passed = false;
            break;
        }
    }
    if let Some(path) = &progress.report {
        let report = json!({
            "service": progress.service,
            "version": progress.version,
            "outcome": if passed { "promoted" } else { "rolled back" },
            "seconds": started.elapsed().as_secs_f64(),
            "steps": steps,
        });
        let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(passed)
}

/// Drives traffic at the page and verifies the split in force: the
/// verdict, and the run's report.
async fn verify(progress: &Progress, admin: &Url) -> Result<(Verdict, serde_json::Value), String> {
    let result = crate::verify::split(
        admin,
        &progress.service,
        progress.url.clone(),
        progress.rate,
        progress.hold,
        Display::Quiet,
    )
    .await?;
    let report = serde_json::to_value(&result.report).map_err(|e| e.to_string())?;
    Ok((result.verdict.unwrap_or(Verdict::Running), report))
}
