use crate::helpers::{self, get, post};

const BAD_ID: &str = r#"{"error":"please provide numeric product ID"}"#;
const BAD_BODY: &str = r#"{"error":"please provide valid ratings JSON"}"#;

#[tokio::test]
async fn non_numeric_ids_get_400_with_a_json_error() {
    let server = helpers::mode("v1").await;
    for path in [
        "/ratings/abc",
        "/ratings/",
        "/ratings/0/extra",
        "/ratings/%31",
    ] {
        let (status, body, _) = get(&server.url(path)).await;
        assert_eq!((status, body.as_str()), (400, BAD_ID), "{path}");
    }
}

/// Node's `parseInt` reads any run of digits: beyond 2^53 rounded, beyond
/// the doubles infinite, which `JSON.stringify` writes as `null`.
#[tokio::test]
async fn huge_ids_are_numbers_as_node_reads_them() {
    let server = helpers::mode("v1").await;
    let huge = format!("/ratings/{}", "9".repeat(5000));
    for (path, id) in [
        ("/ratings/99999999999999999999", "100000000000000000000"),
        (huge.as_str(), "null"),
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
async fn malformed_posts_are_refused_and_the_store_is_unchanged() {
    let server = helpers::mode("v1").await;
    for body in ["{", "[1,2]", r#"{"Reviewer1":"five"}"#, ""] {
        let (status, text) = post(&server.url("/ratings/0"), body).await;
        assert_eq!((status, text.as_str()), (400, BAD_BODY), "{body:?}");
    }
    let (status, text) = post(&server.url("/ratings/zero"), "{}").await;
    assert_eq!((status, text.as_str()), (400, BAD_ID));
    let (_, body, _) = get(&server.url("/ratings/0")).await;
    assert_eq!(body, r#"{"id":0,"ratings":{"Reviewer1":5,"Reviewer2":4}}"#);
}

#[tokio::test]
async fn oversized_bodies_get_413_with_a_json_error() {
    let server = helpers::mode("v1").await;
    let (status, body) = post(&server.url("/ratings/0"), vec![b'{'; 1 << 20]).await;
    assert_eq!(status, 413);
    assert!(body.starts_with(r#"{"error":"#), "{body}");
    let (_, body, _) = get(&server.url("/ratings/0")).await;
    assert_eq!(body, r#"{"id":0,"ratings":{"Reviewer1":5,"Reviewer2":4}}"#);
}

#[tokio::test]
async fn unsupported_methods_get_405_with_allow_instead_of_hanging() {
    let server = helpers::mode("v1").await;
    let client = reqwest::Client::new();
    for method in [
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
        reqwest::Method::PATCH,
    ] {
        let response = client
            .request(method.clone(), server.url("/ratings/0"))
            .timeout(std::time::Duration::from_secs(5))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{method}");
        let allow = response.headers()["allow"].to_str().unwrap().to_owned();
        assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
        assert_eq!(
            response.text().await.unwrap(),
            r#"{"error":"method not allowed"}"#
        );
    }
}

#[tokio::test]
async fn unknown_paths_get_404_with_a_json_error() {
    let server = helpers::mode("v1").await;
    for path in ["/", "/ratings", "/healthz", "/%FF%FE"] {
        let (status, body, _) = get(&server.url(path)).await;
        assert_eq!(
            (status, body.as_str()),
            (404, r#"{"error":"not found"}"#),
            "{path}"
        );
    }
}

#[tokio::test]
async fn large_headers_get_431_with_a_json_error() {
    let server = helpers::mode("v1").await;
    let response = reqwest::Client::new()
        .get(server.url("/ratings/0"))
        .header("x-big", "a".repeat(64 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 431);
    assert_eq!(
        response.text().await.unwrap(),
        r#"{"error":"request header fields too large"}"#
    );
}

#[tokio::test]
async fn huge_headers_are_refused_and_the_server_keeps_serving() {
    let server = helpers::mode("v1").await;
    let response = reqwest::Client::new()
        .get(server.url("/ratings/0"))
        .header("x-big", "a".repeat(1 << 20))
        .send()
        .await;
    if let Ok(response) = response {
        assert_eq!(response.status(), 431);
    }
    let (status, _, _) = get(&server.url("/ratings/0")).await;
    assert_eq!(status, 200);
}
