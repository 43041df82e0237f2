//! Real Envoy beside the local router: the routing table rendered as Envoy
//! configuration (`bookinfo envoy-config`), and Envoy run as the router of
//! `bookinfo up --router envoy`.

pub mod config;
pub(crate) mod process;

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::plane::{Instance, Plane};

/// `bookinfo envoy-config`: the bootstrap of an Envoy that does what
/// `bookinfo proxy` does with the same arguments (one listener for every
/// host, told apart by the Host header) as JSON (which is YAML too), and
/// the warnings of the routes.
pub fn render_proxy(
    listen: SocketAddr,
    instances: Vec<Instance>,
    default_host: Option<String>,
    routes: &[PathBuf],
    admin: Option<SocketAddr>,
) -> Result<(String, Vec<String>), String> {
    let plane = Plane::new(instances.clone());
    let applied = plane.replace(crate::up::read_routes(routes)?)?;
    let listeners = [(
        listen,
        config::Serves::ByHeader {
            default: default_host,
        },
    )];
    let bootstrap = config::bootstrap(&plane.table(), &instances, &listeners, admin);
    let text = serde_json::to_string_pretty(&bootstrap).map_err(|e| e.to_string())?;
    Ok((text, applied.warnings))
}
