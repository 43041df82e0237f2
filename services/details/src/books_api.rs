//! The external book API of details v2 (upstream: Google Books), looked up
//! by ISBN with the forwarded headers and a bounded timeout.

use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use bookinfo_api::details::BookDetails;
use bookinfo_api::{Backend, BuildError, CallError};
use bookinfo_support::http::json_error;

/// Upstream's read timeout; also bounds connecting.
pub const BOOKS_API_TIMEOUT: Duration = Duration::from_secs(5);
const ISBN: &str = "0486424618";

#[derive(Debug, thiserror::Error)]
pub enum BooksApiError {
    #[error("book API timed out")]
    Timeout,
    #[error("book API unreachable: {0}")]
    Unreachable(String),
    #[error("book API answered {0}")]
    Status(StatusCode),
    #[error("book API answer has no usable book: {0}")]
    Unusable(&'static str),
}

impl IntoResponse for BooksApiError {
    fn into_response(self) -> Response {
        tracing::warn!(error = %self, "external book lookup failed");
        match self {
            Self::Timeout => json_error(StatusCode::GATEWAY_TIMEOUT, "book service timed out"),
            _ => json_error(StatusCode::BAD_GATEWAY, "book service unavailable"),
        }
    }
}

#[derive(Clone, Debug)]
pub struct BooksApi {
    backend: Backend,
}

impl BooksApi {
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self, BuildError> {
        Ok(Self {
            backend: Backend::new(base_url, timeout)?,
        })
    }

    pub async fn lookup(&self, id: i64, headers: &HeaderMap) -> Result<BookDetails, BooksApiError> {
        let reply = self
            .backend
            .get(&format!("/books/v1/volumes?q=isbn:{ISBN}"), headers)
            .await
            .map_err(|e| match e {
                CallError::Timeout(_) => BooksApiError::Timeout,
                other => BooksApiError::Unreachable(other.to_string()),
            })?;
        if reply.status != StatusCode::OK {
            return Err(BooksApiError::Status(reply.status));
        }
        let answer: Value =
            serde_json::from_slice(&reply.body).map_err(|_| BooksApiError::Unusable("not JSON"))?;
        book_from_volume(id, &answer["items"][0]["volumeInfo"])
    }
}

/// Maps a volume as upstream does (type and language collapse to the two
/// values Bookinfo knows).
fn book_from_volume(id: i64, info: &Value) -> Result<BookDetails, BooksApiError> {
    if !info.is_object() {
        return Err(BooksApiError::Unusable("no items[0].volumeInfo"));
    }
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let isbn = |kind: &str| {
        info["industryIdentifiers"]
            .as_array()
            .and_then(|ids| ids.iter().find(|i| i["type"] == kind))
            .map(|i| text(&i["identifier"]))
            .unwrap_or_default()
    };
    Ok(BookDetails {
        id,
        author: text(&info["authors"][0]),
        year: info["publishedDate"].clone(),
        kind: if info["printType"] == "BOOK" {
            "paperback"
        } else {
            "unknown"
        }
        .into(),
        pages: info["pageCount"].clone(),
        publisher: text(&info["publisher"]),
        language: if info["language"] == "en" {
            "English"
        } else {
            "unknown"
        }
        .into(),
        isbn_10: isbn("ISBN_10"),
        isbn_13: isbn("ISBN_13"),
    })
}
