//! Traces across the whole app: `bookinfo up` with every process exporting
//! to an OTLP receiver run by the test (the real protocol: protobuf over
//! HTTP, and gRPC over HTTP/2 with its framing and trailers), the plane's
//! client and server spans between the services' own.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use bookinfo_mesh::up::{Up, UpConfig};
use bookinfo_support::telemetry::{self, LogFormat, Protocol, SamplerName, TelemetryArgs};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;

type Received = Arc<Mutex<Vec<ExportTraceServiceRequest>>>;
/// The `x-bookinfo-test` header of each OTLP/HTTP export.
type Marks = Arc<Mutex<Vec<Option<String>>>>;

/// OTLP/HTTP: `POST /v1/traces` with a protobuf body.
async fn http_receiver() -> (SocketAddr, Received, Marks) {
    let received = Received::default();
    let marks = Marks::default();
    let sink = received.clone();
    let marked = marks.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: Bytes| {
            let sink = sink.clone();
            let marked = marked.clone();
            async move {
                let mark = headers
                    .get("x-bookinfo-test")
                    .map(|v| v.to_str().unwrap().to_owned());
                marked.lock().unwrap().push(mark);
                sink.lock()
                    .unwrap()
                    .push(ExportTraceServiceRequest::decode(body).unwrap());
                ExportTraceServiceResponse::default().encode_to_vec()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, received, marks)
}

/// OTLP/gRPC: HTTP/2 (prior knowledge), `POST
/// /opentelemetry.proto.collector.trace.v1.TraceService/Export`, messages
/// framed by a compression flag and a 4-byte length, `grpc-status` in the
/// trailers.
async fn grpc_receiver() -> (SocketAddr, Received) {
    use http_body_util::{BodyExt, StreamBody};
    use hyper::body::Frame;
    let received = Received::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sink = received.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let sink = sink.clone();
            let service = hyper::service::service_fn(
                move |request: hyper::Request<hyper::body::Incoming>| {
                    let sink = sink.clone();
                    async move {
                        assert_eq!(
                            request.uri().path(),
                            "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
                        );
                        let body = request.into_body().collect().await.unwrap().to_bytes();
                        assert_eq!(body[0], 0, "uncompressed");
                        let length = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
                        let message =
                            ExportTraceServiceRequest::decode(&body[5..5 + length]).unwrap();
                        sink.lock().unwrap().push(message);
                        let reply = ExportTraceServiceResponse::default().encode_to_vec();
                        let mut framed = vec![0];
                        framed.extend((reply.len() as u32).to_be_bytes());
                        framed.extend(reply);
                        let mut trailers = hyper::HeaderMap::new();
                        trailers.insert("grpc-status", "0".parse().unwrap());
                        let frames: Vec<Result<Frame<Bytes>, std::convert::Infallible>> = vec![
                            Ok(Frame::data(Bytes::from(framed))),
                            Ok(Frame::trailers(trailers)),
                        ];
                        let body = StreamBody::new(futures_util::stream::iter(frames));
                        Ok::<_, std::convert::Infallible>(
                            hyper::Response::builder()
                                .header("content-type", "application/grpc")
                                .body(body)
                                .unwrap(),
                        )
                    }
                },
            );
            tokio::spawn(
                hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
            );
        }
    });
    (addr, received)
}

fn istio(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../istio")
        .join(file)
}

