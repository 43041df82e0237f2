//! The `loadgen` binary: exit codes 0 PASS, 1 FAIL, 2 INCONCLUSIVE, 3 usage/setup.

use std::process::Output;

use bookinfo_support::testing::{self, Running, closed_port};

use crate::helpers::{StubOptions, spawn_stub};

async fn loadgen(args: Vec<String>) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(args)
        .output()
        .await
        .unwrap()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_follow_the_verdict() {
    let stub = spawn_stub(StubOptions::weighted(&[("v1", 30), ("v2", 70)])).await;
    let url = stub.url("/productpage").to_string();
    let common = [
        "--rate",
        "1000",
        "--requests",
        "3000",
        "--tolerance",
        "10",
        "--alpha",
        "0.01",
    ];
    let mut pass = args(&[&url, "--expect", "v1=30,v2=70"]);
    pass.extend(args(&common));
    let out = loadgen(pass).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("verdict: PASS"), "{stdout}");
    // The plan was printed before the run.
    assert!(stderr(&out).contains("needed:"), "{}", stderr(&out));

    let mut fail = args(&[&url, "--expect", "v1=70,v2=30", "--quiet"]);
    fail.extend(args(&common));
    let out = loadgen(fail).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));

    let out = loadgen(args(&[
        &url,
        "--expect",
        "v1=30,v2=70",
        "--rate",
        "1000",
        "--requests",
        "10",
        "--quiet",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    let out = loadgen(args(&[
        &url,
        "--rate",
        "1000",
        "--requests",
        "10",
        "--quiet",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_exits_3_with_one_line() {
    let stub = spawn_stub(StubOptions::weighted(&[("v1", 100)])).await;
    let url = stub.url("/productpage").to_string();
    let hello = stub.url("/hello").to_string();
    let nowhere = format!("http://{}/productpage", closed_port());
    let cases = [
        (args(&[&url, "--expect", "v1=30,v2=60"]), "add up to 90"),
        (args(&[&url, "--expect", "v1=30,v7=70"]), "unknown version"),
        (args(&[&url, "--expect", "v1=-30,v2=130"]), "negative"),
        (args(&[&url, "--expect", "v1=30;v2=70"]), "cannot read"),
        (args(&[&nowhere, "--requests", "5"]), "cannot reach"),
        (
            args(&[&hello, "--requests", "5"]),
            "not a Bookinfo product page",
        ),
        (args(&[&url, "--rate", "fast"]), "requests per second"),
        (args(&[&url, "--no-such-flag"]), "unexpected argument"),
    ];
    for (list, wanted) in cases {
        let out = loadgen(list.clone()).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(3), "{list:?}: {err}");
        assert!(err.contains(wanted), "{list:?}: {err}");
        assert!(!err.contains("panicked"), "{list:?}: {err}");
        if !wanted.contains("argument") && !wanted.contains("per second") {
            assert_eq!(err.trim().lines().count(), 1, "{list:?}: {err}");
        }
    }
    let help = loadgen(args(&["--help"])).await;
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("--expect-from"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_target_accepts_a_page_that_is_not_bookinfo() {
    let stub = spawn_stub(StubOptions::weighted(&[("v1", 100)])).await;
    let hello = stub.url("/hello").to_string();
    let missing = stub.url("/missing").to_string();
    let run = ["--rate", "1000", "--requests", "20", "--quiet"];
    let mut refused = args(&[&hello]);
    refused.extend(args(&run));
    let out = loadgen(refused).await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("not a Bookinfo product page"));

    let mut accepted = args(&[&hello, "--any-target"]);
    accepted.extend(args(&run));
    let out = loadgen(accepted).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("unclassifiable"), "{stdout}");

    // Still refused: a 4xx answer, and a verdict on a target that is not Bookinfo.
    let mut not_found = args(&[&missing, "--any-target"]);
    not_found.extend(args(&run));
    let out = loadgen(not_found).await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("HTTP 404"), "{}", stderr(&out));
    let out = loadgen(args(&[&hello, "--any-target", "--expect", "v1=100"])).await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
}

/// A stand-in for the admin endpoint of `bookinfo up` reporting a 30/70 split.
async fn admin_stub() -> Running {
    let router = axum::Router::new().route(
        "/epoch",
        axum::routing::get(|| async {
            axum::Json(serde_json::json!({
                "epoch": 4,
                "shares": {"reviews": {"v1": 0.3, "v2": 0.7}},
                "warnings": []
            }))
        }),
    );
    testing::serve(router).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_admin_takes_the_split_in_force_from_the_data_plane() {
    let stub = spawn_stub(StubOptions::weighted(&[("v1", 30), ("v2", 70)])).await;
    let admin = admin_stub().await;
    let url = stub.url("/productpage").to_string();
    let admin_url = format!("http://{}", admin.addr);
    let out = loadgen(args(&[
        &url,
        "--follow-admin",
        &admin_url,
        "--rate",
        "1000",
        "--requests",
        "3000",
        "--tolerance",
        "10",
        "--alpha",
        "0.01",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(all.contains("routing epoch 4"), "{all}");

    let closed = closed_port();
    let out = loadgen(args(&[
        &url,
        "--follow-admin",
        &format!("http://{closed}"),
        "--requests",
        "5",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("admin endpoint"), "{}", stderr(&out));
}

/// Starts loadgen with `args`, sends SIGTERM after `after`, and waits.
async fn terminated_after(
    args: Vec<String>,
    after: std::time::Duration,
) -> (Output, std::time::Duration) {
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(after).await;
    let pid = rustix::process::Pid::from_raw(i32::try_from(child.id().unwrap()).unwrap()).unwrap();
    let sent = std::time::Instant::now();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let output = tokio::time::timeout(std::time::Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("loadgen did not exit within 10 s of SIGTERM")
        .unwrap();
    (output, sent.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_summary_and_the_report_files_as_ctrl_c_does() {
    let stub = spawn_stub(StubOptions::weighted(&[("v1", 30), ("v2", 70)])).await;
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let html = dir.path().join("run.html");
    let run = args(&[
        stub.url("/productpage").as_str(),
        "--rate",
        "50",
        "--quiet",
        "--json",
        json.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    let (out, _) = terminated_after(run, std::time::Duration::from_millis(800)).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(summary["end"], "stopped", "{summary}");
    assert!(summary["requests"]["completed"].as_u64().unwrap() > 0);
    assert!(std::fs::read_to_string(&html).unwrap().contains("<svg"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_during_the_first_request_does_not_wait_for_its_answer() {
    // Accepts and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let run = args(&[
        &format!("http://{addr}/productpage"),
        "--timeout",
        "30s",
        "--quiet",
    ]);
    let (out, took) = terminated_after(run, std::time::Duration::from_millis(500)).await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("interrupted"), "{}", stderr(&out));
    assert!(took < std::time::Duration::from_secs(2), "{took:?}");
}
