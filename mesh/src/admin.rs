//! The admin endpoint: read the routing epoch and the shares in force, list,
//! apply and delete routing objects without a restart (each change a new
//! epoch), and `/ready` for health checks.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde_json::json;

use crate::plane::{self, Applied, DeleteError, Plane};
use crate::supervise::Workloads;
use bookinfo_routing::load::{self, Loaded, Object};

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
    workloads: Option<Workloads>,
}

pub fn router(plane: Arc<Plane>, workloads: Option<Workloads>) -> Router {
    Router::new()
        .route("/epoch", get(epoch))
        .route("/processes/{name}/stop", post(stop_process))
        .route("/apply", post(apply).delete(delete_file))
        .route("/objects", get(objects))
        .route("/objects/{kind}/{name}", delete(delete_one))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/topology", get(topology))
        .route("/", get(topology_page))
        .layer(DefaultBodyLimit::max(MAX_APPLY_BODY))
        .layer(middleware::from_fn(only_from_this_machine))
        .with_state(Admin { plane, workloads })
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
/// "instances": [{"app": "reviews", "labels": {"version": "v1"}, "authority": "127.0.0.1:4101",
/// "requests": 120, "errors": 0}, ...],
/// "processes": {"ratings-v1": {"pid": 4711, "state": "running", "restarts": 0, "last_exit": null}}}`
async fn epoch(State(admin): State<Admin>) -> Response {
    let plane = &admin.plane;
    let table = plane.table();
    let mut body = json!({
        "epoch": plane.epoch(),
        "objects": plane.object_count(),
        "shares": plane::shares(&table),
        "warnings": table.warnings,
        "instances": instances(plane),
    });
    if let Some(workloads) = &admin.workloads {
        body["processes"] = json!(workloads.processes.snapshot());
    }
    axum::Json(body).into_response()
}

/// Istio's standard metrics of the routed requests, in Prometheus' text
/// format (what a sidecar serves at `:15090/stats/prometheus`).
async fn metrics(State(admin): State<Admin>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        admin.plane.stats().encode(),
    )
        .into_response()
}

/// The live topology page (one file, no script from elsewhere).
async fn topology_page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // Nothing but itself: its own script and style, its own origin.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
            ),
        ],
        crate::topology::PAGE,
    )
        .into_response()
}

/// The topology over the sliding window, as the page reads it.
async fn topology(State(admin): State<Admin>) -> Response {
    axum::Json(crate::topology::snapshot(&admin.plane)).into_response()
}

/// The instances, each with the answers this router has had from it.
fn instances(plane: &Plane) -> Vec<serde_json::Value> {
    plane
        .instances()
        .iter()
        .zip(plane.answers())
        .map(|(instance, (requests, errors))| {
            let mut listed = json!(instance);
            listed["requests"] = json!(requests);
            listed["errors"] = json!(errors);
            listed
        })
        .collect()
}

/// `POST /processes/NAME/stop`: stops a workload for good (SIGTERM, so it
/// drains; no restart), as taking a version offline removes its workload.
async fn stop_process(State(admin): State<Admin>, Path(name): Path<String>) -> Response {
    let Some(workloads) = &admin.workloads else {
        return refuse(StatusCode::NOT_FOUND, "this data plane runs no processes");
    };
    if workloads.children.remove(&name, false).await {
        axum::Json(json!({ "stopped": name })).into_response()
    } else {
        refuse(StatusCode::NOT_FOUND, &format!("no process `{name}` runs"))
    }
}

/// Whether the request carries routing YAML (or JSON); a web page cannot
/// send these types cross-site without a preflight.
fn is_routing_yaml(headers: &HeaderMap) -> bool {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim)
        .unwrap_or("");
    ROUTING_TYPES
        .iter()
        .any(|t| t.eq_ignore_ascii_case(content_type))
}

/// Reads the routing objects of a request body, off the runtime's workers
/// (a large file takes a while), and hands them to `change`.
async fn with_body<T: Send + 'static>(
    headers: &HeaderMap,
    body: Bytes,
    change: impl FnOnce(Loaded) -> Result<T, String> + Send + 'static,
) -> Result<T, Response> {
    if !is_routing_yaml(headers) {
        return Err(refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the routing YAML with Content-Type: application/yaml",
        ));
    }
    let done = tokio::task::spawn_blocking(move || {
        let text = std::str::from_utf8(&body).map_err(|_| "body is not UTF-8 YAML".to_owned())?;
        change(load::load_str("request body", text).map_err(|e| e.to_string())?)
    })
    .await;
    match done {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(refuse(StatusCode::BAD_REQUEST, &error)),
        Err(_) => Err(refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "changing the routes failed",
        )),
    }
}

/// `POST /apply`, body routing YAML (one or more documents) as
/// `application/yaml`: adds or replaces those objects (`kubectl apply -f`).
/// 200 with the new epoch, or 4xx with the reason; the routes in force stay
/// as they were on error.
async fn apply(State(admin): State<Admin>, headers: HeaderMap, body: Bytes) -> Response {
    let plane = admin.plane;
    let applied = with_body(&headers, body, move |loaded| {
        let applied = plane.apply(loaded.objects)?;
        Ok((applied, loaded.notes))
    })
    .await;
    match applied {
        Ok((applied, notes)) => axum::Json(json!({
            "epoch": applied.epoch,
            "warnings": applied.warnings,
            "notes": notes,
        }))
        .into_response(),
        Err(response) => response,
    }
}

/// `DELETE /apply` with the same YAML: deletes the objects it names
/// (`kubectl delete -f`), so each step of a task can be undone as Istio's
/// docs undo theirs.
async fn delete_file(State(admin): State<Admin>, headers: HeaderMap, body: Bytes) -> Response {
    let plane = admin.plane;
    let deleted = with_body(&headers, body, move |loaded| {
        let keys: Vec<String> = loaded.objects.iter().map(Object::key).collect();
        Ok(plane.delete(&keys))
    })
    .await;
    match deleted {
        Ok(Ok(deleted)) => deleted_answer(deleted),
        Ok(Err(error)) => delete_refusal(error),
        Err(response) => response,
    }
}

/// `DELETE /objects/{kind}/{name}` (`kubectl delete virtualservice reviews`).
async fn delete_one(
    State(admin): State<Admin>,
    Path((kind, name)): Path<(String, String)>,
) -> Response {
    let plane = admin.plane;
    let key = format!("{kind}/{name}");
    match tokio::task::spawn_blocking(move || plane.delete(&[key])).await {
        Ok(Ok(deleted)) => deleted_answer(deleted),
        Ok(Err(error)) => delete_refusal(error),
        Err(_) => refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "deleting the object failed",
        ),
    }
}

fn delete_refusal(error: DeleteError) -> Response {
    match error {
        DeleteError::NotFound(message) => refuse(StatusCode::NOT_FOUND, &message),
        DeleteError::Refused(message) => refuse(StatusCode::BAD_REQUEST, &message),
    }
}

fn deleted_answer((applied, missing): (Applied, Vec<String>)) -> Response {
    axum::Json(json!({
        "epoch": applied.epoch,
        "warnings": applied.warnings,
        "not_found": missing,
    }))
    .into_response()
}

/// `GET /objects`: the routing objects in force, as JSON (`kubectl get -o json`).
async fn objects(State(admin): State<Admin>) -> Response {
    axum::Json(json!({ "items": admin.plane.objects() })).into_response()
}
