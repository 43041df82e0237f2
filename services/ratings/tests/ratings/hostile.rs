//! Hostile input that once exhausted the process: each loop is bounded and
//! fails if the defence it checks is gone.

use crate::helpers::{self, get, post};

/// A body near the 64 KiB limit of small integers: the costliest to keep
/// parsed (about 1.4 MB each, before ratings kept the text).
fn worst_body() -> String {
    let mut body = String::from("{");
    let mut i = 0;
    while body.len() < 64 * 1024 - 32 {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&format!("\"r{i}\":1"));
        i += 1;
    }
    body.push('}');
    body
}

#[tokio::test]
async fn storing_posts_is_capped_by_bytes_not_only_by_products() {
    let server = helpers::mode("v1").await;
    let body = worst_body();
    // 16 MiB of ratings text are about 260 such bodies; the product cap
    // (10,000) alone would take all of these.
    let mut stored = 0;
    let mut refused = None;
    for id in 0..400 {
        let (status, text) = post(&server.url(&format!("/ratings/{id}")), body.clone()).await;
        if status == 507 {
            refused = Some(text);
            break;
        }
        assert_eq!(status, 200, "{text}");
        stored += 1;
    }
    let refused = refused.expect("no 507 after 400 worst-case bodies");
    assert!(refused.contains("full"), "{refused}");
    assert!((200..300).contains(&stored), "{stored} stored");
    // What was stored still reads back, and replacing a product is allowed.
    let (status, text, _) = get(&server.url("/ratings/0")).await;
    assert_eq!(status, 200);
    assert!(
        text.starts_with(r#"{"id":0,"ratings":{"r0":1,"#),
        "{}",
        &text[..40]
    );
    let (status, _) = post(&server.url("/ratings/0"), r#"{"Reviewer1":3}"#).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn invented_methods_do_not_add_metric_series() {
    let server = helpers::mode("v1").await;
    let client = reqwest::Client::new();
    for i in 0..200 {
        let method = reqwest::Method::from_bytes(format!("M{i}X").as_bytes()).unwrap();
        let response = client
            .request(method, server.url("/ratings/1"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405);
    }
    let (_, metrics, _) = get(&server.url("/metrics")).await;
    let series = metrics
        .lines()
        .filter(|l| l.starts_with("http_requests_total{"))
        .count();
    assert!(series <= 3, "{series} series:\n{metrics}");
    assert!(metrics.contains(r#"method="_OTHER""#), "{metrics}");
}
