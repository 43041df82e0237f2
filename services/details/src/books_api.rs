//! The external book API of details v2 (upstream: Google Books), looked up
//! by ISBN with the forwarded headers and a bounded timeout. Outside the
//! mesh, so over reqwest rather than the Bookinfo backend client: HTTPS
//! when the `tls` feature is on, and the same bound on the answer's size.

use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use serde_json::Value;

use bookinfo_api::MAX_BODY;
use bookinfo_api::details::BookDetails;
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

impl From<reqwest::Error> for BooksApiError {
    fn from(error: reqwest::Error) -> Self {
        if error.is_timeout() {
            Self::Timeout
        } else {
            Self::Unreachable(error.to_string())
        }
    }
}

/// The HTTP client could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the book API client: {0}")]
pub struct BuildError(String);

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
    http: reqwest::Client,
    base_url: String,
    timeout: Duration,
}

impl BooksApi {
    /// `timeout` bounds the whole exchange, connecting included.
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self, BuildError> {
        let http = reqwest::Client::builder()
            .connect_timeout(timeout)
            .pool_idle_timeout(bookinfo_api::POOL_IDLE_TIMEOUT)
            .build()
            .map_err(|e| BuildError(e.to_string()))?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            timeout,
        })
    }

    /// The book, asked for with the forwarded subset of `incoming`.
    pub async fn lookup(
        &self,
        id: i64,
        incoming: &HeaderMap,
    ) -> Result<BookDetails, BooksApiError> {
        let mut headers = HeaderMap::new();
        bookinfo_support::propagation::forward(incoming, &mut headers);
        let mut response = self
            .http
            .get(format!("{}/books/v1/volumes?q=isbn:{ISBN}", self.base_url))
            .headers(headers)
            .timeout(self.timeout)
            .send()
            .await?;
        if response.status() != StatusCode::OK {
            return Err(BooksApiError::Status(response.status()));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_BODY as u64)
        {
            return Err(BooksApiError::Unusable("larger than the size read"));
        }
        let mut body = BytesMut::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(BooksApiError::Unusable("larger than the size read"));
            }
            body.extend_from_slice(&chunk);
        }
        let answer: Value =
            serde_json::from_slice(&body).map_err(|_| BooksApiError::Unusable("not JSON"))?;
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
