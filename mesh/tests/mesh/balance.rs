//! The destination's load balancer, as a DestinationRule's trafficPolicy
//! sets it, decides which instance of a host answers.

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
    serve(host_router(plane, "reviews")).await
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
