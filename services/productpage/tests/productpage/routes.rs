//! Every route, its status, content type and body (as upstream).

use bookinfo_productpage::AppState;
use bookinfo_support::launch::{self, Program};
use std::time::Duration;

use crate::helpers::*;

const SORRY_DETAILS: &str =
    r#"{"error": "Sorry, product details are currently unavailable for this book."}"#;
const SORRY_REVIEWS: &str =
    r#"{"error": "Sorry, product reviews are currently unavailable for this book."}"#;
const SORRY_RATINGS: &str =
    r#"{"error": "Sorry, product ratings are currently unavailable for this book."}"#;

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn the_index_links_to_the_page_as_a_normal_and_a_test_user() {
    let world = World::start(reviews_v1()).await;
    let app = TestApp::spawn(world.ports()).await;
    for path in ["/", "/index.html"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            header(&response, "content-type").unwrap(),
            "text/html; charset=utf-8"
        );
        assert_eq!(header(&response, "vary"), None);
        let body = response.text().await.unwrap();
        assert!(body.contains("<title>Simple Bookstore App</title>\n"));
        assert!(body.contains(r#"href="productpage?u=normal""#));
        assert!(body.contains(r#"href="productpage?u=test""#));
        assert!(body.contains(&format!(
            "http://127.0.0.1:{}/details/0",
            world.details.port
        )));
    }
    assert_eq!(world.details.calls() + world.reviews.calls(), 0);
}

#[tokio::test]
async fn health_answers_the_upstream_sentence_as_html() {
    let world = World::start(reviews_v1()).await;
    let app = TestApp::spawn(world.ports()).await;
    let response = app.get("/health").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "content-type").unwrap(),
        "text/html; charset=utf-8"
    );
    assert_eq!(
        header(&response, "x-bookinfo-version").unwrap(),
        "productpage-v1"
    );
    assert_eq!(response.text().await.unwrap(), "Product page is healthy");
}

#[tokio::test]
async fn the_product_list_is_byte_exact() {
    let world = World::start(reviews_v1()).await;
    let app = TestApp::spawn(world.ports()).await;
    let response = app.get("/api/v1/products").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "content-type").unwrap(),
        "application/json"
    );
    assert_eq!(header(&response, "vary"), None);
    let body = response.text().await.unwrap();
    assert_eq!(
        body,
        r#"[{"id": 0, "title": "The Comedy of Errors", "descriptionHtml": "<a href=\"https://en.wikipedia.org/wiki/The_Comedy_of_Errors\">Wikipedia Summary</a>: The Comedy of Errors is one of <b>William Shakespeare's</b> early plays. It is his shortest and one of his most farcical comedies, with a major part of the humour coming from slapstick and mistaken identity, in addition to puns and word play."}]"#
    );
    assert_eq!(body.len(), 395);
}

/// Numbers a backend sends pass through exactly, as Python's `json`
/// (arbitrary-size integers) keeps them: beyond 64 bits too.
#[tokio::test]
async fn numbers_beyond_64_bits_pass_through_exactly() {
    let world = World::start(reviews_v1()).await;
    world.details.set(Canned::ok(
        r#"{"id":99999999999999999999,"pages":-123456789012345678901234567890,"year":18446744073709551616}"#,
    ));
    let app = TestApp::spawn(world.ports()).await;
    let body = app.get("/api/v1/products/0").await.text().await.unwrap();
    assert_eq!(
        body,
        r#"{"id": 99999999999999999999, "pages": -123456789012345678901234567890, "year": 18446744073709551616}"#
    );
}

