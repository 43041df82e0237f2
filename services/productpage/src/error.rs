//! Every way a productpage request can fail. The client gets a short fixed
//! message (HTML for the page-like 404 and 405 as upstream, JSON otherwise);
//! the cause goes to the log, once.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::backends::Destination;
use crate::pages;
use crate::pyjson;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no such route")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    /// A product id we will not put into a backend URL.
    #[error("refused product id: {reason}")]
    BadProductId {
        destination: Destination,
        reason: &'static str,
    },
    /// The backend failed; `status` is its status, or 500 when none came.
    #[error("{destination} failed with {status}: {cause}")]
    Backend {
        destination: Destination,
        status: StatusCode,
        cause: String,
    },
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    #[error("request body too large")]
    TooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("rendering failed: {0}")]
    Render(#[from] askama::Error),
}

pub(crate) const HTML: HeaderValue = HeaderValue::from_static("text/html; charset=utf-8");
pub(crate) const JSON: HeaderValue = HeaderValue::from_static("application/json");

fn json(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, JSON)], body).into_response()
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match &self {
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                [(header::CONTENT_TYPE, HTML)],
                pages::NOT_FOUND,
            )
                .into_response(),
            Self::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                [(header::CONTENT_TYPE, HTML)],
                pages::METHOD_NOT_ALLOWED,
            )
                .into_response(),
            Self::BadProductId { destination, .. } => {
                tracing::info!(error = %self, "refused request");
                json(
                    StatusCode::BAD_REQUEST,
                    pyjson::error_body(destination.sorry()),
                )
            }
            Self::Backend {
                destination,
                status,
                ..
            } => {
                tracing::warn!(error = %self, "backend call failed");
                json(*status, pyjson::error_body(destination.sorry()))
            }
            Self::BadRequest(message) => {
                tracing::info!(error = %self, "refused request");
                json(StatusCode::BAD_REQUEST, pyjson::error_body(message))
            }
            Self::TooLarge => json(
                StatusCode::PAYLOAD_TOO_LARGE,
                pyjson::error_body("request body too large"),
            ),
            Self::UnsupportedMediaType => json(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                pyjson::error_body("expected an application/x-www-form-urlencoded body"),
            ),
            Self::Render(_) => {
                tracing::error!(error = %self, "page rendering failed");
                json(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    pyjson::error_body("internal error"),
                )
            }
        }
    }
}
