//! The workloads of the compose stack (`docker/compose.yaml`), through
//! `docker compose`: which are running, starting one (`create`), stopping
//! one (`offline`). The stack's versions are the services its file
//! defines; the routing is its router's, through the admin endpoint.

use std::path::PathBuf;
use std::time::Duration;

use crate::CanaryError;
use crate::command;

/// How long one `docker compose` call may take: starting a service waits
/// for its health check (every 2 s in the stack), so allow several.
const COMPOSE_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Compose {
    /// The docker program.
    pub program: PathBuf,
    /// The stack's compose file.
    pub file: PathBuf,
    /// The project name, when not the one compose derives.
    pub project: Option<String>,
}

impl Compose {
    async fn compose(&self, args: &[&str]) -> Result<String, CanaryError> {
        let file = self.file.to_string_lossy();
        let mut all = vec!["compose", "-f", &file];
        if let Some(project) = &self.project {
            all.extend(["-p", project]);
        }
        all.extend(args);
        command::run(&self.program, &all, None, COMPOSE_TIMEOUT).await
    }

    fn names(text: &str) -> Vec<String> {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// The services the compose file defines (default profile and all).
    pub(crate) async fn defined(&self) -> Result<Vec<String>, CanaryError> {
        Ok(Self::names(&self.compose(&["config", "--services"]).await?))
    }

    /// The services whose container is running.
    pub(crate) async fn running(&self) -> Result<Vec<String>, CanaryError> {
        Ok(Self::names(
            &self
                .compose(&["ps", "--services", "--status", "running"])
                .await?,
        ))
    }

    /// Starts `name` (and waits for it to be healthy), alone.
    pub(crate) async fn start(&self, name: &str) -> Result<(), CanaryError> {
        self.compose(&["up", "-d", "--wait", "--no-deps", name])
            .await
            .map(drop)
    }

    /// Stops `name`'s container (it stays, stopped, as `compose stop` leaves it).
    pub(crate) async fn stop(&self, name: &str) -> Result<(), CanaryError> {
        self.compose(&["stop", name]).await.map(drop)
    }
}