#[tokio::test]
async fn product_details_are_reserialised_with_python_separators() {
    let world = World::start(reviews_v1()).await;
    let app = TestApp::spawn(world.ports()).await;
    let response = app.get("/api/v1/products/0").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "content-type").unwrap(),
        "application/json"
    );
    assert_eq!(header(&response, "vary").unwrap(), "Cookie");
    let body = response.text().await.unwrap();
    assert_eq!(
        body,
        r#"{"id": 0, "author": "William Shakespeare", "year": 1595, "type": "paperback", "pages": 200, "publisher": "PublisherA", "language": "English", "ISBN-10": "1234567890", "ISBN-13": "123-1234567890"}"#
    );
    assert_eq!(body.len(), 195);
    assert_eq!(world.details.seen()[0].target, "/details/0");
}

#[tokio::test]
async fn product_reviews_are_proxied_with_the_reviews_version_header() {
    let world = World::start(reviews_v3()).await;
    let app = TestApp::spawn(world.ports()).await;
    let response = app.get("/api/v1/products/0/reviews").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "x-bookinfo-reviews-version").unwrap(),
        "reviews-v3"
    );
    assert_eq!(
        response.text().await.unwrap(),
        r#"{"id": "0", "podname": "reviews-v3-7d6e0a9c8-m4n5q", "clustername": "null", "reviews": [{"reviewer": "Reviewer1", "text": "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!", "rating": {"stars": 5, "color": "red"}}, {"reviewer": "Reviewer2", "text": "Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.", "rating": {"stars": 4, "color": "red"}}]}"#
    );
    assert_eq!(world.reviews.seen()[0].target, "/reviews/0");
}

#[tokio::test]
async fn product_ratings_are_proxied_from_ratings() {
    let world = World::start(reviews_v1()).await;
    let app = TestApp::spawn(world.ports()).await;
    let response = app.get("/api/v1/products/0/ratings").await;
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert_eq!(
        body,
        r#"{"id": 0, "ratings": {"Reviewer1": 5, "Reviewer2": 4}}"#
    );
    assert_eq!(body.len(), 54);
    assert_eq!(world.ratings.seen()[0].target, "/ratings/0");
    assert_eq!(world.details.calls() + world.reviews.calls(), 0);
}

#[tokio::test]
async fn backend_error_statuses_are_propagated_with_the_sorry_bodies() {
    let world = World::start(Canned::status(404, "")).await;
    world.details.set(Canned::status(
        400,
        r#"{"error":"please provide numeric product id"}"#,
    ));
    world
        .ratings
        .set(Canned::status(503, r#"{"error":"Service unavailable"}"#));
    let app = TestApp::spawn(world.ports()).await;
    for (path, status, body) in [
        ("/api/v1/products/abc", 400, SORRY_DETAILS),
        ("/api/v1/products/abc/reviews", 404, SORRY_REVIEWS),
        ("/api/v1/products/abc/ratings", 503, SORRY_RATINGS),
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), status, "{path}");
        assert_eq!(
            header(&response, "content-type").unwrap(),
            "application/json"
        );
        assert_eq!(header(&response, "x-bookinfo-reviews-version"), None);
        let text = response.text().await.unwrap();
        assert_eq!(text, body);
        assert_eq!(text.len(), 76);
    }
    // Reviews is tried twice, the others once.
    assert_eq!(world.reviews.calls(), 2);
    assert_eq!(world.details.calls(), 1);
    assert_eq!(world.ratings.calls(), 1);
    // An Istio abort with an unusual code comes through as is.
    world.details.set(Canned::status(555, "fault filter abort"));
    assert_eq!(app.get("/api/v1/products/0").await.status(), 555);
}

#[tokio::test]
async fn unreachable_or_garbled_backends_answer_500() {
    let ports = Ports {
        details: dead_port().await,
        reviews: dead_port().await,
        ratings: dead_port().await,
    };
    let app = TestApp::spawn(ports).await;
    for (path, body) in [
        ("/api/v1/products/0", SORRY_DETAILS),
        ("/api/v1/products/0/reviews", SORRY_REVIEWS),
        ("/api/v1/products/0/ratings", SORRY_RATINGS),
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 500, "{path}");
        assert_eq!(response.text().await.unwrap(), body);
    }
    let world = World::start(Canned::ok("<html>not json</html>")).await;
    let app = TestApp::spawn(world.ports()).await;
    let response = app.get("/api/v1/products/0/reviews").await;
    assert_eq!(response.status(), 500);
    assert_eq!(response.text().await.unwrap(), SORRY_REVIEWS);
    // A 200 is not retried, even when its body is unusable.
    assert_eq!(world.reviews.calls(), 1);
}

