//! Hostile use of the admin endpoint: cross-site writes refused, repeated
//! applies kept once, oversized routing refused with the limit named.

use std::sync::Arc;

use bookinfo_mesh::admin;
use bookinfo_mesh::plane::Plane;
use bookinfo_support::testing::{Running, serve};

use crate::helpers::{REVIEWS_SUBSETS, instance};

async fn admin_endpoint() -> (Arc<Plane>, Running) {
    let plane = Plane::new(vec![
        instance("reviews", "v1", "127.0.0.1:1".parse().unwrap()),
        instance("reviews", "v2", "127.0.0.1:2".parse().unwrap()),
    ]);
    let server = serve(admin::router(plane.clone(), None)).await;
    (plane, server)
}

async fn post(
    server: &Running,
    headers: &[(&str, &str)],
    body: impl Into<reqwest::Body>,
) -> (u16, String) {
    let mut request = reqwest::Client::new().post(server.url("/apply")).body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

const YAML: (&str, &str) = ("content-type", "application/yaml");

#[tokio::test]
async fn writes_a_web_page_could_send_are_refused_and_change_nothing() {
    let (plane, server) = admin_endpoint().await;
    for (headers, status) in [
        (vec![("content-type", "text/plain")], 415),
        (
            vec![("content-type", "application/x-www-form-urlencoded")],
            415,
        ),
        (vec![], 415),
        (vec![YAML, ("origin", "http://evil.example")], 403),
        (vec![YAML, ("host", "evil.example")], 403),
        (vec![YAML, ("host", "evil.example:15000")], 403),
    ] {
        let (got, text) = post(&server, &headers, REVIEWS_SUBSETS).await;
        assert_eq!(got, status, "{headers:?}: {text}");
        assert!(text.starts_with(r#"{"error":"#), "{text}");
    }
    assert_eq!(plane.epoch(), 0, "nothing was applied");
    for origin in [
        "http://127.0.0.1:15000",
        "http://localhost:8080",
        "http://[::1]",
    ] {
        let (got, text) = post(&server, &[YAML, ("origin", origin)], REVIEWS_SUBSETS).await;
        assert_eq!(got, 200, "{origin}: {text}");
    }
    let json = r#"{"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
        "metadata": {"name": "reviews"}, "spec": {"host": "reviews"}}"#;
    let (got, text) = post(
        &server,
        &[("content-type", "application/json; charset=utf-8")],
        json,
    )
    .await;
    assert_eq!(got, 200, "JSON is YAML: {text}");
}

#[tokio::test]
async fn re_applying_a_file_keeps_one_copy_of_each_object() {
    let (plane, server) = admin_endpoint().await;
    for _ in 0..50 {
        let (got, text) = post(&server, &[YAML], REVIEWS_SUBSETS).await;
        assert_eq!(got, 200, "{text}");
    }
    assert_eq!(plane.epoch(), 50);
    assert_eq!(plane.object_count(), 1);
    let epoch: serde_json::Value = reqwest::get(server.url("/epoch"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(epoch["objects"], 1);
}

#[tokio::test]
async fn a_virtual_service_beyond_the_limits_is_refused_naming_the_limit() {
    let (plane, server) = admin_endpoint().await;
    let hosts: Vec<String> = (0..4_000).map(|i| format!("h{i}")).collect();
    let many_hosts = format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: wide}}\nspec:\n  hosts: [{}]\n  http:\n  - route: [{{destination: {{host: reviews}}}}]\n",
        hosts.join(", ")
    );
    let (got, text) = post(&server, &[YAML], many_hosts).await;
    assert_eq!(got, 400);
    assert!(text.contains("4000 hosts; at most 256"), "{text}");
    let (got, text) = post(&server, &[YAML], vec![b'#'; 5 << 20]).await;
    assert_eq!(got, 413, "{text}");
    assert_eq!(plane.epoch(), 0);
}

/// A listener that accepts connections, counts them and never answers.
async fn stalled_target() -> (std::net::SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(socket);
        }
    });
    (addr, accepted)
}

#[tokio::test]
async fn a_stalled_mirror_target_costs_the_primary_route_nothing() {
    use crate::helpers::{plane_with, stub};
    let (primary, _) = stub("v1", 0, std::time::Duration::ZERO).await;
    let (stalled, accepted) = stalled_target().await;
    let http = "  - route: [{destination: {host: reviews, subset: v1}}]\n    mirror: {host: reviews, subset: v2}\n    mirrorPercentage: {value: 100.0}\n";
    let vs = format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: reviews}}\nspec:\n  hosts: [reviews]\n  http:\n{http}"
    );
    let (_plane, proxy) = plane_with(
        vec![
            instance("reviews", "v1", primary.addr),
            instance("reviews", "v2", stalled),
        ],
        &vs,
    )
    .await;
    let client = reqwest::Client::new();
    let requests = (0..300).map(|_| {
        let client = client.clone();
        let url = proxy.url("/reviews/0");
        async move { client.get(url).send().await.map(|r| r.status().as_u16()) }
    });
    let started = std::time::Instant::now();
    let answers = futures_util::future::join_all(requests).await;
    assert!(answers.iter().all(|a| matches!(a, Ok(200))), "{answers:?}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let held = accepted.load(std::sync::atomic::Ordering::SeqCst);
    assert!(held <= 64, "{held} mirror connections held open at once");
}

#[tokio::test]
async fn headers_named_in_connection_are_not_forwarded() {
    use axum::http::HeaderMap;
    let seen = serve(
        axum::Router::new().fallback(|headers: HeaderMap| async move {
            format!("secret={}", headers.contains_key("x-secret"))
        }),
    )
    .await;
    let (_plane, proxy) =
        crate::helpers::plane_with(vec![instance("reviews", "v1", seen.addr)], "").await;
    let answer = reqwest::Client::new()
        .get(proxy.url("/reviews/0"))
        .header("connection", "keep-alive, x-secret")
        .header("x-secret", "1")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(answer, "secret=false");
}

/// Sends `head` on a raw connection and returns the status of the answer.
async fn raw_status(addr: std::net::SocketAddr, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = vec![0u8; 256];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut answer))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&answer[..n])
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}

#[tokio::test]
async fn malformed_chunked_bodies_and_options_star_get_400() {
    let (upstream, _) = crate::helpers::stub("v1", 0, std::time::Duration::ZERO).await;
    let (_plane, proxy) =
        crate::helpers::plane_with(vec![instance("reviews", "v1", upstream.addr)], "").await;
    let chunked = b"POST /reviews/0 HTTP/1.1\r\nHost: reviews\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n";
    assert_eq!(
        raw_status(proxy.addr, chunked).await,
        "HTTP/1.1 400 Bad Request"
    );
    let star = b"OPTIONS * HTTP/1.1\r\nHost: reviews\r\n\r\n";
    assert_eq!(
        raw_status(proxy.addr, star).await,
        "HTTP/1.1 400 Bad Request"
    );
}
