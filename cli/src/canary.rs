//! `bookinfo canary ...`: the canary commands' arguments, dispatched to
//! `bookinfo-canary` against a data plane's admin endpoint.

use std::process::ExitCode;
use std::time::Duration;

use bookinfo_api::exit;
use bookinfo_canary::job::{self, Step, step_text};
use bookinfo_canary::{Compose, Job, Jobs, Rule};
use bookinfo_verdict::{Expectation, Verdict, VerdictConfig, window_verdict};
use clap::{Args, Subcommand};

use crate::progress::{self, Progress};

#[derive(Args)]
pub(crate) struct CanaryArgs {
    /// The data plane's admin endpoint (`bookinfo up`'s, or the compose
    /// stack's router's).
    #[arg(long, default_value = "http://127.0.0.1:15000")]
    admin: String,
    /// Where the job runs: `local` (`bookinfo up`, by the admin endpoint
    /// above), `compose` (the compose stack: its router's admin endpoint,
    /// its containers through `docker compose`) or `kube` (the cluster of
    /// the current kubectl context, namespace included).
    #[arg(long, value_enum, default_value_t = Target::Local)]
    target: Target,
    /// The kubectl program (`--target kube`).
    #[arg(long, default_value = "kubectl")]
    kubectl: std::path::PathBuf,
    /// The docker program (`--target compose`).
    #[arg(long, default_value = "docker")]
    docker: std::path::PathBuf,
    /// The stack's compose file (`--target compose`).
    #[arg(long, default_value = "docker/compose.yaml")]
    compose_file: std::path::PathBuf,
    /// The compose project's name, if not the one compose derives
    /// (`--target compose`).
    #[arg(long)]
    project: Option<String>,
    /// `--target kube`: print the objects each step would apply; change nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(subcommand)]
    command: CanaryCommand,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Target {
    Local,
    Compose,
    Kube,
}

impl CanaryArgs {
    fn jobs(&self) -> Result<Jobs, String> {
        if self.dry_run && !matches!(self.target, Target::Kube) {
            return Err(
                "--dry-run is for --target kube (the admin endpoint applies at once)".into(),
            );
        }
        match self.target {
            Target::Local => Jobs::new(&self.admin),
            Target::Compose => Jobs::compose(
                &self.admin,
                Compose {
                    program: self.docker.clone(),
                    file: self.compose_file.clone(),
                    project: self.project.clone(),
                },
            ),
            Target::Kube => Jobs::kube(self.kubectl.clone(), self.dry_run),
        }
        .map_err(|e| e.to_string())
    }

