//! What every service program shares around its own routes: building the
//! router with the standard layers, serving until SIGTERM, and the whole
//! `main` (configuration, telemetry, bind, serve, flush spans, exit code).
//! A service implements [`Program`] for its state; its binary, the
//! `bookinfo` launcher and its tests all go through the functions here.

use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;

use crate::config::ListenArgs;
use crate::http::{Service, Standard, shutdown_signal};
use crate::telemetry::{self, TelemetryArgs};

use bookinfo_api::exit;

/// A Bookinfo service: its configuration and its state (`Self`).
pub trait Program: Clone + Send + Sync + Sized + 'static {
    /// The Kubernetes Service name, e.g. `reviews`.
    const NAME: &'static str;
    type Config: clap::Parser;

    fn listen(config: &Self::Config) -> &ListenArgs;
    fn telemetry(config: &Self::Config) -> &TelemetryArgs;
    /// The version this configuration runs (`v2`), for the spans' resource.
    fn version(config: &Self::Config) -> String;
    /// The state the program runs with; called after telemetry started, so
    /// its warnings are logged.
    fn from_config(config: &Self::Config) -> Result<Self, String>;
    fn service(&self) -> &Service;
    /// The service's own routes, without the standard layers.
    fn routes(self) -> Router;
}

/// The routes with `/metrics` and the standard layers.
pub fn app<P: Program>(state: P) -> Standard {
    let service = state.service().clone();
    service.router(state.routes())
}

/// Serves until `shutdown` resolves, fails `/health` for `drain`, then lets
/// in-flight requests finish.
pub async fn run<P: Program>(
    listener: TcpListener,
    state: P,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> std::io::Result<()> {
    let service = state.service().clone();
    service.serve(listener, app(state), shutdown, drain).await
}

/// Prints `{name}: {message}` and gives the set-up exit code.
pub fn setup_failed(name: &str, message: impl std::fmt::Display) -> ExitCode {
    eprintln!("{name}: {message}");
    ExitCode::from(exit::SETUP)
}

/// Parses a configuration from `args` and the environment; on `--help`,
/// `--version` or an error, prints what clap says and gives the exit code.
pub fn parse_args<C: clap::Parser>(args: impl IntoIterator<Item = String>) -> Result<C, ExitCode> {
    C::try_parse_from(args).map_err(|error| {
        let _ = error.print();
        if error.use_stderr() {
            ExitCode::from(exit::SETUP)
        } else {
            ExitCode::SUCCESS
        }
    })
}

/// The whole program: configuration from `args` and the environment, then
/// serve until SIGTERM or Ctrl-C (or, with `--health-check`, probe the
/// instance that serves).
pub async fn main<P: Program>(args: impl IntoIterator<Item = String>) -> ExitCode {
    let config: P::Config = match parse_args(args) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let listen = P::listen(&config);
    if listen.health_check {
        let target = crate::health::local_addr(listen.listen);
        return match crate::health::probe(&target.to_string(), "/health") {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("{}: unhealthy: {error}", P::NAME);
                ExitCode::FAILURE
            }
        };
    }
    let identity = telemetry::Identity {
        service: P::NAME,
        version: &P::version(&config),
    };
    let telemetry = match telemetry::init(P::telemetry(&config), &identity) {
        Ok(telemetry) => telemetry,
        Err(error) => return setup_failed(P::NAME, error),
    };
    let state = match P::from_config(&config) {
        Ok(state) => state,
        Err(error) => return setup_failed(P::NAME, error),
    };
    let listener = match TcpListener::bind(listen.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            return setup_failed(
                P::NAME,
                format!("cannot listen on {}: {error}", listen.listen),
            );
        }
    };
    // The address actually bound, on stdout: with port 0 the kernel picks
    // it, and a launcher (`bookinfo up`) learns it from this line instead of
    // handing out a port that was free a moment before.
    let bound = listener.local_addr().unwrap_or(listen.listen);
    println!("{} {bound}", bookinfo_api::contract::LISTENING);
    tracing::info!(service = P::NAME, addr = %bound, "listening");
    let served = run(listener, state, shutdown_signal(), listen.drain).await;
    telemetry.shutdown().await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{}: {error}", P::NAME);
            ExitCode::FAILURE
        }
    }
}
