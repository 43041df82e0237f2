//! Logging and tracing set-up. Logs go to stderr (plain or JSON lines);
//! spans are exported over OTLP (HTTP/protobuf or gRPC, by
//! `OTEL_EXPORTER_OTLP_PROTOCOL`) when an endpoint is configured, with the
//! standard `OTEL_*` variables (endpoint, protocol, headers, sampler and its
//! argument, service name, resource attributes). Incoming context is read
//! from W3C `traceparent` or B3; outgoing calls carry both. Spans leave
//! through a bounded queue (the SDK's batch processor: 2,048 spans), which
//! drops rather than blocks when the collector is down.

use std::future::Future;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::HeaderValue;

use opentelemetry::KeyValue;
use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_propagator_b3::{B3Encoding, Propagator as B3Propagator};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::resource::EnvResourceDetector;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::fmt::format::{self, FormatEvent, FormatFields, Writer};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, filter::LevelFilter};

static EXPORTING: AtomicBool = AtomicBool::new(false);

/// Whether spans are being exported; header forwarding only re-injects the
/// trace context when they are (otherwise the ids would point at spans
/// nobody ever sees).
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

tokio::task_local! {
    /// The `x-request-id` of the request the current task serves.
    static REQUEST_ID: HeaderValue;
}

/// Runs `future` (a request's handling) so that every line it logs ends
/// with the request's id. A task-local costs nothing until a line is
/// written, where a span would be made, formatted and entered on every
/// request whether or not anything is logged.
pub(crate) fn with_request_id<F: Future>(
    id: HeaderValue,
    future: F,
) -> impl Future<Output = F::Output> {
    REQUEST_ID.scope(id, future)
}

/// The log line formatter that adds the request id (see
/// [`with_request_id`]): ` request_id="ID"` before the newline of a plain
/// line, a top-level `request_id` key in a JSON one. The id is the
/// caller's, so it is quoted and escaped: it cannot forge a field.
struct WithRequestId<E> {
    inner: E,
    json: bool,
}

impl<S, N, E> FormatEvent<S, N> for WithRequestId<E>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
    E: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let Ok(id) = REQUEST_ID.try_with(HeaderValue::clone) else {
            return self.inner.format_event(ctx, writer, event);
        };
        let id = String::from_utf8_lossy(id.as_bytes());
        let mut line = String::new();
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        let text = line.strip_suffix('\n').unwrap_or(&line);
        match text.strip_suffix('}').filter(|_| self.json) {
            Some(open) => {
                let id = serde_json::Value::from(id.as_ref());
                writeln!(writer, "{open},\"request_id\":{id}}}")
            }
            None => writeln!(writer, "{text} request_id={id:?}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Plain,
    Json,
}

#[derive(Debug, Clone, clap::Args)]
pub struct TelemetryArgs {
    /// Log line format on stderr.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value = "plain")]
    pub log_format: LogFormat,
    /// Log filter, in `tracing` env-filter syntax.
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    pub log_filter: String,
    /// OTLP collector base URL (e.g. http://jaeger:4318 for HTTP,
    /// http://jaeger:4317 for gRPC); no export when unset or empty.
    #[arg(long, visible_alias = "otlp", env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
    /// `http/protobuf` or `grpc`, as OpenTelemetry names them.
    #[arg(
        long,
        env = "OTEL_EXPORTER_OTLP_PROTOCOL",
        value_enum,
        default_value = "http/protobuf"
    )]
    pub otlp_protocol: Protocol,
    /// Service name reported on spans; defaults to the binary's name.
    #[arg(long, env = "OTEL_SERVICE_NAME")]
    pub service_name: Option<String>,
    /// Which traces are recorded, by OpenTelemetry's sampler names; the
    /// `parentbased_*` ones follow an incoming decision (sampled or not).
    #[arg(
        long,
        env = "OTEL_TRACES_SAMPLER",
        value_enum,
        default_value = "parentbased_always_on"
    )]
    pub sampler: SamplerName,
    /// The ratio of the `traceidratio` samplers, within 0..=1.
    #[arg(long, env = "OTEL_TRACES_SAMPLER_ARG", default_value_t = 1.0, value_parser = ratio)]
    pub sample_ratio: f64,
}

