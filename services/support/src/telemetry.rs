//! Logging and tracing set-up. Logs go to stderr (plain or JSON lines);
//! spans are exported over OTLP/HTTP when an endpoint is configured.
//! Incoming context is read from W3C `traceparent` or B3; outgoing calls
//! carry both.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_propagator_b3::{B3Encoding, Propagator as B3Propagator};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, filter::LevelFilter};

static EXPORTING: AtomicBool = AtomicBool::new(false);

/// Whether spans are being exported; header forwarding only re-injects the
/// trace context when they are (otherwise the ids would point at spans
/// nobody ever sees).
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
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
    /// OTLP/HTTP collector base URL (e.g. http://jaeger:4318); no export
    /// when unset or empty.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
    /// Service name reported on spans; defaults to the binary's name.
    #[arg(long, env = "OTEL_SERVICE_NAME")]
    pub service_name: Option<String>,
    /// Fraction of root traces sampled; a sampled parent is always followed.
    #[arg(long, env = "OTEL_TRACES_SAMPLER_ARG", default_value_t = 1.0)]
    pub sample_ratio: f64,
}

impl TelemetryArgs {
    /// The collector, if any. The OpenTelemetry specification treats a
    /// variable set to the empty string as unset, which lets a compose file
    /// pass `OTEL_EXPORTER_OTLP_ENDPOINT` through from the user's shell
    /// whether or not it is set there.
    pub fn otlp_endpoint(&self) -> Option<&str> {
        self.otlp_endpoint.as_deref().filter(|e| !e.is_empty())
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

pub fn init(args: &TelemetryArgs, default_service_name: &str) -> Result<Telemetry, TelemetryError> {
    opentelemetry::global::set_text_map_propagator(TextMapCompositePropagator::new(vec![
        Box::new(B3Propagator::with_encoding(B3Encoding::MultipleHeader)),
        // Last, so `traceparent` wins when both formats arrive.
        Box::new(TraceContextPropagator::new()),
    ]));

    let filter = EnvFilter::try_new(&args.log_filter)
        .map_err(|e| TelemetryError::Filter(args.log_filter.clone(), e.to_string()))?;
    // Colours only for a person at a terminal, not in container or CI logs.
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let fmt = match args.log_format {
        LogFormat::Plain => fmt.boxed(),
        LogFormat::Json => fmt.json().boxed(),
    };

    let provider = match args.otlp_endpoint() {
        Some(endpoint) => {
            let name = args
                .service_name
                .clone()
                .unwrap_or_else(|| default_service_name.to_owned());
            Some(tracer_provider(endpoint, name, args.sample_ratio)?)
        }
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
    service_name: String,
    sample_ratio: f64,
) -> Result<SdkTracerProvider, TelemetryError> {
    let exporter = SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
        .build()
        .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            sample_ratio,
        ))))
        .with_resource(Resource::builder().with_service_name(service_name).build())
        .build())
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
