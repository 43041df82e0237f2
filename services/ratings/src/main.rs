use clap::Parser;

use bookinfo_ratings::{Config, build_state, run};
use bookinfo_support::http::shutdown_signal;
use bookinfo_support::launch::{launch, setup_failed};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = Config::parse();
    let state = match build_state(&config) {
        Ok(state) => state,
        Err(error) => return setup_failed("ratings", error),
    };
    let drain = config.listen.drain;
    launch("ratings", &config.listen, &config.telemetry, |listener| {
        run(listener, state, shutdown_signal(), drain)
    })
    .await
}