/// This process (the plane's spans) and every service export to `endpoint`.
async fn traced_up(endpoint: &str, protocol: Protocol) -> (Up, telemetry::Telemetry) {
    let args = TelemetryArgs {
        log_format: LogFormat::Plain,
        log_filter: "warn".into(),
        otlp_endpoint: Some(endpoint.to_owned()),
        otlp_protocol: protocol,
        service_name: None,
        sampler: SamplerName::ParentBasedAlwaysOn,
        sample_ratio: 1.0,
    };
    let identity = telemetry::Identity {
        service: "mesh",
        version: "test",
    };
    let exporting = telemetry::init(&args, &identity).unwrap();
    let up = Up::start(&UpConfig {
        program: PathBuf::from(env!("CARGO_BIN_EXE_bookinfo")),
        listen: "127.0.0.1:0".parse().unwrap(),
        admin: "127.0.0.1:0".parse().unwrap(),
        routes: vec![
            istio("destination-rule-all.yaml"),
            istio("virtual-service-reviews-v2.yaml"),
        ],
        watch: false,
        service_log: "warn".into(),
        router: bookinfo_mesh::up::Router::Local,
        env: Vec::new(),
        // The services also send a header with every export, as
        // OTEL_EXPORTER_OTLP_HEADERS asks (a collector's API key).
        tracing: args.export_env().map(|mut env| {
            env.push((
                "OTEL_EXPORTER_OTLP_HEADERS".into(),
                "x-bookinfo-test=yes".into(),
            ));
            env
        }),
    })
    .await
    .unwrap();
    (up, exporting)
}

/// One span as the tree shows it.
#[derive(Debug, Clone)]
struct Span {
    service: String,
    name: String,
    kind: i32,
    trace: Vec<u8>,
    id: Vec<u8>,
    parent: Vec<u8>,
    attributes: BTreeMap<String, String>,
    resource: BTreeMap<String, String>,
}

fn text(value: &Option<opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    match value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::IntValue(i)) => i.to_string(),
        other => format!("{other:?}"),
    }
}

fn spans(received: &Received) -> Vec<Span> {
    let mut all = Vec::new();
    for request in received.lock().unwrap().iter() {
        for resource_spans in &request.resource_spans {
            let resource: BTreeMap<String, String> = resource_spans
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .map(|kv| (kv.key.clone(), text(&kv.value)))
                .collect();
            for scope in &resource_spans.scope_spans {
                for span in &scope.spans {
                    all.push(Span {
                        service: resource["service.name"].clone(),
                        name: span.name.clone(),
                        kind: span.kind,
                        trace: span.trace_id.clone(),
                        id: span.span_id.clone(),
                        parent: span.parent_span_id.clone(),
                        attributes: span
                            .attributes
                            .iter()
                            .map(|kv| (kv.key.clone(), text(&kv.value)))
                            .collect(),
                        resource: resource.clone(),
                    });
                }
            }
        }
    }
    all
}

/// The tree under `parent` as indented lines `service name (kind)`,
/// children in name order.
fn tree(spans: &[&Span], parent: &[u8], depth: usize) -> String {
    let mut children: Vec<&&Span> = spans.iter().filter(|s| s.parent == parent).collect();
    children.sort_by(|a, b| (&a.name, a.kind).cmp(&(&b.name, b.kind)));
    let mut out = String::new();
    for child in children {
        let kind = match child.kind {
            2 => " (server)",
            3 => " (client)",
            _ => "",
        };
        out.push_str(&format!(
            "{}{} {}{kind}\n",
            "  ".repeat(depth),
            child.service,
            child.name
        ));
        out.push_str(&tree(spans, &child.id, depth + 1));
    }
    out
}

