use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use bookinfo_support::http::json_error;

/// Every way a ratings request can fail, with the upstream bodies.
#[derive(Debug, thiserror::Error)]
pub enum RatingsError {
    #[error("product id is not numeric")]
    BadId,
    #[error("body is not a ratings object")]
    BadBody,
    #[error("POST on the database-backed version")]
    PostNotImplemented,
    #[error("fault mode: unavailable")]
    Unavailable,
    #[error("too many products stored")]
    StoreFull,
    #[error("database connection failed: {0}")]
    DbConnect(String),
    #[error("database query failed: {0}")]
    DbQuery(String),
}

impl IntoResponse for RatingsError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            Self::BadId => (StatusCode::BAD_REQUEST, "please provide numeric product ID"),
            Self::BadBody => (StatusCode::BAD_REQUEST, "please provide valid ratings JSON"),
            Self::PostNotImplemented => (
                StatusCode::NOT_IMPLEMENTED,
                "Post not implemented for database backed ratings",
            ),
            Self::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "Service unavailable"),
            Self::StoreFull => (StatusCode::INSUFFICIENT_STORAGE, "ratings store is full"),
            // Upstream answers 200 here; we answer 500 (contract decision).
            Self::DbConnect(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "could not connect to ratings database",
            ),
            Self::DbQuery(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "could not perform select",
            ),
        };
        if status.is_server_error() {
            tracing::warn!(error = %self, "ratings request failed");
        }
        json_error(status, message)
    }
}
