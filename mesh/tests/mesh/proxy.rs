use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bookinfo_mesh::plane::pick_weighted;
use rand::{RngExt, SeedableRng};

use crate::helpers::{get, instance, plane_with, stub};

fn vs(http: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: reviews}}\nspec:\n  hosts: [reviews]\n  http:\n{http}"
    )
}

#[tokio::test]
async fn without_a_virtual_service_requests_round_robin_over_all_instances() {
    let (a, _) = stub("v1", 0, Duration::ZERO).await;
    let (b, _) = stub("v2", 0, Duration::ZERO).await;
    let (c, _) = stub("v3", 0, Duration::ZERO).await;
    let instances = vec![
        instance("reviews", "v1", a.addr),
        instance("reviews", "v2", b.addr),
        instance("reviews", "v3", c.addr),
    ];
    let (_, proxy) = plane_with(instances, "").await;
    let mut answers = Vec::new();
    for _ in 0..6 {
        answers.push(get(proxy.addr, &[]).await.1);
    }
    for version in ["v1", "v2", "v3"] {
        assert_eq!(
            answers.iter().filter(|a| *a == version).count(),
            2,
            "{answers:?}"
        );
    }
}

#[tokio::test]
async fn header_routes_send_jason_to_v2_and_everyone_else_to_v1() {
    let (a, _) = stub("v1", 0, Duration::ZERO).await;
    let (b, _) = stub("v2", 0, Duration::ZERO).await;
    let http = "  - match: [{headers: {end-user: {exact: jason}}}]\n    route: [{destination: {host: reviews, subset: v2}}]\n  - route: [{destination: {host: reviews, subset: v1}}]\n";
    let (_, proxy) = plane_with(
        vec![
            instance("reviews", "v1", a.addr),
            instance("reviews", "v2", b.addr),
        ],
        &vs(http),
    )
    .await;
    assert_eq!(
        get(proxy.addr, &[("end-user", "jason")]).await,
        (200, "v2".into())
    );
    assert_eq!(get(proxy.addr, &[]).await, (200, "v1".into()));
}

#[tokio::test]
async fn abort_faults_answer_the_status_for_their_percentage_of_requests() {
    let (a, seen) = stub("v1", 0, Duration::ZERO).await;
    let http = "  - fault: {abort: {httpStatus: 555, percentage: {value: 100}}}\n    route: [{destination: {host: reviews, subset: v1}}]\n";
    let (_, proxy) = plane_with(vec![instance("reviews", "v1", a.addr)], &vs(http)).await;
    assert_eq!(
        get(proxy.addr, &[]).await,
        (555, "fault filter abort".into())
    );
    assert_eq!(
        seen.count.load(Ordering::SeqCst),
        0,
        "an aborted request never reaches the upstream"
    );

    let http = "  - fault: {abort: {httpStatus: 500, percentage: {value: 50}}}\n    route: [{destination: {host: reviews, subset: v1}}]\n";
    let (_, proxy) = plane_with(vec![instance("reviews", "v1", a.addr)], &vs(http)).await;
    let n = 400;
    let mut aborted = 0;
    for _ in 0..n {
        if get(proxy.addr, &[]).await.0 == 500 {
            aborted += 1;
        }
    }
    // 50% of 400: sigma 10, allow 5 sigma.
    assert!((150..=250).contains(&aborted), "{aborted} of {n} aborted");
}