    /// The admin endpoint whose shares are the split in force (`None` on
    /// a cluster, where the split applied is the one expected).
    fn split_source(&self) -> Result<Option<reqwest::Url>, String> {
        if matches!(self.target, Target::Kube) {
            return Ok(None);
        }
        format!("{}/", self.admin.trim_end_matches('/'))
            .parse()
            .map(Some)
            .map_err(|e| format!("--admin {}: {e}", self.admin))
    }
}

#[derive(Subcommand)]
enum CanaryCommand {
    /// Start a job: VERSION of SERVICE as the canary, every request still
    /// on the stable version.
    Create {
        service: String,
        version: String,
        /// The stable version, when the routing in force does not send
        /// everything to one.
        #[arg(long)]
        stable: Option<String>,
        /// `--target kube`: create the Deployment SERVICE-VERSION from the
        /// stable version's, with this image.
        #[arg(long)]
        image: Option<String>,
    },
    /// Split by weight: `weight reviews v1=30 v2=70` (summing to 100).
    Weight {
        service: String,
        #[arg(required = true)]
        weights: Vec<String>,
    },
    /// Send the requests that match one rule to the canary.
    Match {
        service: String,
        /// The canary version (the job's).
        #[arg(long)]
        to: String,
        /// NAME=VALUE: a header with exactly this value.
        #[arg(long, group = "rule")]
        header: Option<String>,
        /// NAME=VALUE: a cookie with this value.
        #[arg(long, group = "rule")]
        cookie: Option<String>,
        /// Paths that start with this.
        #[arg(long, group = "rule")]
        uri_prefix: Option<String>,
        /// A regular expression on the User-Agent (operating system, browser).
        #[arg(long, group = "rule")]
        user_agent: Option<String>,
    },
    /// Every request to stable, PERCENT of them copied to the canary.
    Mirror {
        service: String,
        #[arg(long)]
        to: String,
        #[arg(long)]
        percent: f64,
        /// Then send N pages and check, from the canary's own request
        /// counters, that PERCENT of them were copied (exit 1 if not).
        #[arg(long, value_name = "N")]
        verify: Option<u64>,
        /// The page `--verify` requests.
        #[arg(long, default_value = "http://127.0.0.1:9080/productpage")]
        url: reqwest::Url,
    },
    /// Every request to one of the job's versions at once.
    BlueGreen {
        service: String,
        #[arg(long)]
        to: String,
    },
    /// Every request to VERSION (the job goes on until `offline`).
    TakeOver { service: String, version: String },
    /// Back to the routing in force before `create`; the job ends.
    Rollback { service: String },
    /// VERSION no longer routed to: everything on the other one; the job ends.
    Offline { service: String, version: String },
    /// The routing in force and the job's state; with `--observe`, the
    /// split the router gave the traffic flowing over that window, and its
    /// verdict against the shares in force (exit 0 PASS, 1 FAIL, 2
    /// undecided).
    Status {
        service: String,
        /// Watch the router's answers for this long (e.g. `10s`).
        #[arg(long, value_parser = humantime::parse_duration)]
        observe: Option<Duration>,
    },
    /// Roll VERSION out in steps (`--steps 10,30,50,100`), each verified on
    /// traffic driven at the page: the split by the verdict engine, the
    /// canary's errors and slow answers against the stable version's by a
    /// sequential test. A PASS with a canary not worse promotes; anything
    /// else rolls the job back (exit 1).
    Progress {
        service: String,
        version: String,
        #[arg(long, default_value = "10,30,50,100")]
        steps: String,
        /// The page traffic is driven at (`bookinfo up`'s entry point).
        #[arg(long, default_value = "http://127.0.0.1:9080/productpage")]
        url: reqwest::Url,
        /// Requests per second.
        #[arg(long, default_value_t = 50.0)]
        rate: f64,
        /// Longest a step's verification may run.
        #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
        hold: Duration,
        /// An answer slower than this is a slow answer.
        #[arg(long, default_value = "200ms", value_parser = humantime::parse_duration)]
        slow: Duration,
        /// Write the whole rollout (every step's verdicts and report) as JSON.
        #[arg(long)]
        report: Option<std::path::PathBuf>,
        /// Write the rollout as an HTML page, with plots.
        #[arg(long)]
        html: Option<std::path::PathBuf>,
    },
}

fn describe(job: &Job) -> String {
    format!(
        "{}: stable {}, canary {}, {}",
        job.service,
        job.stable,
        job.canary,
        step_text(&job.step)
    )
}

fn rule(
    header: Option<String>,
    cookie: Option<String>,
    uri_prefix: Option<String>,
    user_agent: Option<String>,
) -> Result<Rule, String> {
    if let Some(header) = header {
        let (name, value) = job::parse_pair(&header).map_err(|e| e.to_string())?;
        return Ok(Rule::Header { name, value });
    }
    if let Some(cookie) = cookie {
        let (name, value) = job::parse_pair(&cookie).map_err(|e| e.to_string())?;
        return Ok(Rule::Cookie { name, value });
    }
    if let Some(prefix) = uri_prefix {
        return Ok(Rule::UriPrefix(prefix));
    }
    user_agent
        .map(Rule::UserAgent)
        .ok_or_else(|| "name one of --header, --cookie, --uri-prefix, --user-agent".to_owned())
}

/// Runs one command, saying what it did on stdout.
pub(crate) async fn run(args: CanaryArgs) -> Result<ExitCode, String> {
    if let CanaryCommand::Progress {
        service,
        version,
        steps,
        url,
        rate,
        hold,
        slow,
        report,
        html,
    } = &args.command
    {
        if args.dry_run {
            return Err("progress measures what it applies: no --dry-run".into());
        }
        let progress = Progress {
            service: service.clone(),
            version: version.clone(),
            steps: progress::parse_steps(steps)?,
            url: url.clone(),
            rate: *rate,
            hold: *hold,
            slow: *slow,
            report: report.clone(),
            html: html.clone(),
        };
        let jobs = args.jobs()?;
        return Ok(
            if progress::run(&jobs, args.split_source()?, progress).await? {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            },
        );
    }
    if let CanaryCommand::Mirror {
        service,
        to,
        percent,
        verify: Some(pages),
        url,
    } = &args.command
    {
        let local = args.jobs()?;
        let job = mirror(&local, service, to, *percent).await?;
        println!("{}", describe(&job));
        let (verified, said) = verify_mirror(&local, &job, *percent, *pages, url).await?;
        println!("{said}");
        return Ok(if verified {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    if let CanaryCommand::Status {
        service,
        observe: Some(window),
    } = &args.command
    {
        let local = args.jobs()?;
        return status_observed(&local, service, *window).await;
    }
    let done = step(args).await?;
    println!("{done}");
    Ok(ExitCode::SUCCESS)
}

async fn mirror(local: &Jobs, service: &str, to: &str, percent: f64) -> Result<Job, String> {
    let job = local.job(service).await.map_err(|e| e.to_string())?;
    if to != job.canary {
        return Err(format!(
            "--to {to}: the job mirrors to its canary, {}",
            job.canary
        ));
    }
    local
        .step(service, Step::Mirror(percent))
        .await
        .map_err(|e| e.to_string())
}

/// The z of a two-sided test at a 0.1% false-alarm rate.
const Z_999: f64 = 3.29;
/// Mirrored copies are sent without waiting for them: how long their
/// counters are polled for before they count as all arrived.
const MIRROR_SETTLE: Duration = Duration::from_secs(3);

/// Sends `pages` requests to `url` and counts, on the canary's own
/// counters, the copies it received: the mirror holds when the count is
/// within the binomial bounds of `percent` (a 0.1% false-alarm rate).
async fn verify_mirror(
    local: &Jobs,
    job: &Job,
    percent: f64,
    pages: u64,
    url: &reqwest::Url,
) -> Result<(bool, String), String> {
    let served = || local.requests_served(&job.service, &job.canary);
    let before = served().await.map_err(|e| e.to_string())?;
    let client = reqwest::Client::new();
    for _ in 0..pages {
        client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
    }
    // Until two readings agree (copies still arriving), within the settle time.
    let deadline = tokio::time::Instant::now() + MIRROR_SETTLE;
    let mut after = served().await.map_err(|e| e.to_string())?;
    while tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let again = served().await.map_err(|e| e.to_string())?;
        if again == after {
            break;
        }
        after = again;
    }
    let copies = after.saturating_sub(before);
    let p = percent / 100.0;
    let expected = pages as f64 * p;
    let bound = Z_999 * (pages as f64 * p * (1.0 - p)).sqrt();
    let verified = (copies as f64 - expected).abs() <= bound;
    Ok((
        verified,
        format!(
            "mirror to {} {}: {copies} of {pages} requests copied (expected {expected:.0} ± {bound:.0} at a 0.1% false-alarm rate)",
            job.canary,
            if verified {
                "verified"
            } else {
                "NOT as configured"
            }
        ),
    ))
}

/// The longest `status --observe` watches: a window is one look at two
/// readings of counters, and an hour is past any use at a prompt.
const MAX_OBSERVE: Duration = Duration::from_secs(3600);

/// `status --observe WINDOW`: the job, the routing, and the split the
/// router's answers took over the window with its verdict.
async fn status_observed(
    local: &Jobs,
    service: &str,
    window: Duration,
) -> Result<ExitCode, String> {
    if window.is_zero() || window > MAX_OBSERVE {
        return Err(format!(
            "--observe must be above 0 and at most {} s",
            MAX_OBSERVE.as_secs()
        ));
    }
    let fail = |e: bookinfo_canary::CanaryError| e.to_string();
    let (routing, job) = local.status(service).await.map_err(fail)?;
    println!(
        "{}",
        job.map_or_else(|| format!("{service}: no canary job"), |j| describe(&j))
    );
    println!("routing in force: {routing}");
    let observed = local.observe(service, window).await.map_err(fail)?;
    let total: u64 = observed.values().map(|(requests, _)| requests).sum();
    let parts: Vec<String> = observed
        .iter()
        .map(|(version, (requests, errors))| {
            let share = if total == 0 {
                0.0
            } else {
                *requests as f64 / total as f64 * 100.0
            };
            format!("{version} {requests} ({share:.1}%, {errors} errors)")
        })
        .collect();
    println!(
        "observed over {}: {}",
        humantime::format_duration(window),
        parts.join(", ")
    );
    let shares = routing["shares"].as_object().cloned().unwrap_or_default();
    let expected = Expectation::new(
        shares
            .iter()
            .filter_map(|(version, share)| Some((version.clone(), share.as_f64()? * 100.0))),
    )
    .map_err(|_| format!("{service} has no weighted route in force to compare with"))?;
    let counts: Vec<(String, u64)> = observed
        .into_iter()
        .map(|(version, (requests, _))| (version, requests))
        .collect();
    let verdict = window_verdict(&counts, &expected, &VerdictConfig::default());
    println!("verdict: {verdict}");
    Ok(ExitCode::from(match verdict {
        Verdict::Pass => exit::SUCCESS,
        Verdict::Fail(_) => exit::FAILURE,
        Verdict::Inconclusive(_) | Verdict::Running => exit::INCONCLUSIVE,
    }))
}

/// One step of a job; what it did.
async fn step(args: CanaryArgs) -> Result<String, String> {
    let local = args.jobs()?;
    let fail = |e: bookinfo_canary::CanaryError| e.to_string();
    Ok(match args.command {
        CanaryCommand::Create {
            service,
            version,
            stable,
            image,
        } => describe(
            &local
                .create(&service, &version, stable.as_deref(), image.as_deref())
                .await
                .map_err(fail)?,
        ),
        CanaryCommand::Weight { service, weights } => {
            let weights = job::parse_weights(&weights).map_err(|e| e.to_string())?;
            describe(
                &local
                    .step(&service, Step::Weights(weights))
                    .await
                    .map_err(fail)?,
            )
        }
        CanaryCommand::Match {
            service,
            to,
            header,
            cookie,
            uri_prefix,
            user_agent,
        } => {
            let job = local.job(&service).await.map_err(fail)?;
            if to != job.canary {
                return Err(format!(
                    "--to {to}: matching requests go to the job's canary, {}",
                    job.canary
                ));
            }
            let rule = rule(header, cookie, uri_prefix, user_agent)?;
            describe(&local.match_rule(&service, rule).await.map_err(fail)?)
        }
        CanaryCommand::Mirror {
            service,
            to,
            percent,
            ..
        } => describe(&mirror(&local, &service, &to, percent).await?),
        CanaryCommand::BlueGreen { service, to } => {
            describe(&local.step(&service, Step::All(to)).await.map_err(fail)?)
        }
        CanaryCommand::TakeOver { service, version } => describe(
            &local
                .step(&service, Step::All(version))
                .await
                .map_err(fail)?,
        ),
        CanaryCommand::Rollback { service } => {
            let epoch = local.rollback(&service).await.map_err(fail)?;
            format!("{service}: rolled back to the routing before the job (epoch {epoch})")
        }
        CanaryCommand::Offline { service, version } => {
            let (stays, stopped) = local.offline(&service, &version).await.map_err(fail)?;
            let workload = if stopped {
                format!(", its workload {service}-{version} stopped")
            } else {
                String::new()
            };
            format!(
                "{service}: {version} offline{workload}, every request on {stays}; the job ended"
            )
        }
        CanaryCommand::Status { service, .. } => {
            let (routing, job) = local.status(&service).await.map_err(fail)?;
            let job = job.map_or_else(|| format!("{service}: no canary job"), |j| describe(&j));
            format!("{job}\nrouting in force: {routing}")
        }
        // `run` takes it before any step.
        CanaryCommand::Progress { .. } => return Err("progress is no single step".into()),
    })
}
