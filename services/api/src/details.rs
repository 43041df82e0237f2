//! details: `GET /details/{id}`.

use serde::{Deserialize, Serialize};

/// One book. Field order is the wire order of upstream details
/// (compact Ruby JSON), which serde keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BookDetails {
    pub id: i64,
    pub author: String,
    /// An integer in v1, a date string in v2 (from the external book API).
    pub year: serde_json::Value,
    #[serde(rename = "type")]
    pub kind: String,
    pub pages: serde_json::Value,
    pub publisher: String,
    pub language: String,
    #[serde(rename = "ISBN-10")]
    pub isbn_10: String,
    #[serde(rename = "ISBN-13")]
    pub isbn_13: String,
}

pub fn path(id: &str) -> String {
    format!("/details/{id}")
}
