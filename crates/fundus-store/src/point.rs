//! A point: one chunk of one document, with its payload.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A sparse vector: `(term id, weight)` pairs, term ids strictly
/// increasing, weights finite and non-negative (SPLADE's).
pub type SparseVector = Vec<(u32, f32)>;

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
    /// Sparse vectors of the chunk by name (`"splade"`), one for each
    /// sparse vector the collection is configured with
    /// ([`crate::CollectionConfig::sparse_vectors`]); a point without one
    /// is simply not found by that vector's search. Stored with the point
    /// (WAL and segments keep points as JSON), so files written before
    /// sparse vectors existed read as points without any.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sparse: BTreeMap<String, SparseVector>,
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
            sparse: BTreeMap::new(),
        }
    }
}
