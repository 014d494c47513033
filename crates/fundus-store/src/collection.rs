//! One collection: points with payloads and vectors, durable through a
//! write-ahead log and immutable segments.
//!
//! Writes go to the WAL first (`wal.log`, fsynced before a write is
//! acknowledged), then into memory. When the log grows past
//! [`FLUSH_BYTES`] (or on [`Collection::flush`]) what changed since the
//! last flush — new points, deleted documents — is written as a delta
//! segment, the manifest is replaced atomically to append it and the last
//! folded sequence number, and the log is reset. A crash at any point
//! leaves either the old manifest (the WAL still holds everything) or the
//! new one (the WAL records at or below `applied_seq` are skipped).
//!
//! Once [`MERGE_AT`] segments pile up, a background thread merges them into
//! one ([`crate::merge`]); the next flush swaps the merged segment in.
//!
//! Memory mirrors the files row for row: rows are numbered in the order the
//! segments replay, then the logged operations; a row deleted by a later
//! segment stays as a tombstone until a merge drops it. That is what lets
//! a saved HNSW graph, keyed by row, be reused on open.
//!
//! Vectors live in a [`VectorIndex`]: exact scans while the collection is
//! small, an HNSW graph (saved beside the segment at each flush) once it
//! passes [`IndexConfig::exact_threshold`](crate::IndexConfig).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use fs2::FileExt;
use serde::{Deserialize, Serialize};

use fundus_core::metric::validate_vector;
use fundus_core::{Filter, Hit};

use crate::error::StoreError;
use crate::manifest::{sync_dir, CollectionConfig, IndexFile, Manifest, ModelInfo, FORMAT_VERSION};
use crate::merge::{MergeJob, Merged};
use crate::point::Point;
use crate::segment;
use crate::sparse_vectors::{self, SparseIndexes, SparseModelInfo, SparseVectorStats};
use crate::text_index::TextIndex;
use crate::vector_index::{SearchOptions, VectorIndex, VectorMemory};
use crate::wal::{FsyncPolicy, Wal};

pub(crate) const WAL_FILE: &str = "wal.log";
pub(crate) const SEGMENTS_DIR: &str = "segments";
const LOCK_FILE: &str = "writer.lock";

/// WAL size at which its operations are folded into a segment.
pub const FLUSH_BYTES: u64 = 64 << 20;

/// Segment count at which a flush starts a background merge of all of them.
pub const MERGE_AT: usize = 4;

/// Share of rows not yet in the saved graph above which a flush saves the
/// graph again (else opening re-inserts them, which is slower than reading).
const GRAPH_RESAVE_SHARE: f64 = 0.25;

/// What the WAL records. Vectors are stored prepared for the metric, so a
/// replay reproduces memory bit for bit.
#[derive(Debug, Serialize, Deserialize)]
enum Operation {
    /// Replaces every point of each document id that occurs in `points`.
    Upsert {
        points: Vec<Point>,
        vectors: Vec<Vec<f32>>,
    },
    Delete {
        doc_ids: Vec<String>,
    },
}

/// A collection loaded in memory, searchable, and — when opened for
/// writing — updatable.
pub struct Collection {
    dir: PathBuf,
    manifest: Manifest,
    vectors: VectorIndex,
    /// BM25 over the documents, when the config asks for one.
    text: Option<TextIndex>,
    /// An inverted index per configured sparse vector, over live chunks.
    sparse: SparseIndexes,
    /// Row → point; rows of replaced or deleted points stay as tombstones
    /// until the next flush compacts them away.
    points: Vec<Point>,
    deleted: Vec<bool>,
    live: usize,
    doc_rows: HashMap<String, Vec<u32>>,
    /// Sequence number of the last operation applied to memory.
    last_seq: Option<u64>,
    /// Rows the manifest's segments hold; rows past it came from the WAL.
    segment_rows: u32,
    /// Documents removed since the last flush: the next delta's deletes.
    pending_deletes: HashSet<String>,
    /// A merge running in the background, swapped in by a later flush.
    merge: Option<MergeJob>,
    /// Why the last background merge failed, if it did (it is retried).
    merge_error: Option<String>,
    /// The log, held only by the writer.
    wal: Option<Wal>,
    /// Held while the collection is open for writing.
    _lock: Option<File>,
}

/// Sizes of a collection, for `fundus collection info`.
#[derive(Debug, Clone, Serialize)]
pub struct CollectionStats {
    pub points: usize,
    pub documents: usize,
    /// Rows of replaced or deleted points awaiting compaction.
    pub tombstones: usize,
    pub segments: usize,
    /// `"exact"` or `"hnsw"` (with the graph's quantization).
    pub index: String,
    pub segment_bytes_on_disk: u64,
    pub graph_bytes_on_disk: u64,
    pub wal_bytes_on_disk: u64,
    pub memory: VectorMemory,
    /// Texts and payloads of the rows, as their JSON would measure.
    pub payload_bytes_in_memory: usize,
    /// Documents in the BM25 index (`None`: the collection has none).
    pub text_index_documents: Option<usize>,
    pub text_index_bytes_on_disk: u64,
    /// Each sparse vector's index (rebuilt from the points on open).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub sparse_vectors: BTreeMap<String, SparseVectorStats>,
    /// A background merge is running.
    pub merging: bool,
    /// The last background merge failed with this error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merge_error: Option<String>,
}

impl Collection {
    pub(crate) fn create(dir: PathBuf, config: CollectionConfig) -> Result<Self, StoreError> {
        let lock = acquire_lock(&dir, &config.name)?;
        let segs = dir.join(SEGMENTS_DIR);
        fs::create_dir_all(&segs).map_err(|e| StoreError::io(&segs, e))?;
        let manifest = Manifest {
            format_version: FORMAT_VERSION,
            config,
            segments: Vec::new(),
            applied_seq: None,
            graph: None,
            text_index: None,
        };
        manifest.config.index.validate()?;
        let text = manifest
            .config
            .text_index
            .as_ref()
            .map(TextIndex::new)
            .transpose()?;
        let (wal, _) = Wal::open(dir.join(WAL_FILE), FsyncPolicy::Always)?;
        manifest.write(&dir)?;
        let c = &manifest.config;
        let vectors = VectorIndex::new(c.dim, c.metric, c.index);
        let sparse = SparseIndexes::new(&c.sparse_vectors);
        Ok(Collection {
            dir,
            manifest,
            vectors,
            text,
            sparse,
            points: Vec::new(),
            deleted: Vec::new(),
            live: 0,
            doc_rows: HashMap::new(),
            last_seq: None,
            segment_rows: 0,
            pending_deletes: HashSet::new(),
            merge: None,
            merge_error: None,
            wal: Some(wal),
            _lock: Some(lock),
        })
    }