#[tokio::test]
async fn metrics_count_request_results_by_destination_and_code() {
    let world = World::start(reviews_v2()).await;
    let app = TestApp::spawn(world.ports()).await;
    app.page(None).await;
    app.page(None).await;
    world.ratings.set(Canned::status(503, "{}"));
    app.get("/api/v1/products/0/ratings").await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(header(&response, "content-type").unwrap().contains("text"));
    let text = response.text().await.unwrap();
    assert!(
        text.contains("# HELP request_result Results of requests"),
        "{text}"
    );
    assert!(text.contains("# TYPE request_result counter"));
    assert!(
        text.contains(r#"request_result_total{destination_app="details",response_code="200"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"request_result_total{destination_app="reviews",response_code="200"} 2"#)
    );
    assert!(
        text.contains(r#"request_result_total{destination_app="ratings",response_code="503"} 1"#)
    );
    // The common request metrics sit beside it.
    assert!(text.contains("http_requests_total{"));
    assert!(text.contains(r#"route="/productpage""#));
}

#[tokio::test]
async fn static_files_have_a_type_an_etag_and_a_cache_lifetime() {
    let world = World::start(reviews_v1()).await;
    let app = TestApp::spawn(world.ports()).await;
    let response = app.get("/static/bookinfo.css").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "content-type").unwrap(),
        "text/css; charset=utf-8"
    );
    assert!(
        header(&response, "cache-control")
            .unwrap()
            .contains("max-age=")
    );
    let etag = header(&response, "etag").unwrap();
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains(".glyphicon-star::before")
    );
    let again = app
        .client
        .get(app.url("/static/bookinfo.css"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let icon = app.get("/static/favicon.svg").await;
    assert_eq!(header(&icon, "content-type").unwrap(), "image/svg+xml");
    for missing in [
        "/static/nope.css",
        "/static/../Cargo.toml",
        "/static/",
        "/static",
    ] {
        assert_eq!(app.get(missing).await.status(), 404, "{missing}");
    }
}

#[tokio::test]
async fn unknown_paths_and_trailing_slashes_are_html_404s() {
    let world = World::start(reviews_v1()).await;
    let app = TestApp::spawn(world.ports()).await;
    for path in [
        "/nope",
        "/productpage/",
        "/api/v1/products/",
        "/api/v1/products/0/",
        "/api/v1/products/0/other",
        "/health/",
        "/%ff%fe",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(
            header(&response, "content-type").unwrap(),
            "text/html; charset=utf-8"
        );
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("<title>404 Not Found</title>")
        );
    }
}

#[tokio::test]
async fn wrong_methods_are_html_405s_with_allow() {
    let world = World::start(reviews_v1()).await;
    let app = TestApp::spawn(world.ports()).await;
    let cases = [
        (reqwest::Method::GET, "/login", "POST"),
        (reqwest::Method::POST, "/productpage", "GET"),
        (reqwest::Method::DELETE, "/productpage", "GET"),
        (reqwest::Method::PUT, "/api/v1/products/0", "GET"),
        (reqwest::Method::POST, "/logout", "GET"),
        (reqwest::Method::PATCH, "/static/bookinfo.css", "GET"),
        (reqwest::Method::POST, "/health", "GET"),
    ];
    for (method, path, allowed) in cases {
        let response = app
            .client
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{method} {path}");
        let allow = header(&response, "allow").unwrap();
        assert!(
            allow.contains(allowed) && allow.contains("OPTIONS"),
            "{method} {path}: {allow}"
        );
        assert_eq!(
            header(&response, "content-type").unwrap(),
            "text/html; charset=utf-8"
        );
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("Method Not Allowed")
        );
    }
    assert_eq!(world.details.calls() + world.reviews.calls(), 0);
}

#[tokio::test]
async fn options_answers_with_the_allowed_methods() {
    let world = World::start(reviews_v1()).await;
    let app = TestApp::spawn(world.ports()).await;
    for (path, allow) in [
        ("/productpage", "GET, HEAD, OPTIONS"),
        ("/login", "OPTIONS, POST"),
    ] {
        let response = app
            .client
            .request(reqwest::Method::OPTIONS, app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "allow").unwrap(), allow);
    }
    assert_eq!(world.details.calls(), 0);
}

