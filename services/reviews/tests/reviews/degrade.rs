use std::time::{Duration, Instant};

use bookinfo_support::propagation::forwarded_headers;

use crate::helpers::{get_text, reviews_for, stub_ratings};

const UNAVAILABLE: &str = r#""rating": {"error": "Ratings service is currently unavailable"}"#;

async fn assert_both_unavailable(status: u16, body: &'static str, delay: Duration) {
    let (ratings, seen) = stub_ratings(status, body, delay).await;
    let reviews = reviews_for("v2", "black", Some(&ratings), Duration::from_millis(300)).await;
    let started = Instant::now();
    let (code, text, _) = get_text(&reviews.url("/reviews/0")).await;
    assert_eq!(code, 200, "reviews never fails because of ratings");
    assert_eq!(text.matches(UNAVAILABLE).count(), 2, "{text}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "bounded by the timeout"
    );
    assert_eq!(seen.lock().unwrap().len(), 1, "no retries");
}

#[tokio::test]
async fn ratings_answering_503_degrades_each_reviewer() {
    assert_both_unavailable(503, r#"{"error":"Service unavailable"}"#, Duration::ZERO).await;
}

#[tokio::test]
async fn ratings_sleeping_past_the_timeout_degrades_each_reviewer() {
    assert_both_unavailable(
        200,
        r#"{"id":0,"ratings":{"Reviewer1":5,"Reviewer2":4}}"#,
        Duration::from_secs(3),
    )
    .await;
}

#[tokio::test]
async fn ratings_answering_garbage_degrades_each_reviewer() {
    assert_both_unavailable(200, "<html>not json</html>", Duration::ZERO).await;
}

#[tokio::test]
async fn ratings_down_degrades_each_reviewer() {
    let port = bookinfo_support::testing::closed_port().port();
    let backend = bookinfo_api::Backend::new(
        format!("http://127.0.0.1:{port}"),
        Duration::from_millis(300),
    )
    .unwrap();
    let reviews = crate::helpers::reviews(bookinfo_reviews::AppState::new(
        "v2",
        Some(backend),
        "black",
        "p",
        "null",
        Default::default(),
    ))
    .await;
    let (code, text, _) = get_text(&reviews.url("/reviews/0")).await;
    assert_eq!(code, 200);
    assert_eq!(text.matches(UNAVAILABLE).count(), 2);
}

#[tokio::test]
async fn a_missing_reviewer_degrades_only_that_reviewer() {
    let (ratings, _) =
        stub_ratings(200, r#"{"id":0,"ratings":{"Reviewer1":3}}"#, Duration::ZERO).await;
    let reviews = reviews_for("v3", "red", Some(&ratings), Duration::from_secs(1)).await;
    let (_, text, _) = get_text(&reviews.url("/reviews/0")).await;
    assert!(text.contains(r#""rating": {"stars": 3, "color": "red"}"#));
    assert_eq!(text.matches(UNAVAILABLE).count(), 1);
}

#[tokio::test]
async fn forwarded_headers_and_end_user_reach_ratings() {
    let (ratings, seen) = stub_ratings(
        200,
        r#"{"id":0,"ratings":{"Reviewer1":5,"Reviewer2":4}}"#,
        Duration::ZERO,
    )
    .await;
    let reviews = reviews_for("v2", "black", Some(&ratings), Duration::from_secs(1)).await;
    let mut request = reqwest::Client::new().get(reviews.url("/reviews/0"));
    for name in forwarded_headers() {
        request = request.header(&name, format!("value-of-{name}"));
    }
    let response = request.header("x-private", "secret").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let seen = seen.lock().unwrap();
    let headers = &seen[0];
    for name in forwarded_headers() {
        assert_eq!(
            headers[&name],
            format!("value-of-{name}").as_str(),
            "{name}"
        );
    }
    assert_eq!(headers["end-user"], "value-of-end-user");
    assert_eq!(headers["accept"], "application/json");
    assert!(headers.get("x-private").is_none());
}

#[tokio::test]
async fn a_request_id_is_generated_and_forwarded_when_the_caller_sent_none() {
    let (ratings, seen) = stub_ratings(200, r#"{"id":0,"ratings":{}}"#, Duration::ZERO).await;
    let reviews = reviews_for("v2", "black", Some(&ratings), Duration::from_secs(1)).await;
    let (_, _, headers) = get_text(&reviews.url("/reviews/0")).await;
    let id = headers["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert_eq!(seen.lock().unwrap()[0]["x-request-id"], id.as_str());
}
