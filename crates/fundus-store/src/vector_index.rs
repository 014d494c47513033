//! A collection's vectors: the `f32` rows, and past a size threshold an
//! HNSW graph over them.
//!
//! The rows (the *vector storage*) are always kept: segments are written
//! from them, exact search scans them, and a quantized graph re-scores its
//! candidates against them. Below [`IndexConfig::exact_threshold`] live
//! points the scan is the whole story — a few ten thousand vectors scan in
//! a millisecond or two, exactly, with nothing to build. When a collection
//! grows past the threshold the graph is built once from the live rows and
//! then maintained incrementally: new rows are inserted, deleted rows
//! removed at once, and a flush that compacts rows renames graph keys
//! instead of rebuilding.
//!
//! Graph keys are row numbers, so a filter or a tombstone check is a plain
//! array lookup inside the traversal.

use std::path::Path;

use serde::{Deserialize, Serialize};

use fundus_core::Metric;
use fundus_index::{FlatIndex, HnswIndex, HnswParams, Quantization, SearchParams};

use crate::error::StoreError;

/// Training sample for a quantized graph's codec: enough rows to pin
/// ranges and means down, few enough to copy in a blink.
const CODEC_SAMPLE_ROWS: usize = 20_000;

/// How a collection indexes its vectors; fixed at creation. Missing fields
/// take their defaults, unknown ones are refused.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IndexConfig {
    /// Live points below which search is an exact scan; at this size the
    /// HNSW graph is built. `usize::MAX`: always exact.
    pub exact_threshold: usize,
    /// Graph parameters, and the default `ef_search` of queries.
    pub hnsw: HnswParams,
    /// What the graph stores per vector. The `f32` rows are kept either
    /// way (for rescoring and for the segments).
    pub quantization: Quantization,
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig {
            exact_threshold: 20_000,
            hnsw: HnswParams::default(),
            quantization: Quantization::None,
        }
    }
}

impl IndexConfig {
    pub fn validate(&self) -> Result<(), StoreError> {
        self.hnsw.validate()?;
        self.quantization.validate()?;
        Ok(())
    }
}

/// Per-query knobs, Qdrant style: all default to the collection's config.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SearchOptions {
    /// Beam width of the graph search for this query.
    pub ef_search: Option<usize>,
    /// Scan every vector exactly even when a graph exists (ground truth,
    /// or a filter the caller knows to be very selective).
    pub exact: bool,
    /// Oversampling and rescoring of a quantized graph.
    #[serde(flatten)]
    pub quantization: SearchParams,
}

/// Share of points a filter must match, estimated on a sample, below
/// which a filtered query scans exactly instead of walking the graph: a
/// walk must visit about `ef / selectivity` nodes to collect `ef` matches,
/// which at 1% is most of the graph anyway.
const GRAPH_MIN_SELECTIVITY: f64 = 0.01;

/// Rows a selectivity estimate evaluates the filter on.
const SELECTIVITY_SAMPLE: usize = 2_000;

pub(crate) struct VectorIndex {
    config: IndexConfig,
    storage: FlatIndex,
    graph: Option<HnswIndex>,
}

/// Bytes in memory, per component.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct VectorMemory {
    /// `f32` rows, tombstones included.
    pub vectors: usize,
    /// The HNSW graph: links plus the vectors or codes it stores.
    pub graph: usize,
}

impl VectorIndex {
    pub(crate) fn new(dim: usize, metric: Metric, config: IndexConfig) -> Self {
        VectorIndex {
            config,
            storage: FlatIndex::new(dim, metric),
            graph: None,
        }
    }

    pub(crate) fn storage(&self) -> &FlatIndex {
        &self.storage
    }

    pub(crate) fn graph(&self) -> Option<&HnswIndex> {
        self.graph.as_ref()
    }

    pub(crate) fn memory(&self) -> VectorMemory {
        VectorMemory {
            vectors: self.storage.len() * self.storage.dim() * 4,
            graph: self.graph.as_ref().map_or(0, HnswIndex::memory_usage),
        }
    }

    /// Appends a prepared row to the storage only; [`Self::index_rows`]
    /// puts a batch of them into the graph.
    pub(crate) fn push(&mut self, prepared: &[f32]) -> Result<u32, StoreError> {
        Ok(self.storage.add_prepared(prepared)?)
    }

    /// Inserts rows `from..` into the graph, or builds the graph when
    /// `live` has reached the threshold. `is_live` says which rows count.
    pub(crate) fn index_rows(
        &mut self,
        from: u32,
        live: usize,
        is_live: &dyn Fn(u32) -> bool,
    ) -> Result<(), StoreError> {
        let to = self.storage.len() as u32;
        match &mut self.graph {
            Some(graph) => {
                let (keys, vectors) = gather(&self.storage, (from..to).filter(|&r| is_live(r)));
                graph.add_batch(&keys, &vectors)?;
            }
            None if live >= self.config.exact_threshold && live > 0 => {
                self.build_graph(is_live)?;
            }
            None => {}
        }
        Ok(())
    }

