use std::time::Duration;

use bytes::Bytes;
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

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("cannot reach the backend: {0}")]
    Connect(String),
    #[error("request failed: {0}")]
    Other(String),
}

impl Backend {
    /// `timeout` bounds the whole exchange (connect, head and body), which is
    /// at least as strict as the upstream connect + read timeouts.
    pub fn new(base_url: impl Into<String>, timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(timeout)
            .tcp_nodelay(true)
            .build()
            .unwrap_or_default();
        Self {
            http,
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            timeout,
        }
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
        let body = response.bytes().await.map_err(|e| self.classify(e))?;
        Ok(Reply {
            status,
            body,
            version,
        })
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
