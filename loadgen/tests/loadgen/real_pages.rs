//! The classifier on real pages of our productpage, in every state, with
//! the page markers alone (the version header withheld) and in both marker
//! modes.

use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use bookinfo_loadgen::{ResponseClass, classify};
use bookinfo_productpage::{AppState, Markers, Settings};
use bookinfo_support::testing::{Running, serve, start};

const R1: &str =
    "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!";
const R2: &str = "Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.";
const DETAILS: &str = r#"{"id":0,"author":"William Shakespeare","year":1595,"type":"paperback","pages":200,"publisher":"PublisherA","language":"English","ISBN-10":"1234567890","ISBN-13":"123-1234567890"}"#;
const UNAVAILABLE: &str = r#", "rating": {"error": "Ratings service is currently unavailable"}"#;

/// A reviews body as reviews `version` answers it (ratings `None`: down).
fn reviews_body(version: &str, stars: Option<(i64, i64)>) -> String {
    let colour = if version == "v3" { "red" } else { "black" };
    let rating = |n: Option<i64>| match (version, n) {
        ("v1", _) => String::new(),
        (_, Some(n)) => format!(r#", "rating": {{"stars": {n}, "color": "{colour}"}}"#),
        (_, None) => UNAVAILABLE.to_owned(),
    };
    format!(
        r#"{{"id": "0","podname": "reviews-{version}-7f9c","clustername": "null","reviews": [{{  "reviewer": "Reviewer1",  "text": "{R1}"{}}},{{  "reviewer": "Reviewer2",  "text": "{R2}"{}}}]}}"#,
        rating(stars.map(|s| s.0)),
        rating(stars.map(|s| s.1)),
    )
}

/// A backend's status and body.
type Answer = (u16, String);

/// A backend answering `body` with `status` on every GET.
async fn backend(status: u16, body: String) -> Running {
    let status = StatusCode::from_u16(status).unwrap();
    serve(Router::new().fallback(get(move || {
        let body = body.clone();
        async move { (status, [("content-type", "application/json")], body) }
    })))
    .await
}

/// The page productpage renders for these backends, and its version header.
async fn page(
    details: (u16, String),
    reviews: (u16, String),
    markers: Markers,
) -> (String, Option<String>) {
    let details = backend(details.0, details.1).await;
    let reviews = backend(reviews.0, reviews.1).await;
    let settings = Settings {
        details_url: format!("http://{}", details.addr),
        reviews_url: format!("http://{}", reviews.addr),
        ratings_url: "http://127.0.0.1:9".into(),
        call_timeout: Duration::from_secs(2),
        flood_factor: 0,
        markers,
        session_secret: Some("test".into()),
    };
    let productpage = start(AppState::new(settings).unwrap()).await;
    let response = reqwest::get(productpage.url("/productpage")).await.unwrap();
    assert_eq!(response.status(), 200);
    let header = response
        .headers()
        .get("x-bookinfo-reviews-version")
        .map(|v| v.to_str().unwrap().to_owned());
    (response.text().await.unwrap(), header)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_state_of_the_real_page_is_classified_from_its_markers() {
    let ok = |s: &str| (200, s.to_owned());
    let down = (503, r#"{"error":"Service unavailable"}"#.to_owned());
    let cases: Vec<(&str, Answer, Answer, ResponseClass)> = vec![
        (
            "v1",
            ok(DETAILS),
            ok(&reviews_body("v1", None)),
            ResponseClass::Version("v1".into()),
        ),
        (
            "v2",
            ok(DETAILS),
            ok(&reviews_body("v2", Some((5, 4)))),
            ResponseClass::Version("v2".into()),
        ),
        (
            "v3",
            ok(DETAILS),
            ok(&reviews_body("v3", Some((5, 4)))),
            ResponseClass::Version("v3".into()),
        ),
        // No stars, but not v1: the pod name says which version answered.
        (
            "v2, ratings down",
            ok(DETAILS),
            ok(&reviews_body("v2", None)),
            ResponseClass::Version("v2".into()),
        ),
        (
            "v3, ratings down",
            ok(DETAILS),
            ok(&reviews_body("v3", None)),
            ResponseClass::Version("v3".into()),
        ),
        (
            "v3, details down",
            down.clone(),
            ok(&reviews_body("v3", Some((5, 4)))),
            ResponseClass::Version("v3".into()),
        ),
        (
            "reviews down",
            ok(DETAILS),
            down.clone(),
            ResponseClass::ReviewsUnavailable,
        ),
        (
            "both down",
            down.clone(),
            down.clone(),
            ResponseClass::ReviewsUnavailable,
        ),
    ];
    for markers in [Markers::Current, Markers::Legacy] {
        for (state, details, reviews, want) in &cases {
            let (body, header) = page(details.clone(), reviews.clone(), markers).await;
            let by_markers = classify(200, None, body.as_bytes());
            assert_eq!(
                &by_markers.class, want,
                "{state} ({markers:?}) from the page alone"
            );
            assert!(by_markers.product_page, "{state}: a product page");
            let by_header = classify(200, header.as_deref(), body.as_bytes());
            assert_eq!(
                &by_header.class, want,
                "{state} ({markers:?}) with the header {header:?}"
            );
        }
    }
}
