//! `bookinfo up`: every Bookinfo service as its own process on loopback
//! ports, the data plane's router in front of each service host, routing
//! files applied, and everything stopped together.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::envoy::config::Serves;
use crate::envoy::process::{self, Feed};
use crate::plane::{self, Instance, Plane};
use crate::supervise::{Children, Processes, Spec, Supervisor, Workloads};
use bookinfo_routing::load;

/// Environment variables of one workload.
type Env = &'static [(&'static str, &'static str)];

/// The six workloads of `bookinfo.yaml`: name, app, version, environment.
const WORKLOADS: [(&str, &str, &str, Env); 6] = [
    ("details-v1", "details", "v1", &[]),
    ("ratings-v1", "ratings", "v1", &[("SERVICE_VERSION", "v1")]),
    (
        "reviews-v1",
        "reviews",
        "v1",
        &[("ENABLE_RATINGS", "false"), ("SERVICE_VERSION", "v1")],
    ),
    (
        "reviews-v2",
        "reviews",
        "v2",
        &[
            ("ENABLE_RATINGS", "true"),
            ("STAR_COLOR", "black"),
            ("SERVICE_VERSION", "v2"),
        ],
    ),
    (
        "reviews-v3",
        "reviews",
        "v3",
        &[
            ("ENABLE_RATINGS", "true"),
            ("STAR_COLOR", "red"),
            ("SERVICE_VERSION", "v3"),
        ],
    ),
    ("productpage-v1", "productpage", "v1", &[]),
];

/// The hosts the services call (productpage is only called by clients).
const BACKENDS: [&str; 3] = ["details", "reviews", "ratings"];

#[derive(Debug, Clone)]
pub struct UpConfig {
    /// The program to run the services with (`bookinfo service NAME`).
    pub program: PathBuf,
    /// Where the app is reached (productpage's router); 0 picks a free port.
    pub listen: SocketAddr,
    /// The admin endpoint; 0 picks a free port. Always loopback.
    pub admin: SocketAddr,
    /// Routing files applied in order at start.
    pub routes: Vec<PathBuf>,
    /// Re-read the routing files when they change.
    pub watch: bool,
    /// Log filter of the service processes (`RUST_LOG`).
    pub service_log: String,
    pub router: Router,
    /// Extra environment for named workloads (`reviews-v2`, `FAIL_SHARE`,
    /// `0.5`): set after the workload's own, so it can override them.
    pub env: Vec<WorkloadEnv>,
    /// When spans are exported: the `OTEL_*` variables every service gets
    /// to export where this process does; the plane then makes its spans.
    pub tracing: Option<Vec<(String, String)>>,
}

/// One variable for one workload (`--env reviews-v2:FAIL_SHARE=0.5`).
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadEnv {
    pub workload: String,
    pub name: String,
    pub value: String,
}

/// `WORKLOAD:NAME=VALUE`, the workload one that `up` runs.
pub fn parse_env(text: &str) -> Result<WorkloadEnv, String> {
    let form = || format!("`{text}` is not WORKLOAD:NAME=VALUE (e.g. reviews-v2:FAIL_SHARE=0.5)");
    let (workload, assignment) = text.split_once(':').ok_or_else(form)?;
    let (name, value) = assignment.split_once('=').ok_or_else(form)?;
    let valid_name = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit();
    if !valid_name || value.contains('\0') {
        return Err(form());
    }
    if !WORKLOADS.iter().any(|(known, ..)| *known == workload) {
        let known: Vec<&str> = WORKLOADS.iter().map(|(name, ..)| *name).collect();
        return Err(format!(
            "`{workload}` is not a workload of `up` ({})",
            known.join(", ")
        ));
    }
    Ok(WorkloadEnv {
        workload: workload.to_owned(),
        name: name.to_owned(),
        value: value.to_owned(),
    })
}

/// What routes between the services.
#[derive(Debug, Clone)]
pub enum Router {
    /// The data plane's own router.
    Local,
    /// Real Envoy (this program), configured from the same routing files.
    Envoy(PathBuf),
}

/// The running app.
pub struct Up {
    pub entry: SocketAddr,
    pub admin: SocketAddr,
    pub plane: Arc<Plane>,
    /// What the service processes are doing (also shown on the admin endpoint).
    pub processes: Processes,
    /// Envoy's own admin endpoint, when Envoy routes.
    pub envoy_admin: Option<SocketAddr>,
    envoy: Option<(tokio::process::Child, Arc<Feed>)>,
    children: Children,
    stop: watch::Sender<bool>,
}

async fn serve(listener: TcpListener, router: axum::Router, mut stop: watch::Receiver<bool>) {
    let _ = bookinfo_server::serve(listener, router, async move {
        let _ = stop.wait_for(|stopped| *stopped).await;
    })
    .await;
}

