//! The collection's config and its commit record.

use std::fs;
use std::io::Write;
use std::path::Path;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use fundus_core::{Metric, Reduction};

use crate::error::StoreError;
use crate::sparse_vectors::SparseVectorConfig;
use crate::text_index::TextIndexConfig;
use crate::vector_index::IndexConfig;

/// The model that produced a collection's vectors. A query must be embedded
/// by the same model (same weights), or its scores mean nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub name: String,
    /// What the user passed to load it (a known name or a folder path), so
    /// a later append can load the same model again.
    pub source: String,
    /// sha256 of the weight file.
    pub sha256: String,
    pub dim: usize,
    pub max_seq_length: usize,
    /// Prefix put before queries (E5: `query: `); queries must get the same
    /// prefix as at ingest time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_prefix: Option<String>,
    /// Prefix put before passages (E5: `passage: `).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passage_prefix: Option<String>,
}

#[cfg(test)]
impl ModelInfo {
    /// A model record for tests that store vectors without embedding text.
    pub(crate) fn toy(dim: usize) -> Self {
        ModelInfo {
            name: "toy".into(),
            source: "toy".into(),
            sha256: "00".into(),
            dim,
            max_seq_length: 16,
            query_prefix: None,
            passage_prefix: None,
        }
    }
}

/// How documents were split into chunks when they were ingested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkingInfo {
    pub size: usize,
    pub overlap: usize,
}

/// What a collection is, fixed at creation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionConfig {
    pub name: String,
    pub dim: usize,
    pub metric: Metric,
    pub model: ModelInfo,
    #[serde(default)]
    pub chunking: Option<ChunkingInfo>,
    /// Exact scan or HNSW graph, and its quantization.
    #[serde(default)]
    pub index: IndexConfig,
    /// BM25 over the documents' text; `None`: no lexical search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_index: Option<TextIndexConfig>,
    /// The model's vectors are reduced to `dim` by this before they are
    /// stored, and queries must be reduced the same way. A PCA projection
    /// is stored here in full (`dim x model.dim` floats, about 1 MB of JSON
    /// for 384 -> 256).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reduction: Option<Reduction>,
    /// Named sparse vectors (SPLADE) every point may carry, each with the
    /// model that makes them; empty: none. Manifests written before
    /// sparse vectors existed have none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sparse_vectors: BTreeMap<String, SparseVectorConfig>,
}

impl CollectionConfig {
    pub fn new(name: &str, model: ModelInfo, metric: Metric) -> Self {
        CollectionConfig {
            name: name.into(),
            dim: model.dim,
            metric,
            model,
            chunking: None,
            index: IndexConfig::default(),
            text_index: None,
            reduction: None,
            sparse_vectors: BTreeMap::new(),
        }
    }

    /// The same config storing vectors reduced by `reduction` (its output
    /// dimension becomes the collection's).
    pub fn with_reduction(mut self, reduction: Reduction) -> Self {
        self.dim = reduction.dims();
        self.reduction = Some(reduction);
        self
    }

    /// The same config with a sparse vector `name` made by `config.model`.
    pub fn with_sparse_vector(mut self, name: &str, config: SparseVectorConfig) -> Self {
        self.sparse_vectors.insert(name.to_string(), config);
        self
    }

    /// The same config with a BM25 index over the documents' text.
    pub fn with_text_index(mut self, text_index: TextIndexConfig) -> Self {
        self.text_index = Some(text_index);
        self
    }

    /// The same config with another index configuration.
    pub fn with_index(mut self, index: IndexConfig) -> Self {
        self.index = index;
        self
    }
}

/// The collection's commit record: which segments hold its points and how
/// far into the write-ahead log they reach. Operations in the WAL past
/// `applied_seq` are replayed on open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    pub config: CollectionConfig,
    /// Segment files in the collection's `segments/` folder.
    #[serde(default)]
    pub segments: Vec<String>,
    /// The last WAL sequence number whose operation the segments contain.
    #[serde(default)]
    pub applied_seq: Option<u64>,
    /// The HNSW graph saved at a flush (in `segments/`); absent while the
    /// collection is searched exactly, or before its first save.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph: Option<IndexFile>,
    /// The BM25 index saved at a flush (in `segments/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_index: Option<IndexFile>,
}

/// A saved derived index (HNSW graph, BM25). It reflects the first `rows`
/// rows in the order the segments replay (all rows when it was saved);
/// what later segments add or delete is applied to it on open. A graph's
/// keys are those row numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexFile {
    pub file: String,
    pub rows: u32,
}

pub(crate) const MANIFEST_FILE: &str = "collection.json";
/// Written by this build. 3 added delta segments (with deletes) and the
/// HNSW graph file; version 2 manifests name only full segments and read
/// the same way.
pub(crate) const FORMAT_VERSION: u32 = 3;
const OLDEST_READABLE: u32 = 2;

impl Manifest {
    /// Every file in `segments/` the manifest names.
    pub fn files(&self) -> impl Iterator<Item = &String> {
        self.segments
            .iter()
            .chain(self.graph.iter().map(|g| &g.file))
            .chain(self.text_index.iter().map(|t| &t.file))
    }

    pub(crate) fn read(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.join(MANIFEST_FILE);
        let text = fs::read_to_string(&path).map_err(|e| StoreError::io(&path, e))?;
        let m: Manifest = serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if !(OLDEST_READABLE..=FORMAT_VERSION).contains(&m.format_version) {
            return Err(StoreError::Corrupt {
                path,
                reason: format!(
                    "format version {} (this build reads {OLDEST_READABLE} to {FORMAT_VERSION}; re-ingest the collection)",
                    m.format_version
                ),
            });
        }
        Ok(m)
    }

    /// Replaces the manifest atomically: write a temporary file, fsync it,
    /// rename it over the old one, fsync the directory.
    pub(crate) fn write(&self, dir: &Path) -> Result<(), StoreError> {
        let tmp = dir.join(format!("{MANIFEST_FILE}.tmp"));
        let path = dir.join(MANIFEST_FILE);
        let body = serde_json::to_vec_pretty(self).map_err(|e| StoreError::Corrupt {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let mut f = fs::File::create(&tmp).map_err(|e| StoreError::io(&tmp, e))?;
        f.write_all(&body)
            .and_then(|_| f.sync_all())
            .map_err(|e| StoreError::io(&tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| StoreError::io(&path, e))?;
        sync_dir(dir)
    }
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(dir, e))
}
