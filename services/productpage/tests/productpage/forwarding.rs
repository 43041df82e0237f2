//! Headers that reach the backends , checked at stubs.

use crate::helpers::*;

/// Upstream's own unit test: these arrive unchanged at reviews and ratings,
/// and a `{}` answer is a 200.
#[tokio::test]
async fn the_upstream_trace_headers_arrive_at_reviews_and_ratings_unchanged() {
    let world = World::start(Canned::ok("{}")).await;
    world.ratings.set(Canned::ok("{}"));
    let app = TestApp::spawn(world.ports()).await;
    let sent = [
        ("x-request-id", "34eeb41d-d267-9e49-8b84-dde403fc5b72"),
        ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
        ("x-b3-spanid", "e457b5a2e4d86bd1"),
        ("x-b3-sampled", "1"),
        (
            "sw8",
            "1-MTE0ODc1NzcyNzQ4MzIwMDkxMg==-MTE0ODc1NzcyNzQ4MzIwMDkxMg==-0-cHJvZHVjdHBhZ2U=-djE=-L3Byb2R1Y3RwYWdl-cmV2aWV3czo5MDgw",
        ),
    ];
    for (path, stub) in [
        ("/api/v1/products/0/reviews", &world.reviews),
        ("/api/v1/products/0/ratings", &world.ratings),
    ] {
        let mut request = app.client.get(app.url(path));
        for (name, value) in sent {
            request = request.header(name, value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.text().await.unwrap(), "{}");
        for (name, value) in sent {
            assert_eq!(
                stub.last_header(name).as_deref(),
                Some(value),
                "{path} {name}"
            );
        }
    }
}

#[tokio::test]
async fn b3_is_normalised_and_the_verbatim_list_is_copied_to_details_and_reviews() {
    let world = World::start(reviews_v1()).await;
    let app = TestApp::spawn(world.ports()).await;
    let verbatim = [
        ("x-request-id", "req-1"),
        ("x-ot-span-context", "ot"),
        ("x-datadog-trace-id", "123"),
        ("x-datadog-parent-id", "456"),
        ("x-datadog-sampling-priority", "1"),
        (
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ),
        ("tracestate", "congo=t61rcWkgMzE"),
        (
            "x-cloud-trace-context",
            "105445aa7843bc8bf206b12000100000/1;o=1",
        ),
        ("grpc-trace-bin", "AAAA"),
        ("sw8", "1-abc"),
        ("user-agent", "curl/8.5.0"),
        ("cookie", "theme=dark"),
        ("authorization", "Bearer abc"),
        ("jwt", "eyJhbGciOi"),
    ];
    let mut request = app
        .client
        .get(app.url("/productpage"))
        .header("x-b3-traceid", "80f198ee56343ba8")
        .header("x-b3-spanid", "e457b5a2e4d86bd1")
        .header("x-b3-parentspanid", "0000000000000001")
        .header("x-b3-flags", "1")
        .header("end-user", "mallory")
        .header("x-envoy-original-path", "/secret");
    for (name, value) in verbatim {
        request = request.header(name, value);
    }
    assert_eq!(request.send().await.unwrap().status(), 200);
    for stub in [&world.details, &world.reviews] {
        for (name, value) in verbatim {
            assert_eq!(stub.last_header(name).as_deref(), Some(value), "{name}");
        }
        assert_eq!(
            stub.last_header("x-b3-traceid").as_deref(),
            Some("000000000000000080f198ee56343ba8")
        );
        assert_eq!(
            stub.last_header("x-b3-spanid").as_deref(),
            Some("e457b5a2e4d86bd1")
        );
        assert_eq!(stub.last_header("x-b3-sampled").as_deref(), Some("1"));
        for absent in [
            "x-b3-parentspanid",
            "x-b3-flags",
            "b3",
            "end-user",
            "x-envoy-original-path",
        ] {
            assert_eq!(stub.last_header(absent), None, "{absent}");
        }
    }
}

#[tokio::test]
async fn a_single_b3_header_arrives_as_multi_headers() {
    let world = World::start(reviews_v1()).await;
    let app = TestApp::spawn(world.ports()).await;
    app.client
        .get(app.url("/productpage"))
        .header(
            "b3",
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        world.reviews.last_header("x-b3-traceid").as_deref(),
        Some("80f198ee56343ba864fe8b2a57d3eff7")
    );
    assert_eq!(
        world.reviews.last_header("x-b3-spanid").as_deref(),
        Some("e457b5a2e4d86bd1")
    );
    assert_eq!(
        world.reviews.last_header("x-b3-sampled").as_deref(),
        Some("1")
    );
    assert_eq!(world.reviews.last_header("b3"), None);
    assert_eq!(world.reviews.last_header("x-b3-parentspanid"), None);
}

#[tokio::test]
async fn every_call_gets_a_request_id_even_when_the_client_sent_none() {
    let world = World::start(reviews_v1()).await;
    let app = TestApp::spawn(world.ports()).await;
    let response = app.get("/productpage").await;
    let answered = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        world.details.last_header("x-request-id").as_deref(),
        Some(answered.as_str())
    );
    assert_eq!(
        world.reviews.last_header("x-request-id").as_deref(),
        Some(answered.as_str())
    );
    // Both reviews attempts carry the same headers.
    world.reviews.set(Canned::status(500, ""));
    app.client
        .get(app.url("/productpage"))
        .header("x-request-id", "again")
        .send()
        .await
        .unwrap();
    let attempts: Vec<_> = world.reviews.seen().into_iter().skip(1).collect();
    assert_eq!(attempts.len(), 2);
    assert!(
        attempts
            .iter()
            .all(|seen| seen.headers["x-request-id"] == "again")
    );
}
