//! The rehearsal settings: a canary that fails a share of its requests, or
//! answers late, on purpose.

use std::time::{Duration, Instant};

use bookinfo_reviews::{AppState, Rehearsal};

use crate::helpers::{get_text, reviews};

async fn rehearsing(rehearsal: Rehearsal) -> bookinfo_support::testing::Running {
    reviews(AppState::new("v1", None, "black", "p", "null", rehearsal)).await
}

#[tokio::test]
async fn a_fail_share_of_one_fails_every_request_with_the_version_named() {
    let reviews = rehearsing(Rehearsal {
        fail_share: 1.0,
        ..Default::default()
    })
    .await;
    for _ in 0..5 {
        let (code, body, headers) = get_text(&reviews.url("/reviews/0")).await;
        assert_eq!(code, 503);
        assert!(body.contains("rehearsed failure"), "{body}");
        assert_eq!(headers["x-bookinfo-version"], "reviews-v1");
    }
    // Health is not part of the rehearsal: the workload stays up.
    let (code, _, _) = get_text(&reviews.url("/health")).await;
    assert_eq!(code, 200);
}

#[tokio::test]
async fn a_fail_share_of_a_half_fails_about_half() {
    let reviews = rehearsing(Rehearsal {
        fail_share: 0.5,
        ..Default::default()
    })
    .await;
    let mut failed = 0;
    const N: u32 = 400;
    for _ in 0..N {
        let (code, _, _) = get_text(&reviews.url("/reviews/0")).await;
        assert!(code == 200 || code == 503, "{code}");
        failed += u32::from(code == 503);
    }
    // Binomial(400, 0.5): sd 10; ±5 sd keeps a false alarm below 1e-6.
    assert!((150..=250).contains(&failed), "{failed} of {N} failed");
}

#[tokio::test]
async fn an_extra_delay_holds_every_answer_at_least_that_long() {
    let reviews = rehearsing(Rehearsal {
        extra_delay: Duration::from_millis(250),
        ..Default::default()
    })
    .await;
    let started = Instant::now();
    let (code, _, _) = get_text(&reviews.url("/reviews/0")).await;
    assert_eq!(code, 200);
    assert!(started.elapsed() >= Duration::from_millis(250));
    let started = Instant::now();
    get_text(&reviews.url("/health")).await;
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "health is not delayed"
    );
}
