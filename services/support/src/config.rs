//! Configuration pieces that every binary shares. Each binary has one clap
//! struct that flattens these; nothing below `main` reads the environment.

use std::net::SocketAddr;
use std::time::Duration;

/// Upstream Bookinfo listens on `[::]:9080`, which is dual-stack on Linux.
pub const DEFAULT_LISTEN: &str = "[::]:9080";
/// The port every Bookinfo backend answers on, as in the upstream manifests.
pub const DEFAULT_SERVICE_PORT: u16 = 9080;

#[derive(Debug, Clone, clap::Args)]
pub struct ListenArgs {
    /// Address to listen on.
    #[arg(long = "listen", env = "LISTEN_ADDR", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// How long to keep answering (with `/health` failing) after SIGTERM
    /// before refusing new connections, so load balancers can take us out.
    #[arg(long, env = "SHUTDOWN_DRAIN", default_value = "0s", value_parser = parse_duration)]
    pub drain: Duration,
    /// Do not serve: ask the service already listening on this address for
    /// `/health` and exit 0 on a 200, 1 otherwise (the images' HEALTHCHECK).
    #[arg(long)]
    pub health_check: bool,
}

/// The upstream services find each other as `http://{host}{.domain}:{port}`.
pub fn backend_url(host: &str, domain: Option<&str>, port: u16) -> String {
    match domain.filter(|d| !d.is_empty()) {
        Some(domain) => format!("http://{host}.{domain}:{port}"),
        None => format!("http://{host}:{port}"),
    }
}

/// Parses `250ms`, `2.5s`, `3s`, `1m`, `1h` (the forms Istio uses), or bare seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 500ms, 2.5s or 1m"))?;
    let seconds = match unit {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "us" | "µs" => value / 1_000_000.0,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("`{text}` has an unknown unit (use ms, s, m or h)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("`{text}` is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_urls_follow_the_upstream_pattern() {
        assert_eq!(backend_url("ratings", None, 9080), "http://ratings:9080");
        assert_eq!(
            backend_url("ratings", Some(""), 9080),
            "http://ratings:9080"
        );
        assert_eq!(
            backend_url("ratings", Some("default.svc"), 9081),
            "http://ratings.default.svc:9081"
        );
    }

    #[test]
    fn durations_parse_in_istio_forms_and_reject_garbage() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2.5s"), Ok(Duration::from_millis(2500)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("1e999s").is_err());
        assert!(parse_duration("").is_err());
    }
}
