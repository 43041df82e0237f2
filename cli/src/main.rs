//! `bookinfo`, the project's one program: any Bookinfo service by name
//! (`service NAME`), the whole app behind the local data plane (`up`), the
//! router alone (`proxy`), its Envoy configuration (`envoy-config`), canary
//! releases as commands (`canary`), the canary tutorial end to end
//! (`demo`), the manifest checks (`lint`) and the images' health check
//! (`probe`). This crate only parses arguments and dispatches, and holds the
//! demo's script and the rollout loop of `canary progress`: the data plane
//! is `bookinfo-mesh`, the jobs `bookinfo-canary`, the checks
//! `bookinfo-lint`, the verification `bookinfo-loadgen`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use bookinfo_api::exit;
use clap::{Parser, Subcommand};

mod canary;
mod demo;
mod progress;
mod traces;
mod verify;

use std::collections::BTreeMap;

use bookinfo_loadgen::Display;
use bookinfo_mesh::plane::Instance;
use bookinfo_mesh::up::{self, Up, UpConfig};
use bookinfo_support::launch;
use bookinfo_support::telemetry::{self, TelemetryArgs};

#[derive(Parser)]
#[command(name = "bookinfo", about = "Rust Bookinfo on one machine")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one service, as its own binary would (`bookinfo service reviews --help`).
    Service {
        /// details, reviews, ratings or productpage.
        name: String,
        /// The service's own flags.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Start the whole app behind the local data plane until Ctrl-C.
    Up {
        /// Where the app is reached.
        #[arg(long, default_value = "127.0.0.1:9080")]
        listen: SocketAddr,
        /// Admin endpoint (loopback only).
        #[arg(long, default_value = "127.0.0.1:15000")]
        admin: SocketAddr,
        /// Routing files (VirtualService, DestinationRule, HTTPRoute), applied in order.
        #[arg(long = "routes", default_value = "istio/destination-rule-all.yaml")]
        routes: Vec<PathBuf>,
        /// Apply changes to the routing files while running.
        #[arg(long)]
        watch: bool,
        /// What routes between the services: this program's router, or
        /// real Envoy configured from the same files (see `envoy-config`).
        #[arg(long, value_enum, default_value_t = RouterChoice::Local)]
        router: RouterChoice,
        /// The Envoy program for `--router envoy`.
        #[arg(long, default_value = "envoy")]
        envoy: PathBuf,
        /// WORKLOAD:NAME=VALUE, an environment variable for one workload
        /// (repeatable): e.g. `reviews-v2:FAIL_SHARE=0.5` to rehearse a
        /// failing canary.
        #[arg(long = "env", value_parser = up::parse_env)]
        env: Vec<up::WorkloadEnv>,
        #[command(flatten)]
        telemetry: TelemetryArgs,
    },
    /// The canary tutorial end to end: deploy, canary 30/70, verify, take
    /// over to v2, verify, take v1 offline, verify.
    Demo {
        /// Requests per second (the tutorial sends 2).
        #[arg(long, default_value_t = 100.0)]
        rate: f64,
        /// Longest each verification may run.
        #[arg(long, default_value = "90s", value_parser = humantime::parse_duration)]
        step_limit: std::time::Duration,
        /// Folder with the routing files.
        #[arg(long)]
        istio: Option<PathBuf>,
    },
    /// Check the manifests across objects (subsets, selectors, hosts, weights,
    /// ports, images, hardening), like `istioctl analyze` for this tree.
    Lint {
        /// Files or folders to check.
        #[arg(default_values = ["k8s", "istio"])]
        paths: Vec<PathBuf>,
    },
    /// Only the router, in front of instances that run elsewhere (the
    /// containers of docker/compose.yaml, or processes started by hand): one
    /// listener for every host, chosen by the request's Host header.
    Proxy {
        #[command(flatten)]
        fronting: Fronting,
        /// Admin endpoint (epoch, apply, ready). Unlike `up`'s it may listen
        /// on any address: in a container it is published on the host's
        /// loopback only.
        #[arg(long)]
        admin: Option<SocketAddr>,
        /// WORKLOAD=ADDR: a listener for one workload's calls (its
        /// sidecar's outbound listener), so the metrics and the topology
        /// know who called; e.g. `productpage-v1=0.0.0.0:15001`.
        #[arg(long = "outbound", value_parser = parse_outbound)]
        outbound: Vec<(String, SocketAddr)>,
        #[command(flatten)]
        telemetry: TelemetryArgs,
    },
    /// Exit 0 when URL (http://HOST:PORT/PATH) answers 200, else 1: the
    /// health check of the `bookinfo` image.
    Probe { url: String },
    /// Print the Envoy bootstrap (JSON, which is YAML too) of an Envoy that
    /// routes as `bookinfo proxy` does with the same arguments: run it with
    /// `envoy -c FILE`. Route warnings go to stderr.
    EnvoyConfig {
        #[command(flatten)]
        fronting: Fronting,
        /// Envoy's admin endpoint, if wanted.
        #[arg(long)]
        admin: Option<SocketAddr>,
    },
    /// Canary releases as commands: create, weight, match, mirror,
    /// blue-green, take-over, rollback, offline, status (against a data
    /// plane's admin endpoint; the job's state lives on the VirtualService).
    Canary(canary::CanaryArgs),
    /// Run PROGRAM with ARGS, stopped when `bookinfo up` stops (how `up`
    /// starts Envoy).
    #[command(hide = true)]
    Exec {
        program: PathBuf,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// One listener in front of instances that run elsewhere: what `proxy`
/// serves and `envoy-config` renders.
#[derive(clap::Args)]
struct Fronting {
    #[arg(long)]
    listen: SocketAddr,
    /// An instance as APP/VERSION=HOST:PORT (e.g. reviews/v1=reviews-v1:9080); repeatable.
    #[arg(long = "instance", value_parser = parse_instance, required = true)]
    instances: Vec<Instance>,
    /// The host of requests whose Host header names no instance's app,
    /// such as those arriving on a published port (e.g. productpage).
    /// Without it they get 404, as Envoy answers a request with no route.
    #[arg(long)]
    default_host: Option<String>,
    /// Routing files, applied in order.
    #[arg(long = "routes")]
    routes: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum RouterChoice {
    Local,
    Envoy,
}

fn parse_instance(text: &str) -> Result<Instance, String> {
    let form =
        || format!("`{text}` is not APP/VERSION=HOST:PORT (e.g. reviews/v1=reviews-v1:9080)");
    let (name, authority) = text.split_once('=').ok_or_else(form)?;
    let (app, version) = name.split_once('/').ok_or_else(form)?;
    let valid_port = authority
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if app.is_empty() || version.is_empty() || !valid_port {
        return Err(form());
    }
    if authority.parse::<http::uri::Authority>().is_err() {
        return Err(format!("`{authority}` is not a HOST:PORT"));
    }
    Ok(Instance {
        app: app.to_owned(),
        labels: BTreeMap::from([("version".to_owned(), version.to_owned())]),
        authority: authority.to_owned(),
    })
}

/// Logs and, when configured, span export for a process that runs the
/// data plane: its spans are the plane's (`service.name` `mesh`).
pub(crate) fn plane_telemetry(args: &TelemetryArgs) -> Result<telemetry::Telemetry, String> {
    let identity = telemetry::Identity {
        service: "mesh",
        version: env!("CARGO_PKG_VERSION"),
    };
    telemetry::init(args, &identity).map_err(|e| e.to_string())
}

/// `WORKLOAD=HOST:PORT` (`reviews-v2=0.0.0.0:15002`).
fn parse_outbound(text: &str) -> Result<(String, SocketAddr), String> {
    let (workload, addr) = text
        .split_once('=')
        .filter(|(w, _)| !w.is_empty())
        .ok_or_else(|| {
            format!("`{text}` is not WORKLOAD=ADDRESS:PORT (e.g. reviews-v2=0.0.0.0:15002)")
        })?;
    let addr = addr
        .parse()
        .map_err(|_| format!("`{addr}` is not an ADDRESS:PORT"))?;
    Ok((workload.to_owned(), addr))
}

/// `http://HOST:PORT/PATH` as (HOST:PORT, /PATH).
fn parse_probe_url(url: &str) -> Result<(&str, &str), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("`{url}` is not an http:// URL"))?;
    let (authority, path) = match rest.find('/') {
        Some(slash) => rest.split_at(slash),
        None => (rest, "/"),
    };
    if !authority.contains(':') {
        return Err(format!("`{url}` has no port"));
    }
    Ok((authority, path))
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli: Cli = match launch::parse_args(std::env::args()) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    match execute(cli.command).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("bookinfo: {error}");
            ExitCode::from(exit::SETUP)
        }
    }
}

