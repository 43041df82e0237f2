//! The admin endpoint: read the routing epoch and the shares in force, apply
//! routing objects without a restart, and `/ready` for health checks.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::plane::{self, Plane};
use bookinfo_routing::load;

pub fn router(plane: Arc<Plane>) -> Router {
    Router::new()
        .route("/epoch", get(epoch))
        .route("/apply", post(apply))
        .route("/ready", get(ready))
        .with_state(plane)
}

/// As Envoy's admin `/ready`: 200 `LIVE` once the routes are installed,
/// which they are before the admin endpoint listens.
async fn ready() -> &'static str {
    "LIVE\n"
}

/// `{"epoch": 3, "shares": {"reviews": {"v1": 0.3, "v2": 0.7}}}`
async fn epoch(State(plane): State<Arc<Plane>>) -> Response {
    let table = plane.table();
    axum::Json(json!({
        "epoch": plane.epoch(),
        "shares": plane::shares(&table),
        "warnings": table.warnings,
    }))
    .into_response()
}

/// Body: routing YAML (one or more documents). 200 with the new epoch, or
/// 400 with the reason; the routes in force stay as they were on error.
async fn apply(State(plane): State<Arc<Plane>>, body: Bytes) -> Response {
    let Ok(text) = std::str::from_utf8(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "body is not UTF-8 YAML"})),
        )
            .into_response();
    };
    let loaded = match load::load_str("request body", text) {
        Ok(loaded) => loaded,
        Err(error) => {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"error": error.to_string()})),
            )
                .into_response();
        }
    };
    match plane.apply(loaded.objects) {
        Ok(applied) => axum::Json(json!({
            "epoch": applied.epoch,
            "warnings": applied.warnings,
            "notes": loaded.notes,
        }))
        .into_response(),
        Err(error) => {
            (StatusCode::BAD_REQUEST, axum::Json(json!({"error": error}))).into_response()
        }
    }
}
