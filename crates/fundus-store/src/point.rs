//! A point: one chunk of one document, with its payload.

use serde::{Deserialize, Serialize};

/// What the store keeps beside each vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub doc_id: String,
    #[serde(default)]
    pub chunk: u32,
    #[serde(default)]
    pub char_start: u32,
    #[serde(default)]
    pub char_end: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
}

impl Point {
    /// A point covering a whole (unchunked) document.
    pub fn whole(doc_id: &str, text: &str) -> Self {
        Point {
            doc_id: doc_id.into(),
            chunk: 0,
            char_start: 0,
            char_end: text.chars().count() as u32,
            title: None,
            text: text.into(),
            metadata: None,
        }
    }
}
