//! `loadgen`: drive traffic at a Bookinfo product page and verify the reviews split.
//!
//! Exit codes (`bookinfo_api::exit`): 0 PASS (or a completed measurement), 1 FAIL,
//! 2 INCONCLUSIVE, 3 usage or setup error. The work is done by [`bookinfo_loadgen::run_controlled`]; this file
//! only parses arguments, wires Ctrl-C to the run's stop, and prints the summary.

use std::process::ExitCode;

use bookinfo_api::exit::SETUP;
use bookinfo_loadgen::cli::Cli;
use bookinfo_loadgen::summary;
use bookinfo_loadgen::{control, follow, run_controlled};
use clap::Parser;
use clap::error::ErrorKind;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version are not errors; clap's own usage code (2) would collide
            // with INCONCLUSIVE, so usage errors exit with 3.
            let _ = e.print();
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ExitCode::SUCCESS,
                _ => ExitCode::from(SETUP),
            };
        }
    };
    let follow_admin = cli.follow_admin.clone();
    let mut config = match cli.into_config() {
        Ok(config) => config,
        Err(message) => return setup_error(&message),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return setup_error(&format!("cannot start the async runtime: {e}")),
    };
    runtime.block_on(async move {
        let (handle, receiver) = control();
        if let Some(admin) = follow_admin {
            let client = reqwest::Client::new();
            let epoch = match follow::current(&client, &admin, follow::HOST).await {
                Ok(epoch) => epoch,
                Err(e) => return setup_error(&e.to_string()),
            };
            if config.expected.is_none() {
                match epoch.split.clone() {
                    Some(split) => config.expected = Some(split),
                    None => {
                        return setup_error(
                            "the local data plane has no weighted route for reviews; give --expect",
                        );
                    }
                }
            }
            tokio::spawn(follow::follow(
                admin,
                follow::HOST.to_owned(),
                epoch.number,
                handle.clone(),
                config.settle,
            ));
        }
        tokio::spawn(async move {
            interrupted().await;
            eprintln!("\ninterrupted: finishing the summary (again to quit at once)");
            handle.stop();
            interrupted().await;
            std::process::exit(130);
        });
        match run_controlled(config, receiver).await {
            Ok(result) => {
                print!("{}", summary(&result.report));
                ExitCode::from(u8::try_from(result.exit_code).unwrap_or(SETUP))
            }
            Err(e) => setup_error(&e.to_string()),
        }
    })
}

fn setup_error(message: &str) -> ExitCode {
    eprintln!("loadgen: {message}");
    ExitCode::from(SETUP)
}

/// Ctrl-C or SIGTERM, which `timeout`, CI cancellation and `docker stop`
/// send: both finish the summary and the report files.
async fn interrupted() {
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match &mut terminate {
                Some(signal) => signal.recv().await,
                None => std::future::pending().await,
            }
        } => {}
    }
}
