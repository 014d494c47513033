//! The piece of a document that a model actually sees.

use serde::{Deserialize, Serialize};

/// A window of a document's embedding text.
///
/// Offsets are in characters (Unicode scalar values), not bytes, so a UI in
/// any language can highlight the passage without knowing about UTF-8.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    pub doc_id: String,
    /// 0-based position of this chunk within its document.
    pub index: u32,
    pub char_start: u32,
    pub char_end: u32,
    pub text: String,
}
