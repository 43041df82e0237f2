//! The client every service calls its Bookinfo backends with: hyper's
//! pooled HTTP/1.1 client, plain HTTP (in a mesh the sidecar does TLS), so
//! that a call costs a URI parse and a pooled exchange, not the URL
//! parsing, redirect and retry machinery of a general-purpose client.

use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_LENGTH};
use http::{HeaderMap, HeaderValue, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty, LengthLimitError, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::contract::VERSION_HEADER;

/// One backend service reached at `base_url` (e.g. `http://ratings:9080`).
#[derive(Clone, Debug)]
pub struct Backend {
    http: Client<HttpConnector, Empty<Bytes>>,
    base_url: String,
    timeout: Duration,
}

/// A response that arrived, whatever its status.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
    /// The `x-bookinfo-version` the backend answered with, if any.
    pub version: Option<String>,
}

/// How long a client of the project keeps an idle pooled connection: well
/// below the 30 s after which Bookinfo servers close an idle one, so a
/// request never goes out on a connection the server is closing.
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(15);

/// The most of a response body read. The contract's bodies are a few
/// hundred bytes and a Books API answer a few kB; anything near this is not
/// a Bookinfo answer, and reading it unbounded let one backend take a caller
/// to gigabytes (a degraded page is the answer, as for any failure).
pub const MAX_BODY: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("cannot reach the backend: {0}")]
    Connect(String),
    #[error("the answer is larger than {MAX_BODY} bytes")]
    TooLarge,
    #[error("request failed: {0}")]
    Other(String),
}

/// The HTTP client could not be set up (the process cannot call anything).
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the HTTP client: {0}")]
pub struct BuildError(pub String);

impl Backend {
    /// `timeout` bounds the whole exchange (connect, head and body), which is
    /// at least as strict as the upstream connect + read timeouts.
    pub fn new(base_url: impl Into<String>, timeout: Duration) -> Result<Self, BuildError> {
        let base_url = base_url.into().trim_end_matches('/').to_owned();
        match base_url.parse::<Uri>() {
            Ok(uri) if uri.scheme_str() == Some("http") && uri.authority().is_some() => {}
            _ => {
                return Err(BuildError(format!(
                    "`{base_url}` is not an http:// URL with a host"
                )));
            }
        }
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(timeout));
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_timer(TokioTimer::new())
            .build(connector);
        Ok(Self {
            http,
            base_url,
            timeout,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// GET `{base_url}{path}` with `headers` (the forwarded set).
    pub async fn get(&self, path: &str, headers: HeaderMap) -> Result<Reply, CallError> {
        let uri: Uri = format!("{}{}", self.base_url, path)
            .parse()
            .map_err(|e| CallError::Other(format!("not a request path: {e}")))?;
        let mut request = Request::new(Empty::new());
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        // What general-purpose clients (and upstream's) send when the
        // caller names nothing.
        request
            .headers_mut()
            .entry(ACCEPT)
            .or_insert(HeaderValue::from_static("*/*"));
        tokio::time::timeout(self.timeout, self.exchange(request))
            .await
            .unwrap_or(Err(CallError::Timeout(self.timeout)))
    }

    async fn exchange(&self, request: Request<Empty<Bytes>>) -> Result<Reply, CallError> {
        let response = self.http.request(request).await.map_err(|error| {
            let text = with_causes(&error);
            if error.is_connect() {
                CallError::Connect(text)
            } else {
                CallError::Other(text)
            }
        })?;
        let (head, body) = response.into_parts();
        // A declared length above the bound is refused before reading.
        let declared = head
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_BODY as u64) {
            return Err(CallError::TooLarge);
        }
        let body = Limited::new(body, MAX_BODY)
            .collect()
            .await
            .map_err(|error| {
                if error.downcast_ref::<LengthLimitError>().is_some() {
                    CallError::TooLarge
                } else {
                    CallError::Other(with_causes(error.as_ref()))
                }
            })?
            .to_bytes();
        let version = head
            .headers
            .get(VERSION_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(Reply {
            status: head.status,
            body,
            version,
        })
    }
}

/// An error with its causes (`client error (Connect): tcp connect error:
/// Connection refused`): the outer messages alone say little.
fn with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}
