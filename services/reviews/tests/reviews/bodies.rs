use std::time::Duration;

use crate::helpers::{get_text, reviews_for, stub_ratings};

const R1: &str =
    "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!";
const R2: &str = "Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.";
const OK_RATINGS: &str = r#"{"id":0,"ratings":{"Reviewer1":5,"Reviewer2":4}}"#;

fn expected(id: &str, r1: &str, r2: &str) -> String {
    format!(
        r#"{{"id": "{id}","podname": "reviews-pod-1","clustername": "null","reviews": [{{  "reviewer": "Reviewer1",  "text": "{R1}"{r1}}},{{  "reviewer": "Reviewer2",  "text": "{R2}"{r2}}}]}}"#
    )
}

#[tokio::test]
async fn v1_answers_the_upstream_body_without_ratings() {
    let reviews = reviews_for("v1", "black", None, Duration::from_secs(1)).await;
    let (status, body, headers) = get_text(&reviews.url("/reviews/0")).await;
    assert_eq!(status, 200);
    assert_eq!(body, expected("0", "", ""));
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["x-bookinfo-version"], "reviews-v1");
}

#[tokio::test]
async fn v2_adds_black_stars_from_ratings() {
    let (ratings, _) = stub_ratings(200, OK_RATINGS, Duration::ZERO).await;
    let reviews = reviews_for("v2", "black", Some(&ratings), Duration::from_secs(1)).await;
    let (status, body, headers) = get_text(&reviews.url("/reviews/0")).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        expected(
            "0",
            r#", "rating": {"stars": 5, "color": "black"}"#,
            r#", "rating": {"stars": 4, "color": "black"}"#
        )
    );
    assert_eq!(headers["x-bookinfo-version"], "reviews-v2");
}

#[tokio::test]
async fn v3_uses_red_and_the_id_is_a_string_of_the_java_int() {
    let (ratings, _) = stub_ratings(
        200,
        r#"{"id":7,"ratings":{"Reviewer1":0,"Reviewer2":1}}"#,
        Duration::ZERO,
    )
    .await;
    let reviews = reviews_for("v3", "red", Some(&ratings), Duration::from_secs(1)).await;
    let (_, body, _) = get_text(&reviews.url("/reviews/007")).await;
    assert_eq!(
        body,
        expected(
            "7",
            r#", "rating": {"stars": 0, "color": "red"}"#,
            r#", "rating": {"stars": 1, "color": "red"}"#
        )
    );
}

#[tokio::test]
async fn health_answers_the_upstream_body_with_its_space() {
    let reviews = reviews_for("v1", "black", None, Duration::from_secs(1)).await;
    let (status, body, _) = get_text(&reviews.url("/health")).await;
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"status": "Reviews is healthy"}"#)
    );
}

#[tokio::test]
async fn bad_ids_and_paths_get_404_and_wrong_methods_405() {
    let reviews = reviews_for("v1", "black", None, Duration::from_secs(1)).await;
    let long = format!("/reviews/{}", "1".repeat(4000));
    for path in [
        "/reviews/abc",
        "/reviews/2147483648",
        "/reviews/1.5",
        "/reviews/",
        "/nope",
        &long,
    ] {
        let (status, body, _) = get_text(&reviews.url(path)).await;
        assert_eq!(status, 404, "{path}");
        assert!(body.starts_with(r#"{"error":"#), "{body}");
    }
    let response = reqwest::Client::new()
        .post(reviews.url("/reviews/0"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert!(
        response.headers()["allow"]
            .to_str()
            .unwrap()
            .contains("GET")
    );
}

#[tokio::test]
async fn hostile_pod_names_stay_valid_json() {
    let reviews = crate::helpers::reviews(bookinfo_reviews::AppState::new(
        "v1",
        None,
        "black",
        "pod\"with\\quotes</script>",
        "null",
        Default::default(),
    ))
    .await;
    let (_, body, _) = get_text(&reviews.url("/reviews/0")).await;
    let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(parsed["podname"], "pod\"with\\quotes</script>");
}
