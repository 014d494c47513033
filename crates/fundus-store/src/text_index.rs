//! A collection's lexical side: a BM25 index over its documents.
//!
//! Dense vectors are per chunk; BM25 is per document, as BEIR scores it and
//! as users think of "the product sheet that says LABO-288". A document's
//! text is put back together from its chunks (their character offsets tell
//! where the overlaps are), so nothing is stored twice.
//!
//! The index is derived data, kept up to date with every upsert and delete,
//! and saved beside the segments when a flush finds it due (like the HNSW
//! graph). On open, a saved index is loaded and the documents that later
//! segments touched are re-indexed; without one it is built from the
//! documents.

use std::path::Path;

use serde::{Deserialize, Serialize};

use fundus_sparse::{Analyzer, Bm25Index, Bm25Params, Bm25Variant};

use crate::error::StoreError;
use crate::point::Point;

/// How a collection indexes its text for BM25; fixed at creation (the
/// parameters k1, b and the variant can also be changed per search).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TextIndexConfig {
    /// `english`, `german`, `german-compounds` (compounds split into the
    /// collection's known words, which the index file keeps) or `standard`
    /// (no stemming, no stop words). A name, so configurations written
    /// before an analyzer existed read unchanged.
    pub analyzer: String,
    pub k1: f32,
    pub b: f32,
    /// `lucene`, `robertson` or `bm25+`.
    pub variant: String,
    /// BM25+'s lower bound per query term.
    pub delta: f32,
}

impl Default for TextIndexConfig {
    fn default() -> Self {
        let p = Bm25Params::default();
        TextIndexConfig {
            analyzer: "english".into(),
            k1: p.k1,
            b: p.b,
            variant: p.variant.name().into(),
            delta: 1.0,
        }
    }
}

impl TextIndexConfig {
    pub fn analyzer(&self) -> Result<Analyzer, StoreError> {
        Ok(Analyzer::from_name(&self.analyzer)?)
    }

    pub fn params(&self) -> Result<Bm25Params, StoreError> {
        let variant = match self.variant.as_str() {
            "lucene" => Bm25Variant::Lucene,
            "robertson" => Bm25Variant::Robertson,
            "bm25+" | "bm25plus" => Bm25Variant::Bm25Plus { delta: self.delta },
            other => {
                return Err(StoreError::InvalidConfig(format!(
                    "unknown BM25 variant {other:?}: expected lucene, robertson or bm25+"
                )))
            }
        };
        let p = Bm25Params {
            k1: self.k1,
            b: self.b,
            variant,
        };
        p.validate()?;
        Ok(p)
    }

    pub fn validate(&self) -> Result<(), StoreError> {
        self.analyzer()?;
        self.params()?;
        Ok(())
    }
}

/// The text a document was ingested with, from its chunks in chunk order:
/// the first chunk whole, then each next one from where the text so far
/// ends (chunks overlap).
pub(crate) fn document_text(chunks: &[&Point]) -> String {
    let mut text = String::new();
    let mut end = 0u32;
    for (i, c) in chunks.iter().enumerate() {
        if i == 0 {
            text.push_str(&c.text);
            end = c.char_end;
        } else if c.char_end > end {
            let skip = end.saturating_sub(c.char_start) as usize;
            text.extend(c.text.chars().skip(skip));
            end = c.char_end;
        }
    }
    text
}

/// The BM25 index of a collection.
pub(crate) struct TextIndex {
    bm25: Bm25Index,
}

impl TextIndex {
    pub(crate) fn new(config: &TextIndexConfig) -> Result<Self, StoreError> {
        Ok(TextIndex {
            bm25: Bm25Index::new(config.analyzer()?, config.params()?)?,
        })
    }

    pub(crate) fn load(path: &Path, config: &TextIndexConfig) -> Result<Self, StoreError> {
        let mut bm25 = Bm25Index::load(path)?;
        if bm25.analyzer() != config.analyzer()? {
            return Err(StoreError::Corrupt {
                path: path.to_path_buf(),
                reason: format!(
                    "built with the {} analyzer, the collection uses {}",
                    bm25.analyzer().name(),
                    config.analyzer
                ),
            });
        }
        bm25.set_params(config.params()?)?;
        Ok(TextIndex { bm25 })
    }

    pub(crate) fn save(&self, path: &Path) -> Result<(), StoreError> {
        Ok(self.bm25.save(path)?)
    }

    /// (Re-)indexes a document from its chunks (in chunk order).
    pub(crate) fn upsert(&mut self, doc_id: &str, chunks: &[&Point]) -> Result<(), StoreError> {
        Ok(self.bm25.upsert(doc_id, &document_text(chunks))?)
    }

