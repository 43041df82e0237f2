//! Canary releases as commands (`bookinfo canary ...`), as the tutorial's
//! console does them: create a job that keeps every request on the stable
//! version, shift by weight, by request content (header, cookie, URI,
//! User-Agent), mirror, blue-green, take over, roll back to where the job
//! started, take the old version offline. Each step is one VirtualService
//! (`job`: rendering, pure) applied in one change, or not at all, through
//! the data plane's admin endpoint or `kubectl` (`jobs`, `kube`); the
//! job's state lives in annotations on that VirtualService, so any later
//! invocation, from any machine, knows where the rollout stands.

pub mod job;
pub mod jobs;
mod kube;

pub use job::{Job, JobError, Rule, Step};
pub use jobs::{CanaryError, Jobs};
