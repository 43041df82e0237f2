//! The canary commands against a target: a running data plane (`bookinfo
//! up`, or the compose stack's router) through its admin endpoint (the
//! routing objects in force from `GET /objects`, each step one
//! `POST /apply`: all its objects in one change, or none; the shares and
//! the workloads from `GET /epoch`; the compose stack's workloads through
//! `docker compose`), or a cluster through `kubectl`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use crate::compose::Compose;
use crate::job::{self, Job, JobError, Rule, Step};
use crate::kube::Kubectl;
use crate::workload;

/// How long one admin call may take: the admin answers in milliseconds; a
/// large routing set compiles in well under a second.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum CanaryError {
    #[error("the admin endpoint {url} cannot be reached: {cause}")]
    Unreachable { url: String, cause: String },
    #[error("the admin endpoint refused the change: {0}")]
    Refused(String),
    #[error("unknown service `{0}`: no DestinationRule has it as host")]
    UnknownService(String),
    #[error("service `{service}` has no version `{version}`: its DestinationRule defines {known}")]
    UnknownVersion {
        service: String,
        version: String,
        known: String,
    },
    #[error("no workload runs {service} {version} here (running: {running})")]
    NoWorkload {
        service: String,
        version: String,
        running: String,
    },
    #[error(
        "{0} already has a canary job ({1} → {2}): take it over, roll it back or take a version offline first"
    )]
    JobExists(String, String, String),
    #[error("{0} is the stable version: a canary is another one")]
    SameVersion(String),
    #[error("{0} has no canary job")]
    NoJob(String),
    #[error(
        "{0}'s routing does not send everything to one version: say which is stable with --stable"
    )]
    NoStable(String),
    #[error("{command} failed: {cause}")]
    Tool { command: String, cause: String },
    #[error("{0} needs the local data plane's admin endpoint (--target local)")]
    NeedsAdmin(&'static str),
    #[error(
        "the VirtualService {0} has no status, so when a change reached the proxies cannot be seen: install Istio with PILOT_ENABLE_STATUS=true (and PILOT_ENABLE_CONFIG_DISTRIBUTION_TRACKING=true)"
    )]
    NoStatus(String),
    #[error("the VirtualService {0} was not reconciled within {1} s")]
    NotReconciled(String, u64),
    #[error(
        "--image makes a new Deployment on a cluster (--target kube); {0} runs the versions it was started with"
    )]
    ImageNeedsCluster(&'static str),
    #[error("{0} already exists: --image would replace a running workload's image; leave it out")]
    WorkloadExists(String),
    #[error(
        "no workload runs {service} {version}: give --image IMAGE to create {service}-{version}"
    )]
    NeedsImage { service: String, version: String },
    #[error(transparent)]
    Job(#[from] JobError),
}

/// The jobs of one target: a data plane's admin endpoint, or a cluster
/// through `kubectl`.
pub struct Jobs {
    base: String,
    client: reqwest::Client,
    target: Target,
}

/// Where the workloads are, and what changes routing.
enum Target {
    /// `bookinfo up`: routing and processes through the admin endpoint.
    Plane,
    /// The compose stack: routing through its router's admin endpoint,
    /// containers through `docker compose`.
    Compose(Compose),
    /// A cluster: everything through `kubectl`.
    Kube(Kubectl),
}

