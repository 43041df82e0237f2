use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, StatusCode};

use crate::contract::VERSION_HEADER;

/// One backend service reached at `base_url` (e.g. `http://ratings:9080`).
#[derive(Clone, Debug)]
pub struct Backend {
    http: reqwest::Client,
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
pub struct BuildError(String);

impl Backend {
    /// `timeout` bounds the whole exchange (connect, head and body), which is
    /// at least as strict as the upstream connect + read timeouts.
    pub fn new(base_url: impl Into<String>, timeout: Duration) -> Result<Self, BuildError> {
        let http = reqwest::Client::builder()
            .connect_timeout(timeout)
            .tcp_nodelay(true)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .build()
            .map_err(|e| BuildError(e.to_string()))?;
        Ok(Self {
            http,
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            timeout,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// GET `{base_url}{path}` with `headers` (the forwarded set) added.
    pub async fn get(&self, path: &str, headers: &HeaderMap) -> Result<Reply, CallError> {
        let url = format!("{}{}", self.base_url, path);
        let sent = self
            .http
            .get(url)
            .headers(headers.clone())
            .timeout(self.timeout)
            .send()
            .await;
        let response = sent.map_err(|e| self.classify(e))?;
        let status = response.status();
        let version = response
            .headers()
            .get(VERSION_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = self.body(response).await?;
        Ok(Reply {
            status,
            body,
            version,
        })
    }

    /// The body, at most [`MAX_BODY`] bytes (a declared length above it is
    /// refused before reading).
    async fn body(&self, mut response: reqwest::Response) -> Result<Bytes, CallError> {
        if response
            .content_length()
            .is_some_and(|n| n > MAX_BODY as u64)
        {
            return Err(CallError::TooLarge);
        }
        let mut body = BytesMut::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.classify(e))? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(CallError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    }

    fn classify(&self, error: reqwest::Error) -> CallError {
        if error.is_timeout() {
            CallError::Timeout(self.timeout)
        } else if error.is_connect() {
            CallError::Connect(error.to_string())
        } else {
            CallError::Other(error.to_string())
        }
    }
}