const EXPECTED: &str = "\
mesh productpage.default.svc.cluster.local:9080/* (client)
  mesh productpage.default.svc.cluster.local:9080/* (server)
    productpage GET /productpage (server)
      mesh details.default.svc.cluster.local:9080/* (client)
        mesh details.default.svc.cluster.local:9080/* (server)
          details GET /details/0 (server)
      mesh reviews.default.svc.cluster.local:9080/* (client)
        mesh reviews.default.svc.cluster.local:9080/* (server)
          reviews GET /reviews/0 (server)
            mesh ratings.default.svc.cluster.local:9080/* (client)
              mesh ratings.default.svc.cluster.local:9080/* (server)
                ratings GET /ratings/0 (server)
";

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";
const UNSAMPLED_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Pages with a W3C parent, a B3 parent, none, and a not-sampled W3C
/// parent; then every span is checked against the tree a page makes.
async fn one_trace_per_page(endpoint: String, received: Received, protocol: Protocol) {
    let (up, exporting) = traced_up(&endpoint, protocol).await;
    let page = format!("http://{}/productpage", up.entry);
    let client = reqwest::Client::new();
    let send = |headers: Vec<(&'static str, String)>| {
        let mut request = client.get(&page);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.send()
    };
    let w3c = send(vec![(
        "traceparent",
        format!("00-{TRACE_ID}-{PARENT_ID}-01"),
    )]);
    assert_eq!(w3c.await.unwrap().status(), 200);
    let b3_trace = "80f198ee56343ba864fe8b2a57d3eff7";
    let b3 = send(vec![
        ("x-b3-traceid", b3_trace.to_owned()),
        ("x-b3-spanid", "e457b5a2e4d86bd1".to_owned()),
        ("x-b3-sampled", "1".to_owned()),
    ]);
    assert_eq!(b3.await.unwrap().status(), 200);
    assert_eq!(send(Vec::new()).await.unwrap().status(), 200);
    let unsampled = send(vec![(
        "traceparent",
        format!("00-{UNSAMPLED_TRACE}-{PARENT_ID}-00"),
    )]);
    assert_eq!(unsampled.await.unwrap().status(), 200);
    // The services flush at SIGTERM, this process at shutdown.
    up.stop().await;
    exporting.shutdown().await;

    let all = spans(&received);
    let by_trace =
        |trace: &str| -> Vec<&Span> { all.iter().filter(|s| hex(&s.trace) == trace).collect() };
    let parent = hex_bytes(PARENT_ID);
    assert_eq!(
        tree(&by_trace(TRACE_ID), &parent, 0),
        EXPECTED,
        "W3C parent"
    );
    assert_eq!(
        tree(&by_trace(b3_trace), &hex_bytes("e457b5a2e4d86bd1"), 0),
        EXPECTED,
        "B3 parent"
    );
    assert!(
        by_trace(UNSAMPLED_TRACE).is_empty(),
        "a not-sampled request exports nothing"
    );
    // No incoming context: one new trace, rooted at the plane's span.
    let traces: std::collections::BTreeSet<String> = all.iter().map(|s| hex(&s.trace)).collect();
    let fresh: Vec<&String> = traces
        .iter()
        .filter(|t| *t != TRACE_ID && *t != b3_trace)
        .collect();
    assert_eq!(fresh.len(), 1, "{fresh:?}");
    assert_eq!(tree(&by_trace(fresh[0]), &[], 0), EXPECTED, "no parent");

    // Which instance served, and which route and subset the plane took.
    let reviews = all
        .iter()
        .find(|s| s.service == "reviews" && hex(&s.trace) == TRACE_ID)
        .unwrap();
    assert_eq!(reviews.resource["service.version"], "v2");
    assert_eq!(reviews.resource["k8s.pod.name"], "reviews-v2-local");
    assert_eq!(reviews.resource["service.instance.id"], "reviews-v2-local");
    let hop = all
        .iter()
        .find(|s| {
            s.service == "mesh"
                && s.kind == 3
                && s.name.starts_with("reviews.")
                && hex(&s.trace) == TRACE_ID
        })
        .unwrap();
    assert_eq!(
        hop.attributes["upstream_cluster"],
        "outbound|9080|v2|reviews.default.svc.cluster.local"
    );
    assert!(
        hop.attributes["route_name"].contains("VirtualService reviews"),
        "{:?}",
        hop.attributes
    );
    assert_eq!(hop.attributes["http.status_code"], "200");
    assert_eq!(hop.attributes["istio.canonical_service"], "productpage-v1");
}

fn hex_bytes(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

#[tokio::test]
async fn one_trace_per_page_over_otlp_http_with_the_planes_hops() {
    let (addr, received, marks) = http_receiver().await;
    one_trace_per_page(format!("http://{addr}"), received, Protocol::HttpProtobuf).await;
    let marks = marks.lock().unwrap();
    assert!(
        marks.iter().any(|m| m.as_deref() == Some("yes")),
        "{marks:?}"
    );
}

#[tokio::test]
async fn one_trace_per_page_over_otlp_grpc_with_the_planes_hops() {
    let (addr, received) = grpc_receiver().await;
    one_trace_per_page(format!("http://{addr}"), received, Protocol::Grpc).await;
}

/// With the collector down, every page is still served: spans wait in a
/// bounded queue and are dropped, never in the requests' way.
#[tokio::test]
async fn with_the_collector_down_no_page_is_lost() {
    let closed = bookinfo_support::testing::closed_port();
    let (up, exporting) = traced_up(&format!("http://{closed}"), Protocol::HttpProtobuf).await;
    let page = format!("http://{}/productpage", up.entry);
    for _ in 0..200 {
        let response = reqwest::get(&page).await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.text().await.unwrap().contains("Book Reviews"));
    }
    up.stop().await;
    exporting.shutdown().await;
}

/// The line reviews logs when ratings cannot be reached, for one request
/// with `headers`, run with `env`.
async fn ratings_unavailable_line(env: &[(&str, String)], headers: &[(&str, &str)]) -> String {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
    let ratings = bookinfo_support::testing::closed_port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_bookinfo"))
        .args(["service", "reviews"])
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env("ENABLE_RATINGS", "true")
        .env("RATINGS_HOSTNAME", "127.0.0.1")
        .env("RATINGS_SERVICE_PORT", ratings.port().to_string())
        .env("RUST_LOG", "warn")
        .envs(env.iter().map(|(name, value)| (name, value)))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = stdout.next_line().await.unwrap().unwrap();
    let addr = line.rsplit(' ').next().unwrap().to_owned();
    let mut request = reqwest::Client::new().get(format!("http://{addr}/reviews/0"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    child.kill().await.unwrap();
    let mut logs = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .await
        .unwrap();
    logs.lines()
        .find(|l| l.contains("ratings unavailable"))
        .unwrap_or_else(|| panic!("{logs}"))
        .to_owned()
}

/// With no span exported, a log line within a request still names the
/// request's id, quoted and escaped (it is the caller's text).
#[tokio::test]
async fn log_lines_name_their_request_id_when_nothing_is_exported() {
    let id = r#"order-7 level="ERROR""#;
    let json = [("LOG_FORMAT", "json".to_owned())];
    let line = ratings_unavailable_line(&json, &[("x-request-id", id)]).await;
    let entry: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(entry["request_id"], id, "{line}");
    assert!(entry.get("span").is_none(), "no span is made: {line}");

    let plain = [("LOG_FORMAT", "plain".to_owned())];
    let line = ratings_unavailable_line(&plain, &[("x-request-id", id)]).await;
    assert!(
        line.ends_with(r#" request_id="order-7 level=\"ERROR\"""#),
        "{line}"
    );
    // A generated id is named too.
    let line = ratings_unavailable_line(&plain, &[]).await;
    let generated = line.rsplit("request_id=").next().unwrap().trim_matches('"');
    assert_eq!(generated.len(), 36, "a UUID: {line}");
}

/// A service's log lines within a request name the request's trace and
/// span (JSON logs here; plain logs show them in the span's fields).
#[tokio::test]
async fn log_lines_name_the_trace_and_span_of_their_request() {
    let (collector, _received, _) = http_receiver().await;
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{collector}")),
        ("LOG_FORMAT", "json".to_owned()),
    ];
    let traceparent = format!("00-{TRACE_ID}-{PARENT_ID}-01");
    let line = ratings_unavailable_line(&env, &[("traceparent", &traceparent)]).await;
    let entry: serde_json::Value = serde_json::from_str(&line).unwrap();
    let span = &entry["span"];
    assert_eq!(span["trace_id"], TRACE_ID, "{line}");
    let span_id = span["span_id"].as_str().unwrap();
    assert!(
        span_id.len() == 16
            && span_id != PARENT_ID
            && span_id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{line}"
    );
}
