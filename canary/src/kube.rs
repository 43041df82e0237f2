//! The canary commands on a cluster, through `kubectl`: the routing objects
//! read with `kubectl get -o json`, each step's objects applied with one
//! `kubectl apply -f -` of a List, the VirtualService deleted or a
//! workload removed with `kubectl delete`. With `--dry-run` the objects a
//! step would apply are printed instead, and nothing is changed.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::CanaryError;

/// How long one kubectl call may take (an API server answers in well
/// under a second; a slow one gets ten).
const KUBECTL_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) struct Kubectl {
    pub(crate) program: PathBuf,
    pub(crate) dry_run: bool,
}

impl Kubectl {
    async fn run(&self, args: &[&str], input: Option<String>) -> Result<String, CanaryError> {
        let what = format!("kubectl {}", args.join(" "));
        let failed = |cause: String| CanaryError::Kubectl {
            command: what.clone(),
            cause,
        };
        let mut child = Command::new(&self.program)
            .args(args)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| failed(format!("cannot run {}: {e}", self.program.display())))?;
        if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
            stdin
                .write_all(text.as_bytes())
                .await
                .map_err(|e| failed(e.to_string()))?;
        }
        let output = tokio::time::timeout(KUBECTL_TIMEOUT, child.wait_with_output())
            .await
            .map_err(|_| failed(format!("no answer within {}s", KUBECTL_TIMEOUT.as_secs())))?
            .map_err(|e| failed(e.to_string()))?;
        if !output.status.success() {
            return Err(failed(
                String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            ));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    async fn items(&self, kinds: &str) -> Result<Vec<Value>, CanaryError> {
        let text = self.run(&["get", kinds, "-o", "json"], None).await?;
        let list: Value = serde_json::from_str(&text).map_err(|e| CanaryError::Kubectl {
            command: format!("kubectl get {kinds} -o json"),
            cause: format!("not JSON: {e}"),
        })?;
        Ok(list["items"].as_array().cloned().unwrap_or_default())
    }

    /// The VirtualServices and DestinationRules in the namespace.
    pub(crate) async fn objects(&self) -> Result<Vec<Value>, CanaryError> {
        self.items("virtualservices.networking.istio.io,destinationrules.networking.istio.io")
            .await
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