    /// Builds the graph from every live row.
    fn build_graph(&mut self, is_live: &dyn Fn(u32) -> bool) -> Result<(), StoreError> {
        let rows = (0..self.storage.len() as u32).filter(|&r| is_live(r));
        let (keys, vectors) = gather(&self.storage, rows);
        let dim = self.storage.dim();
        let sample = &vectors[..vectors.len().min(CODEC_SAMPLE_ROWS * dim)];
        let mut graph = HnswIndex::new_quantized(
            dim,
            self.storage.metric(),
            self.config.hnsw,
            self.config.quantization,
            sample,
        )?;
        graph.add_batch(&keys, &vectors)?;
        self.graph = Some(graph);
        Ok(())
    }

    /// Takes a deleted or replaced row out of the graph at once.
    pub(crate) fn remove(&mut self, row: u32) -> Result<(), StoreError> {
        if let Some(graph) = &mut self.graph {
            graph.remove(row as u64)?;
        }
        Ok(())
    }

    /// Replaces the storage with compacted rows: `kept[new] = old`, in
    /// increasing order. Graph keys of live rows are renamed to the new row
    /// numbers; each new number is at most its old one and every smaller
    /// old row has moved already, so a target key is always free.
    pub(crate) fn compact(
        &mut self,
        kept: &[u32],
        is_live: &dyn Fn(u32) -> bool,
    ) -> Result<(), StoreError> {
        let dim = self.storage.dim();
        let mut data = Vec::with_capacity(kept.len() * dim);
        for &old in kept {
            data.extend_from_slice(self.storage.vector(old as usize));
        }
        self.storage = FlatIndex::from_prepared(dim, self.storage.metric(), data)?;
        if let Some(graph) = &mut self.graph {
            for (new, &old) in kept.iter().enumerate() {
                if new as u32 != old && is_live(old) {
                    graph.rename(old as u64, new as u64)?;
                }
            }
        }
        Ok(())
    }

    /// Loads a saved graph covering rows `0..rows`: rows deleted since it
    /// was saved are taken out, and every live one must be in it (else the
    /// file does not belong to these segments). Later rows are the
    /// caller's to insert.
    pub(crate) fn load_graph(
        &mut self,
        path: &Path,
        rows: u32,
        is_live: &dyn Fn(u32) -> bool,
    ) -> Result<(), StoreError> {
        let mut graph = HnswIndex::load(
            path,
            self.storage.dim(),
            self.storage.metric(),
            self.config.hnsw,
        )?;
        for r in 0..rows {
            let key = r as u64;
            if !is_live(r) {
                graph.remove(key)?;
            } else if !graph.contains(key) {
                return Err(StoreError::Corrupt {
                    path: path.to_path_buf(),
                    reason: format!("graph lacks row {r} of the segments it was saved with"),
                });
            }
        }
        self.graph = Some(graph);
        Ok(())
    }

    /// The best `fetch` rows for `query` among those `allow` accepts.
    /// Tombstoned rows must be refused by `allow` (the graph has dropped
    /// them already; the scan has not).
    pub(crate) fn search(
        &self,
        query: &[f32],
        fetch: usize,
        allow: &(dyn Fn(u32) -> bool + Sync),
        filtered: bool,
        options: &SearchOptions,
    ) -> Result<Vec<(u32, f32)>, StoreError> {
        let scan = options.exact || (filtered && self.too_selective(allow));
        let graph = match &self.graph {
            Some(g) if !scan => g,
            _ => return Ok(self.storage.search_filtered(query, fetch, allow)?),
        };
        let allow_key = |key: u64| allow(key as u32);
        let hits = graph.search_with(
            query,
            fetch,
            options.ef_search,
            &options.quantization,
            filtered.then_some(&allow_key as &dyn Fn(u64) -> bool),
            Some(&self.storage),
        )?;
        Ok(hits.into_iter().map(|(k, s)| (k as u32, s)).collect())
    }

    /// Whether `allow` accepts so few rows (estimated on an even sample)
    /// that an exact scan beats the graph walk.
    fn too_selective(&self, allow: &dyn Fn(u32) -> bool) -> bool {
        let n = self.storage.len();
        if n == 0 {
            return false;
        }
        let step = (n / SELECTIVITY_SAMPLE).max(1);
        let sampled = (0..n).step_by(step);
        let total = sampled.clone().count();
        let hits = sampled.filter(|&r| allow(r as u32)).count();
        (hits as f64) < GRAPH_MIN_SELECTIVITY * total as f64
    }
}

/// Keys and row-major vectors of `rows`.
fn gather(storage: &FlatIndex, rows: impl Iterator<Item = u32>) -> (Vec<u64>, Vec<f32>) {
    let mut keys = Vec::new();
    let mut vectors = Vec::new();
    for r in rows {
        keys.push(r as u64);
        vectors.extend_from_slice(storage.vector(r as usize));
    }
    (keys, vectors)
}
