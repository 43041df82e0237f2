//! Calls to details, reviews and ratings with upstream's policy (contract
//! 2.4): one attempt for details and ratings, two for reviews (the retry
//! happens after any failure, with no back-off), each attempt bounded by
//! the per-call timeout; and the `request_result` counter, one increment
//! per logical call.

use std::fmt;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use bookinfo_api::{Backend, BuildError, CallError, Reply, contract};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Destination {
    Details,
    Reviews,
    Ratings,
}

impl Destination {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Details => "details",
            Self::Reviews => "reviews",
            Self::Ratings => "ratings",
        }
    }

    /// The sentence clients see when this backend failed.
    pub fn sorry(self) -> &'static str {
        match self {
            Self::Details => contract::DETAILS_UNAVAILABLE,
            Self::Reviews => contract::REVIEWS_UNAVAILABLE,
            Self::Ratings => contract::RATINGS_API_UNAVAILABLE,
        }
    }

    fn attempts(self) -> u32 {
        match self {
            // Upstream's deliberate bug, kept for the fault-injection task:
            // "3s + 1 retry = 6s".
            Self::Reviews => 2,
            Self::Details | Self::Ratings => 1,
        }
    }

    fn path(self, id: &str) -> String {
        match self {
            Self::Details => bookinfo_api::details::path(id),
            Self::Reviews => bookinfo_api::reviews::path(id),
            Self::Ratings => format!("/ratings/{id}"),
        }
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    destination_app: &'static str,
    response_code: u16,
}

/// Why a logical call did not answer 200.
#[derive(Debug)]
pub enum Failure {
    /// The backend answered with another status.
    Status(Reply),
    /// No answer: refused, reset or timed out.
    Call(CallError),
}

impl Failure {
    /// What the client sees: the backend's status, or 500 without one.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Status(reply) => reply.status,
            Self::Call(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status(reply) => write!(f, "answered {}", reply.status),
            Self::Call(error) => error.fmt(f),
        }
    }
}

/// The three backends, reached through pooled HTTP clients.
#[derive(Clone, Debug)]
pub struct Backends {
    details: Backend,
    reviews: Backend,
    ratings: Backend,
    results: Family<ResultLabels, Counter>,
}

impl Backends {
    /// Registers `request_result` in `registry`.
    pub fn new(
        details_url: &str,
        reviews_url: &str,
        ratings_url: &str,
        timeout: Duration,
        registry: &mut Registry,
    ) -> Result<Self, BuildError> {
        let results = Family::<ResultLabels, Counter>::default();
        registry.register("request_result", "Results of requests", results.clone());
        Ok(Self {
            details: Backend::new(details_url, timeout)?,
            reviews: Backend::new(reviews_url, timeout)?,
            ratings: Backend::new(ratings_url, timeout)?,
            results,
        })
    }

    pub fn base_url(&self, destination: Destination) -> &str {
        self.backend(destination).base_url()
    }

    fn backend(&self, destination: Destination) -> &Backend {
        match destination {
            Destination::Details => &self.details,
            Destination::Reviews => &self.reviews,
            Destination::Ratings => &self.ratings,
        }
    }

    /// One logical call: up to the destination's number of attempts, one
    /// `request_result` increment for the final outcome. `id` must already
    /// be safe as a path segment.
    pub async fn call(
        &self,
        destination: Destination,
        id: &str,
        headers: &HeaderMap,
    ) -> Result<Reply, Failure> {
        let backend = self.backend(destination);
        let path = destination.path(id);
        let mut outcome = Err(Failure::Call(CallError::Other("no attempt".to_owned())));
        for attempt in 1..=destination.attempts() {
            outcome = match backend.get(&path, headers.clone()).await {
                Ok(reply) if reply.status == StatusCode::OK => Ok(reply),
                Ok(reply) => Err(Failure::Status(reply)),
                Err(error) => Err(Failure::Call(error)),
            };
            match &outcome {
                Ok(_) => break,
                Err(failure) => {
                    tracing::debug!(%destination, attempt, %failure, "backend attempt failed");
                }
            }
        }
        let code = match &outcome {
            Ok(reply) => reply.status,
            Err(failure) => failure.status(),
        };
        self.results
            .get_or_create(&ResultLabels {
                destination_app: destination.as_str(),
                response_code: code.as_u16(),
            })
            .inc();
        outcome
    }
}
