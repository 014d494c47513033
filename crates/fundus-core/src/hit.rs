//! What a search hands back.

use serde::{Deserialize, Serialize};

/// One search result. Scores are always "higher is better".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// The document id (not the chunk's): a document scores with its best chunk.
    pub id: String,
    pub score: f32,
    /// Which chunk of the document matched best, when the document was chunked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The text of the best chunk, for a snippet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
}
