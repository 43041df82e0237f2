//! The timing of the upstream productpage: reviews tried twice, each attempt
//! bounded by the per-call timeout.

use std::time::{Duration, Instant};

use crate::helpers::*;

const REVIEWS_ERROR: &str = "Sorry, product reviews are currently unavailable for this book.";

/// The 7 s ratings delay for jason, scaled down: reviews (v2, waiting on
/// ratings) answers after 700 ms, productpage gives up after 300 ms, tries
/// again, gives up again, and shows the reviews error after about 600 ms.
#[tokio::test]
async fn a_slow_reviews_gives_the_reviews_error_after_two_shortened_timeouts() {
    let world = World::start(reviews_v2().delay(Duration::from_millis(700))).await;
    let app = TestApp::spawn_with(world.ports(), &[], |settings| {
        settings.call_timeout = Duration::from_millis(300);
    })
    .await;
    let cookie = app.login("jason").await;
    let started = Instant::now();
    let (status, body) = app.page(Some(&cookie)).await;
    let elapsed = started.elapsed();
    assert_eq!(status, 200);
    assert!(body.contains("Error fetching product reviews"));
    assert!(body.contains(REVIEWS_ERROR));
    assert!(body.contains("Book Details"));
    assert!(elapsed >= Duration::from_millis(590), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(1_300), "{elapsed:?}");
    let attempts = world.reviews.seen();
    assert_eq!(attempts.len(), 2);
    let gap = attempts[1].at - attempts[0].at;
    assert!(
        gap >= Duration::from_millis(290),
        "second attempt after {gap:?}"
    );
    assert!(
        attempts
            .iter()
            .all(|seen| seen.headers["end-user"] == "jason")
    );
}

/// The same scenario on the real clock with the real 3 s timeout: the page
/// comes back after about 6 s, after exactly two attempts 3 s apart.
#[tokio::test]
async fn the_real_three_second_timeout_gives_the_page_after_about_six_seconds() {
    let world = World::start(reviews_v2().delay(Duration::from_secs(7))).await;
    let app = TestApp::spawn(world.ports()).await;
    let started = Instant::now();
    let (status, body) = app.page(None).await;
    let elapsed = started.elapsed();
    assert_eq!(status, 200);
    assert!(body.contains(REVIEWS_ERROR));
    assert!(elapsed >= Duration::from_millis(5_900), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(7_500), "{elapsed:?}");
    let attempts = world.reviews.seen();
    assert_eq!(attempts.len(), 2);
    let gap = attempts[1].at - attempts[0].at;
    assert!(
        gap >= Duration::from_millis(2_900) && gap < Duration::from_millis(3_800),
        "{gap:?}"
    );
}

/// Reviews v3 gives up on ratings after 2.5 s and answers in time: no
/// retry, the ratings sentence instead of the reviews error.
#[tokio::test]
async fn a_reviews_answer_within_the_timeout_is_not_retried() {
    let world = World::start(reviews_ratings_down().delay(Duration::from_millis(150))).await;
    let app = TestApp::spawn_with(world.ports(), &[], |settings| {
        settings.call_timeout = Duration::from_millis(1_500);
    })
    .await;
    let (_, body) = app.page(None).await;
    assert_eq!(count(&body, "Ratings service is currently unavailable"), 2);
    assert!(!body.contains(REVIEWS_ERROR));
    assert_eq!(world.reviews.calls(), 1);
}

#[tokio::test]
async fn a_slow_details_costs_one_timeout_and_is_not_retried() {
    let world = World::start(reviews_v1()).await;
    world
        .details
        .set(Canned::ok(DETAILS_V1).delay(Duration::from_millis(2_000)));
    let app = TestApp::spawn_with(world.ports(), &[], |settings| {
        settings.call_timeout = Duration::from_millis(300);
    })
    .await;
    let started = Instant::now();
    let (_, body) = app.page(None).await;
    let elapsed = started.elapsed();
    assert!(body.contains("Error fetching product details"));
    assert!(body.contains("Book Reviews"));
    assert!(elapsed >= Duration::from_millis(290), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(1_200), "{elapsed:?}");
    assert_eq!(world.details.calls(), 1);
    let response = app.get("/api/v1/products/0").await;
    assert_eq!(response.status(), 500);
}
