//! The plug-in points: what a stage of a pipeline must be able to do.
//!
//! This crate knows no index and no model. The binary implements these
//! traits over its collection (dense), its BM25 or SPLADE index, a
//! cross-encoder, ColBERT's MaxSim…, registers them in a
//! [`StageRegistry`](crate::StageRegistry), and the runner composes them as
//! the pipeline says. A new kind of stage is a new implementation, never a
//! change to the runner.
//!
//! A stage plays one or both of two roles:
//!
//! - a [`Retriever`] finds the best `k` documents of the whole collection
//!   (`bm25(1000)` as the first stage);
//! - a [`Rescorer`] scores candidates it is given (`-> dense(100)` after
//!   another stage, `-> rerank(10)`).
//!
//! Dense similarity does both: search the vector index, or score given ids
//! against their stored vectors.

use fundus_core::Filter;
use serde::{Deserialize, Serialize};

use crate::error::StageError;

/// What a pipeline is asked.
///
/// Non-exhaustive so that later needs (a language, per-query parameters)
/// can be added without breaking stages: build it with [`Query::new`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Query {
    /// The query text, which each stage encodes its own way.
    pub text: String,
    /// A payload filter every retriever must apply inside its search (so it
    /// still returns `k` hits), and every rescorer may assume holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Filter>,
}

impl Query {
    /// A query without a filter.
    pub fn new(text: impl Into<String>) -> Self {
        Query {
            text: text.into(),
            filter: None,
        }
    }

    /// The same query, restricted to points whose payload matches `filter`.
    pub fn with_filter(mut self, filter: Filter) -> Self {
        self.filter = Some(filter);
        self
    }
}

/// What every stage has: the name a pipeline calls it by.
pub trait Stage: Send + Sync {
    /// The name in the pipeline language: ASCII letters, digits, `_` and
    /// inner `-`, starting with a letter or `_` (`bm25`, `dense`,
    /// `cross-encoder`). The fusion names `rrf`, `weighted` and `dbsf` are
    /// reserved.
    fn name(&self) -> &str;
}

/// A stage that finds candidates in the whole collection.
pub trait Retriever: Stage {
    /// The best `k` documents for `query` as `(id, score)`, higher scores
    /// better. Order, duplicates and extra hits do not matter: the runner
    /// sorts, keeps each id's best score and cuts to `k`. A NaN score is an
    /// error.
    fn retrieve(&self, query: &Query, k: usize) -> Result<Vec<(String, f32)>, StageError>;

    /// [`Retriever::retrieve`] for many queries at once, one list per query
    /// in the same order. The default runs them one by one; a model-backed
    /// stage overrides it to encode all queries in one batch.
    fn retrieve_batch(
        &self,
        queries: &[Query],
        k: usize,
    ) -> Result<Vec<Vec<(String, f32)>>, StageError> {
        queries.iter().map(|q| self.retrieve(q, k)).collect()
    }
}

/// [`Retriever::retrieve`] for a stage whose real implementation is
/// [`Retriever::retrieve_batch`] (a model-backed stage that encodes all
/// queries in one batch): a batch of one.
pub fn retrieve_one<R: Retriever + ?Sized>(
    stage: &R,
    query: &Query,
    k: usize,
) -> Result<Vec<(String, f32)>, StageError> {
    Ok(stage
        .retrieve_batch(std::slice::from_ref(query), k)?
        .pop()
        .unwrap_or_default())
}

/// A stage that scores candidates found by earlier stages.
pub trait Rescorer: Stage {
    /// Scores for `candidates` (ids, best first by the previous stage).
    /// Candidates left out are dropped from the result (a document deleted
    /// since it was found); ids that are not candidates are ignored. The
    /// runner keeps the best `k` of the pipeline's `name(k)`.
    fn rescore(
        &self,
        query: &Query,
        candidates: &[String],
    ) -> Result<Vec<(String, f32)>, StageError>;

    /// [`Rescorer::rescore`] for many queries at once: `candidates[i]`
    /// belongs to `queries[i]`, one list per query comes back. The default
    /// runs them one by one; a cross-encoder overrides it to fill its
    /// batches across queries.
    fn rescore_batch(
        &self,
        queries: &[Query],
        candidates: &[Vec<String>],
    ) -> Result<Vec<Vec<(String, f32)>>, StageError> {
        queries
            .iter()
            .zip(candidates)
            .map(|(q, c)| self.rescore(q, c))
            .collect()
    }
}
