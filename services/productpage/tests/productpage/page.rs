//! The product page's markers for every backend state.

use crate::helpers::*;

const STAR: &str = "glyphicon glyphicon-star";
const REVIEWS_ERROR: &str = "Sorry, product reviews are currently unavailable for this book.";
const DETAILS_ERROR: &str = "Sorry, product details are currently unavailable for this book.";

fn assert_always(body: &str) {
    assert_eq!(count(body, "<title>Simple Bookstore App</title>\n"), 1);
    assert!(body.contains("William Shakespeare"));
    assert!(body.contains("The Comedy of Errors"));
}

#[tokio::test]
async fn reviews_v1_shows_details_and_reviews_without_stars() {
    let world = World::start(reviews_v1()).await;
    let app = TestApp::spawn(world.ports()).await;
    let (status, body) = app.page(None).await;
    assert_eq!(status, 200);
    assert_always(&body);
    assert!(body.contains("Book Details"));
    assert!(body.contains("1234567890"));
    assert!(body.contains("PublisherA"));
    assert!(body.contains("Book Reviews"));
    assert!(body.contains(
        "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!"
    ));
    assert!(body.contains("Reviewer2"));
    assert_eq!(count(&body, "glyphicon"), 0);
    assert!(!body.contains("text-black-500") && !body.contains("text-red-500"));
    assert!(!body.contains("Error fetching"));
    // The pod name follows "Reviews served by:" on the same line, once per review.
    let served: Vec<&str> = body
        .lines()
        .filter(|l| l.contains("Reviews served by:"))
        .collect();
    assert_eq!(served.len(), 2);
    assert!(
        served
            .iter()
            .all(|l| l.contains("reviews-v1-5b4f8d7c9-x2x7k"))
    );
    assert_eq!(
        body.lines().filter(|l| l.contains("reviews-v1-")).count(),
        2
    );
    assert!(!body.contains("on cluster"));
}

#[tokio::test]
async fn reviews_v2_shows_nine_black_stars() {
    let world = World::start(reviews_v2()).await;
    let app = TestApp::spawn(world.ports()).await;
    let response = app.get("/productpage").await;
    assert_eq!(
        response.headers()["x-bookinfo-reviews-version"],
        "reviews-v2"
    );
    let body = response.text().await.unwrap();
    assert_always(&body);
    assert_eq!(count(&body, STAR), 9);
    assert_eq!(count(&body, "glyphicon-star"), 9);
    assert!(body.contains("text-black-500"));
    assert!(!body.contains("text-red-500"));
    assert!(!body.contains("Ratings service is currently unavailable"));
}

#[tokio::test]
async fn reviews_v3_shows_nine_red_stars() {
    let world = World::start(reviews_v3()).await;
    let app = TestApp::spawn(world.ports()).await;
    let response = app.get("/productpage").await;
    assert_eq!(
        response.headers()["x-bookinfo-reviews-version"],
        "reviews-v3"
    );
    let body = response.text().await.unwrap();
    assert_always(&body);
    assert_eq!(count(&body, STAR), 9);
    assert!(body.contains("text-red-500"));
    assert!(!body.contains("text-black-500"));
}

#[tokio::test]
async fn ratings_down_shows_the_ratings_sentence_twice_and_no_stars() {
    let world = World::start(reviews_ratings_down()).await;
    let app = TestApp::spawn(world.ports()).await;
    let (_, body) = app.page(None).await;
    assert_always(&body);
    assert!(body.contains("Book Reviews"));
    assert_eq!(count(&body, "Ratings service is currently unavailable"), 2);
    assert_eq!(count(&body, "glyphicon"), 0);
    assert!(!body.contains("text-red-500"));
}

