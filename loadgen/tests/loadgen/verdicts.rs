//! PASS, FAIL, INCONCLUSIVE and measurement runs, with their exit codes and files.

use bookinfo_loadgen::{EndReason, run};
use bookinfo_verdict::Verdict;

use crate::helpers::{StubOptions, expect, fast_config, spawn_stub};

const SPLIT: [(&str, u32); 2] = [("v1", 30), ("v2", 70)];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configured_split_passes() {
    let stub = spawn_stub(StubOptions::weighted(&SPLIT)).await;
    let mut config = fast_config(stub.url("/productpage"), 3_000);
    expect(&mut config, "v1=30,v2=70");
    // Where the split came from is shown in the HTML report: as text, even
    // when it reads like markup (a file name may).
    if let Some(expected) = &mut config.expected {
        expected.source.push_str(" <i>&</i>");
    }
    // Removed with the directory, even when an assertion fails.
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("pass.json");
    let ndjson = dir.path().join("pass.ndjson");
    let html = dir.path().join("pass.html");
    config.outputs.json = Some(json.clone());
    config.outputs.ndjson = Some(ndjson.clone());
    config.outputs.html = Some(html.clone());
    let result = run(config).await.unwrap();
    assert_eq!(result.verdict, Some(Verdict::Pass), "{:?}", result.verdict);
    assert_eq!(result.exit_code, 0);
    assert_eq!(result.end, EndReason::Decided);
    let r = &result.report;
    eprintln!("PASS after {} responses", r.requests.completed);
    assert!(r.requests.completed < 3_000, "{:?}", r.requests);
    assert_eq!(r.evidence.get("header"), Some(&r.requests.completed));

    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(summary["schema"], "bookinfo-loadgen/summary/v1");
    assert_eq!(summary["verdict"]["state"], "pass");
    assert_eq!(summary["exit_code"], 0);
    assert!(summary["versions"][0]["latency"]["p99_ms"].is_number());

    let lines = std::fs::read_to_string(&ndjson).unwrap();
    let first: serde_json::Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert!(first["latency_ms"].is_number() && first["lateness_ms"].is_number());
    assert!(
        first["outcome"] == "v1" || first["outcome"] == "v2",
        "{first}"
    );
    assert!(lines.lines().count() as u64 >= r.requests.completed);

    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<svg") && page.contains("PASS"));
    assert!(
        page.contains("<rect ") && page.contains("<polyline "),
        "both plots are drawn"
    );
    assert!(
        !page.contains("<i>") && page.contains("&#60;i&#62;&#38;"),
        "{page}"
    );
    assert!(!page.contains("<script"), "the report needs no JavaScript");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inverted_split_fails() {
    let stub = spawn_stub(StubOptions::weighted(&SPLIT)).await;
    let mut config = fast_config(stub.url("/productpage"), 3_000);
    expect(&mut config, "v1=70,v2=30");
    let result = run(config).await.unwrap();
    assert!(
        matches!(result.verdict, Some(Verdict::Fail(_))),
        "{:?}",
        result.verdict
    );
    assert_eq!(result.exit_code, 1);
    assert_eq!(result.end, EndReason::Decided);
    eprintln!("FAIL after {} responses", result.report.requests.completed);
    assert!(result.report.requests.completed < 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markers_alone_classify_the_page() {
    let mut options = StubOptions::weighted(&[("v1", 30), ("v3", 70)]);
    options.header = false;
    let stub = spawn_stub(options).await;
    let mut config = fast_config(stub.url("/productpage"), 3_000);
    expect(&mut config, "v1=30,v3=70");
    let result = run(config).await.unwrap();
    assert_eq!(result.verdict, Some(Verdict::Pass), "{:?}", result.verdict);
    let r = &result.report;
    assert_eq!(r.evidence.get("markers"), Some(&r.requests.completed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_run_is_inconclusive() {
    let stub = spawn_stub(StubOptions::weighted(&SPLIT)).await;
    let mut config = fast_config(stub.url("/productpage"), 20);
    expect(&mut config, "v1=30,v2=70");
    let result = run(config).await.unwrap();
    assert!(
        matches!(result.verdict, Some(Verdict::Inconclusive(_))),
        "{:?}",
        result.verdict
    );
    assert_eq!(result.exit_code, 2);
    assert_eq!(result.end, EndReason::Limit);
    assert_eq!(result.report.requests.completed, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_expectation_it_measures() {
    let stub = spawn_stub(StubOptions::weighted(&SPLIT)).await;
    let config = fast_config(stub.url("/productpage"), 50);
    let result = run(config).await.unwrap();
    assert_eq!(result.verdict, None);
    assert_eq!(result.exit_code, 0);
    let r = &result.report;
    assert_eq!(r.requests.completed, 50);
    assert_eq!(r.outcomes.values().sum::<u64>(), 50);
    assert!(r.verification.is_none());
    let text = bookinfo_loadgen::summary(r);
    assert!(text.contains("measured only"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_logged_in_user_gets_its_route() {
    let stub = spawn_stub(StubOptions::weighted(&SPLIT)).await;
    let mut config = fast_config(stub.url("/productpage"), 2_000);
    config.user = Some("jason".to_owned());
    expect(&mut config, "v2=100");
    let result = run(config).await.unwrap();
    assert_eq!(result.verdict, Some(Verdict::Pass), "{:?}", result.verdict);
}

/// A canary that answers slowly is not seen as under-weighted: answers reach
/// the verdict engine in the order their requests were sent, so the requests
/// still in flight when a decision could come do not bias it. (Fed in
/// completion order, the first few hundred answers are nearly all v1's and
/// the true 50/50 split fails.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_canary_is_not_under_weighted_by_the_answers_still_in_flight() {
    let mut options = StubOptions::weighted(&[("v1", 50), ("v2", 50)]);
    options.slow_version = Some(("v2", std::time::Duration::from_millis(400)));
    let stub = spawn_stub(options).await;
    let mut config = fast_config(stub.url("/productpage"), 1_500);
    expect(&mut config, "v1=50,v2=50");
    config.stop_on_decision = true;
    let result = run(config).await.unwrap();
    assert!(
        !matches!(result.verdict, Some(Verdict::Fail(_))),
        "{:?}",
        result.verdict
    );
}
