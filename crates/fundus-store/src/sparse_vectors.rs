//! A collection's learned sparse side: named sparse vectors (SPLADE) on
//! its points, and an inverted index per name.
//!
//! A point carries its sparse vectors beside its payload
//! ([`Point::sparse`]), so the WAL, the segments, merges and snapshots keep
//! them without knowing about them. Which names a collection has, and the
//! model that made each, is fixed at creation
//! ([`CollectionConfig::sparse_vectors`](crate::CollectionConfig)): a query
//! encoded by another model would score meaninglessly, and is refused like
//! a dense query from another model.
//!
//! The index of each name is a [`SparseVectorIndex`] over the live chunks,
//! keyed by chunk (`"{chunk}:{doc_id}"`, which does not change when rows
//! are renumbered by a flush or a merge). It is derived data: updated with
//! every upsert and delete, and rebuilt from the points when the
//! collection opens (encoding took the time; indexing a few hundred terms
//! per chunk is quick).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use fundus_sparse::SparseVectorIndex;

use crate::error::StoreError;
use crate::point::Point;

/// The model that made a sparse vector. A query must be encoded by the
/// same model (same weights).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SparseModelInfo {
    pub name: String,
    /// What the user passed to load it (a known name or a folder path), so
    /// a later ingest or search can load the same model again.
    pub source: String,
    /// sha256 of the weight file.
    pub sha256: String,
    /// Terms of the vocabulary: every term id is below it.
    pub vocab_size: usize,
    pub max_seq_length: usize,
}

/// One named sparse vector of a collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SparseVectorConfig {
    pub model: SparseModelInfo,
}

/// What is wrong with a sparse vector given to an upsert.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SparseVectorProblem {
    #[error("weight {value} of term {term} is not a finite number")]
    NotFinite { term: u32, value: f32 },
    #[error("weight {value} of term {term} is negative (sparse weights are >= 0)")]
    Negative { term: u32, value: f32 },
    #[error("term ids must be strictly increasing: term {term} follows term {previous}")]
    Unsorted { previous: u32, term: u32 },
    #[error("term {term} is outside the model's vocabulary of {vocab_size} terms")]
    OutOfVocabulary { term: u32, vocab_size: usize },
}

/// The first problem of `vector`, if any.
pub fn check_vector(vector: &[(u32, f32)], vocab_size: usize) -> Result<(), SparseVectorProblem> {
    let mut previous: Option<u32> = None;
    for &(term, value) in vector {
        if !value.is_finite() {
            return Err(SparseVectorProblem::NotFinite { term, value });
        }
        if value < 0.0 {
            return Err(SparseVectorProblem::Negative { term, value });
        }
        if let Some(previous) = previous.filter(|&p| p >= term) {
            return Err(SparseVectorProblem::Unsorted { previous, term });
        }
        if term as usize >= vocab_size {
            return Err(SparseVectorProblem::OutOfVocabulary { term, vocab_size });
        }
        previous = Some(term);
    }
    Ok(())
}

/// The names configured, for messages: `"sparse vectors: splade"` or
/// `"no sparse vectors"`.
pub(crate) fn describe(configured: &BTreeMap<String, SparseVectorConfig>) -> String {
    if configured.is_empty() {
        "no sparse vectors".into()
    } else {
        let names: Vec<&str> = configured.keys().map(String::as_str).collect();
        format!("sparse vectors: {}", names.join(", "))
    }
}

/// Refuses points whose sparse vectors the collection does not have or
/// that break [`check_vector`].
pub(crate) fn validate_points(
    collection: &str,
    configured: &BTreeMap<String, SparseVectorConfig>,
    points: &[Point],
) -> Result<(), StoreError> {
    for p in points {
        for (name, vector) in &p.sparse {
            let Some(config) = configured.get(name) else {
                return Err(StoreError::UnknownSparseVector {
                    collection: collection.into(),
                    doc_id: p.doc_id.clone(),
                    chunk: p.chunk,
                    vector: name.clone(),
                    configured: describe(configured),
                });
            };
            check_vector(vector, config.model.vocab_size).map_err(|problem| {
                StoreError::BadSparseVector {
                    doc_id: p.doc_id.clone(),
                    chunk: p.chunk,
                    vector: name.clone(),
                    problem,
                }
            })?;
        }
    }
    Ok(())
}

/// The index key of a chunk.
fn chunk_key(doc_id: &str, chunk: u32) -> String {
    format!("{chunk}:{doc_id}")
}

/// The document and chunk of an index key.
fn parse_key(key: &str) -> Option<(&str, u32)> {
    let (chunk, doc_id) = key.split_once(':')?;
    Some((doc_id, chunk.parse().ok()?))
}

/// Sizes of one sparse vector's index, for `fundus collection info`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SparseVectorStats {
    /// Chunks that have the vector.
    pub chunks: usize,
    /// Distinct terms with postings.
    pub terms: usize,
    /// Postings, including those of replaced chunks not compacted yet.
    pub postings: usize,
}

/// The inverted index of every configured sparse vector.
#[derive(Default)]
pub(crate) struct SparseIndexes {
    by_name: BTreeMap<String, SparseVectorIndex>,
}