impl Up {
    pub async fn start(config: &UpConfig) -> Result<Self, String> {
        let io = |what: &str, e: std::io::Error| format!("{what}: {e}");
        // Routers first: the services are told where their backends are.
        // The entry point is productpage's, for clients; each workload has
        // its own outbound listener per backend host, as its sidecar would,
        // so the plane knows who called (the metrics' source).
        let entry_listener = TcpListener::bind(config.listen).await.map_err(|e| {
            io(
                &format!("cannot listen on {} for productpage", config.listen),
                e,
            )
        })?;
        let mut outbound: Vec<(usize, &str, TcpListener)> = Vec::new();
        let mut instances = Vec::new();
        let children = Children::default();
        let processes = Processes::default();
        for (index, (name, app, version, env)) in WORKLOADS.into_iter().enumerate() {
            let mut vars = vec![
                ("HOSTNAME".to_owned(), format!("{name}-local")),
                ("RUST_LOG".to_owned(), config.service_log.clone()),
            ];
            for host in BACKENDS {
                // Envoy keeps its own statistics: one listener per host
                // serves every caller (fewer ports released for it to bind).
                let shared = matches!(config.router, Router::Envoy(_))
                    .then(|| outbound.iter().find(|(_, h, _)| *h == host))
                    .flatten();
                let port = match shared {
                    Some((_, _, listener)) => listener.local_addr(),
                    None => {
                        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| {
                            io(&format!("cannot listen for {name}'s calls to {host}"), e)
                        })?;
                        let addr = listener.local_addr();
                        outbound.push((index, host, listener));
                        addr
                    }
                }
                .map_err(|e| io("router", e))?
                .port();
                let upper = host.to_ascii_uppercase();
                vars.push((format!("{upper}_HOSTNAME"), "127.0.0.1".to_owned()));
                vars.push((format!("{upper}_SERVICE_PORT"), port.to_string()));
            }
            vars.extend(config.tracing.iter().flatten().cloned());
            vars.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
            vars.extend(
                config
                    .env
                    .iter()
                    .filter(|extra| extra.workload == name)
                    .map(|extra| (extra.name.clone(), extra.value.clone())),
            );
            let spec = Spec {
                name: name.to_owned(),
                program: config.program.clone(),
                args: vec!["service".to_owned(), app.to_owned()],
                env: vars,
            };
            let (supervisor, addr) = Supervisor::start(spec, processes.clone()).await?;
            children.add(name.to_owned(), supervisor).await;
            instances.push(Instance {
                app: app.to_owned(),
                labels: BTreeMap::from([("version".to_owned(), version.to_owned())]),
                authority: addr.to_string(),
            });
        }

        let plane = Plane::new(instances.clone());
        plane.replace(read_routes(&config.routes)?)?;
        plane.trace(config.tracing.is_some());

        let (stop, stopped) = watch::channel(false);
        let entry = entry_listener.local_addr().map_err(|e| io("entry", e))?;
        let envoy = match &config.router {
            Router::Local => {
                tokio::spawn(serve(
                    entry_listener,
                    plane::host_router(plane.clone(), plane::ENTRY_HOST, None),
                    stopped.clone(),
                ));
                for (source, host, listener) in outbound {
                    tokio::spawn(serve(
                        listener,
                        plane::host_router(plane.clone(), host, Some(source)),
                        stopped.clone(),
                    ));
                }
                None
            }
            Router::Envoy(program) => {
                // Envoy binds the routers' ports: they are released here.
                let listeners = std::iter::once((plane::ENTRY_HOST, entry_listener))
                    .chain(
                        outbound
                            .into_iter()
                            .map(|(_, host, listener)| (host, listener)),
                    )
                    .map(|(host, listener)| {
                        let addr = listener.local_addr().map_err(|e| io("router", e))?;
                        Ok((addr, Serves::Host(host.to_owned())))
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                let (child, feed) = process::start(
                    program,
                    &config.program,
                    &plane.table(),
                    instances,
                    listeners,
                )
                .await?;
                let feed = Arc::new(feed);
                let follower = Arc::clone(&feed);
                plane.follow(Box::new(move |table| follower.install(table)));
                Some((child, feed))
            }
        };
        let admin_listener = TcpListener::bind(config.admin)
            .await
            .map_err(|e| io(&format!("cannot listen on {} for admin", config.admin), e))?;
        let admin = admin_listener.local_addr().map_err(|e| io("admin", e))?;
        tokio::spawn(serve(
            admin_listener,
            crate::admin::router(
                plane.clone(),
                Some(Workloads {
                    processes: processes.clone(),
                    children: children.clone(),
                }),
            ),
            stopped.clone(),
        ));
        if config.watch {
            tokio::spawn(watch_files(plane.clone(), config.routes.clone(), stopped));
        }
        Ok(Self {
            entry,
            admin,
            plane,
            processes,
            envoy_admin: envoy.as_ref().map(|(_, feed)| feed.admin()),
            envoy,
            children,
            stop,
        })
    }

    /// Kills one service process for good, without a restart (to show
    /// degraded pages, or to take a version offline).
    pub async fn kill(&mut self, name: &str) -> bool {
        self.children.remove(name, true).await
    }

    /// Stops the routers and every service process (SIGTERM first, so
    /// services drain; SIGKILL for what lingers).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Some((mut child, feed)) = self.envoy {
            let _ = child.kill().await;
            feed.remove();
        }
        self.children.stop_all().await;
    }
}