#[tokio::test]
async fn delay_faults_hold_the_request_before_forwarding() {
    let (a, _) = stub("v1", 0, Duration::ZERO).await;
    let http = "  - fault: {delay: {fixedDelay: 300ms, percentage: {value: 100}}}\n    route: [{destination: {host: reviews, subset: v1}}]\n";
    let (_, proxy) = plane_with(vec![instance("reviews", "v1", a.addr)], &vs(http)).await;
    let started = Instant::now();
    assert_eq!(get(proxy.addr, &[]).await, (200, "v1".into()));
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn route_timeouts_answer_504_in_time() {
    let (a, _) = stub("v1", 0, Duration::from_secs(5)).await;
    let http = "  - timeout: 200ms\n    route: [{destination: {host: reviews, subset: v1}}]\n";
    let (_, proxy) = plane_with(vec![instance("reviews", "v1", a.addr)], &vs(http)).await;
    let started = Instant::now();
    assert_eq!(
        get(proxy.addr, &[]).await,
        (504, "upstream request timeout".into())
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn retries_resend_on_5xx_up_to_the_attempts() {
    let (a, seen) = stub("v1", 2, Duration::ZERO).await;
    let http = "  - retries: {attempts: 2, retryOn: 5xx}\n    route: [{destination: {host: reviews, subset: v1}}]\n";
    let (_, proxy) = plane_with(vec![instance("reviews", "v1", a.addr)], &vs(http)).await;
    assert_eq!(get(proxy.addr, &[]).await, (200, "v1".into()));
    assert_eq!(seen.count.load(Ordering::SeqCst), 3);

    let (b, seen) = stub("v1", 5, Duration::ZERO).await;
    let http = "  - retries: {attempts: 1, retryOn: 5xx}\n    route: [{destination: {host: reviews, subset: v1}}]\n";
    let (_, proxy) = plane_with(vec![instance("reviews", "v1", b.addr)], &vs(http)).await;
    assert_eq!(get(proxy.addr, &[]).await.0, 503);
    assert_eq!(seen.count.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn per_try_timeouts_retry_a_slow_upstream() {
    let (a, seen) = stub("v1", 0, Duration::from_secs(5)).await;
    let http = "  - retries: {attempts: 2, perTryTimeout: 100ms, retryOn: gateway-error}\n    route: [{destination: {host: reviews, subset: v1}}]\n";
    let (_, proxy) = plane_with(vec![instance("reviews", "v1", a.addr)], &vs(http)).await;
    let started = Instant::now();
    assert_eq!(get(proxy.addr, &[]).await.0, 504);
    assert!(started.elapsed() < Duration::from_secs(2));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(seen.count.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn mirrors_reach_the_mirror_with_a_shadow_host_and_leave_the_answer_alone() {
    let (a, primary) = stub("v1", 0, Duration::ZERO).await;
    let (b, mirror) = stub("v2", 0, Duration::ZERO).await;
    let http = "  - route: [{destination: {host: reviews, subset: v1}}]\n    mirror: {host: reviews, subset: v2}\n    mirrorPercentage: {value: 100.0}\n";
    let (_, proxy) = plane_with(
        vec![
            instance("reviews", "v1", a.addr),
            instance("reviews", "v2", b.addr),
        ],
        &vs(http),
    )
    .await;
    for _ in 0..5 {
        assert_eq!(get(proxy.addr, &[]).await, (200, "v1".into()));
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while mirror.count.load(Ordering::SeqCst) < 5 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(primary.count.load(Ordering::SeqCst), 5);
    assert_eq!(mirror.count.load(Ordering::SeqCst), 5);
    let hosts = mirror.hosts.lock().unwrap();
    assert!(hosts.iter().all(|h| h.contains("-shadow")), "{hosts:?}");
}

#[tokio::test]
async fn a_subset_without_instances_is_reported_and_answers_503() {
    let (a, _) = stub("v1", 0, Duration::ZERO).await;
    let http = "  - route: [{destination: {host: reviews, subset: v3}}]\n";
    let (plane, proxy) = plane_with(vec![instance("reviews", "v1", a.addr)], &vs(http)).await;
    assert!(
        plane
            .table()
            .warnings
            .iter()
            .any(|w| w.contains("no instance")),
        "{:?}",
        plane.table().warnings
    );
    assert_eq!(
        get(proxy.addr, &[]).await,
        (503, "no healthy upstream".into())
    );
}

#[tokio::test]
async fn a_rejected_change_keeps_the_routes_in_force_and_the_epoch() {
    let (a, _) = stub("v1", 0, Duration::ZERO).await;
    let (plane, proxy) = plane_with(
        vec![instance("reviews", "v1", a.addr)],
        &vs("  - route: [{destination: {host: reviews, subset: v1}}]\n"),
    )
    .await;
    let epoch = plane.epoch();
    let broken = bookinfo_routing::load::load_str(
        "b",
        &vs("  - timeout: 0s\n    route: [{destination: {host: reviews, subset: v1}}]\n"),
    )
    .unwrap();
    assert!(plane.apply(broken.objects).is_err());
    assert_eq!(plane.epoch(), epoch);
    assert_eq!(get(proxy.addr, &[]).await, (200, "v1".into()));
}

#[test]
fn weighted_choice_follows_the_weights_within_statistical_bounds() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let n = 20_000;
    let mut hits = [0u32; 3];
    for _ in 0..n {
        hits[pick_weighted(&[30, 70, 0], rng.random::<f64>())] += 1;
    }
    assert_eq!(hits[2], 0, "a zero weight never gets traffic");
    let share = f64::from(hits[0]) / f64::from(n);
    let sigma = (0.3 * 0.7 / f64::from(n)).sqrt();
    assert!((share - 0.3).abs() < 4.0 * sigma, "share {share}");
}

#[test]
fn weighted_choice_covers_the_edges() {
    assert_eq!(pick_weighted(&[30, 70], 0.0), 0);
    assert_eq!(pick_weighted(&[30, 70], 0.2999), 0);
    assert_eq!(pick_weighted(&[30, 70], 0.3), 1);
    assert_eq!(pick_weighted(&[30, 70], 0.999_999), 1);
    assert_eq!(pick_weighted(&[0, 5, 0], 0.5), 1);
}

#[tokio::test]
async fn a_request_no_rule_matches_gets_404_as_envoy_answers_no_route() {
    let (a, seen) = stub("v1", 0, Duration::ZERO).await;
    let http = "  - match: [{headers: {end-user: {exact: jason}}}]\n    route: [{destination: {host: reviews, subset: v1}}]\n";
    let (_, proxy) = plane_with(vec![instance("reviews", "v1", a.addr)], &vs(http)).await;
    assert_eq!(get(proxy.addr, &[("end-user", "jason")]).await.0, 200);
    assert_eq!(get(proxy.addr, &[]).await.0, 404);
    assert_eq!(
        seen.count.load(Ordering::SeqCst),
        1,
        "the unmatched request reached no instance"
    );
}
