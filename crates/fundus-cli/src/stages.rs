//! Pipeline stages over a collection: `dense` (the bi-encoder and the
//! vector index) and `bm25` (the collection's text index), registered for
//! the pipeline runner of `fundus-search`. The `splade` stage (the
//! collection's SPLADE sparse vectors) lives in `crate::splade`.
//!
//! The dense stage embeds each query once, even when the pipeline uses it
//! twice (retrieve, then re-rank), and keeps the time it spent embedding
//! apart, so `fundus search` can report the embedding / search split. A
//! collection of reduced vectors (`--dims`) gets its queries reduced the
//! same way; the `full` stage (built by `fundus eval --dims`, which keeps
//! the corpus' full vectors in memory) re-ranks the short vectors'
//! candidates with the full ones: the two-stage search.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use fundus_core::{distance, Reduction};
use fundus_models::{Embedder, InputKind};
use fundus_search::{Query, Rescorer, Retriever, Stage, StageError, StageRegistry};
use fundus_store::{Collection, SearchOptions};

/// Bi-encoder retrieval and re-ranking.
pub struct DenseStage {
    collection: Arc<Collection>,
    encoder: Arc<dyn Embedder>,
    /// The collection's reduction, applied to each query vector.
    reduction: Option<Reduction>,
    options: SearchOptions,
    vectors: Mutex<HashMap<String, Arc<Vec<f32>>>>,
    embedding: Mutex<Duration>,
}

impl DenseStage {
    pub fn new(
        collection: Arc<Collection>,
        encoder: Arc<dyn Embedder>,
        options: SearchOptions,
    ) -> Self {
        DenseStage {
            reduction: collection.config().reduction.clone(),
            collection,
            encoder,
            options,
            vectors: Mutex::new(HashMap::new()),
            embedding: Mutex::new(Duration::ZERO),
        }
    }

    /// Time spent embedding queries so far.
    pub fn embedding_time(&self) -> Duration {
        *self
            .embedding
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The queries' full (unreduced) vectors; embeds those not embedded
    /// yet, in one batch.
    pub fn embed(&self, queries: &[&str]) -> Result<Vec<Arc<Vec<f32>>>, StageError> {
        let mut cache = self.vectors.lock().unwrap_or_else(PoisonError::into_inner);
        let mut missing: Vec<&str> = queries
            .iter()
            .copied()
            .filter(|q| !cache.contains_key(*q))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        if !missing.is_empty() {
            let t = Instant::now();
            let vs = self
                .encoder
                .embed(&missing, InputKind::Query)
                .map_err(|e| StageError::with_source("embedding the query failed", e))?;
            *self
                .embedding
                .lock()
                .unwrap_or_else(PoisonError::into_inner) += t.elapsed();
            for (q, v) in missing.into_iter().zip(vs) {
                cache.insert(q.to_string(), Arc::new(v));
            }
        }
        Ok(queries.iter().map(|q| Arc::clone(&cache[*q])).collect())
    }

    /// A full query vector as the collection stores vectors.
    fn stored_form<'a>(&self, full: &'a [f32]) -> Result<std::borrow::Cow<'a, [f32]>, StageError> {
        match &self.reduction {
            None => Ok(std::borrow::Cow::Borrowed(full)),
            Some(r) => r
                .apply(full)
                .map(std::borrow::Cow::Owned)
                .map_err(|e| StageError::with_source("reducing the query vector failed", e)),
        }
    }
}

impl Stage for DenseStage {
    fn name(&self) -> &str {
        "dense"
    }
}

impl Retriever for DenseStage {
    fn retrieve(&self, query: &Query, k: usize) -> Result<Vec<(String, f32)>, StageError> {
        fundus_search::retrieve_one(self, query, k)
    }