#[tokio::test]
async fn reviews_down_shows_the_reviews_error_after_two_attempts() {
    let world = World::start(Canned::status(503, "upstream connect error")).await;
    let app = TestApp::spawn(world.ports()).await;
    let response = app.get("/productpage").await;
    assert_eq!(response.status(), 200);
    assert!(
        response
            .headers()
            .get("x-bookinfo-reviews-version")
            .is_none()
    );
    let body = response.text().await.unwrap();
    assert_always(&body);
    assert!(body.contains("Book Details"));
    assert!(body.contains("Error fetching product reviews"));
    assert!(!body.contains("Error fetching product reviews!"));
    assert!(body.contains(REVIEWS_ERROR));
    assert!(!body.contains("Book Reviews") && !body.contains("Reviews served by:"));
    assert_eq!(world.reviews.calls(), 2);
}

#[tokio::test]
async fn a_failing_reviews_version_is_named_on_the_degraded_page() {
    let world = World::start(Canned::status(503, "{}").version("reviews-v2")).await;
    let app = TestApp::spawn(world.ports()).await;
    let response = app.get("/productpage").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["x-bookinfo-reviews-version"],
        "reviews-v2"
    );
    assert!(response.text().await.unwrap().contains(REVIEWS_ERROR));
}

#[tokio::test]
async fn details_down_shows_the_details_error_and_still_the_reviews() {
    let world = World::start(reviews_v2()).await;
    let ports = Ports {
        details: dead_port().await,
        ..world.ports()
    };
    let app = TestApp::spawn(ports).await;
    let (status, body) = app.page(None).await;
    assert_eq!(status, 200);
    assert_always(&body);
    assert!(body.contains("Error fetching product details"));
    assert!(body.contains(DETAILS_ERROR));
    assert!(!body.contains("Book Details"));
    assert!(body.contains("Book Reviews"));
    assert_eq!(count(&body, STAR), 9);
}

#[tokio::test]
async fn both_down_shows_both_errors() {
    let ports = Ports {
        details: dead_port().await,
        reviews: dead_port().await,
        ratings: dead_port().await,
    };
    let app = TestApp::spawn(ports).await;
    let (status, body) = app.page(None).await;
    assert_eq!(status, 200);
    assert_always(&body);
    assert!(body.contains("Error fetching product details"));
    assert!(body.contains("Error fetching product reviews"));
    assert!(body.contains(DETAILS_ERROR) && body.contains(REVIEWS_ERROR));
    assert!(!body.contains("Book Details") && !body.contains("Book Reviews"));
}

#[tokio::test]
async fn a_reviews_body_that_is_not_reviews_json_shows_the_reviews_error() {
    let world = World::start(Canned::ok("{}").version("reviews-v9")).await;
    let app = TestApp::spawn(world.ports()).await;
    let response = app.get("/productpage").await;
    // The version that answered is named, so its failure is attributed.
    assert_eq!(
        response.headers()["x-bookinfo-reviews-version"],
        "reviews-v9"
    );
    assert!(response.text().await.unwrap().contains(REVIEWS_ERROR));
    assert_eq!(world.reviews.calls(), 1);
}

