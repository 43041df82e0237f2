//! The productpage binary's settings, under the upstream variable names
//! (the upstream variables and defaults), plus the ones this project adds.

use std::time::Duration;

use bookinfo_support::config::{DEFAULT_SERVICE_PORT, ListenArgs, backend_url};
use bookinfo_support::telemetry::TelemetryArgs;

pub const DEFAULT_DETAILS_HOSTNAME: &str = "details";
pub const DEFAULT_REVIEWS_HOSTNAME: &str = "reviews";
pub const DEFAULT_RATINGS_HOSTNAME: &str = "ratings";
/// Upstream's `timeout=3.0` on every outbound call.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(3);
/// What `x-bookinfo-version` says for this service.
pub const VERSION_LABEL: &str = "productpage-v1";

/// Which page markers tests and tutorials find.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Markers {
    /// The 1.20.x markers: 9 `glyphicon glyphicon-star`, `text-black-500` / `text-red-500`.
    #[default]
    Current,
    /// The Bootstrap-era markers of KubeSphere's images: empty stars too,
    /// `<font color=...>`, error headings ending in `!`.
    Legacy,
}

#[derive(Debug, Clone, clap::Parser)]
#[command(name = "productpage", about = "Bookinfo product page")]
pub struct Config {
    #[command(flatten)]
    pub listen: ListenArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
    /// Appended as `.{domain}` to every backend host name.
    #[arg(long, env = "SERVICES_DOMAIN")]
    pub services_domain: Option<String>,
    #[arg(long, env = "DETAILS_HOSTNAME", default_value = DEFAULT_DETAILS_HOSTNAME)]
    pub details_hostname: String,
    #[arg(long, env = "DETAILS_SERVICE_PORT", default_value_t = DEFAULT_SERVICE_PORT)]
    pub details_service_port: u16,
    #[arg(long, env = "REVIEWS_HOSTNAME", default_value = DEFAULT_REVIEWS_HOSTNAME)]
    pub reviews_hostname: String,
    #[arg(long, env = "REVIEWS_SERVICE_PORT", default_value_t = DEFAULT_SERVICE_PORT)]
    pub reviews_service_port: u16,
    #[arg(long, env = "RATINGS_HOSTNAME", default_value = DEFAULT_RATINGS_HOSTNAME)]
    pub ratings_hostname: String,
    #[arg(long, env = "RATINGS_SERVICE_PORT", default_value_t = DEFAULT_SERVICE_PORT)]
    pub ratings_service_port: u16,
    /// Extra reviews calls per page, results discarded (rate-limit demos).
    #[arg(long, env = "FLOOD_FACTOR", default_value_t = 0)]
    pub flood_factor: u16,
    /// `current` (1.20.x markers) or `legacy` (Bootstrap-era markers).
    #[arg(
        long,
        env = "UI_MARKERS",
        value_enum,
        default_value = "current",
        ignore_case = true
    )]
    pub ui_markers: Markers,
    /// Key that signs session cookies; share it between replicas. When unset
    /// a random key is drawn per process.
    #[arg(long, env = "SESSION_SECRET", hide_env_values = true)]
    pub session_secret: Option<String>,
}

impl Config {
    fn domain(&self) -> Option<&str> {
        self.services_domain.as_deref()
    }

    pub fn details_url(&self) -> String {
        backend_url(
            &self.details_hostname,
            self.domain(),
            self.details_service_port,
        )
    }

    pub fn reviews_url(&self) -> String {
        backend_url(
            &self.reviews_hostname,
            self.domain(),
            self.reviews_service_port,
        )
    }

    pub fn ratings_url(&self) -> String {
        backend_url(
            &self.ratings_hostname,
            self.domain(),
            self.ratings_service_port,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn defaults_are_the_upstream_ones() {
        let config = Config::try_parse_from(["productpage"]).expect("parses");
        assert_eq!(config.details_url(), "http://details:9080");
        assert_eq!(config.reviews_url(), "http://reviews:9080");
        assert_eq!(config.ratings_url(), "http://ratings:9080");
        assert_eq!(config.flood_factor, 0);
        assert_eq!(config.ui_markers, Markers::Current);
        assert!(config.session_secret.is_none());
    }

    #[test]
    fn the_services_domain_is_appended_to_every_host() {
        let config = Config::try_parse_from([
            "productpage",
            "--services-domain",
            "default.svc.cluster.local",
            "--reviews-hostname",
            "reviews-v2",
            "--reviews-service-port",
            "9081",
            "--ui-markers",
            "LEGACY",
            "--flood-factor",
            "100",
        ])
        .expect("parses");
        assert_eq!(
            config.details_url(),
            "http://details.default.svc.cluster.local:9080"
        );
        assert_eq!(
            config.reviews_url(),
            "http://reviews-v2.default.svc.cluster.local:9081"
        );
        assert_eq!(config.ui_markers, Markers::Legacy);
        assert_eq!(config.flood_factor, 100);
    }

    #[test]
    fn a_port_that_is_not_a_number_is_refused() {
        assert!(Config::try_parse_from(["productpage", "--details-service-port", "http"]).is_err());
    }
}
