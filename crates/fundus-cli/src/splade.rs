//! The SPLADE side of the CLI: loading a SPLADE model for a collection,
//! encoding chunks into the collection's `splade` sparse vector at ingest,
//! and the `splade` pipeline stage that searches it.
//!
//! A collection gets SPLADE vectors when it is created with
//! `--splade-model`; the model is recorded in its config, and every later
//! ingest and search loads that model (by the source it recorded) and
//! checks its weights, as the dense side does.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};

use fundus_models::registry::{self, ModelKind};
use fundus_models::SpladeEncoder;
use fundus_search::{Pipeline, Query, Rescorer, Retriever, Stage, StageError, StageRegistry};
use fundus_store::{Collection, Point, SparseModelInfo, SparseVectorConfig};

use crate::context::Context;

/// The name of the sparse vector `--splade-model` configures, and of the
/// pipeline stage that searches it.
pub const SPLADE_VECTOR: &str = "splade";

pub struct LoadedSplade {
    pub encoder: SpladeEncoder,
    pub info: SparseModelInfo,
}

impl LoadedSplade {
    /// The sparse vector config recording this model.
    pub fn vector_config(&self) -> SparseVectorConfig {
        SparseVectorConfig {
            model: self.info.clone(),
        }
    }

    /// Encodes each point's text into its `splade` sparse vector, in
    /// batches; `progress` hears how many texts each batch held.
    pub fn encode_points(
        &self,
        points: &mut [Point],
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<()> {
        let texts: Vec<&str> = points.iter().map(|p| p.text.as_str()).collect();
        let vectors = self
            .encoder
            .encode_with_progress(&texts, progress)
            .context("SPLADE encoding failed")?;
        for (p, v) in points.iter_mut().zip(vectors) {
            p.sparse.insert(SPLADE_VECTOR.to_string(), v);
        }
        Ok(())
    }
}

/// Loads a SPLADE model by known name (pulled on first use) or folder path.
pub fn load(ctx: &Context, name_or_path: &str) -> Result<LoadedSplade> {
    if let Some(m) = registry::known(name_or_path) {
        if m.kind != ModelKind::Splade {
            bail!(
                "{} is a {} model, not a SPLADE model (see `fundus models list`)",
                m.name,
                m.kind.as_str()
            );
        }
    }
    let dir = ctx
        .models
        .resolve(name_or_path, &|m| ctx.say(m))
        .with_context(|| format!("cannot provide SPLADE model {name_or_path:?}"))?;
    let encoder = SpladeEncoder::load(&dir)
        .with_context(|| format!("cannot load a SPLADE model from {}", dir.display()))?;
    let (name, source, sha256) =
        ctx.identify(name_or_path, &dir, &encoder.folder().weights_path)?;
    let info = SparseModelInfo {
        name,
        source,
        sha256,
        vocab_size: encoder.vocab_size(),
        max_seq_length: encoder.max_seq_length(),
    };
    Ok(LoadedSplade { encoder, info })
}

/// The SPLADE model of a collection's `splade` vector, loaded from the
/// source it recorded (or `requested`, which must have the same weights);
/// `None` when the collection has no SPLADE vectors and none is requested.
pub fn load_for(
    ctx: &Context,
    collection: &Collection,
    requested: Option<&str>,
) -> Result<Option<LoadedSplade>> {
    let recorded = match (collection.sparse_config(SPLADE_VECTOR), requested) {
        (Ok(m), _) => m.clone(),
        (Err(_), Some(requested)) => bail!(
            "collection {:?} was created without SPLADE vectors, and sparse vectors are fixed \
             when a collection is created: create a new collection with --splade-model {requested}, \
             ingest into it, and switch an alias (`fundus collection alias set`)",
            collection.config().name
        ),
        (Err(_), None) => return Ok(None),
    };
    let splade = load(ctx, requested.unwrap_or(&recorded.source))?;
    collection
        .check_sparse_query_model(SPLADE_VECTOR, &splade.info)
        .with_context(|| {
            format!(
                "the SPLADE model does not match collection {:?}'s",
                collection.config().name
            )
        })?;
    Ok(Some(splade))
}

/// SPLADE over the collection's `splade` sparse vectors: retrieval (dot
/// product over the inverted index, best chunk per document) and
/// re-ranking of candidates from another stage.
pub struct SpladeStage {
    collection: Arc<Collection>,
    encoder: Arc<SpladeEncoder>,
    encoding: Mutex<Duration>,
}

impl SpladeStage {
    pub fn new(collection: Arc<Collection>, encoder: Arc<SpladeEncoder>) -> Self {
        SpladeStage {
            collection,
            encoder,
            encoding: Mutex::new(Duration::ZERO),
        }
    }

