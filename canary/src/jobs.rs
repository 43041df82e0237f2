//! The canary commands against a target: a running data plane (`bookinfo
//! up`, or the compose stack's router) through its admin endpoint (the
//! routing objects in force from `GET /objects`, each step one
//! `POST /apply`: all its objects in one change, or none; the shares and
//! the workloads from `GET /epoch`), or a cluster through `kubectl`.

use std::time::Duration;

use serde_json::{Value, json};

use std::path::PathBuf;

use crate::job::{self, Job, JobError, Rule, Step};
use crate::kube::Kubectl;

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
    #[error("{0} has no canary job")]
    NoJob(String),
    #[error(
        "{0}'s routing does not send everything to one version: say which is stable with --stable"
    )]
    NoStable(String),
    #[error("{command} failed: {cause}")]
    Kubectl { command: String, cause: String },
    #[error("{0} needs the data plane's admin endpoint (--target local)")]
    NeedsAdmin(&'static str),
    #[error(transparent)]
    Job(#[from] JobError),
}

/// The jobs of one target: a data plane's admin endpoint, or a cluster
/// through `kubectl`.
pub struct Jobs {
    base: String,
    client: reqwest::Client,
    kube: Option<Kubectl>,
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
            kube: None,
        })
    }

    /// A cluster through `kubectl` (`program`); with `dry_run` the objects
    /// of each step are printed, not applied.
    pub fn kube(program: PathBuf, dry_run: bool) -> Result<Self, CanaryError> {
        let mut jobs = Self::new("")?;
        jobs.kube = Some(Kubectl { program, dry_run });
        Ok(jobs)
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
        if let Some(kube) = &self.kube {
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
        if let Some(kube) = &self.kube {
            return kube.delete("virtualservice", service).await.map(|()| 0);
        }
        let url = format!("{}/objects/VirtualService/{service}", self.base);
        change(self.client.delete(&url), url).await
    }

    async fn objects(&self) -> Result<Vec<Value>, CanaryError> {
        if let Some(kube) = &self.kube {
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

    async fn check_version(&self, service: &str, version: &str) -> Result<(), CanaryError> {
        let versions = self.versions(service).await?;
        if !versions.iter().any(|v| v == version) {
            return Err(CanaryError::UnknownVersion {
                service: service.to_owned(),
                version: version.to_owned(),
                known: versions.join(", "),
            });
        }
        if let Some(kube) = &self.kube {
            let running = kube.deployments().await?;
            if !running.contains(&format!("{service}-{version}")) {
                return Err(CanaryError::NoWorkload {
                    service: service.to_owned(),
                    version: version.to_owned(),
                    running: format!("{running:?}"),
                });
            }
            return Ok(());
        }
        // Under `bookinfo up` the workloads are listed; a plane in front
        // of containers lists none and is trusted.
        let epoch = self.get("/epoch").await?;
        if let Some(processes) = epoch["processes"].as_object() {
            let name = format!("{service}-{version}");
            let running = |state: &Value| state["state"] == "running";
            if !processes.get(&name).is_some_and(running) {
                let names: Vec<&String> = processes
                    .iter()
                    .filter(|(_, s)| running(s))
                    .map(|(n, _)| n)
                    .collect();
                return Err(CanaryError::NoWorkload {
                    service: service.to_owned(),
                    version: version.to_owned(),
                    running: format!("{names:?}"),
                });
            }
        }
        Ok(())
    }

    /// Starts a job: `version` as the canary of `service`, every request
    /// still on the stable version (the one the routing in force sends
    /// everything to, or `stable`).
    pub async fn create(
        &self,
        service: &str,
        version: &str,
        stable: Option<&str>,
    ) -> Result<Job, CanaryError> {
        // An unknown service first: nothing else can be said of it.
        self.versions(service).await?;
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
        self.check_version(service, &stable).await?;
        self.check_version(service, version).await?;
        let job = Job {
            service: service.to_owned(),
            stable,
            canary: version.to_owned(),
            step: Step::Created,
            start: current,
        };
        self.apply(&[job.virtual_service()]).await?;
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
        match &job.start {
            Some(start) => self.apply(&[job::without_marks(start)]).await,
            None => self.delete_virtual_service(service).await,
        }
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
        if let Some(kube) = &self.kube {
            // The old version's workload removed, as the tutorial's last step.
            return kube.delete("deployment", &name).await.map(|()| true);
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
        let epoch = match &self.kube {
            Some(_) => Value::Null,
            None => self.get("/epoch").await?,
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
    /// Requests the instances of `service` `version` have answered, from
    /// their own counters (`http_requests_total` on `/metrics`, health
    /// checks and scrapes left out): how mirrored requests are seen, since
    /// no client gets their answers.
    pub async fn requests_served(&self, service: &str, version: &str) -> Result<u64, CanaryError> {
        if self.kube.is_some() {
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
