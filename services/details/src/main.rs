use clap::Parser;

use bookinfo_details::{AppState, Config, run};
use bookinfo_support::http::shutdown_signal;
use bookinfo_support::launch::launch;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = Config::parse();
    let state = AppState::from_config(&config);
    let drain = config.listen.drain;
    launch("details", &config.listen, &config.telemetry, |listener| {
        run(listener, state, shutdown_signal(), drain)
    })
    .await
}