/// Polls the routing files (no inotify dependency; once a second is plenty
/// for a human editing a file) and replaces the routes when any changed.
async fn watch_files(plane: Arc<Plane>, files: Vec<PathBuf>, mut stop: watch::Receiver<bool>) {
    let stamp = |files: &[PathBuf]| -> Vec<Option<std::time::SystemTime>> {
        files
            .iter()
            .map(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok())
            .collect()
    };
    let mut last = stamp(&files);
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        let now = stamp(&files);
        if now == last {
            continue;
        }
        last = now;
        // Reading and compiling a large file takes a while: off the workers.
        let (files, plane) = (files.clone(), Arc::clone(&plane));
        let result = tokio::task::spawn_blocking(move || {
            let mut objects = Vec::new();
            for file in &files {
                objects.extend(load::load_file(file).map_err(|e| e.to_string())?.objects);
            }
            plane.replace(objects)
        })
        .await
        .unwrap_or_else(|_| Err("reloading the routing files failed".to_owned()));
        match result {
            Ok(applied) => {
                tracing::info!(epoch = applied.epoch, "routing files changed: new epoch")
            }
            Err(error) => tracing::error!("routing files rejected, previous routes stay: {error}"),
        }
    }
}

/// Reads routing files into objects, logging the documents left aside.
pub fn read_routes(files: &[PathBuf]) -> Result<Vec<load::Object>, String> {
    let mut objects = Vec::new();
    for path in files {
        let loaded = load::load_file(path).map_err(|e| e.to_string())?;
        for note in loaded.notes {
            tracing::info!("{note}");
        }
        objects.extend(loaded.objects);
    }
    Ok(objects)
}

/// What `bookinfo proxy` listens on.
pub struct ProxyListeners {
    /// Every host, told apart by the Host header.
    pub entry: TcpListener,
    pub admin: Option<TcpListener>,
    /// Workload names and their own listeners.
    pub outbound: Vec<(String, TcpListener)>,
}

/// `bookinfo proxy`: only the data plane, in front of instances that run
/// elsewhere (containers of docker/compose.yaml, benchmarks, services
/// started by hand): one listener for every host, told apart by the Host
/// header, the admin endpoint when `admin` is given, and for each
/// `outbound` workload a listener of its own (its sidecar's outbound
/// listener: what arrives there is that workload's call, for the metrics).
/// With `tracing`, each routed request makes the plane's spans.
pub async fn proxy_only(
    listeners: ProxyListeners,
    instances: Vec<Instance>,
    default_host: Option<String>,
    routes: &[PathBuf],
    tracing: bool,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let ProxyListeners {
        entry: listener,
        admin,
        outbound,
    } = listeners;
    let mut sources = Vec::new();
    for (workload, listener) in outbound {
        let index = instances
            .iter()
            .position(|i| crate::stats::workload_name(i) == workload)
            .ok_or_else(|| {
                format!("--outbound {workload}: no --instance is that workload (APP-VERSION)")
            })?;
        sources.push((index, listener));
    }
    let plane = Plane::new(instances);
    plane.replace(read_routes(routes)?)?;
    plane.trace(tracing);
    let (stop, stopped) = watch::channel(false);
    for (index, listener) in sources {
        tokio::spawn(serve(
            listener,
            plane::shared_router(plane.clone(), None, Some(index)),
            stopped.clone(),
        ));
    }
    if let Some(admin) = admin {
        tokio::spawn(serve(
            admin,
            crate::admin::router(plane.clone(), None),
            stopped.clone(),
        ));
    }
    let served = bookinfo_server::serve(
        listener,
        plane::shared_router(plane, default_host, None),
        shutdown,
    )
    .await
    .map_err(|e| e.to_string());
    let _ = stop.send(true);
    served
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn workload_env_is_workload_name_value() {
        assert_eq!(
            parse_env("reviews-v2:FAIL_SHARE=0.5"),
            Ok(WorkloadEnv {
                workload: "reviews-v2".into(),
                name: "FAIL_SHARE".into(),
                value: "0.5".into(),
            })
        );
        // The value may hold anything but NUL, `=` and `:` included.
        assert_eq!(
            parse_env("ratings-v1:X=a=b:c").map(|e| e.value),
            Ok("a=b:c".into())
        );
        assert_eq!(
            parse_env("ratings-v1:X=").map(|e| e.value),
            Ok(String::new())
        );
        for bad in [
            "",
            "reviews-v2",
            "reviews-v2:FAIL_SHARE",
            "reviews-v2:=1",
            "reviews-v2:1X=1",
            "reviews-v2:A-B=1",
            "reviews-v2:X=a\0b",
        ] {
            assert!(parse_env(bad).is_err(), "{bad:?}");
        }
        let unknown = parse_env("reviews-v9:X=1").unwrap_err();
        assert!(
            unknown.contains("reviews-v9") && unknown.contains("reviews-v2"),
            "{unknown}"
        );
    }
}
