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
    let server = serve(admin::router(plane.clone())).await;
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