/// The OTLP transports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Protocol {
    #[value(name = "http/protobuf")]
    HttpProtobuf,
    #[value(name = "grpc")]
    Grpc,
}

/// OpenTelemetry's sampler names (`OTEL_TRACES_SAMPLER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SamplerName {
    #[value(name = "always_on")]
    AlwaysOn,
    #[value(name = "always_off")]
    AlwaysOff,
    #[value(name = "traceidratio")]
    TraceIdRatio,
    #[value(name = "parentbased_always_on")]
    ParentBasedAlwaysOn,
    #[value(name = "parentbased_always_off")]
    ParentBasedAlwaysOff,
    #[value(name = "parentbased_traceidratio")]
    ParentBasedTraceIdRatio,
}

fn ratio(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(format!("`{text}` is not a ratio within 0..=1")),
    }
}

impl SamplerName {
    fn sampler(self, ratio: f64) -> Sampler {
        let parent_based = |root: Sampler| Sampler::ParentBased(Box::new(root));
        match self {
            Self::AlwaysOn => Sampler::AlwaysOn,
            Self::AlwaysOff => Sampler::AlwaysOff,
            Self::TraceIdRatio => Sampler::TraceIdRatioBased(ratio),
            Self::ParentBasedAlwaysOn => parent_based(Sampler::AlwaysOn),
            Self::ParentBasedAlwaysOff => parent_based(Sampler::AlwaysOff),
            Self::ParentBasedTraceIdRatio => parent_based(Sampler::TraceIdRatioBased(ratio)),
        }
    }
}

/// Who the spans are from: the resource every span carries.
pub struct Identity<'a> {
    /// The Kubernetes Service name (`reviews`), unless `OTEL_SERVICE_NAME`.
    pub service: &'a str,
    /// The version the process runs (`v2`).
    pub version: &'a str,
}

impl TelemetryArgs {
    /// The collector, if any. The OpenTelemetry specification treats a
    /// variable set to the empty string as unset, which lets a compose file
    /// pass `OTEL_EXPORTER_OTLP_ENDPOINT` through from the user's shell
    /// whether or not it is set there.
    pub fn otlp_endpoint(&self) -> Option<&str> {
        self.otlp_endpoint.as_deref().filter(|e| !e.is_empty())
    }

    /// The `OTEL_*` variables that make a child process export as this one
    /// does (endpoint, protocol, sampler), or `None` when this one does not.
    pub fn export_env(&self) -> Option<Vec<(String, String)>> {
        use clap::ValueEnum;
        let name = |value: Option<clap::builder::PossibleValue>| {
            value.map(|v| v.get_name().to_owned()).unwrap_or_default()
        };
        let endpoint = self.otlp_endpoint()?;
        Some(vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT".into(), endpoint.to_owned()),
            (
                "OTEL_EXPORTER_OTLP_PROTOCOL".into(),
                name(self.otlp_protocol.to_possible_value()),
            ),
            (
                "OTEL_TRACES_SAMPLER".into(),
                name(self.sampler.to_possible_value()),
            ),
            (
                "OTEL_TRACES_SAMPLER_ARG".into(),
                self.sample_ratio.to_string(),
            ),
        ])
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("invalid log filter `{0}`: {1}")]
    Filter(String, String),
    #[error("cannot build the OTLP exporter: {0}")]
    Exporter(String),
}

/// Keeps the tracer provider alive; call [`Telemetry::shutdown`] after the
/// server stopped so buffered spans are flushed.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Exports the spans ended so far now, not at the next batch.
    pub async fn flush(&self) {
        if let Some(provider) = self.provider.clone() {
            // The OTLP/HTTP exporter blocks; keep it off the async workers.
            let _ = tokio::task::spawn_blocking(move || provider.force_flush()).await;
        }
    }

    pub async fn shutdown(self) {
        if let Some(provider) = self.provider {
            // The OTLP/HTTP exporter blocks; keep it off the async workers.
            let flushed = tokio::task::spawn_blocking(move || provider.shutdown()).await;
            if let Ok(Err(error)) = flushed {
                tracing::warn!(%error, "flushing spans failed");
            }
        }
    }
}

