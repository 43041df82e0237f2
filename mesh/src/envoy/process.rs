//! Real Envoy as the router of `bookinfo up --router envoy`: its listeners
//! fixed at start, their routes and the clusters in files it watches
//! (Envoy's file-based xDS: a new version is written elsewhere and moved
//! into place), and every routing change taken by Envoy before it counts as
//! applied, so the admin endpoint's epochs mean the same with either
//! router. Routes change through RDS, not by replacing listeners: a
//! replaced listener would keep serving its open connections with the old
//! routes while it drains.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::process::{Child, Command};

use bookinfo_routing::table::Table;

use super::config::{Serves, clusters, listener, listener_name, route_config, socket_address};
use crate::plane::Instance;
use crate::supervise::SUPERVISOR_PID;

/// How long Envoy has to start, and then to take each new configuration.
/// It takes one in milliseconds; a loaded CI machine is far slower.
const ENVOY_WAIT: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(20);
/// Admin answers are a few lines of counters.
const MAX_ADMIN_ANSWER: u64 = 1 << 20;
/// Worker threads: the machines this runs on have two cores.
const CONCURRENCY: &str = "2";

const ROUTES_TYPE: &str = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
const CLUSTER_TYPE: &str = "type.googleapis.com/envoy.config.cluster.v3.Cluster";

/// What writes Envoy's configuration files (shared with the plane, which
/// calls it for every change).
pub(crate) struct Feed {
    dir: PathBuf,
    admin: SocketAddr,
    instances: Vec<Instance>,
    listeners: Vec<(SocketAddr, Serves)>,
    version: AtomicU64,
}