/// Under `bookinfo up`, asks the kernel for SIGTERM when the launcher dies
/// (even by SIGKILL), so no service outlives it holding its port; exits at
/// once if the launcher is already gone.
fn die_with_supervisor() -> Result<(), String> {
    let Ok(supervisor) = std::env::var(bookinfo_mesh::supervise::SUPERVISOR_PID) else {
        return Ok(());
    };
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::TERM))
        .map_err(|e| format!("cannot follow the launcher's life: {e}"))?;
    let parent = rustix::process::getppid().map(|pid| pid.as_raw_nonzero().get().to_string());
    if parent.as_deref() != Some(supervisor.as_str()) {
        return Err("the launcher that started this service is gone".to_owned());
    }
    Ok(())
}

/// Prints what `up` serves. A reader that has gone away (a closed pipe, a
/// full disk) must not stop the app: `println!` would panic on the error,
/// so the error is dropped here and the services keep serving.
fn announce(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// The program to start the services with: this one.
fn own_program() -> Result<PathBuf, String> {
    std::env::current_exe().map_err(|e| format!("cannot find my own program: {e}"))
}

async fn execute(command: Command) -> Result<ExitCode, String> {
    Ok(match command {
        Command::Service { name, args } => {
            die_with_supervisor()?;
            let args = std::iter::once(name.clone()).chain(args);
            match name.as_str() {
                "details" => launch::main::<bookinfo_details::AppState>(args).await,
                "reviews" => launch::main::<bookinfo_reviews::AppState>(args).await,
                "ratings" => launch::main::<bookinfo_ratings::AppState>(args).await,
                "productpage" => launch::main::<bookinfo_productpage::AppState>(args).await,
                other => {
                    return Err(format!(
                        "unknown service `{other}` (details, reviews, ratings, productpage)"
                    ));
                }
            }
        }
        Command::Up {
            listen,
            admin,
            routes,
            watch,
            router,
            envoy,
            env,
            telemetry,
        } => {
            let exporting = plane_telemetry(&telemetry)?;
            if !admin.ip().is_loopback() {
                return Err(format!(
                    "the admin endpoint must be on a loopback address, not {admin}"
                ));
            }
            // Before anything is printed: a SIGTERM from then on stops cleanly.
            let stopped = bookinfo_support::http::shutdown_signal();
            let up = Up::start(&UpConfig {
                program: own_program()?,
                listen,
                admin,
                routes,
                watch,
                service_log: telemetry.log_filter.clone(),
                router: match router {
                    RouterChoice::Local => up::Router::Local,
                    RouterChoice::Envoy => up::Router::Envoy(envoy),
                },
                env,
                tracing: telemetry.export_env(),
            })
            .await?;
            announce(&format!(
                "Bookinfo is up: http://{}/productpage\n\
                 admin (routing epochs, apply routes): http://{}/epoch\n\
                 Ctrl-C stops everything.\n",
                up.entry, up.admin
            ));
            stopped.await;
            up.stop().await;
            exporting.shutdown().await;
            ExitCode::SUCCESS
        }
        Command::Demo {
            rate,
            step_limit,
            istio,
        } => {
            if !(rate > 0.0 && rate <= 10_000.0) {
                return Err("--rate must be between 0 and 10000 requests/s".into());
            }
            let config = demo::DemoConfig {
                program: own_program()?,
                istio: istio.unwrap_or_else(demo::default_istio_dir),
                rate,
                step_limit,
                display: Display::Auto,
            };
            if demo::run(&config).await? {
                println!("\nEvery step verified: PASS");
                ExitCode::SUCCESS
            } else {
                println!("\nSome step did not verify (see above)");
                ExitCode::FAILURE
            }
        }
        Command::Lint { paths } => {
            if let Some(missing) = paths.iter().find(|p| !p.exists()) {
                return Err(format!("{} does not exist", missing.display()));
            }
            let findings = bookinfo_lint::lint(&paths);
            for finding in &findings {
                println!("{finding}");
            }
            let errors = findings.iter().filter(|f| f.error).count();
            println!(
                "lint: {errors} errors, {} warnings",
                findings.len() - errors
            );
            if errors > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Command::Proxy {
            fronting:
                Fronting {
                    listen,
                    instances,
                    default_host,
                    routes,
                },
            admin,
            outbound,
            telemetry,
        } => {
            let exporting = plane_telemetry(&telemetry)?;
            let bind = |addr: SocketAddr| async move {
                tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| format!("cannot listen on {addr}: {e}"))
            };
            let listener = bind(listen).await?;
            let admin = match admin {
                Some(addr) => Some(bind(addr).await?),
                None => None,
            };
            let mut sources = Vec::new();
            for (workload, addr) in outbound {
                sources.push((workload, bind(addr).await?));
            }
            let shutdown = bookinfo_support::http::shutdown_signal();
            let listeners = up::ProxyListeners {
                entry: listener,
                admin,
                outbound: sources,
            };
            up::proxy_only(
                listeners,
                instances,
                default_host,
                &routes,
                telemetry.otlp_endpoint().is_some(),
                shutdown,
            )
            .await?;
            exporting.shutdown().await;
            ExitCode::SUCCESS
        }
        Command::EnvoyConfig {
            fronting:
                Fronting {
                    listen,
                    instances,
                    default_host,
                    routes,
                },
            admin,
        } => {
            let (bootstrap, warnings) = bookinfo_mesh::envoy::render_proxy(
                listen,
                instances,
                default_host,
                &routes,
                admin,
            )?;
            for warning in warnings {
                eprintln!("bookinfo: warning: {warning}");
            }
            println!("{bootstrap}");
            ExitCode::SUCCESS
        }
        Command::Canary(args) => canary::run(args).await?,
        Command::Exec { program, args } => {
            use std::os::unix::process::CommandExt;
            die_with_supervisor()?;
            // Only returns when the program could not be started.
            let error = std::process::Command::new(&program).args(args).exec();
            return Err(format!("cannot run {}: {error}", program.display()));
        }
        Command::Probe { url } => {
            let (authority, path) = parse_probe_url(&url)?;
            match bookinfo_support::health::probe(authority, path) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("bookinfo: unhealthy: {error}");
                    ExitCode::FAILURE
                }
            }
        }
    })
}
