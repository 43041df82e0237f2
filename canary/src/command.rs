//! Running the tools a target is driven with (`kubectl`, `docker compose`):
//! arguments, an optional standard input, a deadline; the standard output,
//! or the tool's own words on why it failed.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::CanaryError;

/// Runs `program` with `args`, feeding it `input`, for at most `timeout`.
pub(crate) async fn run(
    program: &Path,
    args: &[&str],
    input: Option<String>,
    timeout: Duration,
) -> Result<String, CanaryError> {
    let name = program.file_name().map_or_else(
        || program.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let what = format!("{name} {}", args.join(" "));
    let failed = |cause: String| CanaryError::Tool {
        command: what.clone(),
        cause,
    };
    let mut child = Command::new(program)
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| failed(format!("cannot run {}: {e}", program.display())))?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin
            .write_all(text.as_bytes())
            .await
            .map_err(|e| failed(e.to_string()))?;
    }
    let output = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .map_err(|_| failed(format!("no answer within {}s", timeout.as_secs())))?
        .map_err(|e| failed(e.to_string()))?;
    if !output.status.success() {
        return Err(failed(
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
