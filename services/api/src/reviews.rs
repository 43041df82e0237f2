//! reviews: `GET /reviews/{id}`. The body is built by hand on the server
//! (byte-exact with upstream); these types are for readers of it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductReviews {
    pub id: String,
    /// Absent in images up to 1.16.2.
    #[serde(default)]
    pub podname: Option<String>,
    #[serde(default)]
    pub clustername: Option<String>,
    pub reviews: Vec<Review>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Review {
    pub reviewer: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<Rating>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Rating {
    Stars { stars: i64, color: String },
    Error { error: String },
}

pub fn path(id: &str) -> String {
    format!("/reviews/{id}")
}