/// Starts `envoy` (through `launcher`, our own program, so it dies with us)
/// with `table` on `listeners`, and waits until it serves.
pub(crate) async fn start(
    envoy: &Path,
    launcher: &Path,
    table: &Table,
    instances: Vec<Instance>,
    listeners: Vec<(SocketAddr, Serves)>,
) -> Result<(Child, Feed), String> {
    let dir = std::env::temp_dir().join(format!(
        "bookinfo-envoy-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let admin = free_port()?;
    let feed = Feed {
        dir,
        admin,
        instances,
        listeners,
        version: AtomicU64::new(0),
    };
    for (file, resources) in feed.files(table) {
        write_atomic(&feed.dir.join(file), &resources)?;
    }
    let bootstrap = feed.dir.join("bootstrap.json");
    write_atomic(&bootstrap, &feed.bootstrap())?;
    let child = Command::new(launcher)
        .arg("exec")
        .arg(envoy)
        .arg("-c")
        .arg(&bootstrap)
        .args(["--concurrency", CONCURRENCY, "--log-level", "warn"])
        .arg("--disable-hot-restart")
        .env(SUPERVISOR_PID, std::process::id().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", envoy.display()))?;
    let mut child = child;
    let deadline = Instant::now() + ENVOY_WAIT;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            feed.remove();
            return Err(format!(
                "envoy stopped at start ({status}); its log says why"
            ));
        }
        let ready = tokio::task::spawn_blocking(move || admin_get(admin, "/ready"))
            .await
            .ok()
            .and_then(Result::ok);
        if ready.is_some_and(|body| body.trim() == "LIVE") {
            return Ok((child, feed));
        }
        tokio::time::sleep(POLL).await;
    }
    feed.remove();
    Err(format!(
        "envoy was not ready within {}s",
        ENVOY_WAIT.as_secs()
    ))
}

impl Feed {
    /// Envoy's own admin endpoint (stats, configuration dump).
    pub(crate) fn admin(&self) -> SocketAddr {
        self.admin
    }

    /// Writes `table` and waits until Envoy has taken both files; an
    /// answer that Envoy rejected them is an error (and the routes in force
    /// stay, in Envoy as in the plane).
    pub(crate) fn install(&self, table: &Table) -> Result<(), String> {
        // Clusters first, each file taken before the next is written: Envoy
        // refuses routes to a cluster it lacks.
        for (file, resources) in self.files(table) {
            let before = self.counters()?;
            write_atomic(&self.dir.join(&file), &resources)?;
            self.wait_taken(&before, &file)?;
        }
        Ok(())
    }

    fn wait_taken(&self, before: &Counters, file: &str) -> Result<(), String> {
        let deadline = Instant::now() + ENVOY_WAIT;
        while Instant::now() < deadline {
            let now = self.counters()?;
            if now.rejected > before.rejected {
                return Err(format!("envoy rejected {file} (its log says why)"));
            }
            if now.taken.get(file) > before.taken.get(file) {
                return Ok(());
            }
            std::thread::sleep(POLL);
        }
        Err(format!(
            "envoy did not take {file} within {}s",
            ENVOY_WAIT.as_secs()
        ))
    }

    /// The files for `table`, clusters first, as discovery answers of a new
    /// version: `cds.json`, and a route file per listener.
    fn files(&self, table: &Table) -> Vec<(String, Value)> {
        let version = self.version.fetch_add(1, Ordering::SeqCst) + 1;
        let response = |kind: &str, resources: Vec<Value>| {
            let resources: Vec<Value> = resources
                .into_iter()
                .map(|mut r| {
                    r["@type"] = json!(kind);
                    r
                })
                .collect();
            json!({"version_info": version.to_string(), "resources": resources})
        };
        let mut files = vec![(
            "cds.json".to_owned(),
            response(CLUSTER_TYPE, clusters(table, &self.instances)),
        )];
        for (addr, serves) in &self.listeners {
            let routes = route_config(table, &self.instances, *addr, serves);
            files.push((routes_file(*addr), response(ROUTES_TYPE, vec![routes])));
        }
        files
    }

    fn bootstrap(&self) -> Value {
        let source = |file: &str| {
            json!({
                "path_config_source": {"path": self.dir.join(file)},
                "resource_api_version": "V3",
            })
        };
        let listeners: Vec<Value> = self
            .listeners
            .iter()
            .map(|(addr, _)| {
                let rds = json!({"rds": {
                    "route_config_name": listener_name(*addr),
                    "config_source": source(&routes_file(*addr)),
                }});
                listener(*addr, rds)
            })
            .collect();
        json!({
            "node": {"id": "bookinfo-up", "cluster": "bookinfo"},
            "admin": {"address": socket_address(self.admin)},
            "static_resources": {"listeners": listeners},
            "dynamic_resources": {"cds_config": source("cds.json")},
        })
    }

    fn counters(&self) -> Result<Counters, String> {
        let stats = admin_get(
            self.admin,
            "/stats?filter=(cluster_manager.cds|\\.rds\\.).*update_(success|rejected)$",
        )?;
        let mut counters = Counters::default();
        for line in stats.lines() {
            let Some((name, value)) = line.split_once(": ") else {
                continue;
            };
            let value: u64 = value.trim().parse().unwrap_or(0);
            if name.ends_with("update_rejected") {
                counters.rejected += value;
            } else if name == "cluster_manager.cds.update_success" {
                counters.taken.insert("cds.json".to_owned(), value);
            } else if let Some(route) = name
                .split(".rds.")
                .nth(1)
                .and_then(|r| r.strip_suffix(".update_success"))
            {
                counters.taken.insert(format!("rds-{route}.json"), value);
            }
        }
        Ok(counters)
    }

    /// Removes the configuration files (Envoy has stopped).
    pub(crate) fn remove(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Envoy's counts of configuration updates: taken per file, and rejected.
#[derive(Debug, Default)]
struct Counters {
    taken: std::collections::HashMap<String, u64>,
    rejected: u64,
}

/// The route file of the listener at `addr`.
fn routes_file(addr: SocketAddr) -> String {
    format!("rds-{}.json", listener_name(addr))
}

/// Writes through a temporary file and a rename: Envoy watches for the
/// move, and never reads half a file.
fn write_atomic(path: &Path, value: &Value) -> Result<(), String> {
    let temporary = path.with_extension("tmp");
    let text = serde_json::to_vec_pretty(value).map_err(|e| e.to_string())?;
    std::fs::write(&temporary, text).map_err(|e| format!("{}: {e}", temporary.display()))?;
    std::fs::rename(&temporary, path).map_err(|e| format!("{}: {e}", path.display()))
}

/// A loopback port free now (bound, then released) for Envoy to bind.
pub(crate) fn free_port() -> Result<SocketAddr, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free loopback port: {e}"))
}

/// One GET to Envoy's admin endpoint (HTTP/1.1: Envoy refuses 1.0 by
/// default), blocking (the plane calls the feed from its synchronous apply).
fn admin_get(admin: SocketAddr, path: &str) -> Result<String, String> {
    let fail = |e: std::io::Error| format!("envoy admin {admin}: {e}");
    let mut stream = TcpStream::connect_timeout(&admin, Duration::from_secs(1)).map_err(fail)?;
    stream.set_read_timeout(Some(ENVOY_WAIT)).map_err(fail)?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .map_err(fail)?;
    let mut answer = String::new();
    stream
        .take(MAX_ADMIN_ANSWER)
        .read_to_string(&mut answer)
        .map_err(fail)?;
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!(
            "envoy admin {admin}{path}: {}",
            head.lines().next().unwrap_or("")
        ));
    }
    let chunked = head
        .lines()
        .any(|l| l.eq_ignore_ascii_case("transfer-encoding: chunked"));
    Ok(if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    })
}

/// The body of a chunked answer (sizes in hex, each chunk on its line).
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].strip_prefix("\r\n").unwrap_or(&rest[size..]);
    }
    out
}