    /// Brings compound splitting up to date with the documents now indexed
    /// (a no-op for analyzers that split no compounds), so the index no
    /// longer depends on the order documents came in.
    pub(crate) fn refresh(&mut self) -> Result<(), StoreError> {
        Ok(self.bm25.refresh_compounds()?)
    }

    pub(crate) fn delete(&mut self, doc_id: &str) {
        self.bm25.delete(doc_id);
    }

    pub(crate) fn len(&self) -> usize {
        self.bm25.len()
    }

    /// The best `k` documents for `query`, with `params` overriding the
    /// collection's k1/b/variant for this search.
    pub(crate) fn search(
        &self,
        query: &str,
        k: usize,
        params: Option<Bm25Params>,
    ) -> Result<Vec<(String, f32)>, StoreError> {
        let hits = match params {
            Some(p) if p != self.bm25.params() => {
                let mut tuned = self.bm25.clone();
                tuned.set_params(p)?;
                tuned.search(query, k)?
            }
            _ => self.bm25.search(query, k)?,
        };
        Ok(hits.into_iter().map(|h| (h.key, h.score)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_text_undoes_the_chunk_overlap() {
        let full = "Laborkühlschrank LABO-288 mit 280 L nach DIN 13277";
        let chars: Vec<char> = full.chars().collect();
        let piece = |chunk: u32, start: u32, end: u32| Point {
            chunk,
            char_start: start,
            char_end: end,
            text: chars[start as usize..end as usize].iter().collect(),
            ..Point::whole("d", "")
        };
        let (a, b, c) = (piece(0, 0, 25), piece(1, 17, 40), piece(2, 30, 50));
        assert_eq!(document_text(&[&a, &b, &c]), full);
        assert_eq!(document_text(&[&a]), "Laborkühlschrank LABO-288");
    }

    #[test]
    fn bad_settings_are_named() {
        let mut c = TextIndexConfig {
            analyzer: "klingon".into(),
            ..Default::default()
        };
        assert!(c.validate().unwrap_err().to_string().contains("klingon"));
        c.analyzer = "german".into();
        c.variant = "bm26".into();
        assert!(c.validate().unwrap_err().to_string().contains("bm26"));
        c.variant = "lucene".into();
        c.b = 2.0;
        assert!(c.validate().unwrap_err().to_string().contains("b = 2"));
    }

    #[test]
    fn configs_written_before_compound_splitting_read_unchanged() {
        // collection.json's text index as earlier versions wrote it.
        let old = r#"{"analyzer":"german","k1":1.5,"b":0.75,"variant":"lucene","delta":1.0}"#;
        let c: TextIndexConfig = serde_json::from_str(old).unwrap();
        assert_eq!(c.analyzer().unwrap(), Analyzer::German);
        assert!(!c.analyzer().unwrap().splits_compounds());
        let c: TextIndexConfig = serde_json::from_str(r#"{"analyzer":"german"}"#).unwrap();
        assert_eq!(c.params().unwrap(), Bm25Params::default());
        let c = TextIndexConfig {
            analyzer: "german-compounds".into(),
            ..Default::default()
        };
        c.validate().unwrap();
        assert!(c.analyzer().unwrap().splits_compounds());
    }

    #[test]
    fn a_compound_index_saves_and_loads_with_its_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("text.bm25");
        let config = TextIndexConfig {
            analyzer: "german-compounds".into(),
            ..Default::default()
        };
        let mut text = TextIndex::new(&config).unwrap();
        for (id, body) in [
            ("a", "Medikamentenkühlschrank nach DIN 13277"),
            ("b", "Kühlschrank mit Glastür"),
            ("c", "Der Kühlschrank für Labore"),
            ("d", "Medikamente lagern"),
            ("e", "Medikamente transportieren"),
        ] {
            let p = Point::whole(id, body);
            text.upsert(id, &[&p]).unwrap();
        }
        let query = "Kühlschrank für Medikamente";
        // "Medikamente" became a known word with the last document; the
        // refresh a flush does splits the first one against it.
        assert_ne!(text.search(query, 5, None).unwrap()[0].0, "a");
        text.refresh().unwrap();
        text.save(&path).unwrap();
        let loaded = TextIndex::load(&path, &config).unwrap();
        let hits = loaded.search(query, 5, None).unwrap();
        assert_eq!(hits[0].0, "a", "{hits:?}");
        assert_eq!(hits, text.search(query, 5, None).unwrap());
        // A german collection does not open a german-compounds index.
        let german = TextIndexConfig {
            analyzer: "german".into(),
            ..Default::default()
        };
        assert!(TextIndex::load(&path, &german).is_err());
    }
}
