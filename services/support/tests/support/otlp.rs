//! Spans reach a real OTLP/HTTP receiver (protobuf, as collectors take it),
//! joined to the caller's W3C trace.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::routing::{get, post};
use bookinfo_support::http::Service;
use bookinfo_support::telemetry::{self, LogFormat, TelemetryArgs};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

#[tokio::test]
async fn server_spans_are_exported_over_otlp_as_children_of_the_callers_trace() {
    let received = Arc::new(Mutex::new(Vec::<ExportTraceServiceRequest>::new()));
    let sink = received.clone();
    let collector = Router::new().route(
        "/v1/traces",
        post(move |body: Bytes| {
            let sink = sink.clone();
            async move {
                sink.lock()
                    .unwrap()
                    .push(ExportTraceServiceRequest::decode(body).unwrap());
                ""
            }
        }),
    );
    let collector_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector_addr = collector_listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(collector_listener, collector).await });

    let args = TelemetryArgs {
        log_format: LogFormat::Plain,
        log_filter: "warn".into(),
        otlp_endpoint: Some(format!("http://{collector_addr}")),
        otlp_protocol: telemetry::Protocol::HttpProtobuf,
        service_name: None,
        sampler: telemetry::SamplerName::ParentBasedAlwaysOn,
        sample_ratio: 1.0,
    };
    let identity = telemetry::Identity {
        service: "otlp-test",
        version: "v1",
    };
    let telemetry = telemetry::init(&args, &identity).unwrap();

    let service = Service::new("test-v1", Default::default());
    let app = service.router(Router::new().route("/hello", get(|| async { "hi" })));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        service
            .serve(listener, app, std::future::pending(), Duration::ZERO)
            .await
    });

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let response = reqwest::Client::new()
        .get(format!("http://{addr}/hello"))
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    telemetry.shutdown().await;

    let requests = received.lock().unwrap();
    let resource_spans: Vec<_> = requests.iter().flat_map(|r| &r.resource_spans).collect();
    let service_names: Vec<String> = resource_spans
        .iter()
        .filter_map(|rs| rs.resource.as_ref())
        .flat_map(|r| &r.attributes)
        .filter(|kv| kv.key == "service.name")
        .map(|kv| format!("{:?}", kv.value))
        .collect();
    assert!(
        service_names.iter().any(|n| n.contains("otlp-test")),
        "{service_names:?}"
    );
    let spans: Vec<_> = resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .collect();
    let span = spans
        .iter()
        .find(|s| s.name == "GET /hello")
        .unwrap_or_else(|| {
            panic!(
                "no server span among {:?}",
                spans.iter().map(|s| &s.name).collect::<Vec<_>>()
            )
        });
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    assert_eq!(hex(&span.trace_id), trace_id);
    assert_eq!(hex(&span.parent_span_id), "00f067aa0ba902b7");
}