#[tokio::test]
async fn the_sign_in_form_shows_when_anonymous_and_the_user_when_logged_in() {
    let world = World::start(reviews_v1()).await;
    let app = TestApp::spawn(world.ports()).await;
    let (_, anonymous) = app.page(None).await;
    assert!(anonymous.contains(r#"action="login""#));
    assert!(anonymous.contains(r#"name="username""#) && anonymous.contains(r#"name="passwd""#));
    assert!(anonymous.contains("Sign in"));
    assert!(!anonymous.contains("Sign out"));
    let cookie = app.login("jason").await;
    let (_, logged_in) = app.page(Some(&cookie)).await;
    assert!(logged_in.contains(r#"<span class="user" title="Signed in">jason</span>"#));
    assert!(logged_in.contains(r#"href="logout""#) && logged_in.contains("Sign out"));
    assert!(!logged_in.contains(r#"action="login""#));
}

#[tokio::test]
async fn the_cluster_name_shows_unless_it_is_null() {
    let world = World::start(Canned::ok(reviews_body("reviews-v1-abc", "east", "", ""))).await;
    let app = TestApp::spawn(world.ports()).await;
    let (_, body) = app.page(None).await;
    assert_eq!(count(&body, "on cluster"), 2);
    assert!(body.contains("east"));
}

#[tokio::test]
async fn legacy_markers_give_ten_stars_font_colours_and_exclamation_headings() {
    let world = World::start(reviews_v2()).await;
    let app = TestApp::spawn_with(world.ports(), &["--ui-markers", "legacy"], |_| {}).await;
    let (_, body) = app.page(None).await;
    assert_always(&body);
    assert_eq!(
        count(&body, r#"<span class="glyphicon glyphicon-star"></span>"#),
        9
    );
    assert_eq!(
        count(
            &body,
            r#"<span class="glyphicon glyphicon-star-empty"></span>"#
        ),
        1
    );
    assert_eq!(count(&body, "glyphicon-star"), 10);
    assert_eq!(count(&body, r#"<font color="black">"#), 2);
    assert!(!body.contains("text-black-500"));
    assert!(body.contains("Reviews served by:"));

    world.reviews.set(reviews_v3());
    let (_, body) = app.page(None).await;
    assert_eq!(count(&body, r#"<font color="red">"#), 2);

    world.reviews.set(Canned::status(500, ""));
    let ports = Ports {
        details: dead_port().await,
        ..world.ports()
    };
    let app = TestApp::spawn_with(ports, &["--ui-markers", "legacy"], |_| {}).await;
    let (_, body) = app.page(None).await;
    assert!(body.contains("Error fetching product details!"));
    assert!(body.contains("Error fetching product reviews!"));
    assert!(body.contains(REVIEWS_ERROR) && body.contains(DETAILS_ERROR));
}

#[tokio::test]
async fn the_v2_page_stays_under_8_kb() {
    let world = World::start(reviews_v2()).await;
    let app = TestApp::spawn(world.ports()).await;
    let (_, v2) = app.page(None).await;
    world.reviews.set(reviews_v1());
    let (_, v1) = app.page(None).await;
    println!("page sizes: v1 {} bytes, v2 {} bytes", v1.len(), v2.len());
    assert!(v2.len() < 8 * 1024, "v2 page is {} bytes", v2.len());
    assert!(v1.len() < v2.len());
}

#[tokio::test]
async fn the_page_needs_no_script_and_loads_assets_only_from_static() {
    let world = World::start(reviews_v2()).await;
    let app = TestApp::spawn(world.ports()).await;
    let (_, body) = app.page(None).await;
    assert!(!body.to_lowercase().contains("<script"));
    assert!(!body.contains("src="));
    assert!(body.contains(r#"href="static/bookinfo.css""#));
    assert!(!body.contains("cdn"));
}

#[tokio::test]
async fn the_flood_factor_makes_extra_reviews_calls_between_details_and_reviews() {
    let world = World::start(reviews_v2()).await;
    let app = TestApp::spawn_with(world.ports(), &["--flood-factor", "3"], |_| {}).await;
    let (_, body) = app.page(None).await;
    assert_eq!(count(&body, STAR), 9);
    assert_eq!(world.details.calls(), 1);
    assert_eq!(world.reviews.calls(), 4);
    let details_at = world.details.seen()[0].at;
    assert!(
        world
            .reviews
            .seen()
            .iter()
            .all(|seen| seen.at >= details_at)
    );
    assert_eq!(world.ratings.calls(), 0);
}

#[tokio::test]
async fn the_page_calls_details_first_then_reviews_and_never_ratings() {
    let world = World::start(reviews_v2()).await;
    let app = TestApp::spawn(world.ports()).await;
    app.page(None).await;
    assert_eq!(world.details.seen()[0].target, "/details/0");
    assert_eq!(world.reviews.seen()[0].target, "/reviews/0");
    assert!(world.details.seen()[0].at <= world.reviews.seen()[0].at);
    assert_eq!(world.ratings.calls(), 0);
}