impl Jobs {
    /// `base` is the admin endpoint's URL (`http://127.0.0.1:15000`).
    pub fn new(base: &str) -> Result<Self, CanaryError> {
        let client = reqwest::Client::builder()
            .timeout(ADMIN_TIMEOUT)
            .build()
            .map_err(|e| CanaryError::Unreachable {
                url: base.to_owned(),
                cause: e.to_string(),
            })?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            client,
            target: Target::Plane,
        })
    }

    /// The compose stack: its router's admin endpoint at `base`, its
    /// containers through `compose`.
    pub fn compose(base: &str, compose: Compose) -> Result<Self, CanaryError> {
        let mut jobs = Self::new(base)?;
        jobs.target = Target::Compose(compose);
        Ok(jobs)
    }

    /// A cluster through `kubectl` (`program`); with `dry_run` the objects
    /// of each step are printed, not applied.
    pub fn kube(program: PathBuf, dry_run: bool) -> Result<Self, CanaryError> {
        let mut jobs = Self::new("")?;
        jobs.target = Target::Kube(Kubectl { program, dry_run });
        Ok(jobs)
    }

    fn kubectl(&self) -> Option<&Kubectl> {
        match &self.target {
            Target::Kube(kube) => Some(kube),
            _ => None,
        }
    }

    /// Waits until the routing last applied to `service` is in force: at
    /// once on a data plane, whose admin endpoint answers a change only once
    /// its routers took it; on a cluster once Istio reports the
    /// VirtualService reconciled at its new generation.
    pub async fn wait_in_force(&self, service: &str) -> Result<(), CanaryError> {
        match self.kubectl() {
            Some(kube) => kube.wait_reconciled(service).await,
            None => Ok(()),
        }
    }

    async fn get(&self, path: &str) -> Result<Value, CanaryError> {
        let url = format!("{}{path}", self.base);
        let unreachable = |cause: String| CanaryError::Unreachable {
            url: url.clone(),
            cause,
        };
        let response = self
            .client
            .get(&url)
            .send()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        if !response.status().is_success() {
            return Err(unreachable(format!("answered {}", response.status())));
        }
        response
            .json()
            .await
            .map_err(|e| unreachable(e.to_string()))
    }

    /// Applies `objects` in one change; the new routing epoch (0 on a
    /// cluster, which counts generations per object).
    async fn apply(&self, objects: &[Value]) -> Result<u64, CanaryError> {
        if let Some(kube) = self.kubectl() {
            return kube.apply(objects).await.map(|()| 0);
        }
        let body: Vec<String> = objects.iter().map(Value::to_string).collect();
        let url = format!("{}/apply", self.base);
        let request = self
            .client
            .post(&url)
            .header("content-type", "application/yaml")
            .body(body.join("\n---\n"));
        change(request, url).await
    }

    async fn delete_virtual_service(&self, service: &str) -> Result<u64, CanaryError> {
        if let Some(kube) = self.kubectl() {
            return kube.delete("virtualservice", service).await.map(|()| 0);
        }
        let url = format!("{}/objects/VirtualService/{service}", self.base);
        change(self.client.delete(&url), url).await
    }

    async fn objects(&self) -> Result<Vec<Value>, CanaryError> {
        if let Some(kube) = self.kubectl() {
            return kube.objects().await;
        }
        let listed = self.get("/objects").await?;
        Ok(listed["items"].as_array().cloned().unwrap_or_default())
    }

    /// The service's VirtualService in force, if any.
    async fn virtual_service(&self, service: &str) -> Result<Option<Value>, CanaryError> {
        Ok(self
            .objects()
            .await?
            .into_iter()
            .find(|o| o["kind"] == "VirtualService" && o["metadata"]["name"] == service))
    }

    /// The job on `service`.
    pub async fn job(&self, service: &str) -> Result<Job, CanaryError> {
        let vs = self.virtual_service(service).await?;
        vs.as_ref()
            .map(Job::from_virtual_service)
            .transpose()?
            .flatten()
            .ok_or_else(|| CanaryError::NoJob(service.to_owned()))
    }

    /// The subsets the DestinationRules of `service` define.
    async fn versions(&self, service: &str) -> Result<Vec<String>, CanaryError> {
        let objects = self.objects().await?;
        let rules: Vec<&Value> = objects
            .iter()
            .filter(|o| o["kind"] == "DestinationRule" && o["spec"]["host"] == service)
            .collect();
        if rules.is_empty() {
            return Err(CanaryError::UnknownService(service.to_owned()));
        }
        Ok(rules
            .iter()
            .flat_map(|r| r["spec"]["subsets"].as_array().cloned().unwrap_or_default())
            .filter_map(|s| s["name"].as_str().map(str::to_owned))
            .collect())
    }

    /// The DestinationRule whose host is `service`.
    async fn destination_rule(&self, service: &str) -> Result<Value, CanaryError> {
        self.objects()
            .await?
            .into_iter()
            .find(|o| o["kind"] == "DestinationRule" && o["spec"]["host"] == service)
            .ok_or_else(|| CanaryError::UnknownService(service.to_owned()))
    }

    /// The workloads running here (`reviews-v1`, ...), or `None` where the
    /// target cannot list them (a data plane in front of processes started
    /// by hand), which is then trusted.
    async fn running(&self) -> Result<Option<Vec<String>>, CanaryError> {
        match &self.target {
            Target::Kube(kube) => kube.deployments().await.map(Some),
            Target::Compose(compose) => compose.running().await.map(Some),
            Target::Plane => {
                let epoch = self.get("/epoch").await?;
                Ok(epoch["processes"].as_object().map(|processes| {
                    processes
                        .iter()
                        .filter(|(_, s)| s["state"] == "running")
                        .map(|(n, _)| n.clone())
                        .collect()
                }))
            }
        }
    }

    /// `version` is a subset of `service` and its workload runs.
    async fn check_version(&self, service: &str, version: &str) -> Result<(), CanaryError> {
        let versions = self.versions(service).await?;
        if !versions.iter().any(|v| v == version) {
            return Err(CanaryError::UnknownVersion {
                service: service.to_owned(),
                version: version.to_owned(),
                known: versions.join(", "),
            });
        }
        self.check_workload(service, version).await
    }

    async fn check_workload(&self, service: &str, version: &str) -> Result<(), CanaryError> {
        let Some(running) = self.running().await? else {
            return Ok(());
        };
        if running.contains(&format!("{service}-{version}")) {
            return Ok(());
        }
        Err(CanaryError::NoWorkload {
            service: service.to_owned(),
            version: version.to_owned(),
            running: format!("{running:?}"),
        })
    }

    /// The canary's workload made ready: found running; on the compose
    /// stack, started if its file defines it; on a cluster, created from
    /// `image` as a copy of the stable version's Deployment (the object to
    /// apply, and so a job that created it).
    async fn canary_workload(
        &self,
        service: &str,
        version: &str,
        stable: &str,
        image: Option<&str>,
    ) -> Result<Option<Value>, CanaryError> {
        let name = format!("{service}-{version}");
        match &self.target {
            Target::Plane if image.is_some() => Err(CanaryError::ImageNeedsCluster("bookinfo up")),
            Target::Compose(_) if image.is_some() => {
                Err(CanaryError::ImageNeedsCluster("the compose stack"))
            }
            Target::Plane => self.check_workload(service, version).await.map(|()| None),
            Target::Compose(compose) => {
                let defined = compose.defined().await?;
                if !defined.contains(&name) {
                    return Err(CanaryError::NoWorkload {
                        service: service.to_owned(),
                        version: version.to_owned(),
                        running: format!("the compose file defines {defined:?}"),
                    });
                }
                compose.start(&name).await.map(|()| None)
            }
            Target::Kube(kube) => match (kube.deployment(&name).await?, image) {
                (Some(_), Some(_)) => Err(CanaryError::WorkloadExists(name)),
                (Some(_), None) => Ok(None),
                (None, None) => Err(CanaryError::NeedsImage {
                    service: service.to_owned(),
                    version: version.to_owned(),
                }),
                (None, Some(image)) => {
                    let from = format!("{service}-{stable}");
                    let stable_deployment =
                        kube.deployment(&from)
                            .await?
                            .ok_or_else(|| CanaryError::NoWorkload {
                                service: service.to_owned(),
                                version: stable.to_owned(),
                                running: "no Deployment to copy".into(),
                            })?;
                    Ok(Some(workload::canary_deployment(
                        &stable_deployment,
                        service,
                        version,
                        image,
                    )))
                }
            },
        }
    }

    /// Starts a job: `version` as the canary of `service`, every request
    /// still on the stable version (the one the routing in force sends
    /// everything to, or `stable`). The canary's workload is made ready
    /// (created from `image` on a cluster) and its DestinationRule subset
    /// added if missing, all in the one change that creates the job.
    pub async fn create(
        &self,
        service: &str,
        version: &str,
        stable: Option<&str>,
        image: Option<&str>,
    ) -> Result<Job, CanaryError> {
        // An unknown service first: nothing else can be said of it.
        let rule = self.destination_rule(service).await?;
        let current = self.virtual_service(service).await?;
        if let Some(job) = current
            .as_ref()
            .map(Job::from_virtual_service)
            .transpose()?
            .flatten()
        {
            return Err(CanaryError::JobExists(job.service, job.stable, job.canary));
        }
        let stable = match stable {
            Some(stable) => stable.to_owned(),
            None => current
                .as_ref()
                .and_then(single_version)
                .ok_or_else(|| CanaryError::NoStable(service.to_owned()))?,
        };
        if stable == version {
            return Err(CanaryError::SameVersion(stable));
        }
        self.check_version(service, &stable).await?;
        let mut objects = Vec::new();
        let workload = self
            .canary_workload(service, version, &stable, image)
            .await?;
        let created = workload.is_some();
        objects.extend(workload);
        if !self.versions(service).await?.iter().any(|v| v == version) {
            objects.push(workload::with_subset(&rule, version));
        }
        let job = Job {
            service: service.to_owned(),
            stable,
            canary: version.to_owned(),
            step: Step::Created,
            start: current,
            created,
        };
        objects.push(job.virtual_service());
        self.apply(&objects).await?;
        Ok(job)
    }

    /// Moves the job on `service` to `step`.
    pub async fn step(&self, service: &str, step: Step) -> Result<Job, CanaryError> {
        let job = self.job(service).await?.at(step)?;
        self.apply(&[job.virtual_service()]).await?;
        Ok(job)
    }

    /// Requests matching `rule` to the canary.
    pub async fn match_rule(&self, service: &str, rule: Rule) -> Result<Job, CanaryError> {
        self.step(service, Step::Match(rule)).await
    }

    /// Back to where the job started: its VirtualService, or none.
    pub async fn rollback(&self, service: &str) -> Result<u64, CanaryError> {
        let job = self.job(service).await?;
        let epoch = match &job.start {
            Some(start) => self.apply(&[job::without_marks(start)]).await?,
            None => self.delete_virtual_service(service).await?,
        };
        // What `create` made goes too, once nothing routes to it.
        if job.created
            && let Some(kube) = self.kubectl()
        {
            kube.delete("deployment", &format!("{service}-{}", job.canary))
                .await?;
        }
        Ok(epoch)
    }

    /// Ends the job with every request on the version that stays (the one
    /// that is not `version`), then stops `version`'s workload where the
    /// data plane runs it (`bookinfo up`). The version that stays, and
    /// whether a workload was stopped.
    pub async fn offline(
        &self,
        service: &str,
        version: &str,
    ) -> Result<(String, bool), CanaryError> {
        let job = self.job(service).await?;
        job.check_version(version)?;
        let stays = if version == job.stable {
            job.canary.clone()
        } else {
            job.stable.clone()
        };
        let routed = job.at(Step::All(stays.clone()))?.virtual_service();
        self.apply(&[job::without_marks(&routed)]).await?;
        let stopped = self.stop_workload(service, version).await?;
        Ok((stays, stopped))
    }

    /// Stops the workload `SERVICE-VERSION` if the data plane runs it.
    async fn stop_workload(&self, service: &str, version: &str) -> Result<bool, CanaryError> {
        let name = format!("{service}-{version}");
        match &self.target {
            // The old version's workload removed, as the tutorial's last step.
            Target::Kube(kube) => return kube.delete("deployment", &name).await.map(|()| true),
            Target::Compose(compose) => return compose.stop(&name).await.map(|()| true),
            Target::Plane => {}
        }
        let epoch = self.get("/epoch").await?;
        if epoch["processes"].get(&name).is_none() {
            return Ok(false);
        }
        let url = format!("{}/processes/{name}/stop", self.base);
        let response =
            self.client
                .post(&url)
                .send()
                .await
                .map_err(|e| CanaryError::Unreachable {
                    url: url.clone(),
                    cause: e.to_string(),
                })?;
        Ok(response.status().is_success())
    }

    /// The routing in force for `service` (shares per version), and its job.
    pub async fn status(&self, service: &str) -> Result<(Value, Option<Job>), CanaryError> {
        let epoch = match &self.target {
            Target::Kube(_) => Value::Null,
            Target::Plane | Target::Compose(_) => self.get("/epoch").await?,
        };
        let shares = epoch["shares"][service].clone();
        let job = match self.job(service).await {
            Ok(job) => Some(job),
            Err(CanaryError::NoJob(_)) => None,
            Err(error) => return Err(error),
        };
        Ok((json!({"epoch": epoch["epoch"], "shares": shares}), job))
    }
}

