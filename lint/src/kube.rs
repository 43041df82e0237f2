//! The fields of Kubernetes Services and Deployments that the checks read,
//! typed. Every other field is ignored (the schemas check those); a field
//! read here with the wrong type is a finding, not a silent default.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Reads `value` as `T`, naming the offending field on error.
pub(crate) fn typed<T: DeserializeOwned>(value: serde_norway::Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        format!("field `{path}`: {}", e.into_inner())
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Metadata {
    pub(crate) name: String,
    pub(crate) labels: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Service {
    #[serde(default)]
    pub(crate) metadata: Metadata,
    #[serde(default)]
    pub(crate) spec: ServiceSpec,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ServiceSpec {
    pub(crate) selector: BTreeMap<String, String>,
    pub(crate) ports: Vec<ServicePort>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ServicePort {
    pub(crate) port: Option<i64>,
    /// A number or the name of a container port.
    pub(crate) target_port: Option<serde_norway::Value>,
}

impl ServicePort {
    /// The target port when it is a number (a named one is not compared).
    pub(crate) fn target_number(&self) -> Option<i64> {
        self.target_port
            .as_ref()
            .and_then(serde_norway::Value::as_i64)
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct Deployment {
    #[serde(default)]
    pub(crate) metadata: Metadata,
    #[serde(default)]
    pub(crate) spec: DeploymentSpec,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct DeploymentSpec {
    pub(crate) template: PodTemplate,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct PodTemplate {
    pub(crate) metadata: Metadata,
    pub(crate) spec: PodSpec,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct PodSpec {
    pub(crate) security_context: PodSecurityContext,
    pub(crate) automount_service_account_token: Option<bool>,
    pub(crate) containers: Vec<Container>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct PodSecurityContext {
    pub(crate) run_as_non_root: Option<bool>,
    pub(crate) seccomp_profile: SeccompProfile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct SeccompProfile {
    #[serde(rename = "type")]
    pub(crate) kind: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Container {
    pub(crate) name: String,
    pub(crate) image: Option<String>,
    pub(crate) ports: Vec<ContainerPort>,
    pub(crate) env: Vec<EnvVar>,
    pub(crate) readiness_probe: Probe,
    pub(crate) liveness_probe: Probe,
    pub(crate) security_context: ContainerSecurityContext,
    pub(crate) resources: Resources,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ContainerPort {
    pub(crate) name: Option<String>,
    pub(crate) container_port: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct EnvVar {
    pub(crate) name: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Probe {
    pub(crate) http_get: HttpGet,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct HttpGet {
    pub(crate) path: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ContainerSecurityContext {
    pub(crate) allow_privilege_escalation: Option<bool>,
    pub(crate) read_only_root_filesystem: Option<bool>,
    pub(crate) capabilities: Capabilities,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Capabilities {
    pub(crate) drop: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Resources {
    pub(crate) requests: Option<serde_norway::Value>,
    pub(crate) limits: Option<serde_norway::Value>,
}
