use crate::helpers::{self, get, post};

const DEFAULT_RATINGS: &str = r#"{"id":0,"ratings":{"Reviewer1":5,"Reviewer2":4}}"#;

#[tokio::test]
async fn get_ratings_answers_the_upstream_body_byte_for_byte() {
    let server = helpers::mode("v1").await;
    let (status, body, headers) = get(&server.url("/ratings/0")).await;
    assert_eq!(status, 200);
    assert_eq!(body, DEFAULT_RATINGS);
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["x-bookinfo-version"], "ratings-v1");
}

#[tokio::test]
async fn ids_are_read_like_upstream_parse_int_of_the_last_segment() {
    let server = helpers::mode("v1").await;
    for (path, id) in [
        ("/ratings/7?x=1", "7"),
        ("/ratings/12abc", "12"),
        ("/ratings/-3", "-3"),
        ("/ratings/abc/5", "5"),
        // Node reads the raw path: `%2F` is no separator, and parseInt
        // stops at the `%`.
        ("/ratings/1%2F2", "1"),
        ("/ratings/0x10", "16"),
        ("/ratings/9007199254740993", "9007199254740992"),
    ] {
        let (status, body, _) = get(&server.url(path)).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(
            body,
            format!(r#"{{"id":{id},"ratings":{{"Reviewer1":5,"Reviewer2":4}}}}"#)
        );
    }
}

#[tokio::test]
async fn percent_encoded_digits_are_not_read_as_digits_and_posts_share_keys_as_node() {
    let server = helpers::mode("v1").await;
    let (status, _, _) = get(&server.url("/ratings/%31")).await;
    assert_eq!(status, 400, "Node does not decode the path");
    // "16" and "0x10" are one product, as one JavaScript property.
    let (status, _) = post(&server.url("/ratings/0x10"), r#"{"Reviewer1":3}"#).await;
    assert_eq!(status, 200);
    let (_, body, _) = get(&server.url("/ratings/16")).await;
    assert_eq!(body, r#"{"id":16,"ratings":{"Reviewer1":3}}"#);
}

#[tokio::test]
async fn health_answers_the_upstream_body() {
    let server = helpers::mode("v1").await;
    let (status, body, headers) = get(&server.url("/health")).await;
    assert_eq!(status, 200);
    assert_eq!(body, r#"{"status":"Ratings is healthy"}"#);
    assert_eq!(headers["content-type"], "application/json");
}

#[tokio::test]
async fn post_stores_ratings_that_later_gets_return() {
    let server = helpers::mode("v1").await;
    let (status, body) = post(
        &server.url("/ratings/0"),
        r#"{"Reviewer1":1,"Reviewer2":2}"#,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body, r#"{"id":0,"ratings":{"Reviewer1":1,"Reviewer2":2}}"#);
    let (_, body, _) = get(&server.url("/ratings/0")).await;
    assert_eq!(body, r#"{"id":0,"ratings":{"Reviewer1":1,"Reviewer2":2}}"#);
    let (_, other, _) = get(&server.url("/ratings/1")).await;
    assert_eq!(other, r#"{"id":1,"ratings":{"Reviewer1":5,"Reviewer2":4}}"#);
}

#[tokio::test]
async fn fault_modes_leave_post_alone() {
    let server = helpers::mode("v-unavailable").await;
    let (status, _) = post(&server.url("/ratings/3"), r#"{"Reviewer1":3}"#).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn metrics_count_requests_by_route_pattern() {
    let server = helpers::mode("v1").await;
    get(&server.url("/ratings/0")).await;
    get(&server.url("/ratings/1")).await;
    let (status, body, headers) = get(&server.url("/metrics")).await;
    assert_eq!(status, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    assert!(
        body.contains(
            r#"http_requests_total{route="/ratings/{*rest}",method="GET",status="200"} 2"#
        ),
        "{body}"
    );
    assert!(body.contains("http_request_duration_seconds_bucket"));
}

#[tokio::test]
async fn the_health_check_flag_succeeds_against_a_running_service_and_fails_without_one() {
    let server = helpers::mode("v1").await;
    let check = |listen: String| {
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_ratings"))
                .args(["--health-check", "--listen", &listen])
                .output()
                .unwrap()
        })
    };
    let healthy = check(server.addr.to_string()).await.unwrap();
    assert_eq!(healthy.status.code(), Some(0));
    let closed = bookinfo_support::testing::closed_port();
    let unhealthy = check(closed.to_string()).await.unwrap();
    assert_eq!(unhealthy.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unhealthy.stderr).contains("unhealthy"));
}
