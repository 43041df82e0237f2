//! What every service binary does around its own code: start telemetry,
//! bind, serve until SIGTERM, flush spans, and turn failures into a
//! one-line message and an exit code.

use std::future::Future;
use std::process::ExitCode;

use tokio::net::TcpListener;

use crate::config::ListenArgs;
use crate::telemetry::{self, TelemetryArgs};

/// Exit code for configuration and start-up errors.
pub const SETUP_ERROR: u8 = 2;

/// Prints `{name}: {message}` and gives the set-up exit code.
pub fn setup_failed(name: &str, message: impl std::fmt::Display) -> ExitCode {
    eprintln!("{name}: {message}");
    ExitCode::from(SETUP_ERROR)
}

/// Runs `serve` on a listener bound to `listen`. `serve` gets the listener
/// and must return when the shutdown signal has been handled.
pub async fn launch<F, Fut>(
    name: &str,
    listen: &ListenArgs,
    telemetry_args: &TelemetryArgs,
    serve: F,
) -> ExitCode
where
    F: FnOnce(TcpListener) -> Fut,
    Fut: Future<Output = std::io::Result<()>>,
{
    let telemetry = match telemetry::init(telemetry_args, name) {
        Ok(telemetry) => telemetry,
        Err(error) => return setup_failed(name, error),
    };
    let listener = match TcpListener::bind(listen.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            return setup_failed(name, format!("cannot listen on {}: {error}", listen.listen));
        }
    };
    tracing::info!(service = name, addr = %listen.listen, "listening");
    let served = serve(listener).await;
    telemetry.shutdown().await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{name}: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Parses a binary's configuration from `args` and the environment; on
/// `--help`, `--version` or an error, prints what clap says and gives the
/// exit code to return.
pub fn parse_args<C: clap::Parser>(args: impl IntoIterator<Item = String>) -> Result<C, ExitCode> {
    C::try_parse_from(args).map_err(|error| {
        let _ = error.print();
        if error.use_stderr() {
            ExitCode::from(SETUP_ERROR)
        } else {
            ExitCode::SUCCESS
        }
    })
}
