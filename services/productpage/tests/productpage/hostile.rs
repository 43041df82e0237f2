//! Hostile input from clients and from backends: escaped, encoded or
//! refused, never a panic.

use crate::helpers::*;

const SORRY_DETAILS: &str =
    r#"{"error": "Sorry, product details are currently unavailable for this book."}"#;

#[tokio::test]
async fn hostile_ids_are_encoded_into_one_backend_path_segment() {
    let world = World::start(reviews_v1()).await;
    let app = TestApp::spawn(world.ports()).await;
    for (path, expected) in [
        (
            "/api/v1/products/..%2F..%2Fadmin",
            "/details/..%2F..%2Fadmin",
        ),
        ("/api/v1/products/0%3Fx=1%23y", "/details/0%3Fx%3D1%23y"),
        ("/api/v1/products/%20007", "/details/%20007"),
        ("/api/v1/products/abc", "/details/abc"),
        ("/api/v1/products/-3", "/details/-3"),
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(world.details.seen().last().unwrap().target, expected);
    }
}

#[tokio::test]
async fn dot_segments_oversized_and_non_utf8_ids_are_refused_without_a_backend_call() {
    let world = World::start(reviews_v1()).await;
    let app = TestApp::spawn(world.ports()).await;
    let long = format!("/api/v1/products/{}", "9".repeat(129));
    for path in [
        "/api/v1/products/..",
        "/api/v1/products/%2E%2E",
        "/api/v1/products/.",
        "/api/v1/products/%ff",
        "/api/v1/products/%C3%28/reviews",
        long.as_str(),
    ] {
        let (status, response) = raw_get(&app.base, path).await;
        assert_eq!(status, 400, "{path}");
        assert!(response.contains("content-type: application/json"));
        assert!(response.contains(r#"{"error": "Sorry, product "#), "{path}");
    }
    let (_, response) = raw_get(&app.base, "/api/v1/products/..").await;
    assert!(response.ends_with(SORRY_DETAILS));
    assert_eq!(world.details.calls() + world.reviews.calls(), 0);
    let response = app
        .get(&format!("/api/v1/products/{}", "9".repeat(128)))
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn hostile_backend_content_is_escaped_in_the_page() {
    let reviews = r#"{"id": "0","podname": "\"><img src=x onerror=alert(1)>","clustername": "<b>c</b>","reviews": [{  "reviewer": "<script>r</script>",  "text": "</blockquote><script>t</script>", "rating": {"stars": 99999999, "color": "red\" style=\"x"}},{  "reviewer": "R2",  "text": "t", "rating": {"error": "<i>e</i>"}}]}"#;
    let world = World::start(Canned::ok(reviews)).await;
    world.details.set(Canned::ok(
        r#"{"id":0,"author":"<script>a</script>","publisher":"P&Q","pages":1}"#,
    ));
    let app = TestApp::spawn(world.ports()).await;
    let (status, body) = app.page(None).await;
    assert_eq!(status, 200);
    for raw in [
        "<script>",
        "<img",
        "<b>c</b>",
        "<i>e</i>",
        "style=\"x",
        "</blockquote><script>",
    ] {
        assert!(!body.contains(raw), "unescaped {raw}");
    }
    assert!(body.contains("&#60;script&#62;a&#60;/script&#62;"));
    assert!(body.contains("P&#38;Q"));
    assert!(body.contains("&#60;i&#62;e&#60;/i&#62;"));
    // A huge star count is drawn as five stars, in the default colour.
    assert_eq!(count(&body, "glyphicon glyphicon-star"), 5);
    assert!(body.contains("text-black-500"));
}

#[tokio::test]
async fn huge_headers_and_odd_requests_get_clear_answers() {
    let world = World::start(reviews_v1()).await;
    let app = TestApp::spawn(world.ports()).await;
    let response = app
        .client
        .get(app.url("/productpage"))
        .header("cookie", format!("session={}", "a.".repeat(4000)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = app
        .client
        .get(app.url("/productpage"))
        .header("x-b3-traceid", "z".repeat(5000))
        .header("b3", "-".repeat(5000))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(world.reviews.last_header("x-b3-traceid"), None);
    // A body on a GET is ignored.
    let response = app
        .client
        .get(app.url("/productpage"))
        .body("x".repeat(1000))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn huge_and_endless_backend_answers_degrade_the_page_instead_of_filling_memory() {
    use axum::body::{Body, Bytes};
    use axum::routing::get;

    // A details answer of 2 MiB (valid JSON, but no Bookinfo answer is that
    // big) and a reviews answer that never ends.
    let huge = format!(r#"{{"id":0,"author":"{}"}}"#, "x".repeat(2 << 20));
    let details = bookinfo_support::testing::serve(axum::Router::new().route(
        "/details/{id}",
        get(move || {
            let huge = huge.clone();
            async move { huge }
        }),
    ))
    .await;
    let endless = bookinfo_support::testing::serve(axum::Router::new().route(
        "/reviews/{id}",
        get(|| async {
            let chunk = Bytes::from(vec![b' '; 64 * 1024]);
            Body::from_stream(futures_util::stream::repeat_with(move || {
                Ok::<_, std::convert::Infallible>(chunk.clone())
            }))
        }),
    ))
    .await;
    let ratings = Stub::start(Canned::ok(RATINGS)).await;
    let app = TestApp::spawn(Ports {
        details: details.addr.port(),
        reviews: endless.addr.port(),
        ratings: ratings.port,
    })
    .await;
    let started = std::time::Instant::now();
    let (status, page) = app.page(None).await;
    assert_eq!(status, 200);
    assert!(page.contains("Sorry, product details are currently unavailable for this book."));
    assert!(page.contains("Sorry, product reviews are currently unavailable for this book."));
    // Cut at the size limit, not after two 3 s timeouts of reading.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}