    pub(crate) fn open(dir: PathBuf, write: bool) -> Result<Self, StoreError> {
        let manifest = Manifest::read(&dir)?;
        let lock = if write {
            Some(acquire_lock(&dir, &manifest.config.name)?)
        } else {
            None
        };
        let (dim, metric) = (manifest.config.dim, manifest.config.metric);
        let mut c = Collection {
            vectors: VectorIndex::new(dim, metric, manifest.config.index),
            text: None,
            sparse: SparseIndexes::new(&manifest.config.sparse_vectors),
            points: Vec::new(),
            deleted: Vec::new(),
            live: 0,
            doc_rows: HashMap::new(),
            last_seq: manifest.applied_seq,
            segment_rows: 0,
            pending_deletes: HashSet::new(),
            merge: None,
            merge_error: None,
            wal: None,
            _lock: lock,
            manifest,
            dir,
        };
        // Documents that segments after the saved text index touched.
        let text_rows = c.manifest.text_index.as_ref().map_or(0, |t| t.rows);
        let mut touched: HashSet<String> = HashSet::new();
        for name in c.manifest.segments.clone() {
            let seg = segment::read(&c.dir.join(SEGMENTS_DIR).join(&name), dim)?;
            if c.points.len() as u32 >= text_rows {
                touched.extend(seg.deletes.iter().cloned());
                touched.extend(seg.points.iter().map(|p| p.doc_id.clone()));
            }
            for d in &seg.deletes {
                c.remove_doc(d)?;
            }
            for (p, v) in seg.points.into_iter().zip(seg.vectors.chunks_exact(dim)) {
                c.push_row(p, v)?;
            }
        }
        c.segment_rows = c.points.len() as u32;
        c.pending_deletes.clear();
        let graph = c
            .manifest
            .graph
            .clone()
            .map(|g| (c.dir.join(SEGMENTS_DIR).join(&g.file), g.rows));
        match graph {
            // The graph is derived data: a snapshot or a copy that left it
            // behind gets it rebuilt from the rows. One that is there must
            // be intact, and must fit the rows.
            Some((path, rows)) if path.is_file() && rows <= c.segment_rows => {
                let deleted = &c.deleted;
                c.vectors
                    .load_graph(&path, rows, &|r| !deleted[r as usize])?;
                c.index_rows(rows)?;
            }
            _ => {
                c.manifest.graph = None;
                c.index_rows(0)?;
            }
        }
        c.open_text_index(touched)?;
        let wal_path = c.dir.join(WAL_FILE);
        let records = if write {
            c.remove_orphan_segments()?;
            let (mut wal, replay) = Wal::open(&wal_path, FsyncPolicy::Always)?;
            // A log lost or reset before the manifest was written would
            // restart numbering below what the segments already hold.
            if let Some(applied) = c.manifest.applied_seq {
                if wal.next_seq() <= applied {
                    wal.reset(applied + 1)?;
                }
            }
            c.wal = Some(wal);
            replay.records
        } else {
            Wal::read(&wal_path)?
        };
        for r in records {
            if c.manifest.applied_seq.is_some_and(|a| r.seq <= a) {
                continue;
            }
            let op: Operation =
                serde_json::from_slice(&r.payload).map_err(|e| StoreError::Corrupt {
                    path: wal_path.clone(),
                    reason: format!("record {}: {e}", r.seq),
                })?;
            c.apply(op)?;
            c.last_seq = Some(r.seq);
        }
        Ok(c)
    }

    /// Loads the saved BM25 index and re-indexes the documents that later
    /// segments `touched`, or builds the index from every document.
    fn open_text_index(&mut self, touched: HashSet<String>) -> Result<(), StoreError> {
        let Some(config) = self.manifest.config.text_index.clone() else {
            return Ok(());
        };
        let saved = self.manifest.text_index.clone().and_then(|t| {
            let path = self.dir.join(SEGMENTS_DIR).join(&t.file);
            (path.is_file() && t.rows <= self.segment_rows).then_some(path)
        });
        let (mut text, docs): (TextIndex, Vec<String>) = match saved {
            Some(path) => (
                TextIndex::load(&path, &config)?,
                touched.into_iter().collect(),
            ),
            None => {
                self.manifest.text_index = None;
                (
                    TextIndex::new(&config)?,
                    self.doc_rows.keys().cloned().collect(),
                )
            }
        };
        let reindexed = !docs.is_empty();
        for d in docs {
            let chunks = self.get(&d);
            if chunks.is_empty() {
                text.delete(&d);
            } else {
                text.upsert(&d, &chunks)?;
            }
        }
        if reindexed {
            text.refresh()?;
        }
        self.text = Some(text);
        Ok(())
    }

