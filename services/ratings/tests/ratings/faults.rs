use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bookinfo_ratings::{Mode, StateBuilder};

use crate::helpers::{self, ManualClock, ScriptedChance, get};

const OK: &str = r#"{"id":0,"ratings":{"Reviewer1":5,"Reviewer2":4}}"#;
const UNAVAILABLE: &str = r#"{"error":"Service unavailable"}"#;

#[tokio::test]
async fn faulty_fails_when_the_roll_is_at_most_one_half() {
    let chance = Arc::new(ScriptedChance(Mutex::new(vec![0.5, 0.51, 0.0, 0.99])));
    let state = StateBuilder::new(Mode::Faulty).chance(chance).build();
    let server = helpers::start(state).await;
    let mut seen = Vec::new();
    for _ in 0..4 {
        let (status, body, _) = get(&server.url("/ratings/0")).await;
        seen.push((status, body));
    }
    let expected = [(503, UNAVAILABLE), (200, OK), (503, UNAVAILABLE), (200, OK)];
    for ((status, body), (want_status, want_body)) in seen.iter().zip(expected) {
        assert_eq!((*status, body.as_str()), (want_status, want_body));
    }
}

#[tokio::test]
async fn delayed_waits_the_delay_only_when_the_roll_says_so() {
    let chance = Arc::new(ScriptedChance(Mutex::new(vec![0.2, 0.8])));
    let delay = Duration::from_millis(400);
    let state = StateBuilder::new(Mode::Delayed)
        .chance(chance)
        .delay(delay)
        .build();
    let server = helpers::start(state).await;
    let started = Instant::now();
    let (status, body, _) = get(&server.url("/ratings/0")).await;
    assert!(started.elapsed() >= delay);
    assert_eq!((status, body.as_str()), (200, OK));
    let started = Instant::now();
    get(&server.url("/ratings/0")).await;
    assert!(started.elapsed() < delay);
}

#[tokio::test]
async fn unavailable_flips_every_minute_and_health_stays_up() {
    let clock = Arc::new(ManualClock::default());
    let state = StateBuilder::new(Mode::Unavailable)
        .clock(clock.clone())
        .build();
    let server = helpers::start(state).await;
    for (at, want) in [(0, 200), (59, 200), (60, 503), (119, 503), (120, 200)] {
        clock.set(Duration::from_secs(at));
        let (status, _, _) = get(&server.url("/ratings/0")).await;
        assert_eq!(status, want, "at {at} s");
        let (health, _, _) = get(&server.url("/health")).await;
        assert_eq!(health, 200);
    }
}

#[tokio::test]
async fn unhealthy_fails_health_and_ratings_in_alternate_quarter_hours() {
    let clock = Arc::new(ManualClock::default());
    let state = StateBuilder::new(Mode::Unhealthy)
        .clock(clock.clone())
        .build();
    let server = helpers::start(state).await;
    clock.set(Duration::from_secs(899));
    assert_eq!(get(&server.url("/health")).await.0, 200);
    assert_eq!(get(&server.url("/ratings/0")).await.0, 200);
    clock.set(Duration::from_secs(900));
    let (status, body, _) = get(&server.url("/health")).await;
    assert_eq!(
        (status, body.as_str()),
        (500, r#"{"status":"Ratings is not healthy"}"#)
    );
    let (status, body, _) = get(&server.url("/ratings/0")).await;
    assert_eq!((status, body.as_str()), (503, UNAVAILABLE));
    clock.set(Duration::from_secs(1800));
    assert_eq!(get(&server.url("/health")).await.0, 200);
}