impl Jobs {
    /// The requests and errors the data plane's router had answered by each
    /// version of `service`, summed over its instances.
    async fn answered(&self, service: &str) -> Result<BTreeMap<String, (u64, u64)>, CanaryError> {
        if matches!(self.target, Target::Kube(_)) {
            return Err(CanaryError::NeedsAdmin("observing the split"));
        }
        let epoch = self.get("/epoch").await?;
        let mut by_version = BTreeMap::new();
        for instance in epoch["instances"].as_array().into_iter().flatten() {
            if instance["app"] != service {
                continue;
            }
            let Some(version) = instance["labels"]["version"].as_str() else {
                continue;
            };
            let entry: &mut (u64, u64) = by_version.entry(version.to_owned()).or_default();
            entry.0 += instance["requests"].as_u64().unwrap_or(0);
            entry.1 += instance["errors"].as_u64().unwrap_or(0);
        }
        Ok(by_version)
    }

    /// What the router answered by each version of `service` over `window`
    /// (requests, errors): the split the traffic flowing actually took.
    pub async fn observe(
        &self,
        service: &str,
        window: Duration,
    ) -> Result<BTreeMap<String, (u64, u64)>, CanaryError> {
        let before = self.answered(service).await?;
        tokio::time::sleep(window).await;
        let after = self.answered(service).await?;
        Ok(after
            .into_iter()
            .map(|(version, (requests, errors))| {
                let (r0, e0) = before.get(&version).copied().unwrap_or_default();
                (
                    version,
                    (requests.saturating_sub(r0), errors.saturating_sub(e0)),
                )
            })
            .collect())
    }

