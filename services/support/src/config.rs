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
    #[arg(long, env = "SHUTDOWN_DRAIN", default_value = "0s", value_parser = humantime::parse_duration)]
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
}
