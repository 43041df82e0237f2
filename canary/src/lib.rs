//! Canary releases as commands (`bookinfo canary ...`), as the tutorial's
//! console does them: create a job that keeps every request on the stable
//! version, shift by weight, by request content (header, cookie, URI,
//! User-Agent), mirror, blue-green, take over, roll back to where the job
//! started, take the old version offline. Each step is one VirtualService
//! (`job`: rendering, pure) applied in one change, or not at all, through
//! the data plane's admin endpoint, `docker compose` for the compose
//! stack's containers, or `kubectl` (`jobs`, `compose`, `kube`; `workload`
//! renders a new version's Deployment and subset); the
//! job's state lives in annotations on that VirtualService, so any later
//! invocation, from any machine, knows where the rollout stands.

mod command;
mod compose;
pub mod job;
pub mod jobs;
mod kube;
mod workload;

pub use compose::Compose;
pub use job::{Job, JobError, Rule, Step};
pub use jobs::{CanaryError, Jobs};