    /// Requests the instances of `service` `version` have answered, from
    /// their own counters (`http_requests_total` on `/metrics`, health
    /// checks and scrapes left out): how mirrored requests are seen, since
    /// no client gets their answers.
    pub async fn requests_served(&self, service: &str, version: &str) -> Result<u64, CanaryError> {
        if !matches!(self.target, Target::Plane) {
            return Err(CanaryError::NeedsAdmin("counting a version's requests"));
        }
        let epoch = self.get("/epoch").await?;
        let instances: Vec<String> = epoch["instances"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|i| i["app"] == service && i["labels"]["version"] == version)
            .filter_map(|i| i["authority"].as_str().map(str::to_owned))
            .collect();
        if instances.is_empty() {
            return Err(CanaryError::NoWorkload {
                service: service.to_owned(),
                version: version.to_owned(),
                running: "none listed by the admin endpoint".into(),
            });
        }
        let mut total = 0;
        for authority in instances {
            let url = format!("http://{authority}/metrics");
            let text = self
                .client
                .get(&url)
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .map_err(|e| CanaryError::Unreachable {
                    url: url.clone(),
                    cause: e.to_string(),
                })?
                .text()
                .await
                .map_err(|e| CanaryError::Unreachable {
                    url: url.clone(),
                    cause: e.to_string(),
                })?;
            total += served(&text);
        }
        Ok(total)
    }
}

