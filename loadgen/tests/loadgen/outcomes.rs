//! Overflow, timeouts, failed reviews, settling, connections and the closed loop.

use std::time::Duration;

use bookinfo_loadgen::{Limits, Load, run};

use crate::helpers::{StubOptions, fast_config, spawn_stub};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_target_overflows_instead_of_delaying() {
    let mut options = StubOptions::weighted(&[("v1", 100)]);
    options.delay = Duration::from_millis(200);
    let stub = spawn_stub(options).await;
    let mut config = fast_config(stub.url("/productpage"), 40);
    config.load = Load::Open {
        interval: Duration::from_millis(10),
    };
    config.max_in_flight = 2;
    let result = run(config).await.unwrap();
    let q = &result.report.requests;
    assert_eq!(q.scheduled, 40);
    assert_eq!(q.sent + q.overflow, 40);
    assert!(q.overflow >= 30, "{q:?}");
    assert_eq!(q.completed, q.sent);
    // Latency from the intended send time includes no waiting for a free slot:
    // overflowed requests are simply not sent.
    let p50 = result.report.latency.all.latency.p50_ms.unwrap();
    assert!(p50 < 1_000.0, "{p50}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_and_failed_reviews_are_their_own_outcomes() {
    let mut options = StubOptions::weighted(&[("v1", 100)]);
    // The preflight (hit 0) is fast; every second request after it hangs.
    options.slow_every = Some((2, Duration::from_secs(3)));
    let stub = spawn_stub(options).await;
    let mut config = fast_config(stub.url("/productpage"), 20);
    config.timeout = Duration::from_millis(300);
    let result = run(config).await.unwrap();
    let r = &result.report;
    assert_eq!(r.outcomes.get("timed-out"), Some(&10), "{:?}", r.outcomes);
    assert_eq!(r.outcomes.get("v1"), Some(&10));
    // A timed-out request's latency is the timeout (censored), not a lost sample.
    let t = &r.latency.by_outcome["timed-out"].latency;
    assert!(t.min_ms.unwrap() >= 290.0, "{t:?}");

    let stub = spawn_stub(StubOptions::weighted(&[("v1", 100)])).await;
    let result = run(fast_config(stub.url("/sorry"), 10)).await.unwrap();
    assert_eq!(
        result.report.outcomes.get("reviews-unavailable"),
        Some(&10),
        "{:?}",
        result.report.outcomes
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_settle_window_discards_early_responses() {
    let stub = spawn_stub(StubOptions::weighted(&[("v1", 100)])).await;
    let mut config = fast_config(stub.url("/productpage"), 40);
    config.load = Load::Open {
        interval: Duration::from_millis(10),
    };
    config.settle = Duration::from_millis(200);
    let result = run(config).await.unwrap();
    let q = &result.report.requests;
    assert!((5..=30).contains(&q.discarded), "{q:?}");
    assert_eq!(q.discarded + q.completed, 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_connection_opens_one_connection_per_request() {
    let stub = spawn_stub(StubOptions::weighted(&[("v1", 100)])).await;
    let mut config = fast_config(stub.url("/productpage"), 20);
    config.load = Load::Open {
        interval: Duration::from_millis(5),
    };
    config.new_connection = true;
    run(config).await.unwrap();
    // 20 requests plus the preflight.
    assert_eq!(stub.connections(), 21);

    let stub = spawn_stub(StubOptions::weighted(&[("v1", 100)])).await;
    let mut config = fast_config(stub.url("/productpage"), 20);
    config.load = Load::Open {
        interval: Duration::from_millis(5),
    };
    run(config).await.unwrap();
    assert!(stub.connections() < 10, "keep-alive reuses connections");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_closed_loop_keeps_n_requests_outstanding() {
    let stub = spawn_stub(StubOptions::weighted(&[("v1", 50), ("v2", 50)])).await;
    let mut config = fast_config(stub.url("/productpage"), 300);
    config.load = Load::Closed { concurrency: 4 };
    config.limits = Limits {
        duration: Some(Duration::from_secs(20)),
        requests: Some(300),
    };
    let result = run(config).await.unwrap();
    let r = &result.report;
    assert_eq!(r.requests.completed, 300);
    assert_eq!(r.requests.overflow, 0);
    assert_eq!(r.load.mode, "closed-loop");
    assert!(!r.load.coordinated_omission_free);
    assert_eq!(stub.hits(), 301);
}