pub fn init(args: &TelemetryArgs, identity: &Identity) -> Result<Telemetry, TelemetryError> {
    opentelemetry::global::set_text_map_propagator(TextMapCompositePropagator::new(vec![
        Box::new(B3Propagator::with_encoding(B3Encoding::MultipleHeader)),
        // Last, so `traceparent` wins when both formats arrive.
        Box::new(TraceContextPropagator::new()),
    ]));

    let filter = EnvFilter::try_new(&args.log_filter)
        .map_err(|e| TelemetryError::Filter(args.log_filter.clone(), e.to_string()))?;
    // Colours only for a person at a terminal, not in container or CI logs
    // (set on the line format too: a line with a request id is formatted
    // into a buffer first).
    let ansi = std::io::stderr().is_terminal();
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let fmt = match args.log_format {
        LogFormat::Plain => fmt
            .event_format(WithRequestId {
                inner: format::Format::default().with_ansi(ansi),
                json: false,
            })
            .boxed(),
        LogFormat::Json => fmt
            .json()
            .event_format(WithRequestId {
                inner: format::Format::default().json(),
                json: true,
            })
            .boxed(),
    };

    let provider = match args.otlp_endpoint() {
        Some(endpoint) => Some(tracer_provider(endpoint, args, identity)?),
        None => None,
    };
    // Span export gets its own filter so that a quiet log level does not
    // silence tracing.
    let otel = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("bookinfo"))
            .with_filter(LevelFilter::INFO)
    });
    // A second init (tests) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(otel)
        .try_init();
    if let Some(provider) = &provider {
        opentelemetry::global::set_tracer_provider(provider.clone());
        EXPORTING.store(true, Ordering::Relaxed);
    }
    Ok(Telemetry { provider })
}

fn tracer_provider(
    endpoint: &str,
    args: &TelemetryArgs,
    identity: &Identity,
) -> Result<SdkTracerProvider, TelemetryError> {
    let base = endpoint.trim_end_matches('/');
    let exporter = match args.otlp_protocol {
        Protocol::HttpProtobuf => SpanExporter::builder()
            .with_http()
            .with_endpoint(format!("{base}/v1/traces"))
            .build(),
        Protocol::Grpc => SpanExporter::builder()
            .with_tonic()
            .with_endpoint(base)
            .build(),
    }
    .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(args.sampler.sampler(args.sample_ratio))
        .with_resource(resource(args, identity))
        .build())
}

/// The spans' resource: OpenTelemetry's service and Kubernetes attributes,
/// with `OTEL_RESOURCE_ATTRIBUTES` (the SDK's environment detector) over
/// them, so what a user sets there wins. The
/// pod name is `HOSTNAME`, as Kubernetes sets it; the namespace is
/// `POD_NAMESPACE` where the manifest passes it (the downward API).
fn resource(args: &TelemetryArgs, identity: &Identity) -> Resource {
    let name = args
        .service_name
        .clone()
        .unwrap_or_else(|| identity.service.to_owned());
    let set = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let pod = set("HOSTNAME");
    let mut attributes = vec![
        KeyValue::new("service.version", identity.version.to_owned()),
        // One per process: the pod name where there is one.
        KeyValue::new(
            "service.instance.id",
            pod.clone()
                .unwrap_or_else(|| format!("{}-{}", identity.service, std::process::id())),
        ),
    ];
    if let Some(pod) = pod {
        attributes.push(KeyValue::new("k8s.pod.name", pod));
    }
    if let Some(namespace) = set("POD_NAMESPACE") {
        attributes.push(KeyValue::new("k8s.namespace.name", namespace));
    }
    Resource::builder()
        .with_service_name(name)
        .with_attributes(attributes)
        .with_detector(Box::new(EnvResourceDetector::new()))
        .build()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use clap::Parser;

    use super::TelemetryArgs;

    #[derive(Parser)]
    struct Args {
        #[command(flatten)]
        telemetry: TelemetryArgs,
    }

    fn endpoint(args: &[&str]) -> Option<String> {
        let args =
            Args::try_parse_from(std::iter::once("test").chain(args.iter().copied())).unwrap();
        args.telemetry.otlp_endpoint().map(str::to_owned)
    }

    #[test]
    fn an_empty_collector_address_means_no_export() {
        assert_eq!(endpoint(&["--otlp-endpoint", ""]), None);
        assert_eq!(
            endpoint(&["--otlp-endpoint", "http://jaeger:4318"]),
            Some("http://jaeger:4318".to_owned())
        );
    }
}