impl SparseIndexes {
    pub(crate) fn new(configured: &BTreeMap<String, SparseVectorConfig>) -> Self {
        SparseIndexes {
            by_name: configured
                .keys()
                .map(|n| (n.clone(), SparseVectorIndex::new()))
                .collect(),
        }
    }

    /// Indexes a live point's vectors.
    pub(crate) fn insert(&mut self, p: &Point) -> Result<(), StoreError> {
        for (name, vector) in &p.sparse {
            if let Some(index) = self.by_name.get_mut(name) {
                index.upsert(chunk_key(&p.doc_id, p.chunk), vector)?;
            }
        }
        Ok(())
    }

    /// Takes a deleted or replaced point out of the indexes.
    pub(crate) fn remove(&mut self, p: &Point) {
        for name in p.sparse.keys() {
            if let Some(index) = self.by_name.get_mut(name) {
                index.delete(&chunk_key(&p.doc_id, p.chunk));
            }
        }
    }

    pub(crate) fn stats(&self) -> BTreeMap<String, SparseVectorStats> {
        self.by_name
            .iter()
            .map(|(name, index)| {
                let s = index.stats();
                let stats = SparseVectorStats {
                    chunks: s.documents,
                    terms: s.terms,
                    postings: s.postings,
                };
                (name.clone(), stats)
            })
            .collect()
    }

    /// The best `fetch` chunks of vector `name` for `query` as
    /// `(doc_id, chunk, score)`, among those `allow(doc_id, chunk)`
    /// accepts (when given); none for a name without an index.
    pub(crate) fn search(
        &self,
        name: &str,
        query: &[(u32, f32)],
        fetch: usize,
        allow: Option<ChunkFilter>,
    ) -> Result<Vec<ChunkScore<'_>>, StoreError> {
        let Some(index) = self.by_name.get(name) else {
            return Ok(Vec::new());
        };
        let key_of = |ord: u32| index.key(ord).and_then(parse_key);
        let ranked = match allow {
            None => index.search_ordinals(query, fetch)?,
            Some(allow) => {
                let allow_ord = |ord: u32| key_of(ord).is_some_and(|(d, c)| allow(d, c));
                index.search_ordinals_filtered(query, fetch, &allow_ord)?
            }
        };
        Ok(ranked
            .into_iter()
            .filter_map(|(ord, score)| key_of(ord).map(|(d, c)| (d, c, score)))
            .collect())
    }
}

/// Which chunks (`doc_id`, chunk number) a search may return.
pub(crate) type ChunkFilter<'a> = &'a dyn Fn(&str, u32) -> bool;

/// A chunk found by a sparse search: document, chunk number, score.
pub(crate) type ChunkScore<'a> = (&'a str, u32, f32);

/// Dot product of two sparse vectors sorted by term id.
pub(crate) fn dot(a: &[(u32, f32)], b: &[(u32, f32)]) -> f32 {
    let (mut i, mut j, mut sum) = (0, 0, 0.0f32);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                sum += a[i].1 * b[j].1;
                i += 1;
                j += 1;
            }
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_vectors_are_named_by_their_problem() {
        assert_eq!(check_vector(&[(1, 0.5), (7, 2.0)], 8), Ok(()));
        assert_eq!(check_vector(&[], 8), Ok(()));
        assert_eq!(
            check_vector(&[(1, f32::NAN)], 8).unwrap_err().to_string(),
            "weight NaN of term 1 is not a finite number"
        );
        assert!(matches!(
            check_vector(&[(1, f32::INFINITY)], 8),
            Err(SparseVectorProblem::NotFinite { term: 1, .. })
        ));
        assert_eq!(
            check_vector(&[(1, -0.5)], 8),
            Err(SparseVectorProblem::Negative {
                term: 1,
                value: -0.5
            })
        );
        assert_eq!(
            check_vector(&[(3, 1.0), (3, 1.0)], 8),
            Err(SparseVectorProblem::Unsorted {
                previous: 3,
                term: 3
            })
        );
        assert_eq!(
            check_vector(&[(5, 1.0), (2, 1.0)], 8),
            Err(SparseVectorProblem::Unsorted {
                previous: 5,
                term: 2
            })
        );
        assert_eq!(
            check_vector(&[(8, 1.0)], 8),
            Err(SparseVectorProblem::OutOfVocabulary {
                term: 8,
                vocab_size: 8
            })
        );
    }

    #[test]
    fn keys_round_trip_with_colons_in_ids() {
        for (doc, chunk) in [("a", 0), ("urn:x:1", 12), ("", 3)] {
            assert_eq!(parse_key(&chunk_key(doc, chunk)), Some((doc, chunk)));
        }
    }

    #[test]
    fn dot_products_of_sorted_vectors() {
        let a = [(1, 1.0), (4, 2.0), (9, 3.0)];
        let b = fundus_sparse::sparse_index::sum_by_term(&[(9, 1.0), (2, 5.0), (4, 0.5), (4, 0.5)]);
        assert_eq!(b, vec![(2, 5.0), (4, 1.0), (9, 1.0)]);
        assert_eq!(dot(&a, &b), 5.0);
        assert_eq!(dot(&a, &[]), 0.0);
    }
}