    /// Segment files not named by the manifest are left-overs of a flush
    /// that crashed before its commit.
    fn remove_orphan_segments(&self) -> Result<(), StoreError> {
        let segs = self.dir.join(SEGMENTS_DIR);
        let keep: HashSet<&str> = self.manifest.files().map(String::as_str).collect();
        let entries = fs::read_dir(&segs).map_err(|e| StoreError::io(&segs, e))?;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !keep.contains(name.as_str()) {
                fs::remove_file(e.path()).map_err(|err| StoreError::io(e.path(), err))?;
            }
        }
        Ok(())
    }

    /// Appends a row to the storage; [`Self::index_rows`] then puts new rows
    /// into the graph in one batch.
    fn push_row(&mut self, p: Point, prepared: &[f32]) -> Result<(), StoreError> {
        self.sparse.insert(&p)?;
        let row = self.vectors.push(prepared)?;
        self.doc_rows.entry(p.doc_id.clone()).or_default().push(row);
        self.points.push(p);
        self.deleted.push(false);
        self.live += 1;
        Ok(())
    }

    /// Indexes rows `from..` (or builds the graph once the collection is
    /// large enough).
    fn index_rows(&mut self, from: u32) -> Result<(), StoreError> {
        let deleted = &self.deleted;
        self.vectors
            .index_rows(from, self.live, &|r| !deleted[r as usize])
    }

    fn remove_doc(&mut self, doc_id: &str) -> Result<bool, StoreError> {
        match self.doc_rows.remove(doc_id) {
            Some(rows) => {
                for r in rows {
                    self.sparse.remove(&self.points[r as usize]);
                    self.deleted[r as usize] = true;
                    self.live -= 1;
                    self.vectors.remove(r)?;
                }
                self.pending_deletes.insert(doc_id.to_string());
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn apply(&mut self, op: Operation) -> Result<usize, StoreError> {
        match op {
            Operation::Upsert { points, vectors } => {
                let ids: HashSet<String> = points.iter().map(|p| p.doc_id.clone()).collect();
                let mut replaced = 0;
                for id in &ids {
                    replaced += usize::from(self.remove_doc(id)?);
                }
                let from = self.points.len() as u32;
                for (p, v) in points.into_iter().zip(&vectors) {
                    self.push_row(p, v)?;
                }
                self.index_rows(from)?;
                if let Some(text) = self.text.as_mut() {
                    for id in &ids {
                        text.upsert(id, &doc_chunks(&self.doc_rows, &self.points, id))?;
                    }
                }
                Ok(replaced)
            }
            Operation::Delete { doc_ids } => {
                let mut deleted = 0;
                for id in &doc_ids {
                    deleted += usize::from(self.remove_doc(id)?);
                    if let Some(text) = self.text.as_mut() {
                        text.delete(id);
                    }
                }
                Ok(deleted)
            }
        }
    }

    fn writer(&mut self) -> Result<&mut Wal, StoreError> {
        let (name, path) = (self.manifest.config.name.clone(), self.dir.join(LOCK_FILE));
        self.wal.as_mut().ok_or(StoreError::Locked { name, path })
    }

    /// Logs an operation durably, then applies it.
    fn commit(&mut self, op: Operation) -> Result<usize, StoreError> {
        let bytes = serde_json::to_vec(&op).map_err(|e| StoreError::Corrupt {
            path: self.dir.join(WAL_FILE),
            reason: e.to_string(),
        })?;
        let seq = self.writer()?.append(&bytes)?;
        let n = self.apply(op)?;
        self.last_seq = Some(seq);
        if self
            .wal
            .as_ref()
            .is_some_and(|w| w.len_bytes() > FLUSH_BYTES)
        {
            self.flush()?;
        }
        Ok(n)
    }

    pub fn config(&self) -> &CollectionConfig {
        &self.manifest.config
    }

    /// Live points (chunks).
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Live documents.
    pub fn documents(&self) -> usize {
        self.doc_rows.len()
    }

    pub fn contains_document(&self, doc_id: &str) -> bool {
        self.doc_rows.contains_key(doc_id)
    }

    /// The chunks of one document, in chunk order.
    pub fn get(&self, doc_id: &str) -> Vec<&Point> {
        doc_chunks(&self.doc_rows, &self.points, doc_id)
    }

    /// Live points with their row numbers, in row order.
    pub fn points(&self) -> impl Iterator<Item = (usize, &Point)> {
        self.points
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.deleted[*i])
    }

    /// Up to `limit` document ids after `after` in id order, for paging
    /// through a collection.
    pub fn scroll(&self, after: Option<&str>, limit: usize) -> Vec<&str> {
        let mut ids: Vec<&str> = self
            .doc_rows
            .keys()
            .map(String::as_str)
            .filter(|id| after.is_none_or(|a| *id > a))
            .collect();
        ids.sort_unstable();
        ids.truncate(limit);
        ids
    }

    /// The stored (prepared) vector of row `i`.
    pub fn vector(&self, i: usize) -> &[f32] {
        self.vectors.storage().vector(i)
    }

    /// Refuses a query model other than the one that produced the vectors
    /// (weights compared by sha256; a renamed copy of the same weights is
    /// the same model).
    pub fn check_query_model(&self, model: &ModelInfo) -> Result<(), StoreError> {
        let ours = &self.manifest.config.model;
        self.check_same_weights(
            (&ours.name, &ours.sha256, ours.dim),
            (&model.name, &model.sha256, model.dim),
        )
    }

    /// `Ok` when two models, as (name, weights' sha256, vector size), are
    /// the same weights of the same size; else [`StoreError::ModelMismatch`].
    fn check_same_weights(
        &self,
        ours: (&str, &str, usize),
        theirs: (&str, &str, usize),
    ) -> Result<(), StoreError> {
        if (ours.1, ours.2) == (theirs.1, theirs.2) {
            return Ok(());
        }
        Err(StoreError::ModelMismatch {
            collection: self.manifest.config.name.clone(),
            expected: ours.0.into(),
            expected_sha256: ours.1.into(),
            received: theirs.0.into(),
            received_sha256: theirs.1.into(),
        })
    }

    /// Whether searches walk an HNSW graph (else they scan exactly).
    pub fn has_graph(&self) -> bool {
        self.vectors.graph().is_some()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Inserts points, replacing every existing point of the documents they
    /// belong to; returns how many documents were replaced. When this
    /// returns `Ok`, the points survive a crash.
    pub fn upsert(&mut self, points: &[Point], vectors: &[Vec<f32>]) -> Result<usize, StoreError> {
        if points.len() != vectors.len() {
            return Err(StoreError::LengthMismatch {
                count: points.len(),
                vectors: vectors.len(),
            });
        }
        for p in points {
            // Filters address fields by name: a payload is an object.
            if let Some(m) = p.metadata.as_ref().filter(|m| !m.is_object()) {
                return Err(StoreError::PayloadNotObject {
                    doc_id: p.doc_id.clone(),
                    found: json_kind(m),
                });
            }
        }
        let config = &self.manifest.config;
        sparse_vectors::validate_points(&config.name, &config.sparse_vectors, points)?;
        let (dim, metric) = (config.dim, config.metric);
        let mut prepared = Vec::with_capacity(vectors.len());
        for (p, v) in points.iter().zip(vectors) {
            validate_vector(v, dim).map_err(|source| StoreError::BadVector {
                doc_id: p.doc_id.clone(),
                chunk: p.chunk,
                source,
            })?;
            let mut v = v.clone();
            metric.prepare(&mut v);
            prepared.push(v);
        }
        self.commit(Operation::Upsert {
            points: points.to_vec(),
            vectors: prepared,
        })
    }

    /// Deletes documents (all their chunks); returns how many existed.
    pub fn delete(&mut self, doc_ids: &[&str]) -> Result<usize, StoreError> {
        self.commit(Operation::Delete {
            doc_ids: doc_ids.iter().map(|s| s.to_string()).collect(),
        })
    }

    /// Writes what changed since the last flush as a delta segment, swaps
    /// in a finished background merge, saves the graph when it is due,
    /// commits all of it in one manifest write and resets the WAL. Starts
    /// a background merge when segments pile up.
    pub fn flush(&mut self) -> Result<(), StoreError> {
        let logged = self.last_seq != self.manifest.applied_seq;
        let merged = match self.merge.take_if(|m| m.is_finished()) {
            Some(job) => match job.join() {
                Ok(m) => Some(m),
                Err(e) => {
                    self.merge_error = Some(e.to_string());
                    None
                }
            },
            None => None,
        };
        if !logged && merged.is_none() {
            // Nothing logged since the last commit: the segments are current.
            return self.maybe_start_merge();
        }
        let dim = self.manifest.config.dim;
        let segs = self.dir.join(SEGMENTS_DIR);
        let old: Vec<String> = self.manifest.files().cloned().collect();
        if logged {
            // Memory first: the delta's rows, tombstones dropped, become the
            // rows a replay of the segments produces.
            let from = self.segment_rows;
            let kept: Vec<u32> = (0..from)
                .chain((from..self.points.len() as u32).filter(|&r| !self.deleted[r as usize]))
                .collect();
            self.compact_rows(&kept)?;
            let mut deletes: Vec<String> = self.pending_deletes.drain().collect();
            deletes.sort_unstable();
            // Named after the last operation it holds, which no earlier
            // segment of this collection can share.
            let name = format!("seg-{:012}.seg", self.last_seq.map_or(0, |s| s + 1));
            let (start, end) = (from as usize, self.points.len());
            let vectors = &self.vectors.storage().as_slice()[start * dim..end * dim];
            segment::write_parts(
                &segs,
                &name,
                dim,
                &self.points[start..end],
                vectors,
                &deletes,
            )?;
            self.manifest.segments.push(name);
            self.segment_rows = self.points.len() as u32;
        }
        if let Some(m) = merged {
            self.install_merge(m)?;
        }
        if let Some(text) = self.text.as_mut() {
            // Compounds split against the vocabulary of every document
            // flushed (`fundus ingest` ends with a flush).
            text.refresh()?;
        }
        self.save_graph_if_due()?;
        self.save_text_if_due()?;
        self.manifest.format_version = FORMAT_VERSION;
        self.manifest.applied_seq = self.last_seq;
        self.manifest.write(&self.dir)?;
        if logged {
            let next_seq = self.last_seq.map_or(0, |s| s + 1);
            self.writer()?.reset(next_seq)?;
        }
        let current: HashSet<&String> = self.manifest.files().collect();
        for o in old.iter().filter(|o| !current.contains(o)) {
            let p = segs.join(o);
            fs::remove_file(&p).map_err(|e| StoreError::io(&p, e))?;
        }
        self.maybe_start_merge()
    }

    /// Swaps a merged segment in for the run it replaces, in memory and in
    /// the manifest (the caller commits the manifest).
    fn install_merge(&mut self, m: Merged) -> Result<(), StoreError> {
        let n = m.sources.len();
        if self.manifest.segments.len() < n || self.manifest.segments[..n] != m.sources[..] {
            // Cannot happen while only this writer changes the list; refuse
            // rather than guess.
            let _ = fs::remove_file(self.dir.join(SEGMENTS_DIR).join(&m.name));
            self.merge_error = Some("segments changed under the merge".into());
            return Ok(());
        }
        let kept: Vec<u32> = m
            .kept
            .iter()
            .copied()
            .chain(m.rows..self.points.len() as u32)
            .collect();
        self.compact_rows(&kept)?;
        self.segment_rows -= m.rows - m.kept.len() as u32;
        self.manifest.segments.splice(..n, [m.name]);
        // Rows were renumbered: the saved graph and the text index's row
        // mark no longer fit.
        self.manifest.graph = None;
        self.manifest.text_index = None;
        self.merge_error = None;
        Ok(())
    }

    /// Saves the graph when none is saved or too many rows are missing
    /// from the saved one. Called only when memory equals the segments'
    /// replay (no logged rows beyond them), which makes its keys valid.
    fn save_graph_if_due(&mut self) -> Result<(), StoreError> {
        let Some(graph) = self.vectors.graph() else {
            self.manifest.graph = None;
            return Ok(());
        };
        let rows = self.points.len() as u32;
        let covered = self.manifest.graph.as_ref().map_or(0, |g| g.rows);
        let missing = rows.saturating_sub(covered) as f64;
        if self.manifest.graph.is_some() && missing <= GRAPH_RESAVE_SHARE * rows as f64 {
            return Ok(());
        }
        let file = format!("graph-{:012}.hnsw", self.last_seq.map_or(0, |s| s + 1));
        let segs = self.dir.join(SEGMENTS_DIR);
        graph.save(&segs.join(&file))?;
        sync_dir(&segs)?;
        self.manifest.graph = Some(IndexFile { file, rows });
        Ok(())
    }

    /// Saves the BM25 index under the same rule as the graph.
    fn save_text_if_due(&mut self) -> Result<(), StoreError> {
        let Some(text) = &self.text else {
            return Ok(());
        };
        let rows = self.points.len() as u32;
        let covered = self.manifest.text_index.as_ref().map_or(0, |t| t.rows);
        let missing = rows.saturating_sub(covered) as f64;
        if self.manifest.text_index.is_some() && missing <= GRAPH_RESAVE_SHARE * rows as f64 {
            return Ok(());
        }
        let file = format!("text-{:012}.bm25", self.last_seq.map_or(0, |s| s + 1));
        let segs = self.dir.join(SEGMENTS_DIR);
        text.save(&segs.join(&file))?;
        sync_dir(&segs)?;
        self.manifest.text_index = Some(IndexFile { file, rows });
        Ok(())
    }

    /// Starts merging all segments in the background once there are
    /// [`MERGE_AT`] of them (and no merge runs).
    fn maybe_start_merge(&mut self) -> Result<(), StoreError> {
        if self.merge.is_some() || self.manifest.segments.len() < MERGE_AT {
            return Ok(());
        }
        self.start_merge();
        Ok(())
    }

    fn start_merge(&mut self) {
        let sources = self.manifest.segments.clone();
        let Some(last) = sources.last() else {
            return;
        };
        let name = format!("{}-merged.seg", last.trim_end_matches(".seg"));
        let dir = self.dir.join(SEGMENTS_DIR);
        match MergeJob::start(dir, sources, name, self.manifest.config.dim) {
            Ok(job) => self.merge = Some(job),
            Err(e) => self.merge_error = Some(e.to_string()),
        }
    }

    /// Flushes, then merges every segment into one and swaps it in,
    /// waiting for it: no tombstones are left and the collection opens
    /// from one segment and one graph.
    pub fn optimize(&mut self) -> Result<(), StoreError> {
        self.flush()?;
        // A merge already running covers part of the list: a second round
        // merges the rest.
        for _ in 0..2 {
            self.merge_all_now()?;
        }
        Ok(())
    }

    fn merge_all_now(&mut self) -> Result<(), StoreError> {
        if self.merge.is_none()
            && (self.manifest.segments.len() > 1 || self.live < self.points.len())
        {
            self.start_merge();
        }
        if let Some(job) = self.merge.take() {
            let m = job.join()?;
            let old: Vec<String> = self.manifest.files().cloned().collect();
            self.install_merge(m)?;
            self.save_graph_if_due()?;
            self.save_text_if_due()?;
            self.manifest.write(&self.dir)?;
            let segs = self.dir.join(SEGMENTS_DIR);
            let current: HashSet<&String> = self.manifest.files().collect();
            for o in old.iter().filter(|o| !current.contains(o)) {
                let p = segs.join(o);
                fs::remove_file(&p).map_err(|e| StoreError::io(&p, e))?;
            }
        }
        Ok(())
    }

    /// Keeps rows `kept` (increasing) in that order and drops the rest from
    /// memory; tombstones among the kept rows stay tombstones, graph keys
    /// follow the new numbers.
    fn compact_rows(&mut self, kept: &[u32]) -> Result<(), StoreError> {
        if kept.len() == self.points.len() {
            return Ok(());
        }
        let deleted = &self.deleted;
        self.vectors.compact(kept, &|r| !deleted[r as usize])?;
        let mut old: Vec<Option<Point>> = std::mem::take(&mut self.points)
            .into_iter()
            .map(Some)
            .collect();
        let old_deleted = std::mem::take(&mut self.deleted);
        self.doc_rows.clear();
        for (new, &r) in kept.iter().enumerate() {
            let Some(p) = old[r as usize].take() else {
                continue;
            };
            let dead = old_deleted[r as usize];
            if !dead {
                self.doc_rows
                    .entry(p.doc_id.clone())
                    .or_default()
                    .push(new as u32);
            }
            self.points.push(p);
            self.deleted.push(dead);
        }
        Ok(())
    }

    /// The `k` best documents for a query vector. A document scores with its
    /// best chunk.
    pub fn search(&self, query: &[f32], k: usize) -> Result<Vec<Hit>, StoreError> {
        self.search_with(query, k, None, &SearchOptions::default())
    }

    /// Like [`Collection::search`], among the points whose payload
    /// (`metadata`) satisfies `filter`.
    pub fn search_filtered(
        &self,
        query: &[f32],
        k: usize,
        filter: Option<&Filter>,
    ) -> Result<Vec<Hit>, StoreError> {
        self.search_with(query, k, filter, &SearchOptions::default())
    }

    /// The `k` best documents among the points whose payload (`metadata`)
    /// satisfies `filter`, with per-query knobs. The filter is checked
    /// inside the scan or the graph traversal, not on a short list after
    /// it, so it never starves the result; deleted points never score.
    pub fn search_with(
        &self,
        query: &[f32],
        k: usize,
        filter: Option<&Filter>,
        options: &SearchOptions,
    ) -> Result<Vec<Hit>, StoreError> {
        let (points, deleted) = (&self.points, &self.deleted);
        let allow = |row: u32| {
            let r = row as usize;
            !deleted[r] && filter.is_none_or(|f| f.matches(points[r].metadata.as_ref()))
        };
        if k == 0 || self.live == 0 {
            // Still refuse a malformed query.
            fundus_core::metric::validate_vector(query, self.manifest.config.dim)?;
            return Ok(Vec::new());
        }
        self.best_chunk_per_document(k, |fetch| {
            let raw = self
                .vectors
                .search(query, fetch, &allow, filter.is_some(), options)?;
            Ok(raw
                .into_iter()
                .map(|(row, score)| (&self.points[row as usize], score))
                .collect())
        })
    }

    /// The first `k` documents of a ranking of chunks, each with its best
    /// chunk. Several chunks of one document may rank together, so
    /// `ranked(fetch)` (the best `fetch` chunks, best first) is asked for
    /// more until `k` documents are found or the chunks run out.
    fn best_chunk_per_document<'a>(
        &'a self,
        k: usize,
        ranked: impl Fn(usize) -> Result<Vec<(&'a Point, f32)>, StoreError>,
    ) -> Result<Vec<Hit>, StoreError> {
        let mut fetch = (k * 4).max(16).min(self.live);
        loop {
            let raw = ranked(fetch)?;
            let mut seen = HashSet::new();
            let mut hits = Vec::with_capacity(k);
            for &(p, score) in &raw {
                if seen.insert(p.doc_id.as_str()) {
                    hits.push(Hit {
                        id: p.doc_id.clone(),
                        score,
                        chunk: Some(p.chunk),
                        title: p.title.clone(),
                        text: Some(p.text.clone()),
                        metadata: p.metadata.clone(),
                    });
                    if hits.len() == k {
                        break;
                    }
                }
            }
            if hits.len() == k || raw.len() < fetch || fetch >= self.live {
                return Ok(hits);
            }
            fetch = (fetch * 4).min(self.live);
        }
    }

    /// The `k` best documents for `query` by BM25 among those whose
    /// payload satisfies `filter`; `params` overrides the collection's k1,
    /// b and variant for this search. Scores are BM25's; each hit carries
    /// the document's first chunk as its text.
    ///
    /// The filter is applied to BM25's ranking (fetching more until `k`
    /// documents pass or the ranking runs out), not inside it.
    pub fn search_text(
        &self,
        query: &str,
        k: usize,
        filter: Option<&Filter>,
        params: Option<fundus_sparse::Bm25Params>,
    ) -> Result<Vec<Hit>, StoreError> {
        let text = self
            .text
            .as_ref()
            .ok_or_else(|| StoreError::NoTextIndex(self.manifest.config.name.clone()))?;
        if k == 0 {
            return Ok(Vec::new());
        }
        let total = text.len();
        let mut fetch = if filter.is_some() { (k * 4).max(64) } else { k };
        loop {
            let ranked = text.search(query, fetch.min(total), params)?;
            let mut hits = Vec::with_capacity(k);
            for (id, score) in &ranked {
                let chunks = self.get(id);
                let Some(first) = chunks.first() else {
                    continue;
                };
                if filter.is_some_and(|f| !f.matches(first.metadata.as_ref())) {
                    continue;
                }
                hits.push(Hit {
                    id: id.clone(),
                    score: *score,
                    chunk: None,
                    title: first.title.clone(),
                    text: Some(first.text.clone()),
                    metadata: first.metadata.clone(),
                });
                if hits.len() == k {
                    break;
                }
            }
            if hits.len() == k || ranked.len() < fetch || fetch >= total {
                return Ok(hits);
            }
            fetch = (fetch * 4).min(total);
        }
    }

    /// Exact scores of the given documents for a query vector (each by its
    /// best chunk), for re-ranking candidates that another stage found.
    /// Unknown ids are left out.
    pub fn score_documents(
        &self,
        query: &[f32],
        doc_ids: &[String],
    ) -> Result<Vec<(String, f32)>, StoreError> {
        let config = &self.manifest.config;
        fundus_core::metric::validate_vector(query, config.dim)?;
        let mut q = query.to_vec();
        config.metric.prepare(&mut q);
        let storage = self.vectors.storage();
        Ok(doc_ids
            .iter()
            .filter_map(|id| {
                let rows = self.doc_rows.get(id)?;
                let best = rows
                    .iter()
                    .map(|&r| config.metric.score(&q, storage.vector(r as usize)))
                    .fold(f32::NEG_INFINITY, f32::max);
                Some((id.clone(), best))
            })
            .collect())
    }

    /// The `k` best documents for a sparse query vector of the collection's
    /// sparse vector `name` (a document scores with its best chunk: the
    /// highest dot product), among the points whose payload satisfies
    /// `filter`, checked inside the search. Only chunks sharing a term with
    /// the query score, so fewer than `k` documents may come back.
    pub fn search_sparse(
        &self,
        name: &str,
        query: &[(u32, f32)],
        k: usize,
        filter: Option<&Filter>,
    ) -> Result<Vec<Hit>, StoreError> {
        self.sparse_config(name)?;
        let allow = |doc_id: &str, chunk: u32| {
            self.chunk(doc_id, chunk)
                .is_some_and(|p| filter.is_none_or(|f| f.matches(p.metadata.as_ref())))
        };
        let allow = filter
            .is_some()
            .then_some(&allow as &dyn Fn(&str, u32) -> bool);
        if k == 0 || self.live == 0 {
            return Ok(Vec::new());
        }
        self.best_chunk_per_document(k, |fetch| {
            let raw = self.sparse.search(name, query, fetch, allow)?;
            Ok(raw
                .into_iter()
                .filter_map(|(doc_id, chunk, score)| Some((self.chunk(doc_id, chunk)?, score)))
                .collect())
        })
    }

    /// Exact sparse scores of the given documents (each by its best
    /// chunk's dot product with `query`), for re-ranking candidates that
    /// another stage found. Unknown ids are left out.
    pub fn score_documents_sparse(
        &self,
        name: &str,
        query: &[(u32, f32)],
        doc_ids: &[String],
    ) -> Result<Vec<(String, f32)>, StoreError> {
        self.sparse_config(name)?;
        let query = fundus_sparse::sparse_index::sum_by_term(query);
        Ok(doc_ids
            .iter()
            .filter_map(|id| {
                let rows = self.doc_rows.get(id)?;
                let best = rows
                    .iter()
                    .map(|&r| {
                        self.points[r as usize]
                            .sparse
                            .get(name)
                            .map_or(0.0, |v| sparse_vectors::dot(&query, v))
                    })
                    .fold(f32::NEG_INFINITY, f32::max);
                Some((id.clone(), best))
            })
            .collect())
    }

    /// The live point of a document's chunk.
    fn chunk(&self, doc_id: &str, chunk: u32) -> Option<&Point> {
        self.doc_rows
            .get(doc_id)?
            .iter()
            .map(|&r| &self.points[r as usize])
            .find(|p| p.chunk == chunk)
    }

    /// The model of sparse vector `name`, or [`StoreError::NoSparseVector`].
    pub fn sparse_config(&self, name: &str) -> Result<&SparseModelInfo, StoreError> {
        let c = &self.manifest.config;
        c.sparse_vectors
            .get(name)
            .map(|s| &s.model)
            .ok_or_else(|| StoreError::NoSparseVector {
                collection: c.name.clone(),
                vector: name.into(),
                configured: sparse_vectors::describe(&c.sparse_vectors),
            })
    }

    /// Refuses a sparse query model other than the one that made the
    /// collection's sparse vector `name` (weights compared by sha256).
    pub fn check_sparse_query_model(
        &self,
        name: &str,
        model: &SparseModelInfo,
    ) -> Result<(), StoreError> {
        let ours = self.sparse_config(name)?;
        self.check_same_weights(
            (&ours.name, &ours.sha256, ours.vocab_size),
            (&model.name, &model.sha256, model.vocab_size),
        )
    }

    /// Whether the collection has a BM25 index.
    pub fn has_text_index(&self) -> bool {
        self.text.is_some()
    }

    pub fn stats(&self) -> CollectionStats {
        let segs = self.dir.join(SEGMENTS_DIR);
        let size = |p: &Path| fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let index = match self.vectors.graph() {
            Some(g) => match g.quantization() {
                fundus_index::Quantization::None => "hnsw".to_string(),
                q => format!("hnsw ({})", q.name()),
            },
            None => "exact".to_string(),
        };
        let payload_bytes_in_memory = self
            .points
            .iter()
            .map(|p| {
                p.doc_id.len()
                    + p.text.len()
                    + p.title.as_ref().map_or(0, String::len)
                    + p.metadata.as_ref().map_or(0, |m| m.to_string().len())
            })
            .sum();
        CollectionStats {
            points: self.live,
            documents: self.documents(),
            tombstones: self.points.len() - self.live,
            segments: self.manifest.segments.len(),
            index,
            segment_bytes_on_disk: self
                .manifest
                .segments
                .iter()
                .map(|s| size(&segs.join(s)))
                .sum(),
            graph_bytes_on_disk: self
                .manifest
                .graph
                .as_ref()
                .map_or(0, |g| size(&segs.join(&g.file))),
            wal_bytes_on_disk: size(&self.dir.join(WAL_FILE)),
            memory: self.vectors.memory(),
            payload_bytes_in_memory,
            text_index_documents: self.text.as_ref().map(TextIndex::len),
            text_index_bytes_on_disk: self
                .manifest
                .text_index
                .as_ref()
                .map_or(0, |t| size(&segs.join(&t.file))),
            sparse_vectors: self.sparse.stats(),
            merging: self.merge.is_some(),
            merge_error: self.merge_error.clone(),
        }
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// The chunks of one document, in chunk order (a free function so that a
/// caller can hold other fields of the collection mutably meanwhile).
fn doc_chunks<'a>(
    doc_rows: &HashMap<String, Vec<u32>>,
    points: &'a [Point],
    doc_id: &str,
) -> Vec<&'a Point> {
    let mut v: Vec<&Point> = doc_rows
        .get(doc_id)
        .map(|rows| rows.iter().map(|&r| &points[r as usize]).collect())
        .unwrap_or_default();
    v.sort_by_key(|p| p.chunk);
    v
}

fn acquire_lock(dir: &Path, name: &str) -> Result<File, StoreError> {
    let path = dir.join(LOCK_FILE);
    let f = File::create(&path).map_err(|e| StoreError::io(&path, e))?;
    f.try_lock_exclusive().map_err(|_| StoreError::Locked {
        name: name.into(),
        path: path.clone(),
    })?;
    sync_dir(dir)?;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DataDir;
    use fundus_core::{CoreError, Metric};
    use std::io::Write;

    fn model() -> ModelInfo {
        ModelInfo::toy(3)
    }

    fn point(doc: &str, chunk: u32) -> Point {
        Point {
            chunk,
            ..Point::whole(doc, &format!("{doc} chunk {chunk}"))
        }
    }

    fn create(data: &DataDir) -> Collection {
        data.create(CollectionConfig::new("c", model(), Metric::Cosine))
            .unwrap()
    }

    #[test]
    fn upsert_reopen_and_search_by_best_chunk() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path());
        let mut c = create(&data);
        c.upsert(
            &[point("a", 0), point("a", 1), point("b", 0)],
            &[
                vec![1.0, 0.0, 0.0],
                vec![0.9, 0.1, 0.0],
                vec![0.0, 1.0, 0.0],
            ],
        )
        .unwrap();
        drop(c);
        let c = data.open("c").unwrap();
        assert_eq!((c.len(), c.documents()), (3, 2));
        let hits = c.search(&[1.0, 0.05, 0.0], 2).unwrap();
        let ids: Vec<_> = hits.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(
            ids,
            ["a", "b"],
            "a document appears once, with its best chunk"
        );
        assert_eq!(hits[0].chunk, Some(0));
        assert_eq!(c.get("a").len(), 2);
        assert_eq!(c.scroll(None, 10), vec!["a", "b"]);
        assert_eq!(c.scroll(Some("a"), 10), vec!["b"]);
    }

    #[test]
    fn upsert_replaces_and_delete_is_honoured_at_once_and_after_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path());
        let mut c = create(&data);
        c.upsert(
            &[point("a", 0), point("a", 1), point("b", 0)],
            &[
                vec![1.0, 0.0, 0.0],
                vec![0.9, 0.1, 0.0],
                vec![0.0, 1.0, 0.0],
            ],
        )
        .unwrap();
        let mut new_a = point("a", 0);
        new_a.text = "replaced".into();
        assert_eq!(c.upsert(&[new_a], &[vec![0.0, 0.0, 1.0]]).unwrap(), 1);
        assert_eq!((c.len(), c.documents()), (2, 2));
        assert_eq!(c.get("a")[0].text, "replaced");
        assert_eq!(c.search(&[1.0, 0.0, 0.0], 1).unwrap()[0].id, "b");
        assert_eq!(c.delete(&["b", "zzz"]).unwrap(), 1);
        let hits = c.search(&[0.0, 1.0, 0.0], 5).unwrap();
        assert_eq!(hits.len(), 1, "deleted points never score");
        assert_eq!(hits[0].id, "a");
        drop(c);
        let mut c = data.open_for_write("c").unwrap();
        assert_eq!((c.len(), c.documents()), (1, 1));
        c.flush().unwrap();
        assert_eq!(c.stats().tombstones, 0);
        assert_eq!(c.stats().segments, 1);
        c.upsert(&[point("d", 0)], &[vec![0.0, 1.0, 0.0]]).unwrap();
        drop(c);
        let c = data.open("c").unwrap();
        assert_eq!(c.scroll(None, 10), vec!["a", "d"]);
        assert_eq!(c.get("a")[0].text, "replaced");
    }

    #[test]
    fn repeated_flushes_keep_the_segment() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path());
        let mut c = create(&data);
        c.flush().unwrap();
        c.upsert(&[point("a", 0)], &[vec![1.0, 0.0, 0.0]]).unwrap();
        c.flush().unwrap();
        c.upsert(&[point("b", 0)], &[vec![0.0, 1.0, 0.0]]).unwrap();
        c.flush().unwrap();
        c.flush().unwrap();
        drop(c);
        let mut c = data.open_for_write("c").unwrap();
        c.flush().unwrap();
        drop(c);
        let c = data.open("c").unwrap();
        assert_eq!(c.scroll(None, 10), vec!["a", "b"]);
        assert_eq!(c.stats().segments, 2, "one delta per flush that had news");
    }

    #[test]
    fn deltas_replay_deletes_and_replacements_across_segments() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path());
        let mut c = create(&data);
        c.upsert(
            &[point("a", 0), point("a", 1), point("b", 0), point("c", 0)],
            &[
                vec![1.0, 0.0, 0.0],
                vec![0.9, 0.1, 0.0],
                vec![0.0, 1.0, 0.0],
                vec![0.0, 0.0, 1.0],
            ],
        )
        .unwrap();
        c.flush().unwrap();
        // Replace a (now one chunk), delete b, add d; one more delta.
        let mut a2 = point("a", 0);
        a2.text = "a, second version".into();
        c.upsert(&[a2], &[vec![0.0, 0.5, 0.5]]).unwrap();
        c.delete(&["b"]).unwrap();
        c.upsert(&[point("d", 0)], &[vec![0.5, 0.5, 0.0]]).unwrap();
        // Added and removed between two flushes: never reaches a segment.
        c.upsert(&[point("e", 0)], &[vec![0.1, 0.1, 0.1]]).unwrap();
        c.delete(&["e"]).unwrap();
        c.flush().unwrap();
        assert_eq!(c.stats().segments, 2);
        let before: Vec<String> = ids(&c.search(&[1.0, 0.2, 0.1], 10).unwrap());
        drop(c);
        let c = data.open("c").unwrap();
        assert_eq!(c.scroll(None, 10), vec!["a", "c", "d"]);
        assert_eq!(c.get("a").len(), 1);
        assert_eq!(c.get("a")[0].text, "a, second version");
        assert_eq!(c.stats().tombstones, 3, "a's two old chunks and b");
        assert_eq!(ids(&c.search(&[1.0, 0.2, 0.1], 10).unwrap()), before);
        drop(c);
        let mut c = data.open_for_write("c").unwrap();
        c.optimize().unwrap();
        assert_eq!((c.stats().segments, c.stats().tombstones), (1, 0));
        drop(c);
        let c = data.open("c").unwrap();
        assert_eq!(c.scroll(None, 10), vec!["a", "c", "d"]);
        assert_eq!(ids(&c.search(&[1.0, 0.2, 0.1], 10).unwrap()), before);
        let files = fs::read_dir(c.dir().join(SEGMENTS_DIR)).unwrap().count();
        assert_eq!(files, 1, "merged sources are removed");
    }

    #[test]
    fn segments_merge_in_the_background_and_the_next_flush_swaps_them_in() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path());
        let mut c = graph_collection(&data, fundus_index::Quantization::None);
        let vectors = random_vectors(600, 24, 21);
        for round in 0..MERGE_AT {
            let range = round * 150..(round + 1) * 150;
            let points: Vec<Point> = range.clone().map(|i| point(&format!("d{i}"), 0)).collect();
            c.upsert(&points, &vectors[range]).unwrap();
            // Some deletes reach into earlier segments.
            if round > 0 {
                let gone = format!("d{}", (round - 1) * 150);
                c.delete(&[gone.as_str()]).unwrap();
            }
            c.flush().unwrap();
        }
        assert!(c.stats().merging || c.stats().segments == 1);
        let queries = random_vectors(10, 24, 22);
        let before: Vec<Vec<String>> = queries
            .iter()
            .map(|q| ids(&c.search(q, 10).unwrap()))
            .collect();
        // The merge finishes on its own; a flush with nothing logged still
        // swaps it in.
        for _ in 0..200 {
            if c.merge.as_ref().is_none_or(|m| m.is_finished()) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        c.flush().unwrap();
        let stats = c.stats();
        assert_eq!((stats.segments, stats.tombstones), (1, 0), "{stats:?}");
        assert!(stats.merge_error.is_none());
        assert!(c.has_graph());
        let after: Vec<Vec<String>> = queries
            .iter()
            .map(|q| ids(&c.search(q, 10).unwrap()))
            .collect();
        assert_eq!(before, after);
        assert_eq!(c.len(), 600 - (MERGE_AT - 1));
        drop(c);
        let c = data.open("g").unwrap();
        assert_eq!(c.len(), 600 - (MERGE_AT - 1));
        assert!(
            c.manifest.graph.is_some(),
            "the graph was saved after the merge"
        );
        let reopened: Vec<Vec<String>> = queries
            .iter()
            .map(|q| ids(&c.search(q, 10).unwrap()))
            .collect();
        assert_eq!(before, reopened);
    }

    #[test]
    fn a_saved_graph_is_extended_by_later_deltas_on_open() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path());
        let mut c = graph_collection(&data, fundus_index::Quantization::None);
        fill(&mut c, 600, 31);
        c.flush().unwrap();
        let saved = c.manifest.graph.clone().unwrap();
        assert_eq!(saved.rows, 600);
        // A small delta: the saved graph is not rewritten.
        let extra = random_vectors(20, 24, 32);
        let points: Vec<Point> = (0..20).map(|i| point(&format!("x{i}"), 0)).collect();
        c.upsert(&points, &extra).unwrap();
        c.delete(&["d5"]).unwrap();
        c.flush().unwrap();
        assert_eq!(c.manifest.graph.as_ref(), Some(&saved));
        drop(c);
        let c = data.open("g").unwrap();
        assert!(c.has_graph());
        assert_eq!(c.search(&extra[7], 1).unwrap()[0].id, "x7");
        let all = c.search_with(
            &random_vectors(1, 24, 5)[0],
            1000,
            None,
            &SearchOptions::default(),
        );
        assert!(all.unwrap().iter().all(|h| h.id != "d5"));
    }

    #[test]
    fn refuses_wrong_dimension_nan_and_mismatched_lengths() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path());
        let mut c = create(&data);
        let err = c.upsert(&[point("a", 0)], &[vec![1.0, 0.0]]).unwrap_err();
        assert!(matches!(
            err,
            StoreError::BadVector {
                source: CoreError::WrongVectorDimension {
                    expected: 3,
                    received: 2
                },
                ..
            }
        ));
        assert!(err.to_string().contains("document \"a\""), "{err}");
        let mut bad = point("a", 0);
        bad.metadata = Some(serde_json::json!([1, 2]));
        let err = c.upsert(&[bad], &[vec![1.0, 0.0, 0.0]]).unwrap_err();
        assert!(
            err.to_string()
                .contains("payload of document \"a\" is an array"),
            "{err}"
        );
        let err = c
            .upsert(&[point("a", 0)], &[vec![1.0, f32::INFINITY, 0.0]])
            .unwrap_err();
        assert!(err.to_string().contains("not finite"), "{err}");
        let err = c.upsert(&[point("a", 0)], &[]).unwrap_err();
        assert!(matches!(err, StoreError::LengthMismatch { .. }));
        assert!(c.is_empty());
        assert!(c.search(&[1.0, 0.0], 1).is_err());
    }

    #[test]
    fn a_second_writer_is_refused_readers_are_not() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path());
        let mut w = create(&data);
        assert!(matches!(
            data.open_for_write("c"),
            Err(StoreError::Locked { .. })
        ));
        w.upsert(&[point("a", 0)], &[vec![1.0, 0.0, 0.0]]).unwrap();
        let mut r = data.open("c").unwrap();
        assert_eq!(r.len(), 1, "a reader sees acknowledged writes");
        assert!(matches!(
            r.upsert(&[point("b", 0)], &[vec![1.0, 0.0, 0.0]]),
            Err(StoreError::Locked { .. })
        ));
        assert!(matches!(data.delete("c"), Err(StoreError::Locked { .. })));
    }

    #[test]
    fn a_torn_wal_tail_is_cut_and_writing_goes_on() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path());
        let mut c = create(&data);
        c.upsert(&[point("a", 0)], &[vec![1.0, 0.0, 0.0]]).unwrap();
        let dir = c.dir().to_path_buf();
        drop(c);
        // A crash in the middle of the next append: half a frame.
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(dir.join(WAL_FILE))
            .unwrap();
        f.write_all(&[200, 0, 0, 0, 1, 2, 3]).unwrap();
        drop(f);
        let c = data.open("c").unwrap();
        assert_eq!(c.len(), 1, "a reader ignores the torn tail");
        drop(c);
        let mut c = data.open_for_write("c").unwrap();
        c.upsert(&[point("b", 0)], &[vec![0.0, 1.0, 0.0]]).unwrap();
        drop(c);
        let c = data.open("c").unwrap();
        assert_eq!(c.scroll(None, 10), vec!["a", "b"]);
    }

    #[test]
    fn a_damaged_segment_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path());
        let mut c = create(&data);
        c.upsert(&[point("a", 0)], &[vec![1.0, 0.0, 0.0]]).unwrap();
        c.flush().unwrap();
        let seg = c.dir().join(SEGMENTS_DIR).join(&c.manifest.segments[0]);
        drop(c);
        let mut bytes = fs::read(&seg).unwrap();
        bytes[40] ^= 1;
        fs::write(&seg, bytes).unwrap();
        let err = data.open("c").err().unwrap().to_string();
        assert!(err.contains(".seg") && err.contains("checksum"), "{err}");
    }

    #[test]
    fn filtered_search_returns_only_matching_points() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path());
        let mut c = create(&data);
        let mut points = Vec::new();
        let mut vectors = Vec::new();
        for i in 0..50u32 {
            let mut p = point(&format!("d{i}"), 0);
            p.metadata = Some(serde_json::json!({
                "volume_l": i * 10,
                "maker": if i % 2 == 0 { "A" } else { "B" }
            }));
            points.push(p);
            vectors.push(vec![1.0, i as f32 / 50.0, 0.0]);
        }
        c.upsert(&points, &vectors).unwrap();
        let f = Filter::parse(r#"maker = "B" AND volume_l >= 250"#).unwrap();
        let hits = c.search_filtered(&[1.0, 0.0, 0.0], 10, Some(&f)).unwrap();
        assert_eq!(hits.len(), 10, "k matching points exist, k are returned");
        for h in &hits {
            let m = h.metadata.as_ref().unwrap();
            assert_eq!(m["maker"], "B");
            assert!(m["volume_l"].as_u64().unwrap() >= 250);
        }
        let none = Filter::parse(r#"maker = "C""#).unwrap();
        assert!(c
            .search_filtered(&[1.0, 0.0, 0.0], 10, Some(&none))
            .unwrap()
            .is_empty());
    }

    /// Deterministic pseudo-random vectors around a few directions, so
    /// neighbours are meaningful and a graph has work to do.
    fn random_vectors(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut x = seed | 1;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let centres: Vec<Vec<f32>> = (0..8).map(|_| (0..dim).map(|_| next()).collect()).collect();
        (0..n)
            .map(|i| centres[i % 8].iter().map(|c| c + 0.6 * next()).collect())
            .collect()
    }

    fn graph_collection(data: &DataDir, quantization: fundus_index::Quantization) -> Collection {
        let index = crate::IndexConfig {
            exact_threshold: 200,
            quantization,
            ..Default::default()
        };
        let config =
            CollectionConfig::new("g", ModelInfo::toy(24), Metric::Cosine).with_index(index);
        data.create(config).unwrap()
    }

    fn fill(c: &mut Collection, n: usize, seed: u64) -> Vec<Vec<f32>> {
        let vectors = random_vectors(n, 24, seed);
        let points: Vec<Point> = (0..n)
            .map(|i| {
                let mut p = point(&format!("d{i}"), 0);
                p.metadata = Some(serde_json::json!({ "bucket": i % 10 }));
                p
            })
            .collect();
        // Several batches: the graph is built when the threshold is crossed
        // and grows incrementally after.
        for (ps, vs) in points.chunks(150).zip(vectors.chunks(150)) {
            c.upsert(ps, vs).unwrap();
        }
        vectors
    }

    fn ids(hits: &[Hit]) -> Vec<String> {
        hits.iter().map(|h| h.id.clone()).collect()
    }

    fn recall_vs_exact(c: &Collection, queries: &[Vec<f32>], filter: Option<&Filter>) -> f64 {
        let exact = SearchOptions {
            exact: true,
            ..Default::default()
        };
        let mut found = 0;
        let mut total = 0;
        for q in queries {
            let truth = ids(&c.search_with(q, 10, filter, &exact).unwrap());
            let got = ids(&c
                .search_with(q, 10, filter, &SearchOptions::default())
                .unwrap());
            found += truth.iter().filter(|t| got.contains(t)).count();
            total += truth.len();
        }
        found as f64 / total as f64
    }

    #[test]
    fn a_growing_collection_switches_to_a_graph_that_survives_flush_and_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path());
        let mut c = graph_collection(&data, fundus_index::Quantization::None);
        let vectors = fill(&mut c, 120, 1);
        assert!(!c.has_graph(), "below the threshold search is exact");
        fill(&mut c, 900, 2);
        assert!(c.has_graph());
        assert_eq!(c.stats().index, "hnsw");
        let queries = random_vectors(30, 24, 99);
        let r = recall_vs_exact(&c, &queries, None);
        assert!(r >= 0.95, "recall@10 {r}");

        // Deletes are honoured by the graph at once; compaction at flush
        // renumbers rows and the graph follows.
        let doomed: Vec<String> = (0..900).step_by(3).map(|i| format!("d{i}")).collect();
        let doomed_refs: Vec<&str> = doomed.iter().map(String::as_str).collect();
        c.delete(&doomed_refs).unwrap();
        let before: Vec<Vec<String>> = queries
            .iter()
            .map(|q| ids(&c.search(q, 10).unwrap()))
            .collect();
        for hits in &before {
            assert!(
                hits.iter().all(|h| !doomed.contains(h)),
                "deleted never score"
            );
        }
        c.flush().unwrap();
        assert_eq!(c.stats().tombstones, 0);
        assert!(c.stats().graph_bytes_on_disk > 0);
        let after: Vec<Vec<String>> = queries
            .iter()
            .map(|q| ids(&c.search(q, 10).unwrap()))
            .collect();
        assert_eq!(before, after, "compaction renames graph keys, results stay");
        // Operations after the flush are replayed into the loaded graph.
        c.upsert(&[point("new", 0)], std::slice::from_ref(&vectors[0]))
            .unwrap();
        drop(c);
        let c = data.open("g").unwrap();
        assert!(c.has_graph());
        // The point's own vector: cosine 1 up to the rounding of the
        // fused multiply-adds.
        let top = c.search(&vectors[0], 1).unwrap()[0].score;
        assert!((top - 1.0).abs() < 1e-5, "{top}");
        let reopened: Vec<Vec<String>> = queries
            .iter()
            .map(|q| ids(&c.search(q, 10).unwrap()))
            .collect();
        // The reopened graph is the saved one plus the replayed insert.
        let same = after
            .iter()
            .zip(&reopened)
            .filter(|(a, b)| {
                let b: Vec<&String> = b.iter().filter(|x| x.as_str() != "new").collect();
                a.iter().take(b.len()).eq(b)
            })
            .count();
        assert!(same >= 28, "{same} of 30 queries unchanged after reopen");
    }

    #[test]
    fn graph_search_applies_filters_inside_and_keeps_recall() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path());
        let mut c = graph_collection(&data, fundus_index::Quantization::None);
        fill(&mut c, 3000, 3);
        assert!(c.has_graph());
        // 10% selectivity.
        let f = Filter::parse("bucket = 7").unwrap();
        let queries = random_vectors(30, 24, 77);
        for q in &queries {
            let hits = c
                .search_with(q, 10, Some(&f), &SearchOptions::default())
                .unwrap();
            assert_eq!(hits.len(), 10);
            assert!(hits
                .iter()
                .all(|h| h.metadata.as_ref().unwrap()["bucket"] == 7));
        }
        let r = recall_vs_exact(&c, &queries, Some(&f));
        assert!(r >= 0.95, "filtered recall@10 {r}");
    }

    #[test]
    fn quantized_graphs_rescore_and_take_per_query_knobs() {
        for q in [
            fundus_index::Quantization::Int8 {
                per_dimension: true,
                quantile: None,
            },
            fundus_index::Quantization::Float16,
        ] {
            let tmp = tempfile::tempdir().unwrap();
            let data = DataDir::new(tmp.path());
            let mut c = graph_collection(&data, q);
            fill(&mut c, 2000, 4);
            assert!(c.stats().index.contains(q.name()), "{}", c.stats().index);
            let queries = random_vectors(20, 24, 5);
            let r = recall_vs_exact(&c, &queries, None);
            assert!(r >= 0.95, "{}: recall@10 {r}", q.name());
            // Rescored scores are exact cosines.
            let exact = SearchOptions {
                exact: true,
                ..Default::default()
            };
            let wide = SearchOptions {
                ef_search: Some(400),
                ..Default::default()
            };
            let a = c.search_with(&queries[0], 3, None, &wide).unwrap();
            let b = c.search_with(&queries[0], 3, None, &exact).unwrap();
            assert_eq!(ids(&a), ids(&b));
            assert!((a[0].score - b[0].score).abs() < 1e-6);
            let bad = SearchOptions {
                ef_search: Some(0),
                ..Default::default()
            };
            assert!(c.search_with(&queries[0], 3, None, &bad).is_err());
        }
    }

    #[test]
    fn a_damaged_graph_is_named_and_a_missing_one_rebuilt() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path());
        let mut c = graph_collection(&data, fundus_index::Quantization::None);
        fill(&mut c, 400, 6);
        c.flush().unwrap();
        let graph = c
            .dir()
            .join(SEGMENTS_DIR)
            .join(&c.manifest.graph.clone().unwrap().file);
        drop(c);
        let bytes = fs::read(&graph).unwrap();
        let mut broken = bytes.clone();
        broken[100] ^= 0x10;
        fs::write(&graph, &broken).unwrap();
        let err = data.open("g").err().unwrap().to_string();
        assert!(err.contains(".hnsw") && err.contains("checksum"), "{err}");
        fs::remove_file(&graph).unwrap();
        let c = data.open("g").unwrap();
        assert!(c.has_graph(), "rebuilt from the rows");
        assert_eq!(c.len(), 400);
    }

    #[test]
    fn a_query_model_other_than_the_collections_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path());
        let c = create(&data);
        assert!(c.check_query_model(&model()).is_ok());
        let other = ModelInfo {
            name: "other".into(),
            sha256: "ff".into(),
            ..model()
        };
        let err = c.check_query_model(&other).unwrap_err().to_string();
        assert!(
            err.contains("toy") && err.contains("other") && err.contains("sha256 ff"),
            "{err}"
        );
    }

    fn text_collection(data: &DataDir) -> Collection {
        let config = CollectionConfig::new("t", model(), Metric::Cosine)
            .with_text_index(crate::TextIndexConfig::default());
        data.create(config).unwrap()
    }

    fn doc(id: &str, text: &str, maker: &str) -> Point {
        let mut p = Point::whole(id, text);
        p.metadata = Some(serde_json::json!({ "maker": maker }));
        p
    }

    #[test]
    fn bm25_follows_upserts_and_deletes_and_survives_flush_merge_and_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path());
        let mut c = text_collection(&data);
        let v = || vec![1.0, 0.0, 0.0];
        c.upsert(
            &[
                doc("fridge", "Laboratory refrigerator LABO-288 with 280 L", "A"),
                doc("freezer", "Upright freezer HMFvh-4001 for vaccines", "B"),
                doc("cabinet", "Pharmacy refrigerator per DIN 13277", "B"),
            ],
            &[v(), v(), v()],
        )
        .unwrap();
        let top = |c: &Collection, q: &str| -> Vec<String> {
            ids(&c.search_text(q, 3, None, None).unwrap())
        };
        assert_eq!(top(&c, "LABO 288")[0], "fridge");
        assert_eq!(top(&c, "DIN 13277"), vec!["cabinet"]);
        let f = Filter::parse(r#"maker = "B""#).unwrap();
        let hits = c.search_text("refrigerator", 3, Some(&f), None).unwrap();
        assert_eq!(ids(&hits), vec!["cabinet"]);
        c.flush().unwrap();
        // Replace and delete after the save; reopen from the saved index
        // plus the delta.
        c.upsert(&[doc("fridge", "Blood bank refrigerator", "A")], &[v()])
            .unwrap();
        c.delete(&["cabinet"]).unwrap();
        c.flush().unwrap();
        assert!(c.manifest.text_index.is_some());
        drop(c);
        let c = data.open("t").unwrap();
        assert!(top(&c, "LABO 288").is_empty(), "the old text is gone");
        assert_eq!(top(&c, "blood bank"), vec!["fridge"]);
        assert!(top(&c, "DIN 13277").is_empty(), "deleted");
        assert_eq!(c.stats().text_index_documents, Some(2));
        drop(c);
        // A WAL-only change, then a merge, then a rebuild without the file.
        let mut c = data.open_for_write("t").unwrap();
        c.upsert(&[doc("mixer", "Vortex mixer", "C")], &[v()])
            .unwrap();
        drop(c);
        let mut c = data.open_for_write("t").unwrap();
        assert_eq!(top(&c, "vortex"), vec!["mixer"]);
        c.optimize().unwrap();
        let saved = c
            .dir()
            .join(SEGMENTS_DIR)
            .join(&c.manifest.text_index.clone().unwrap().file);
        drop(c);
        fs::remove_file(saved).unwrap();
        let c = data.open("t").unwrap();
        assert_eq!(top(&c, "vortex"), vec!["mixer"]);
        assert_eq!(top(&c, "blood bank"), vec!["fridge"]);
        assert!(
            c.search_text("the of and", 3, None, None).is_err(),
            "only stop words"
        );
    }

    #[test]
    fn score_documents_gives_the_best_chunk_score() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path());
        let mut c = create(&data);
        c.upsert(
            &[point("a", 0), point("a", 1), point("b", 0)],
            &[
                vec![1.0, 0.0, 0.0],
                vec![0.0, 1.0, 0.0],
                vec![0.0, 0.0, 1.0],
            ],
        )
        .unwrap();
        let ids = ["b".to_string(), "a".to_string(), "zzz".to_string()];
        let s = c.score_documents(&[0.0, 2.0, 0.0], &ids).unwrap();
        assert_eq!(s, vec![("b".to_string(), 0.0), ("a".to_string(), 1.0)]);
    }

    #[test]
    fn bm25_on_a_collection_without_a_text_index_is_a_clear_error() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path());
        let c = create(&data);
        let err = c.search_text("x", 3, None, None).unwrap_err().to_string();
        assert!(err.contains("no text index"), "{err}");
    }

    #[test]
    fn unknown_and_invalid_names() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path());
        let err = data.open("nope").err().unwrap();
        assert!(
            err.to_string().contains("unknown collection \"nope\""),
            "{err}"
        );
        assert!(matches!(
            data.open("../etc"),
            Err(StoreError::InvalidName(_))
        ));
        create(&data);
        assert!(matches!(
            data.create(CollectionConfig::new("c", model(), Metric::Cosine)),
            Err(StoreError::AlreadyExists(_))
        ));
        let err = data.open("x").err().unwrap();
        assert!(err.to_string().contains("collections: c"), "{err}");
    }
}
