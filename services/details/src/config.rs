use bookinfo_support::config::ListenArgs;
use bookinfo_support::telemetry::TelemetryArgs;

/// The details binary's settings, under the upstream variable names.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "details", about = "Bookinfo details service")]
pub struct Config {
    #[command(flatten)]
    pub listen: ListenArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
    /// Exactly "true" fetches the book from the external book API (v2).
    #[arg(long, env = "ENABLE_EXTERNAL_BOOK_SERVICE", default_value = "false")]
    pub enable_external_book_service: String,
    /// Exactly "true" calls the book API over plain HTTP on port 80 (the
    /// mesh then originates TLS), as upstream.
    #[arg(long, env = "DO_NOT_ENCRYPT", default_value = "false")]
    pub do_not_encrypt: String,
    /// Base URL of the book API, overriding the host derived from
    /// DO_NOT_ENCRYPT (for tests and private mirrors).
    #[arg(long, env = "BOOKS_API_URL")]
    pub books_api_url: Option<String>,
    /// Only used for `x-bookinfo-version`; derived (v1 or v2) when unset.
    #[arg(long, env = "SERVICE_VERSION")]
    pub service_version: Option<String>,
}

impl Config {
    pub fn external(&self) -> bool {
        self.enable_external_book_service == "true"
    }

    pub fn books_api_url(&self) -> String {
        match &self.books_api_url {
            Some(url) => url.clone(),
            None if self.do_not_encrypt == "true" => "http://www.googleapis.com:80".into(),
            None => "https://www.googleapis.com:443".into(),
        }
    }

    pub fn version(&self) -> String {
        match &self.service_version {
            Some(version) => version.clone(),
            None if self.external() => "v2".into(),
            None => "v1".into(),
        }
    }
}
