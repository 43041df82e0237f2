//! A DestinationRule's trafficPolicy on the local router: the load balancer
//! decides which instance answers, the connection pool how many requests it
//! takes at once, outlier detection which instances are left out.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bookinfo_mesh::plane::{Instance, Plane, host_router};
use bookinfo_routing::load::load_str;

use crate::helpers::{Running, instance, serve, stub};

/// Three reviews instances answering "a", "b" and "c", behind a plane whose
/// only object is a DestinationRule for reviews with `policy` as its
/// trafficPolicy.
async fn three_instances(policy: &str) -> (Vec<Running>, Running) {
    let mut stubs = Vec::new();
    let mut instances = Vec::new();
    for name in ["a", "b", "c"] {
        let (running, _) = stub(name, 0, Duration::ZERO).await;
        instances.push(instance("reviews", name, running.addr));
        stubs.push(running);
    }
    (stubs, proxy_with(instances, policy).await)
}

async fn proxy_with(instances: Vec<Instance>, policy: &str) -> Running {
    let plane = Plane::new(instances);
    let yaml = format!(
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: reviews}}\nspec:\n  host: reviews\n  trafficPolicy:\n{policy}"
    );
    plane
        .replace(load_str("test", &yaml).unwrap().objects)
        .unwrap();
    serve(host_router(plane, "reviews", None)).await
}

