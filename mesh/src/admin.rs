//! The admin endpoint: read the routing epoch and the shares in force, apply
//! routing objects without a restart, and `/ready` for health checks.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::plane::{self, Plane};
use crate::supervise::Processes;
use bookinfo_routing::load;

/// The largest routing body `POST /apply` reads. The shipped files are a
/// few kB; 4 MiB holds any real set of routes and stays within the
/// compiler's limits.
pub const MAX_APPLY_BODY: usize = 4 << 20;

/// Content types of routing YAML (YAML is a superset of JSON). A browser
/// sends none of these cross-site without a CORS preflight, which this
/// endpoint never grants, so a web page cannot post routes here.
const ROUTING_TYPES: [&str; 5] = [
    "application/yaml",
    "application/x-yaml",
    "text/yaml",
    "text/x-yaml",
    "application/json",
];

/// What the admin handlers read: the plane, and under `bookinfo up` the
/// service processes.
#[derive(Clone)]
struct Admin {
    plane: Arc<Plane>,
    processes: Option<Processes>,
}

pub fn router(plane: Arc<Plane>, processes: Option<Processes>) -> Router {
    Router::new()
        .route("/epoch", get(epoch))
        .route("/apply", post(apply))
        .route("/ready", get(ready))
        .layer(DefaultBodyLimit::max(MAX_APPLY_BODY))
        .layer(middleware::from_fn(only_from_this_machine))
        .with_state(Admin { plane, processes })
}

/// A loopback name or address, with or without a port.
fn loopback(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Refuses what a web page could send: a Host that is not this machine (DNS
/// rebinding) and an Origin of another site. curl, the loadgen and scripts
/// send a loopback Host and no Origin.
async fn only_from_this_machine(request: Request, next: Next) -> Response {
    if !from_this_machine(request.headers()) {
        return refuse(
            StatusCode::FORBIDDEN,
            "the admin endpoint answers only requests from this machine (loopback Host, no foreign Origin)",
        );
    }
    next.run(request).await
}

fn from_this_machine(headers: &HeaderMap) -> bool {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let host_ok = header(header::HOST).is_some_and(loopback);
    let origin_ok = header(header::ORIGIN).is_none_or(|origin| {
        origin
            .split_once("://")
            .is_some_and(|(_, rest)| loopback(rest.trim_end_matches('/')))
    });
    host_ok && origin_ok
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

/// As Envoy's admin `/ready`: 200 `LIVE` once the routes are installed,
/// which they are before the admin endpoint listens.
async fn ready() -> &'static str {
    "LIVE\n"
}

/// `{"epoch": 3, "objects": 5, "shares": {"reviews": {"v1": 0.3, "v2": 0.7}}, "warnings": [],
/// "processes": {"ratings-v1": {"pid": 4711, "state": "running", "restarts": 0, "last_exit": null}}}`
async fn epoch(State(admin): State<Admin>) -> Response {
    let plane = &admin.plane;
    let table = plane.table();
    let mut body = json!({
        "epoch": plane.epoch(),
        "objects": plane.object_count(),
        "shares": plane::shares(&table),
        "warnings": table.warnings,
    });
    if let Some(processes) = &admin.processes {
        body["processes"] = json!(processes.snapshot());
    }
    axum::Json(body).into_response()
}

/// Body: routing YAML (one or more documents), as `application/yaml`. 200
/// with the new epoch, or 4xx with the reason; the routes in force stay as
/// they were on error. Parsing and compiling run off the runtime's workers,
/// so a large file does not stall the routers.
async fn apply(State(admin): State<Admin>, headers: HeaderMap, body: Bytes) -> Response {
    let plane = admin.plane;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim)
        .unwrap_or("");
    if !ROUTING_TYPES
        .iter()
        .any(|t| t.eq_ignore_ascii_case(content_type))
    {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the routing YAML with Content-Type: application/yaml",
        );
    }
    let applied = tokio::task::spawn_blocking(move || {
        let text = std::str::from_utf8(&body).map_err(|_| "body is not UTF-8 YAML".to_owned())?;
        let loaded = load::load_str("request body", text).map_err(|e| e.to_string())?;
        plane
            .apply(loaded.objects)
            .map(|applied| (applied, loaded.notes))
    })
    .await;
    match applied {
        Ok(Ok((applied, notes))) => axum::Json(json!({
            "epoch": applied.epoch,
            "warnings": applied.warnings,
            "notes": notes,
        }))
        .into_response(),
        Ok(Err(error)) => refuse(StatusCode::BAD_REQUEST, &error),
        Err(_) => refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "applying the routes failed",
        ),
    }
}
