//! Steering a run in-process: new expected weights mid-run, and an early stop.

use std::time::Duration;

use bookinfo_loadgen::{EndReason, control, parse_expect, run_controlled};
use bookinfo_verdict::Verdict;

use crate::helpers::{StubOptions, expect, fast_config, spawn_stub};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_opens_a_new_epoch() {
    let stub = spawn_stub(StubOptions::weighted(&[("v1", 30), ("v2", 70)])).await;
    let mut config = fast_config(stub.url("/productpage"), 4_000);
    // Wrong weights first: that epoch fails; after the restart the right ones pass.
    expect(&mut config, "v1=70,v2=30");
    config.stop_on_decision = false;
    let (handle, receiver) = control();
    let task = tokio::spawn(run_controlled(config, receiver));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(handle.restart(
        parse_expect("v1=30,v2=70").unwrap(),
        Duration::from_millis(50)
    ));
    let result = task.await.unwrap().unwrap();
    assert_eq!(result.verdict, Some(Verdict::Pass), "{:?}", result.verdict);
    let verification = result.report.verification.as_ref().unwrap();
    assert_eq!(verification.previous_epochs.len(), 1);
    assert!(matches!(
        verification.previous_epochs[0].verdict,
        Verdict::Fail(_)
    ));
    assert_eq!(result.report.epochs.len(), 2);
    assert!(result.report.requests.discarded > 0);
    // The run went on after the first FAIL (no stop) until the request limit.
    assert_eq!(result.end, EndReason::Limit);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_ends_the_run_with_a_summary() {
    let stub = spawn_stub(StubOptions::weighted(&[("v1", 30), ("v2", 70)])).await;
    let mut config = fast_config(stub.url("/productpage"), 1);
    config.limits = Default::default();
    config.load = bookinfo_loadgen::Load::Open {
        interval: Duration::from_millis(20),
    };
    expect(&mut config, "v1=30,v2=70");
    let (handle, receiver) = control();
    let task = tokio::spawn(run_controlled(config, receiver));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(handle.stop());
    let result = task.await.unwrap().unwrap();
    assert_eq!(result.end, EndReason::Stopped);
    assert!(matches!(result.verdict, Some(Verdict::Inconclusive(_))));
    assert_eq!(result.exit_code, 2);
    assert!(result.report.requests.completed > 0);
    // The run is over: the handle says so instead of failing.
    assert!(!handle.stop());
}