#[tokio::test]
async fn head_on_the_page_calls_the_backends_and_sends_no_body() {
    let world = World::start(reviews_v2()).await;
    let app = TestApp::spawn(world.ports()).await;
    let response = app
        .client
        .head(app.url("/productpage"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "x-bookinfo-reviews-version").unwrap(),
        "reviews-v2"
    );
    assert!(response.text().await.unwrap().is_empty());
    assert_eq!(world.details.calls(), 1);
    assert_eq!(world.reviews.calls(), 1);
}

#[tokio::test]
async fn routes_that_read_the_session_vary_by_cookie() {
    let world = World::start(reviews_v1()).await;
    let app = TestApp::spawn(world.ports()).await;
    for path in [
        "/productpage",
        "/logout",
        "/api/v1/products/0",
        "/api/v1/products/0/reviews",
    ] {
        assert_eq!(
            header(&app.get(path).await, "vary").as_deref(),
            Some("Cookie"),
            "{path}"
        );
    }
    let login = app.client.post(app.url("/login")).send().await.unwrap();
    assert_eq!(header(&login, "vary").as_deref(), Some("Cookie"));
    for path in ["/", "/health", "/metrics", "/api/v1/products"] {
        assert_eq!(header(&app.get(path).await, "vary"), None, "{path}");
    }
}

#[tokio::test]
async fn run_serves_until_shutdown_and_then_stops() {
    let world = World::start(reviews_v1()).await;
    let port = world.details.port.to_string();
    let config = <bookinfo_productpage::Config as clap::Parser>::try_parse_from([
        "productpage",
        "--details-hostname",
        "127.0.0.1",
        "--details-service-port",
        &port,
    ])
    .unwrap();
    let state = <AppState as Program>::from_config(&config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(launch::run(
        listener,
        state,
        async {
            let _ = stopped.await;
        },
        Duration::ZERO,
    ));
    let health = reqwest::get(format!("http://{address}/health"))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    stop.send(()).unwrap();
    let finished = tokio::time::timeout(Duration::from_secs(5), server).await;
    assert!(matches!(finished, Ok(Ok(Ok(())))));
}

/// Werkzeug's merged slashes: 308 to the merged path where that names a
/// route, the query kept; other paths as they are.
#[tokio::test]
async fn repeated_slashes_redirect_with_308_as_werkzeug_merges_them() {
    let world = World::start(reviews_v1()).await;
    let app = TestApp::spawn(world.ports()).await;
    for (path, location) in [
        ("/api/v1/products//reviews", "/api/v1/products/reviews"),
        ("//productpage?u=normal", "/productpage?u=normal"),
        ("/api/v1/products/0//ratings", "/api/v1/products/0/ratings"),
        ("/static//css/style.css", "/static/css/style.css"),
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 308, "{path}");
        assert_eq!(header(&response, "location").unwrap(), location, "{path}");
    }
    assert_eq!(app.get("/nothing//here").await.status(), 404);
    assert_eq!(world.details.calls() + world.reviews.calls(), 0);
}
