//! ratings: `GET /ratings/{id}` and `POST /ratings/{id}`.

use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

use crate::{Backend, CallError};

/// `{"id":0,"ratings":{"Reviewer1":5,"Reviewer2":4}}`. The ratings map is
/// kept as JSON because POST stores whatever object it was given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductRatings {
    pub id: i64,
    pub ratings: serde_json::Map<String, serde_json::Value>,
}

impl ProductRatings {
    /// Stars of one reviewer, when present and an integer.
    pub fn stars(&self, reviewer: &str) -> Option<i64> {
        self.ratings
            .get(reviewer)
            .and_then(serde_json::Value::as_i64)
    }
}

pub fn path(id: i64) -> String {
    format!("/ratings/{id}")
}

#[derive(Debug, thiserror::Error)]
pub enum RatingsError {
    #[error(transparent)]
    Call(#[from] CallError),
    #[error("ratings answered {0}")]
    Status(StatusCode),
    #[error("ratings answered a body that is not ratings JSON: {0}")]
    Body(String),
}

/// Typed client, as reviews uses it.
#[derive(Clone, Debug)]
pub struct RatingsClient {
    backend: Backend,
}

impl RatingsClient {
    pub fn new(backend: Backend) -> Self {
        Self { backend }
    }

    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    pub async fn get(
        &self,
        id: i64,
        mut headers: HeaderMap,
    ) -> Result<ProductRatings, RatingsError> {
        headers.insert(
            http::header::ACCEPT,
            http::HeaderValue::from_static("application/json"),
        );
        let reply = self.backend.get(&path(id), headers).await?;
        if reply.status != StatusCode::OK {
            return Err(RatingsError::Status(reply.status));
        }
        serde_json::from_slice(&reply.body).map_err(|e| RatingsError::Body(e.to_string()))
    }
}