    /// Time spent encoding queries so far.
    pub fn encoding_time(&self) -> Duration {
        *self.encoding.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn encode(&self, queries: &[Query]) -> Result<Vec<Vec<(u32, f32)>>, StageError> {
        let texts: Vec<&str> = queries.iter().map(|q| q.text.as_str()).collect();
        let t = Instant::now();
        let vectors = self
            .encoder
            .encode(&texts)
            .map_err(|e| StageError::with_source("SPLADE encoding failed", e))?;
        *self.encoding.lock().unwrap_or_else(PoisonError::into_inner) += t.elapsed();
        Ok(vectors)
    }
}

impl Stage for SpladeStage {
    fn name(&self) -> &str {
        SPLADE_VECTOR
    }
}

impl Retriever for SpladeStage {
    fn retrieve(&self, query: &Query, k: usize) -> Result<Vec<(String, f32)>, StageError> {
        fundus_search::retrieve_one(self, query, k)
    }

    fn retrieve_batch(
        &self,
        queries: &[Query],
        k: usize,
    ) -> Result<Vec<Vec<(String, f32)>>, StageError> {
        let vectors = self.encode(queries)?;
        queries
            .iter()
            .zip(vectors)
            .map(|(q, v)| {
                let hits = self
                    .collection
                    .search_sparse(SPLADE_VECTOR, &v, k, q.filter.as_ref())
                    .map_err(|e| StageError::with_source("SPLADE search failed", e))?;
                Ok(hits.into_iter().map(|h| (h.id, h.score)).collect())
            })
            .collect()
    }
}

impl Rescorer for SpladeStage {
    fn rescore(
        &self,
        query: &Query,
        candidates: &[String],
    ) -> Result<Vec<(String, f32)>, StageError> {
        let v = self.encode(std::slice::from_ref(query))?;
        self.collection
            .score_documents_sparse(SPLADE_VECTOR, &v[0], candidates)
            .map_err(|e| StageError::with_source("SPLADE scoring failed", e))
    }
}

/// Registers the `splade` stage when `pipeline` names it, with `encoder`
/// or else the collection's recorded model. A collection without SPLADE
/// vectors is an error that says how to get them.
pub fn add_stage(
    ctx: &Context,
    registry: &mut StageRegistry,
    pipeline: &Pipeline,
    collection: &Arc<Collection>,
    encoder: Option<Arc<SpladeEncoder>>,
) -> Result<Option<Arc<SpladeStage>>> {
    if !pipeline.stage_names().contains(&SPLADE_VECTOR) {
        return Ok(None);
    }
    let encoder = match encoder {
        Some(e) => e,
        None => match load_for(ctx, collection, None)? {
            Some(s) => Arc::new(s.encoder),
            None => bail!(
                "the pipeline uses `splade`, but collection {:?} has no SPLADE vectors. \
                 SPLADE vectors are made at ingest: create a collection with them \
                 (`fundus collection create NAME --splade-model splade-tiny`, or \
                 `fundus ingest -c NAME --splade-model splade-tiny -i FILE` for a new collection) \
                 and ingest the documents into it",
                collection.config().name
            ),
        },
    };
    let stage = Arc::new(SpladeStage::new(Arc::clone(collection), encoder));
    registry.add(Arc::clone(&stage))?;
    Ok(Some(stage))
}
