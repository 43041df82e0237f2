//! The canary commands on a cluster, through `kubectl`: the routing objects
//! read with `kubectl get -o json`, each step's objects applied with one
//! `kubectl apply -f -` of a List, the VirtualService deleted or a
//! workload removed with `kubectl delete`. With `--dry-run` the objects a
//! step would apply are printed instead, and nothing is changed.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::CanaryError;
use crate::command;

/// How long one kubectl call may take (an API server answers in well
/// under a second; a slow one gets ten).
const KUBECTL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a change may take to reach the proxies: istiod pushes within
/// a second or two; a large mesh may take tens.
const RECONCILE_TIMEOUT: Duration = Duration::from_secs(120);
/// How long an object may show no status at all before it counts as a
/// cluster that writes none.
const STATUS_TIMEOUT: Duration = Duration::from_secs(10);
const RECONCILE_POLL: Duration = Duration::from_millis(500);
const VIRTUAL_SERVICES: &str = "virtualservices.networking.istio.io";

pub(crate) struct Kubectl {
    pub(crate) program: PathBuf,
    pub(crate) dry_run: bool,
}

/// Whether the change to `object` is in force, by Istio's configuration
/// status: the `Reconciled` condition true for the object's current
/// generation (`status.observedGeneration`), which istiod writes once every
/// proxy has the change. `None` when the object has no status at all.
fn reconciled(object: &Value) -> Option<bool> {
    let status = object.get("status")?;
    let current = object["metadata"]["generation"] == status["observedGeneration"];
    let done = status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Reconciled" && c["status"] == "True");
    Some(current && done)
}

impl Kubectl {
    async fn run(&self, args: &[&str], input: Option<String>) -> Result<String, CanaryError> {
        command::run(&self.program, args, input, KUBECTL_TIMEOUT).await
    }

    async fn items(&self, kinds: &str) -> Result<Vec<Value>, CanaryError> {
        let text = self.run(&["get", kinds, "-o", "json"], None).await?;
        let list: Value = serde_json::from_str(&text).map_err(|e| CanaryError::Tool {
            command: format!("kubectl get {kinds} -o json"),
            cause: format!("not JSON: {e}"),
        })?;
        Ok(list["items"].as_array().cloned().unwrap_or_default())
    }

    /// The VirtualServices and DestinationRules in the namespace.
    pub(crate) async fn objects(&self) -> Result<Vec<Value>, CanaryError> {
        self.items(&format!(
            "{VIRTUAL_SERVICES},destinationrules.networking.istio.io"
        ))
        .await
    }

    /// The Deployment `name`, if there is one.
    pub(crate) async fn deployment(&self, name: &str) -> Result<Option<Value>, CanaryError> {
        Ok(self
            .items("deployments")
            .await?
            .into_iter()
            .find(|d| d["metadata"]["name"] == name))
    }

    /// Waits until the VirtualService `name` is reconciled at its current
    /// generation (or is gone). A cluster that writes no status (Istio's
    /// default; `PILOT_ENABLE_STATUS=true` turns it on) cannot show when
    /// a change arrived: that is an error, not a guess.
    pub(crate) async fn wait_reconciled(&self, name: &str) -> Result<(), CanaryError> {
        if self.dry_run {
            return Ok(());
        }
        let started = Instant::now();
        loop {
            let object = match self
                .run(&["get", VIRTUAL_SERVICES, name, "-o", "json"], None)
                .await
            {
                Ok(text) => {
                    serde_json::from_str::<Value>(&text).map_err(|e| CanaryError::Tool {
                        command: format!("kubectl get {VIRTUAL_SERVICES} {name} -o json"),
                        cause: format!("not JSON: {e}"),
                    })?
                }
                Err(CanaryError::Tool { cause, .. }) if cause.contains("NotFound") => return Ok(()),
                Err(error) => return Err(error),
            };
            match reconciled(&object) {
                Some(true) => return Ok(()),
                None if started.elapsed() >= STATUS_TIMEOUT => {
                    return Err(CanaryError::NoStatus(name.to_owned()));
                }
                _ if started.elapsed() >= RECONCILE_TIMEOUT => {
                    return Err(CanaryError::NotReconciled(
                        name.to_owned(),
                        RECONCILE_TIMEOUT.as_secs(),
                    ));
                }
                _ => tokio::time::sleep(RECONCILE_POLL).await,
            }
        }
    }

    /// The Deployments' names (`reviews-v1`, ...).
    pub(crate) async fn deployments(&self) -> Result<Vec<String>, CanaryError> {
        Ok(self
            .items("deployments")
            .await?
            .iter()
            .filter_map(|d| d["metadata"]["name"].as_str().map(str::to_owned))
            .collect())
    }

    /// Applies `objects` in one `kubectl apply` (or prints them).
    pub(crate) async fn apply(&self, objects: &[Value]) -> Result<(), CanaryError> {
        let list = json!({"apiVersion": "v1", "kind": "List", "items": objects});
        let text = serde_json::to_string_pretty(&list).unwrap_or_default();
        if self.dry_run {
            println!("{text}");
            return Ok(());
        }
        self.run(&["apply", "-f", "-"], Some(text)).await.map(drop)
    }

    /// `kubectl delete KIND NAME` (or prints it).
    pub(crate) async fn delete(&self, kind: &str, name: &str) -> Result<(), CanaryError> {
        if self.dry_run {
            println!("kubectl delete {kind} {name}");
            return Ok(());
        }
        self.run(&["delete", kind, name], None).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_is_in_force_when_reconciled_at_the_current_generation() {
        let object = |generation: u64, observed: u64, status: &str| {
            json!({"metadata": {"generation": generation}, "status": {
                "observedGeneration": observed,
                "conditions": [{"type": "Reconciled", "status": status}]}})
        };
        assert_eq!(reconciled(&object(3, 3, "True")), Some(true));
        assert_eq!(reconciled(&object(4, 3, "True")), Some(false));
        assert_eq!(reconciled(&object(3, 3, "False")), Some(false));
        assert_eq!(reconciled(&json!({"metadata": {"generation": 1}})), None);
    }
}
