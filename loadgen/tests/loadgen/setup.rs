//! Bad input ends in a setup error (exit 3), never a panic or a run full of failures.

use bookinfo_loadgen::{RunConfig, SetupError, run};

use bookinfo_support::testing::closed_port;

use crate::helpers::{StubOptions, expect, fast_config, spawn_stub};

#[tokio::test]
async fn an_unreachable_target_is_a_setup_error() {
    let addr = closed_port();
    let url = reqwest::Url::parse(&format!("http://{addr}/productpage")).unwrap();
    let err = run(fast_config(url, 10)).await.unwrap_err();
    assert!(matches!(err, SetupError::Unreachable(_)), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("cannot reach") && !message.contains('\n'),
        "{message}"
    );
}

#[tokio::test]
async fn a_page_that_is_not_bookinfo_is_a_setup_error() {
    let stub = spawn_stub(StubOptions::weighted(&[("v1", 100)])).await;
    let err = run(fast_config(stub.url("/hello"), 10)).await.unwrap_err();
    assert!(matches!(err, SetupError::NotBookinfo(_)), "{err:?}");
    assert!(
        err.to_string().contains("not a Bookinfo product page"),
        "{err}"
    );
    let err = run(fast_config(stub.url("/missing"), 10))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("HTTP 404"), "{err}");
    // Nothing was run: only the one preflight request per attempt reached the stub.
    assert_eq!(stub.hits(), 0);
}

#[tokio::test]
async fn any_target_skips_the_bookinfo_check() {
    let stub = spawn_stub(StubOptions::weighted(&[("v1", 100)])).await;
    let mut config = fast_config(stub.url("/hello"), 10);
    config.any_target = true;
    let result = run(config).await.unwrap();
    assert_eq!(result.exit_code, 0);
    assert_eq!(result.report.requests.completed, 10);
    // Without the flag the same target is refused (see above); with --expect the flag
    // is a configuration error, since a verdict on such a target means nothing.
    let mut config = fast_config(stub.url("/hello"), 10);
    config.any_target = true;
    expect(&mut config, "v1=100");
    assert!(matches!(
        run(config).await.unwrap_err(),
        SetupError::Config(_)
    ));
}

#[tokio::test]
async fn a_failed_login_is_a_setup_error() {
    let stub = spawn_stub(StubOptions::weighted(&[("v1", 100)])).await;
    // Relative to /hello/x the login form posts to /hello/login, which does not exist.
    let mut config = fast_config(stub.url("/hello/x"), 10);
    config.user = Some("jason".into());
    let err = run(config).await.unwrap_err();
    assert!(matches!(err, SetupError::Login(_)), "{err:?}");
}

#[tokio::test]
async fn invalid_settings_are_setup_errors() {
    let stub = spawn_stub(StubOptions::weighted(&[("v1", 100)])).await;
    let mut config = fast_config(stub.url("/productpage"), 10);
    config.verdict.alpha = 2.0;
    assert!(matches!(
        run(config).await.unwrap_err(),
        SetupError::Verdict(_)
    ));
    let mut config = fast_config(stub.url("/productpage"), 10);
    config.max_in_flight = 0;
    assert!(matches!(
        run(config).await.unwrap_err(),
        SetupError::Config(_)
    ));
    let mut config = fast_config(stub.url("/productpage"), 10);
    let dir = tempfile::tempdir().unwrap();
    config.outputs.json = Some(dir.path().join("no-such-dir").join("x.json"));
    assert!(matches!(
        run(config).await.unwrap_err(),
        SetupError::Output { .. }
    ));
    let https = RunConfig::new(reqwest::Url::parse("https://example.invalid/").unwrap());
    assert!(https.validate().is_err());
}
