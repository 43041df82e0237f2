use bookinfo_support::config::{DEFAULT_SERVICE_PORT, ListenArgs};
use bookinfo_support::telemetry::TelemetryArgs;

/// The reviews binary's settings, under the upstream variable names.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "reviews", about = "Bookinfo reviews service")]
pub struct Config {
    #[command(flatten)]
    pub listen: ListenArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
    /// Call ratings; true only for a case-insensitive "true" (Java's
    /// Boolean.valueOf), as upstream.
    #[arg(long, env = "ENABLE_RATINGS", default_value = "false")]
    pub enable_ratings: String,
    #[arg(long, env = "STAR_COLOR", default_value = "black")]
    pub star_color: String,
    #[arg(long, env = "SERVICES_DOMAIN")]
    pub services_domain: Option<String>,
    #[arg(long, env = "RATINGS_HOSTNAME", default_value = "ratings")]
    pub ratings_hostname: String,
    #[arg(long, env = "RATINGS_SERVICE_PORT", default_value_t = DEFAULT_SERVICE_PORT)]
    pub ratings_service_port: u16,
    /// Reported as `podname`; "null" when unset, as upstream.
    #[arg(long, env = "HOSTNAME")]
    pub hostname: Option<String>,
    /// Reported as `clustername`; "null" when unset, as upstream.
    #[arg(long, env = "CLUSTER_NAME")]
    pub cluster_name: Option<String>,
    /// Only used for `x-bookinfo-version`; when unset it is derived from
    /// the configuration (no ratings: v1, black: v2, other colours: v3).
    #[arg(long, env = "SERVICE_VERSION")]
    pub service_version: Option<String>,
    /// Rehearsing a bad canary (ours, not upstream's): the share of
    /// `/reviews` requests answered 503, within 0..=1.
    #[arg(long, env = "FAIL_SHARE", default_value_t = 0.0, value_parser = share)]
    pub fail_share: f64,
    /// Rehearsing a slow canary (ours): milliseconds added to every
    /// `/reviews` answer, at most [`MAX_EXTRA_DELAY_MS`].
    #[arg(long, env = "EXTRA_DELAY_MS", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=MAX_EXTRA_DELAY_MS))]
    pub extra_delay_ms: u64,
}

/// The longest rehearsed delay: a minute is past every timeout of the
/// chain (productpage gives reviews 3 s), so more only holds sockets.
pub(crate) const MAX_EXTRA_DELAY_MS: u64 = 60_000;

fn share(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(share) if (0.0..=1.0).contains(&share) => Ok(share),
        _ => Err(format!("`{text}` is not a share within 0..=1")),
    }
}

impl Config {
    pub fn ratings_enabled(&self) -> bool {
        self.enable_ratings.eq_ignore_ascii_case("true")
    }

    pub fn version(&self) -> String {
        match &self.service_version {
            Some(version) => version.clone(),
            None if !self.ratings_enabled() => "v1".into(),
            None if self.star_color == "black" => "v2".into(),
            None => "v3".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> Config {
        Config::try_parse_from(std::iter::once("reviews").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn versions_are_derived_from_the_upstream_settings() {
        assert_eq!(parse(&[]).version(), "v1");
        assert!(!parse(&["--enable-ratings", "yes"]).ratings_enabled());
        assert_eq!(parse(&["--enable-ratings", "TRUE"]).version(), "v2");
        assert_eq!(
            parse(&["--enable-ratings", "true", "--star-color", "red"]).version(),
            "v3"
        );
        assert_eq!(parse(&["--service-version", "v9"]).version(), "v9");
    }

    #[test]
    fn bad_flags_are_errors_not_panics() {
        assert!(Config::try_parse_from(["reviews", "--ratings-service-port", "99999"]).is_err());
        assert!(Config::try_parse_from(["reviews", "--listen", "nowhere"]).is_err());
        for bad in ["-0.1", "1.5", "NaN", "half", ""] {
            assert!(
                Config::try_parse_from(["reviews", "--fail-share", bad]).is_err(),
                "{bad}"
            );
        }
        assert!(Config::try_parse_from(["reviews", "--extra-delay-ms", "60001"]).is_err());
        let rehearsal = parse(&["--fail-share", "0.5", "--extra-delay-ms", "300"]);
        assert_eq!((rehearsal.fail_share, rehearsal.extra_delay_ms), (0.5, 300));
    }
}