/// The sum of `http_requests_total` in a Prometheus text page, without the
/// routes of health checks and scrapes.
fn served(metrics: &str) -> u64 {
    metrics
        .lines()
        .filter(|line| line.starts_with("http_requests_total{"))
        .filter(|line| !line.contains("route=\"/health\"") && !line.contains("route=\"/metrics\""))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|n| n as u64)
        .sum()
}

/// Sends a change to the admin endpoint; the new routing epoch, or the
/// endpoint's reason for refusing it.
async fn change(request: reqwest::RequestBuilder, url: String) -> Result<u64, CanaryError> {
    let response = request.send().await.map_err(|e| CanaryError::Unreachable {
        url,
        cause: e.to_string(),
    })?;
    let ok = response.status().is_success();
    let answer: Value = response.json().await.unwrap_or_default();
    if !ok {
        let reason = answer["error"].as_str().unwrap_or("no reason given");
        return Err(CanaryError::Refused(reason.to_owned()));
    }
    Ok(answer["epoch"].as_u64().unwrap_or(0))
}

/// The one version a VirtualService sends everything to, if it does.
fn single_version(vs: &Value) -> Option<String> {
    let http = vs["spec"]["http"].as_array()?;
    let [rule] = http.as_slice() else {
        return None;
    };
    if rule["match"].as_array().is_some_and(|m| !m.is_empty()) {
        return None;
    }
    let [route] = rule["route"].as_array()?.as_slice() else {
        return None;
    };
    route["destination"]["subset"].as_str().map(str::to_owned)
}