    fn retrieve_batch(
        &self,
        queries: &[Query],
        k: usize,
    ) -> Result<Vec<Vec<(String, f32)>>, StageError> {
        let texts: Vec<&str> = queries.iter().map(|q| q.text.as_str()).collect();
        let vectors = self.embed(&texts)?;
        queries
            .iter()
            .zip(vectors)
            .map(|(q, v)| {
                let v = self.stored_form(&v)?;
                let hits = self
                    .collection
                    .search_with(&v, k, q.filter.as_ref(), &self.options)
                    .map_err(|e| StageError::with_source("vector search failed", e))?;
                Ok(hits.into_iter().map(|h| (h.id, h.score)).collect())
            })
            .collect()
    }
}

impl Rescorer for DenseStage {
    fn rescore(
        &self,
        query: &Query,
        candidates: &[String],
    ) -> Result<Vec<(String, f32)>, StageError> {
        let v = self.embed(&[query.text.as_str()])?;
        self.collection
            .score_documents(&self.stored_form(&v[0])?, candidates)
            .map_err(|e| StageError::with_source("scoring candidates failed", e))
    }

    fn rescore_batch(
        &self,
        queries: &[Query],
        candidates: &[Vec<String>],
    ) -> Result<Vec<Vec<(String, f32)>>, StageError> {
        let texts: Vec<&str> = queries.iter().map(|q| q.text.as_str()).collect();
        self.embed(&texts)?;
        queries
            .iter()
            .zip(candidates)
            .map(|(q, c)| self.rescore(q, c))
            .collect()
    }
}

/// BM25 over the collection's text index.
pub struct Bm25Stage {
    collection: Arc<Collection>,
}

impl Stage for Bm25Stage {
    fn name(&self) -> &str {
        "bm25"
    }
}

impl Retriever for Bm25Stage {
    fn retrieve(&self, query: &Query, k: usize) -> Result<Vec<(String, f32)>, StageError> {
        let hits = self
            .collection
            .search_text(&query.text, k, query.filter.as_ref(), None)
            .map_err(|e| StageError::with_source("BM25 search failed", e))?;
        Ok(hits.into_iter().map(|h| (h.id, h.score)).collect())
    }
}

/// The stages a collection offers: `dense` always, `bm25` when it has a
/// text index. Returns the dense stage too, for its embedding time.
pub fn registry(
    collection: &Arc<Collection>,
    encoder: &Arc<dyn Embedder>,
    options: SearchOptions,
) -> anyhow::Result<(StageRegistry, Arc<DenseStage>)> {
    let mut registry = StageRegistry::new();
    let dense = Arc::new(DenseStage::new(
        Arc::clone(collection),
        Arc::clone(encoder),
        options,
    ));
    registry.add(Arc::clone(&dense))?;
    if collection.has_text_index() {
        registry.add_retriever(Arc::new(Bm25Stage {
            collection: Arc::clone(collection),
        }))?;
    }
    Ok((registry, dense))
}

/// Re-ranks candidates by the full-dimension vectors of their chunks
/// (best chunk per document), with the query vectors of the dense stage:
/// the second stage after a search over reduced vectors.
pub struct FullVectorStage {
    dense: Arc<DenseStage>,
    /// Each document's chunk vectors, full length.
    vectors: HashMap<String, Vec<Vec<f32>>>,
}

impl FullVectorStage {
    pub fn new(dense: Arc<DenseStage>, vectors: HashMap<String, Vec<Vec<f32>>>) -> Self {
        FullVectorStage { dense, vectors }
    }
}

impl Stage for FullVectorStage {
    fn name(&self) -> &str {
        "full"
    }
}

impl Rescorer for FullVectorStage {
    fn rescore(
        &self,
        query: &Query,
        candidates: &[String],
    ) -> Result<Vec<(String, f32)>, StageError> {
        let q = self.dense.embed(&[query.text.as_str()])?;
        Ok(candidates
            .iter()
            .filter_map(|id| {
                let chunks = self.vectors.get(id)?;
                let best = chunks
                    .iter()
                    .map(|v| distance::dot(&q[0], v))
                    .fold(f32::NEG_INFINITY, f32::max);
                Some((id.clone(), best))
            })
            .collect())
    }
}