async fn answer(proxy: SocketAddr, path: &str, headers: &[(&str, &str)]) -> String {
    let mut request = reqwest::Client::new().get(format!("http://{proxy}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// For 20 users sending 5 requests each with the key `request(user)` makes:
/// every user stays on one instance, and users spread over more than one.
async fn sticky_per_user<F>(proxy: SocketAddr, request: F)
where
    F: Fn(&str) -> (String, Vec<(String, String)>),
{
    let mut used = BTreeSet::new();
    for n in 0..20 {
        let user = format!("user{n}");
        let (path, headers) = request(&user);
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut answers = BTreeSet::new();
        for _ in 0..5 {
            answers.insert(answer(proxy, &path, &headers).await);
        }
        assert_eq!(answers.len(), 1, "{user} moved between {answers:?}");
        used.extend(answers);
    }
    assert!(used.len() > 1, "every user on {used:?}");
}

#[tokio::test]
async fn a_header_hash_keeps_each_user_on_one_instance() {
    let (_stubs, proxy) =
        three_instances("    loadBalancer: {consistentHash: {httpHeaderName: x-user}}\n").await;
    sticky_per_user(proxy.addr, |user| {
        ("/reviews/0".into(), vec![("x-user".into(), user.into())])
    })
    .await;
    // Without the header the requests are spread, as without a hash.
    let mut answers = BTreeSet::new();
    for _ in 0..6 {
        answers.insert(answer(proxy.addr, "/reviews/0", &[]).await);
    }
    assert_eq!(answers.len(), 3, "{answers:?}");
}

#[tokio::test]
async fn a_cookie_hash_and_a_query_parameter_hash_keep_each_user_on_one_instance() {
    let (_stubs, proxy) = three_instances(
        "    loadBalancer: {consistentHash: {httpCookie: {name: user, ttl: 0s}}}\n",
    )
    .await;
    sticky_per_user(proxy.addr, |user| {
        let cookie = format!("theme=dark; user={user}; lang=en");
        ("/reviews/0".into(), vec![("cookie".into(), cookie)])
    })
    .await;

    let (_stubs, proxy) =
        three_instances("    loadBalancer: {consistentHash: {httpQueryParameterName: user}}\n")
            .await;
    sticky_per_user(proxy.addr, |user| {
        (format!("/reviews/0?page=1&user={user}"), Vec::new())
    })
    .await;
}

#[tokio::test]
async fn a_source_ip_hash_sends_every_request_from_one_client_to_one_instance() {
    let (_stubs, proxy) =
        three_instances("    loadBalancer: {consistentHash: {useSourceIp: true}}\n").await;
    let mut answers = BTreeSet::new();
    for n in 0..12 {
        let user = format!("user{n}");
        answers.insert(answer(proxy.addr, "/reviews/0", &[("end-user", &user)]).await);
    }
    assert_eq!(answers.len(), 1, "{answers:?}");
}

/// Six requests 100 ms apart to a slow (1 s) and a fast instance: the
/// number the slow one got.
async fn slow_share(policy: &str) -> usize {
    let (slow, slow_seen) = stub("slow", 0, Duration::from_secs(1)).await;
    let (fast, _) = stub("fast", 0, Duration::ZERO).await;
    let proxy = proxy_with(
        vec![
            instance("reviews", "slow", slow.addr),
            instance("reviews", "fast", fast.addr),
        ],
        policy,
    )
    .await;
    let proxy = Arc::new(proxy);
    let mut requests = Vec::new();
    for _ in 0..6 {
        let proxy = proxy.clone();
        requests.push(tokio::spawn(async move {
            answer(proxy.addr, "/reviews/0", &[]).await
        }));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for request in requests {
        request.await.unwrap();
    }
    slow_seen.count.load(Ordering::SeqCst)
}

#[tokio::test]
async fn least_request_keeps_requests_off_a_busy_instance_where_round_robin_does_not() {
    assert_eq!(
        slow_share("    loadBalancer: {simple: LEAST_REQUEST}\n").await,
        1
    );
    assert_eq!(
        slow_share("    loadBalancer: {simple: ROUND_ROBIN}\n").await,
        3
    );
}

/// A stub that counts how many requests it holds at once, answering each
/// after `delay`.
async fn counting_stub(delay: Duration) -> (Running, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::AtomicUsize;
    let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let seen = most.clone();
    let router = axum::Router::new().fallback(move || {
        let (now, most) = (now.clone(), most.clone());
        async move {
            let holding = now.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(holding, Ordering::SeqCst);
            tokio::time::sleep(delay).await;
            now.fetch_sub(1, Ordering::SeqCst);
            "v1"
        }
    });
    (serve(router).await, seen)
}

/// Sends `n` requests at once; their statuses and `x-envoy-overloaded`.
async fn burst(proxy: SocketAddr, n: usize) -> Vec<(u16, bool)> {
    let requests = (0..n).map(|_| async move {
        let response = reqwest::get(format!("http://{proxy}/reviews/0"))
            .await
            .unwrap();
        let overloaded = response.headers().get("x-envoy-overloaded").is_some();
        (response.status().as_u16(), overloaded)
    });
    futures_util::future::join_all(requests).await
}

#[tokio::test]
async fn the_connection_pool_queues_what_it_can_and_overflows_the_rest_with_503() {
    let (stub, most) = counting_stub(Duration::from_millis(300)).await;
    let proxy = proxy_with(
        vec![instance("reviews", "v1", stub.addr)],
        "    connectionPool: {tcp: {maxConnections: 1}, http: {http1MaxPendingRequests: 1}}\n",
    )
    .await;
    let mut answers = burst(proxy.addr, 3).await;
    answers.sort();
    // One sent, one queued behind it, the third refused at once.
    assert_eq!(answers, vec![(200, false), (200, false), (503, true)]);
    assert_eq!(most.load(Ordering::SeqCst), 1, "one request at a time");

    let (stub, most) = counting_stub(Duration::from_millis(300)).await;
    let proxy = proxy_with(vec![instance("reviews", "v1", stub.addr)], "    {}\n").await;
    assert!(
        burst(proxy.addr, 3)
            .await
            .iter()
            .all(|a| *a == (200, false))
    );
    assert_eq!(most.load(Ordering::SeqCst), 3, "no limit without a pool");
}

#[tokio::test]
async fn outlier_detection_ejects_a_failing_instance_and_returns_it_after_its_time() {
    let (bad, bad_seen) = stub("bad", usize::MAX, Duration::ZERO).await;
    let (good, _) = stub("good", 0, Duration::ZERO).await;
    let proxy = proxy_with(
        vec![
            instance("reviews", "bad", bad.addr),
            instance("reviews", "good", good.addr),
        ],
        "    outlierDetection: {consecutive5xxErrors: 2, interval: 100ms, baseEjectionTime: 1s, maxEjectionPercent: 100}\n",
    )
    .await;
    let client = reqwest::Client::new();
    let url = format!("http://{}/reviews/0", proxy.addr);
    for _ in 0..20 {
        let response = client.get(&url).send().await.unwrap();
        // Istio's default retries (503) move a failed request to the good one.
        assert_eq!(response.text().await.unwrap(), "good");
    }
    let ejected_after = bad_seen.count.load(Ordering::SeqCst);
    assert_eq!(
        ejected_after, 2,
        "two 5xx eject it; nothing reaches it after"
    );
    tokio::time::sleep(Duration::from_millis(1300)).await;
    for _ in 0..4 {
        client.get(&url).send().await.unwrap();
    }
    assert!(
        bad_seen.count.load(Ordering::SeqCst) > ejected_after,
        "back in the pool after its ejection time"
    );
}
