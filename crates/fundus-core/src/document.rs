//! A document as a user hands it in.

use serde::{Deserialize, Serialize};

/// One document of a corpus: BEIR's `corpus.jsonl` line or Fundus' own JSONL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub text: String,
    /// Free-form JSON object; kept as the payload of every chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
}

impl Document {
    /// The text a bi-encoder sees: `title + " " + text`, as BEIR and MTEB
    /// build it for SciFact and friends (an empty title adds nothing).
    pub fn embedding_text(&self) -> String {
        match self.title.as_deref().map(str::trim) {
            Some(title) if !title.is_empty() => format!("{title} {}", self.text),
            _ => self.text.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedding_text_joins_title_and_text() {
        let mut doc = Document {
            id: "1".into(),
            title: Some("Title".into()),
            text: "Body".into(),
            metadata: None,
        };
        assert_eq!(doc.embedding_text(), "Title Body");
        doc.title = Some("  ".into());
        assert_eq!(doc.embedding_text(), "Body");
        doc.title = None;
        assert_eq!(doc.embedding_text(), "Body");
    }
}
