//! Approximate search: an HNSW graph, on one of two engines.
//!
//! Exact search ([`FlatIndex`](crate::FlatIndex)) reads every vector; past a
//! few ten thousand vectors that scan dominates query time. An HNSW graph
//! reads a few thousand vectors per query instead, for a small loss of
//! recall that `ef_search` buys back with time.
//!
//! **Which engine serves which codec, and why.**
//!
//! - **f32 graphs: [`NativeHnsw`](crate::NativeHnsw)**, Fundus' own
//!   hnswlib-style graph (`native_hnsw/`). With f32 vectors a query is
//!   bound by fetching 1.5 KB per scored node, and usearch reaches a
//!   neighbour's vector through two pointer loads and a hash-set probe:
//!   that held the f32 graph at ~0.7x hnswlib's queries/s. The native
//!   graph keeps each node's links and vector in one aligned block, marks
//!   visited nodes with generation tags and prefetches the neighbours'
//!   vectors; measured on real embeddings it is faster than hnswlib at
//!   equal recall and recalls as much as usearch at equal `ef`
//!   (`bench/RESULTS.md`, "Fourth session"). Its files have their own magic;
//!   f32 graph files saved by usearch (earlier versions) still load, on
//!   usearch, so no collection needs a rebuild. Removed keys stay in the
//!   native graph as waypoints; once they outnumber the live vectors the
//!   graph is rebuilt from its live vectors (amortized, see
//!   `compact_if_mostly_removed`).
//! - **Quantized graphs (f16, int8, binary): usearch**, a header-only C++
//!   core compiled by the `cc` crate (no system library), SIMD distance
//!   kernels for the codes chosen at run time, incremental inserts,
//!   immediate removals (slots reused) and a filter predicate that is
//!   evaluated *inside* the graph traversal. Small codes make its
//!   indirections cheap relative to the bytes moved.
//!
//! Both engines give the same scores, honour removals and filters the same
//! way (removed or rejected nodes are walked through, never returned) and
//! share this type's API. How the usearch parts are used, and why:
//!
//! - **Metrics.** Cosine vectors are normalized with [`Metric::prepare`] (as
//!   [`FlatIndex`](crate::FlatIndex) does) and compared by inner product, so
//!   scores equal the flat index's and no norm is recomputed per distance.
//!   usearch's `IP` distance is `1 - dot`, giving the score `1 - d`; its `L2sq`
//!   distance is squared, giving `-sqrt(d)`. Scores are "higher is better".
//! - **`ef_search` per query.** usearch keeps the search beam width in the
//!   index configuration, a plain field that another thread may be reading.
//!   But its search widens the beam to `max(expansion, wanted)`, so the index
//!   keeps the stored expansion at 1 and asks for `max(k, ef)` results, then
//!   keeps the best `k`: HNSW with `ef = max(k, ef)`, per query, without a
//!   lock.
//! - **Search slots.** usearch preallocates one scratch context per thread
//!   and a search that finds none free fails. [`HnswIndex`] hands the
//!   contexts out through a small counting semaphore, so any number of
//!   threads may share one index (`Arc<HnswIndex>`): extra callers wait
//!   instead of failing.
//! - **Deletes.** A removed key's node is relabelled with usearch's "free"
//!   key at once; searches skip it (the user's filter never even sees it) but
//!   still walk through it, so the graph stays connected. The next insert
//!   reuses the slot. Memory is not returned until a rebuild.
//! - **Files.** usearch's format has no checksum, and a file whose bytes
//!   were flipped (not cut) loads fine and then crashes the process on the
//!   first search. [`HnswIndex::save`] therefore appends a trailer (magic,
//!   length, CRC-32) that [`HnswIndex::load`] checks before usearch reads a
//!   byte; usearch itself ignores the trailer.
//! - **Scalars.** The graph stores `f32`, or codes of a
//!   [`Quantization`]: float16, int8 or binary (see `graph_codec.rs` for
//!   why each has the form it has). A quantized graph is searched for
//!   `ceil(k · oversampling)` candidates, which are then re-scored against
//!   the original floats of a [`VectorSource`] ([`HnswIndex::search_with`]):
//!   the graph walk reads small codes, only the candidates read floats.
//!   Binary graphs walk by Hamming distance, then re-rank the beam by the
//!   float query against the codes and walk on from its best candidates
//!   under that estimate (`HnswIndex::rerank_asymmetric`).
//! - **Files.** The trailer also carries the codec (the int8 scale, the
//!   binary thresholds and levels, the residual centroids) as JSON,
//!   covered by the same checksum.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use usearch::{b1x8, Index, IndexOptions};

use fundus_core::metric::validate_vector;
use fundus_core::Metric;

use crate::error::IndexError;
use crate::graph_codec::{Encoded, GraphCodec};
use crate::native_hnsw::{self, NativeHnsw};
use crate::quantization::{Quantization, SearchParams};
use crate::vector_source::VectorSource;

/// The smallest capacity reserved at once: every growth copies usearch's
/// slot tables, so the first few doublings are skipped.
const MIN_CAPACITY: usize = 1024;

/// Upper bound for `m`: above it a node's links outweigh any vector and
/// inserts crawl; a value that large is a typo in a config, not a choice.
const MAX_M: usize = 1024;

/// The asymmetric score of a stored code, for one query.
type CodeScore<'a> = Box<dyn Fn(&[u8]) -> f32 + 'a>;

/// Upper bound for both beam widths. usearch allocates the beam up front, so
/// an absurd value would be an absurd allocation; past this, exact search is
/// the better tool.
const MAX_EF: usize = 1 << 16;

/// usearch marks removed entries with the largest key, so it cannot be used.
pub const RESERVED_KEY: u64 = u64::MAX;

/// [`HnswIndex::save`] appends the codec as JSON after usearch's bytes,
/// then a trailer: this magic, the length of the usearch bytes (u64 LE),
/// the length of the codec (u64 LE) and the CRC-32 of both (u32 LE).
const TRAILER_MAGIC: &[u8; 8] = b"FNDSHNS2";
const TRAILER_LEN: u64 = 8 + 8 + 8 + 4;

/// Graph parameters of an HNSW index: the per-collection defaults stored in
/// a collection's configuration. Missing fields take their defaults; unknown
/// fields are refused so a typo does not silently fall back to a default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HnswParams {
    /// Links per node on the upper layers (twice that on the base layer;
    /// usearch calls it `connectivity`). More links: better recall on hard
    /// data, about `8·m` more bytes per vector and slower inserts.
    pub m: usize,
    /// Beam width while inserting: wider finds better neighbours for the new
    /// node (a better graph) at a proportional insert cost.
    pub ef_construct: usize,
    /// Default beam width while searching; a query may override it. Never
    /// below `k` in effect: the beam always holds at least `k` results.
    pub ef_search: usize,
}

impl Default for HnswParams {
    fn default() -> Self {
        HnswParams {
            m: 16,
            ef_construct: 128,
            ef_search: 64,
        }
    }
}

impl HnswParams {
    /// Checks every parameter's range; errors name the parameter.
    pub fn validate(&self) -> Result<(), IndexError> {
        check_range("m", self.m, 2, MAX_M, "2 to 1024 (16 suits most data)")?;
        check_ef("ef_construct", self.ef_construct)?;
        check_ef("ef_search", self.ef_search)
    }
}

fn check_range(
    name: &'static str,
    value: usize,
    min: usize,
    max: usize,
    expected: &'static str,
) -> Result<(), IndexError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(IndexError::InvalidHnswParameter {
            name,
            value,
            expected,
        })
    }
}

fn check_ef(name: &'static str, value: usize) -> Result<(), IndexError> {
    check_range(name, value, 1, MAX_EF, "1 to 65536")
}

/// Approximate nearest-neighbour index over `f32` vectors, keyed by `u64`.
///
/// Mutations take `&mut self`, searches `&self`; the index is `Send + Sync`,
/// so readers share it behind an `Arc` (and a lock for the writer).
pub struct HnswIndex {
    dim: usize,
    metric: Metric,
    params: HnswParams,
    /// Scratch contexts reserved in usearch (one per concurrent operation).
    threads: usize,
    slots: Slots,
    codec: GraphCodec,
    engine: Engine,
}

/// The graph behind an [`HnswIndex`] (see the module documentation).
enum Engine {
    /// Fundus' own graph: every f32 graph built or loaded from its format.
    Native(Box<NativeHnsw>),
    /// usearch: quantized codes, and f32 graphs in files of earlier
    /// versions.
    Usearch(Index),
}

impl fmt::Debug for HnswIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HnswIndex")
            .field("dim", &self.dim)
            .field("metric", &self.metric)
            .field("params", &self.params)
            .field("quantization", &self.codec.quantization())
            .field("len", &self.len())
            .finish()
    }
}

impl HnswIndex {
    /// An empty index for `dim`-dimensional vectors compared by `metric`.
    pub fn new(dim: usize, metric: Metric, params: HnswParams) -> Result<Self, IndexError> {
        Self::with_codec(dim, metric, params, GraphCodec::F32)
    }

    /// An empty f32 index on usearch instead of the native engine: what
    /// [`HnswIndex::new`] built before the native engine existed. For
    /// comparisons (`bench/ann`, `ann_bench --engine usearch`) and tests of
    /// files in the earlier format; applications want [`HnswIndex::new`].
    pub fn new_on_usearch(
        dim: usize,
        metric: Metric,
        params: HnswParams,
    ) -> Result<Self, IndexError> {
        params.validate()?;
        check_range("dim", dim, 1, usize::MAX, "at least 1")?;
        let engine = Engine::Usearch(new_usearch(dim, metric, params, &GraphCodec::F32)?);
        Ok(Self::with_engine(
            dim,
            metric,
            params,
            GraphCodec::F32,
            engine,
        ))
    }

    /// An empty index whose graph stores `quantization` codes. int8 and
    /// binary learn their ranges from `sample` (row-major vectors as they
    /// will be added; a few thousand representative ones suffice); later
    /// inserts reuse them.
    pub fn new_quantized(
        dim: usize,
        metric: Metric,
        params: HnswParams,
        quantization: Quantization,
        sample: &[f32],
    ) -> Result<Self, IndexError> {
        let mut prepared = sample.to_vec();
        if metric == Metric::Cosine && dim > 0 {
            prepared
                .chunks_exact_mut(dim)
                .for_each(|v| metric.prepare(v));
        }
        let codec = GraphCodec::train(quantization, &prepared, dim, metric)?;
        Self::with_codec(dim, metric, params, codec)
    }

    fn with_codec(
        dim: usize,
        metric: Metric,
        params: HnswParams,
        codec: GraphCodec,
    ) -> Result<Self, IndexError> {
        params.validate()?;
        check_range("dim", dim, 1, usize::MAX, "at least 1")?;
        let engine = if matches!(codec, GraphCodec::F32) {
            Engine::Native(Box::new(NativeHnsw::new(
                dim,
                metric,
                params.m,
                params.ef_construct,
            )?))
        } else {
            Engine::Usearch(new_usearch(dim, metric, params, &codec)?)
        };
        Ok(Self::with_engine(dim, metric, params, codec, engine))
    }

    fn with_engine(
        dim: usize,
        metric: Metric,
        params: HnswParams,
        codec: GraphCodec,
        engine: Engine,
    ) -> Self {
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .max(rayon::current_num_threads());
        HnswIndex {
            dim,
            metric,
            params,
            threads,
            slots: Slots::new(threads),
            codec,
            engine,
        }
    }

    /// What the graph stores per vector.
    pub fn quantization(&self) -> Quantization {
        self.codec.quantization()
    }

    /// Bytes the graph stores per vector: its code (with the residual
    /// payload of two-bit binary graphs), not counting links.
    pub fn code_bytes(&self) -> usize {
        self.codec.code_bytes(self.dim)
    }

    /// Which distance kernel the graph runs: ours for float vectors and
    /// for two-bit binary codes with residual payloads (see
    /// `install_kernel`), else the instruction set of usearch's
    /// (`"serial"` when it fell back to plain C++, e.g. without the `simd`
    /// feature).
    pub fn distance_isa(&self) -> String {
        match (&self.engine, &self.codec) {
            (Engine::Native(_), _) | (_, GraphCodec::F32) => {
                format!("fundus-{}", fundus_core::simd::level())
            }
            (_, GraphCodec::B1Residual { .. }) => "fundus-hamming".to_string(),
            (Engine::Usearch(inner), _) => inner.hardware_acceleration(),
        }
    }

    /// Which engine runs the graph: `"native"` (Fundus' own, every f32
    /// graph) or `"usearch"` (quantized codes, or an f32 graph loaded from
    /// a file of an earlier version).
    pub fn engine(&self) -> &'static str {
        match self.engine {
            Engine::Native(_) => "native",
            Engine::Usearch(_) => "usearch",
        }
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn metric(&self) -> Metric {
        self.metric
    }

    pub fn params(&self) -> HnswParams {
        self.params
    }

    /// Changes the `ef_search` used by queries that do not set their own.
    pub fn set_ef_search(&mut self, ef_search: usize) -> Result<(), IndexError> {
        check_ef("ef_search", ef_search)?;
        self.params.ef_search = ef_search;
        Ok(())
    }

    /// Number of live (not removed) vectors.
    pub fn len(&self) -> usize {
        match &self.engine {
            Engine::Native(n) => n.len(),
            Engine::Usearch(inner) => inner.size(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains(&self, key: u64) -> bool {
        match &self.engine {
            Engine::Native(n) => n.contains(key),
            Engine::Usearch(inner) => inner.contains(key),
        }
    }

    /// Bytes held by the graph and the vectors, reserved slack included.
    pub fn memory_usage(&self) -> usize {
        match &self.engine {
            Engine::Native(n) => n.memory_usage(),
            Engine::Usearch(inner) => inner.memory_usage(),
        }
    }

    /// Inserts `vector` under `key` into the live graph (no rebuild). An
    /// existing `key` is replaced: its old vector is removed first.
    pub fn add(&mut self, key: u64, vector: &[f32]) -> Result<(), IndexError> {
        check_key(key)?;
        // Before the engine's own batch check, which would report a short
        // vector as a key/float count mismatch.
        validate_vector(vector, self.dim)?;
        if let Engine::Native(n) = &mut self.engine {
            n.add(key, vector)?;
            compact_if_mostly_removed(n)?;
            return Ok(());
        }
        let v = prepare(self.metric, vector);
        let inner = self.usearch()?;
        inner.remove(key).map_err(hnsw_error)?;
        self.reserve(1)?;
        add_encoded(self.usearch()?, key, self.codec.encode(&v))
    }

    /// Inserts many row-major vectors at once, in parallel. Same result as
    /// calling [`HnswIndex::add`] row by row (a key given twice keeps its
    /// last vector), except that the graph depends on thread timing.
    ///
    /// Every key and vector is checked before anything is inserted; an error
    /// from usearch itself (out of memory) may leave part of the batch in.
    pub fn add_batch(&mut self, keys: &[u64], vectors: &[f32]) -> Result<(), IndexError> {
        keys.iter().try_for_each(|&key| check_key(key))?;
        if let Engine::Native(n) = &mut self.engine {
            // The native engine checks the batch itself (`last_rows`).
            n.add_batch(keys, vectors)?;
            return compact_if_mostly_removed(n);
        }
        let dim = self.dim;
        let last = last_rows(keys, vectors, dim)?;
        let inner = self.usearch()?;
        for &key in last.keys() {
            inner.remove(key).map_err(hnsw_error)?;
        }
        self.reserve(last.len())?;
        let inner = self.usearch()?;
        let (slots, metric, codec) = (&self.slots, self.metric, &self.codec);
        keys.par_iter()
            .enumerate()
            .filter(|(row, key)| last.get(*key) == Some(row))
            .try_for_each(|(row, &key)| {
                let v = prepare(metric, &vectors[row * dim..(row + 1) * dim]);
                let _slot = slots.acquire();
                add_encoded(inner, key, codec.encode(&v))
            })
    }

    /// Moves the vector stored under `from` to the key `to`, which must be
    /// free; the graph is unchanged. Lets a store renumber its rows when it
    /// compacts them, without rebuilding the graph.
    pub fn rename(&mut self, from: u64, to: u64) -> Result<bool, IndexError> {
        check_key(to)?;
        if from == to {
            return Ok(self.contains(from));
        }
        if self.contains(to) {
            return Err(IndexError::Hnsw(format!(
                "cannot rename key {from} to {to}: {to} is taken"
            )));
        }
        match &mut self.engine {
            Engine::Native(n) => n.rename(from, to),
            Engine::Usearch(inner) => Ok(inner.rename(from, to).map_err(hnsw_error)? > 0),
        }
    }

    /// Removes `key` and reports whether it was there. Honoured at once: no
    /// later search returns it.
    pub fn remove(&mut self, key: u64) -> Result<bool, IndexError> {
        match &mut self.engine {
            Engine::Native(n) => Ok(n.remove(key)),
            Engine::Usearch(inner) => Ok(inner.remove(key).map_err(hnsw_error)? > 0),
        }
    }

    /// The usearch graph; an error for the native engine, which the
    /// callers' codecs never reach (quantized codes are usearch's).
    fn usearch(&self) -> Result<&Index, IndexError> {
        match &self.engine {
            Engine::Usearch(inner) => Ok(inner),
            Engine::Native(_) => Err(IndexError::Hnsw(
                "internal: a usearch operation on the native f32 graph".into(),
            )),
        }
    }

    /// The (about) `k` nearest keys to `query`, best first, as
    /// `(key, score)`. `ef_search` overrides the index default for this
    /// query.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        ef_search: Option<usize>,
    ) -> Result<Vec<(u64, f32)>, IndexError> {
        self.search_inner(query, k, ef_search, None)
    }

    /// Like [`HnswIndex::search`], among the keys `allow` accepts. The
    /// predicate runs inside the graph traversal: rejected nodes are walked
    /// through but never enter the results, so the beam fills with allowed
    /// keys only and a selective filter does not starve the result list as
    /// post-filtering a short list would. `allow` must not panic (it is
    /// called from C++; a panic aborts the process).
    ///
    /// The traversal continues until the beam holds `max(k, ef)` allowed
    /// keys; when fewer than that pass the filter it walks the whole graph,
    /// and an exact scan over the allowed keys is the cheaper choice.
    pub fn search_filtered(
        &self,
        query: &[f32],
        k: usize,
        ef_search: Option<usize>,
        allow: &dyn Fn(u64) -> bool,
    ) -> Result<Vec<(u64, f32)>, IndexError> {
        self.search_inner(query, k, ef_search, Some(allow))
    }

    /// The `k` best keys for `query` with per-query knobs: `ef_search`
    /// overrides the default beam, `allow` filters inside the traversal, and
    /// for a quantized graph `params` sets how many candidates
    /// (`ceil(k · oversampling)`) are re-scored exactly against
    /// `originals`. Without rescoring the scores are the codes' estimates.
    /// `ef_search` is raised to the candidate count when it is smaller.
    pub fn search_with(
        &self,
        query: &[f32],
        k: usize,
        ef_search: Option<usize>,
        params: &SearchParams,
        allow: Option<&dyn Fn(u64) -> bool>,
        originals: Option<&dyn VectorSource>,
    ) -> Result<Vec<(u64, f32)>, IndexError> {
        let quantization = self.codec.quantization();
        if quantization == Quantization::None {
            return self.search_inner(query, k, ef_search, allow);
        }
        if let Some(ef) = ef_search {
            check_ef("ef_search", ef)?;
        }
        let oversampling = params.oversampling_for(&quantization)?;
        let candidates = ((k as f64) * oversampling as f64).ceil() as usize;
        let ef = ef_search.unwrap_or(self.params.ef_search).max(candidates);
        let mut hits = match &self.codec {
            GraphCodec::B1(_) | GraphCodec::B1Residual { .. }
                if self.metric != Metric::Euclidean =>
            {
                // The walk compares bits with bits (Hamming); the whole beam
                // it ends with is then re-ranked by the float query against
                // the stored codes (binary.rs, residual.rs), which orders it
                // much better, before `candidates` of them are rescored.
                let beam = self.search_inner(query, ef.min(MAX_EF), Some(ef.min(MAX_EF)), allow)?;
                self.rerank_asymmetric(query, beam, candidates, allow)?
            }
            _ => self.search_inner(query, candidates, Some(ef.min(MAX_EF)), allow)?,
        };
        if !params.rescore {
            hits.truncate(k);
            return Ok(hits);
        }
        let originals = originals.ok_or(IndexError::NoOriginals)?;
        let q = prepare(self.metric, query);
        for (key, score) in hits.iter_mut() {
            let v = originals
                .vector_of(*key)
                .ok_or(IndexError::MissingOriginal(*key))?;
            *score = self.metric.score(&q, v);
        }
        hits.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        hits.truncate(k);
        Ok(hits)
    }

    /// The `keep` best by the asymmetric binary score, read from the codes
    /// the graph stores (the code itself, or the residual payload after
    /// it): first of the Hamming walk's beam `hits`, then of a short walk
    /// under that score from there.
    ///
    /// Why the second walk: Hamming distance steers the first walk to the
    /// right region but not to every true neighbour in it; on 1M clustered
    /// vectors its beam held 0.96 of the true top-10 at ef 512, a ceiling
    /// no re-ranking of the beam can pass. The asymmetric score ranks far
    /// better, so the neighbours of its best candidates are scored too,
    /// best-first, until the `keep` best have all been expanded (HNSW's
    /// base-layer search with `ef = keep`, under the better score).
    fn rerank_asymmetric(
        &self,
        query: &[f32],
        hits: Vec<(u64, f32)>,
        keep: usize,
        allow: Option<&dyn Fn(u64) -> bool>,
    ) -> Result<Vec<(u64, f32)>, IndexError> {
        let q = prepare(self.metric, query);
        let score: CodeScore<'_> = match &self.codec {
            GraphCodec::B1(quantizer) => {
                let prepared = quantizer.prepare_query(&q);
                let bytes = quantizer.code_bytes();
                Box::new(move |code| prepared.score(&code[..bytes]))
            }
            GraphCodec::B1Residual { walk, residual } => {
                let prepared = residual.prepare_query(&q);
                let skip = walk.code_bytes();
                Box::new(move |code| prepared.score(&code[skip..]))
            }
            _ => return Ok(hits),
        };
        let inner = self.usearch()?;
        // usearch's `get` wants a buffer of `dimensions` elements per
        // vector even for bits (it checks `len % dimensions`) and fills its
        // first `ceil(dimensions / 8)`: the code's bytes.
        let mut code = vec![b1x8(0); self.codec.usearch_dimensions(self.dim)];
        let mut score_of = |key: u64| -> Result<Option<f32>, IndexError> {
            let found = inner.get(key, &mut code).map_err(hnsw_error)?;
            Ok((found > 0).then(|| score(b1x8::to_u8s(&code))))
        };
        let mut seen: HashSet<u64> = hits.iter().map(|h| h.0).collect();
        let mut best = Vec::with_capacity(hits.len());
        for (key, _) in hits {
            let s = score_of(key)?
                .ok_or_else(|| IndexError::Hnsw(format!("key {key} vanished during a search")))?;
            best.push((key, s, false));
        }
        let by_score =
            |a: &(u64, f32, bool), b: &(u64, f32, bool)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        best.sort_unstable_by(by_score);
        best.truncate(keep);
        let mut neighbours = Vec::new();
        // The best not yet expanded; `best` stays sorted and `keep` long.
        while let Some(at) = best.iter().position(|h| !h.2) {
            best[at].2 = true;
            neighbours.clear();
            neighbours.extend(inner.neighbors(best[at].0, 0));
            for &n in &neighbours {
                if !seen.insert(n) || allow.is_some_and(|f| !f(n)) {
                    continue;
                }
                // A neighbour removed since it was linked has no code.
                let Some(s) = score_of(n)? else { continue };
                let entry = (n, s, false);
                let pos = best.partition_point(|h| by_score(h, &entry).is_lt());
                if pos < keep {
                    best.insert(pos, entry);
                    best.truncate(keep);
                }
            }
        }
        Ok(best.into_iter().map(|(key, s, _)| (key, s)).collect())
    }

    fn search_inner(
        &self,
        query: &[f32],
        k: usize,
        ef_search: Option<usize>,
        allow: Option<&dyn Fn(u64) -> bool>,
    ) -> Result<Vec<(u64, f32)>, IndexError> {
        validate_vector(query, self.dim)?;
        let ef = match ef_search {
            Some(ef) => {
                check_ef("ef_search", ef)?;
                ef
            }
            None => self.params.ef_search,
        };
        let live = self.len();
        if k == 0 || live == 0 {
            return Ok(Vec::new());
        }
        if let Engine::Native(n) = &self.engine {
            return n.search(query, k, ef, allow);
        }
        // usearch allocates room for every wanted result up front.
        let wanted = k.max(ef).min(live);
        let q = prepare(self.metric, query);
        let encoded = self.codec.encode(&q);
        let matches = {
            let _slot = self.slots.acquire();
            search_encoded(self.usearch()?, &encoded, wanted, allow)?
        };
        let (metric, dim, codec) = (self.metric, self.dim, &self.codec);
        Ok(matches
            .keys
            .iter()
            .zip(&matches.distances)
            .take(k)
            .map(|(&key, &d)| (key, codec.score(metric, dim, d)))
            .collect())
    }

    /// Writes the index to `path` (usearch's format plus a checksum
    /// trailer), through a temporary sibling file that is synced and renamed
    /// over `path`, so a crash leaves the old file or the new one. Syncing
    /// the directory is the caller's part of the commit.
    pub fn save(&self, path: &Path) -> Result<(), IndexError> {
        let inner = match &self.engine {
            Engine::Native(n) => return n.save(path),
            Engine::Usearch(inner) => inner,
        };
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        inner.save(utf8(&tmp)?).map_err(|e| file_error(&tmp, e))?;
        let codec = serde_json::to_vec(&self.codec).map_err(|e| file_error(&tmp, e))?;
        append_trailer(&tmp, &codec).map_err(|e| file_error(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| file_error(path, e))
    }

    /// Reads an index written by [`HnswIndex::save`]. `dim` and `metric` are
    /// what the caller's configuration says and are checked against the
    /// file. The graph keeps the `m` it was built with (reflected in
    /// [`HnswIndex::params`]); the beam widths come from `params`.
    ///
    /// A later step can map the file instead of reading it (usearch's
    /// `view`), which makes opening instant but the index read-only.
    pub fn load(
        path: &Path,
        dim: usize,
        metric: Metric,
        params: HnswParams,
    ) -> Result<Self, IndexError> {
        let p = utf8(path)?;
        if !path.is_file() {
            return Err(file_error(path, "no such file"));
        }
        params.validate()?;
        check_range("dim", dim, 1, usize::MAX, "at least 1")?;
        let mut params = params;
        if native_hnsw::is_native_file(path) {
            let mut graph = NativeHnsw::load(path, dim, metric)?;
            graph.set_ef_construct(params.ef_construct);
            params.m = graph.m();
            let engine = Engine::Native(Box::new(graph));
            return Ok(Self::with_engine(
                dim,
                metric,
                params,
                GraphCodec::F32,
                engine,
            ));
        }
        // A usearch file: quantized codes, or an f32 graph saved before the
        // native engine existed (kept loadable so no collection needs a
        // rebuild).
        let codec = check_trailer(path)?;
        // The scorers index the learned tables by dimension.
        codec
            .check(dim)
            .map_err(|message| file_error(path, message))?;
        let mut inner = new_usearch(dim, metric, params, &codec)?;
        let meta = Index::metadata(p).map_err(|e| file_error(path, e))?;
        if meta.dimensions != codec.usearch_dimensions(dim) as u64 {
            return Err(file_error(
                path,
                format!(
                    "holds {}-dimensional vectors, expected {} ({dim} dimensions as {})",
                    meta.dimensions,
                    codec.usearch_dimensions(dim),
                    codec.quantization().name(),
                ),
            ));
        }
        let expected_metric = codec.metric_kind(metric);
        if meta.metric != expected_metric {
            return Err(file_error(
                path,
                format!(
                    "was built for usearch metric {:?}, but {metric} needs {expected_metric:?}",
                    meta.metric,
                ),
            ));
        }
        let expected_scalar = codec.scalar_kind();
        if meta.quantization != expected_scalar || meta.multi {
            return Err(file_error(
                path,
                format!(
                    "stores {:?} scalars (multi = {}); its codec says {expected_scalar:?} with one vector per key",
                    meta.quantization, meta.multi
                ),
            ));
        }
        inner.load(p).map_err(|e| file_error(path, e))?;
        // Loading restores usearch's own kernel for the file's metric.
        install_kernel(&mut inner, &codec, dim, metric);
        inner.change_expansion_search(1);
        inner.change_expansion_add(params.ef_construct);
        params.m = inner.connectivity();
        let index = Self::with_engine(dim, metric, params, codec, Engine::Usearch(inner));
        // Loading sizes the index to its contents and its own thread count;
        // make sure every search slot has a context.
        let inner = index.usearch()?;
        let capacity = inner.capacity().max(MIN_CAPACITY);
        inner
            .reserve_capacity_and_threads(capacity, index.threads)
            .map_err(hnsw_error)?;
        Ok(index)
    }

    /// Makes room for `extra` more vectors, doubling the capacity when it
    /// runs out so that `n` single inserts cost `O(log n)` regrowths.
    fn reserve(&mut self, extra: usize) -> Result<(), IndexError> {
        // Counting live vectors only is enough: inserts reuse the slots of
        // removed ones before taking new ones.
        let inner = self.usearch()?;
        let needed = inner.size().saturating_add(extra);
        let capacity = inner.capacity();
        if needed <= capacity {
            return Ok(());
        }
        let grown = needed.max(capacity.saturating_mul(2)).max(MIN_CAPACITY);
        inner
            .reserve_capacity_and_threads(grown, self.threads)
            .map_err(hnsw_error)
    }
}

/// Rebuilds a native graph from its live vectors once removed nodes
/// outnumber live ones: the native graph keeps removed nodes as waypoints
/// (usearch reuses their slots instead), so a collection that keeps
/// replacing rows would otherwise grow without bound. Rebuilding when the
/// graph is at least half tombstones costs one build per as many changes
/// as there are live vectors: amortized, a constant factor per insert.
fn compact_if_mostly_removed(graph: &mut NativeHnsw) -> Result<(), IndexError> {
    let removed = graph.nodes() - graph.len();
    if removed > graph.len().max(MIN_CAPACITY) {
        *graph = graph.rebuilt()?;
    }
    Ok(())
}

/// An empty usearch graph for `codec`'s codes.
fn new_usearch(
    dim: usize,
    metric: Metric,
    params: HnswParams,
    codec: &GraphCodec,
) -> Result<Index, IndexError> {
    let options = IndexOptions {
        dimensions: codec.usearch_dimensions(dim),
        metric: codec.metric_kind(metric),
        quantization: codec.scalar_kind(),
        connectivity: params.m,
        expansion_add: params.ef_construct,
        // The beam comes from the number of results asked for; see the
        // module documentation.
        expansion_search: 1,
        multi: false,
    };
    let mut inner = Index::new(&options).map_err(hnsw_error)?;
    install_kernel(&mut inner, codec, dim, metric);
    Ok(inner)
}

/// Replaces usearch's distance for float vectors with `fundus_core`'s
/// kernels (the same distances: `1 - dot` for inner product, squared L2).
///
/// Why: usearch's numkong f32 inner product widens every element to f64
/// and runs one accumulator chain (8 lanes per fused multiply-add, each
/// waiting for the last); profiled, it was 70% of the search time and
/// held Fundus' f32 graph at ~0.5x hnswlib's queries/s. Ours runs 16 f32
/// lanes per instruction (AVX-512, picked at run time) and goes through
/// usearch's stateful-metric hook: one indirect call per distance. The
/// metric kind stored in files is unchanged, so files stay compatible.
fn install_kernel(inner: &mut Index, codec: &GraphCodec, dim: usize, metric: Metric) {
    if let GraphCodec::B1Residual { .. } = codec {
        install_walk_hamming(inner, codec.walk_bytes(dim));
        return;
    }
    if !matches!(codec, GraphCodec::F32) {
        return;
    }
    type F32Metric = Box<dyn Fn(*const f32, *const f32) -> f32 + Send + Sync>;
    let kernel: F32Metric = match metric {
        Metric::Cosine | Metric::Dot => Box::new(move |a, b| {
            // SAFETY: usearch passes two vectors of the index's `dim`
            // floats (it checks every added and queried slice's length).
            let (a, b) = unsafe {
                (
                    std::slice::from_raw_parts(a, dim),
                    std::slice::from_raw_parts(b, dim),
                )
            };
            1.0 - fundus_core::distance::dot(a, b)
        }),
        Metric::Euclidean => Box::new(move |a, b| {
            // SAFETY: as above.
            let (a, b) = unsafe {
                (
                    std::slice::from_raw_parts(a, dim),
                    std::slice::from_raw_parts(b, dim),
                )
            };
            fundus_core::distance::l2_squared(a, b)
        }),
    };
    inner.change_metric(kernel);
}

/// Hamming distance over the first `bytes` bytes of two codes: the walk
/// code of a residual-coded graph, leaving its payload out (graph_codec.rs).
fn install_walk_hamming(inner: &mut Index, bytes: usize) {
    let kernel = crate::quantization::binary::hamming_bytes_kernel();
    type B1Metric = Box<dyn Fn(*const b1x8, *const b1x8) -> f32 + Send + Sync>;
    let metric: B1Metric = Box::new(move |a, b| {
        // SAFETY: usearch passes two stored or queried codes of the index's
        // `dimensions` bits, of which the walk code is the first `bytes`
        // bytes; `b1x8` is one byte (`repr(transparent)` over `u8`).
        let (a, b) = unsafe {
            (
                std::slice::from_raw_parts(a.cast::<u8>(), bytes),
                std::slice::from_raw_parts(b.cast::<u8>(), bytes),
            )
        };
        kernel(a, b) as f32
    });
    inner.change_metric(metric);
}

fn add_encoded(inner: &Index, key: u64, v: Encoded<'_>) -> Result<(), IndexError> {
    match v {
        Encoded::F32(v) => inner.add(key, v),
        Encoded::I8(v) => inner.add(key, &v),
        Encoded::B1(v) => inner.add(key, &v),
    }
    .map_err(hnsw_error)
}

fn search_encoded(
    inner: &Index,
    q: &Encoded<'_>,
    wanted: usize,
    allow: Option<&dyn Fn(u64) -> bool>,
) -> Result<usearch::ffi::Matches, IndexError> {
    match (q, allow) {
        (Encoded::F32(q), None) => inner.search(q, wanted),
        (Encoded::F32(q), Some(f)) => inner.filtered_search(q, wanted, f),
        (Encoded::I8(q), None) => inner.search(q, wanted),
        (Encoded::I8(q), Some(f)) => inner.filtered_search(q, wanted, f),
        (Encoded::B1(q), None) => inner.search(q, wanted),
        (Encoded::B1(q), Some(f)) => inner.filtered_search(q, wanted, f),
    }
    .map_err(hnsw_error)
}

fn prepare(metric: Metric, v: &[f32]) -> Cow<'_, [f32]> {
    if metric == Metric::Cosine {
        let mut owned = v.to_vec();
        metric.prepare(&mut owned);
        Cow::Owned(owned)
    } else {
        Cow::Borrowed(v)
    }
}

/// Checks a batch of row-major `vectors` (one finite `dim`-vector per key)
/// and maps each key to the row of its last occurrence: both engines keep
/// a key given twice with its last vector.
pub(crate) fn last_rows(
    keys: &[u64],
    vectors: &[f32],
    dim: usize,
) -> Result<HashMap<u64, usize>, IndexError> {
    if keys.len().checked_mul(dim) != Some(vectors.len()) {
        return Err(IndexError::KeyCountMismatch {
            keys: keys.len(),
            floats: vectors.len(),
            dim,
        });
    }
    let mut last = HashMap::with_capacity(keys.len());
    for (row, (&key, vector)) in keys.iter().zip(vectors.chunks_exact(dim)).enumerate() {
        validate_vector(vector, dim)?;
        last.insert(key, row);
    }
    Ok(last)
}

fn check_key(key: u64) -> Result<(), IndexError> {
    if key == RESERVED_KEY {
        Err(IndexError::ReservedKey(key))
    } else {
        Ok(())
    }
}

fn hnsw_error(e: impl fmt::Display) -> IndexError {
    IndexError::Hnsw(e.to_string())
}

fn file_error(path: &Path, e: impl fmt::Display) -> IndexError {
    IndexError::HnswFile {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Appends the codec and the checksum trailer to a file usearch just
/// wrote, and syncs it.
fn append_trailer(path: &Path, codec: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new().read(true).append(true).open(path)?;
    let len = file.metadata()?.len();
    file.write_all(codec)?;
    let crc = crc_of(&mut file, len + codec.len() as u64)?;
    let mut trailer = Vec::with_capacity(TRAILER_LEN as usize);
    trailer.extend_from_slice(TRAILER_MAGIC);
    trailer.extend_from_slice(&len.to_le_bytes());
    trailer.extend_from_slice(&(codec.len() as u64).to_le_bytes());
    trailer.extend_from_slice(&crc.to_le_bytes());
    file.write_all(&trailer)?;
    file.sync_all()
}

/// Refuses a file without an intact trailer, before usearch reads it, and
/// returns the codec it carries.
fn check_trailer(path: &Path) -> Result<GraphCodec, IndexError> {
    let corrupt = |what: &str| file_error(path, what);
    let mut file = File::open(path).map_err(|e| file_error(path, e))?;
    let total = file.metadata().map_err(|e| file_error(path, e))?.len();
    if total < TRAILER_LEN {
        return Err(corrupt("too short to be an HNSW index file"));
    }
    let mut trailer = [0u8; TRAILER_LEN as usize];
    file.seek(SeekFrom::Start(total - TRAILER_LEN))
        .and_then(|_| file.read_exact(&mut trailer))
        .map_err(|e| file_error(path, e))?;
    let (magic, rest) = trailer.split_at(8);
    let (len, rest) = rest.split_at(8);
    let (codec_len, crc) = rest.split_at(8);
    let len = u64::from_le_bytes(len.try_into().unwrap_or_default());
    let codec_len = u64::from_le_bytes(codec_len.try_into().unwrap_or_default());
    let crc = u32::from_le_bytes(crc.try_into().unwrap_or_default());
    if magic != TRAILER_MAGIC {
        return Err(corrupt(
            "no checksum trailer: not written by Fundus, or cut short",
        ));
    }
    if len.checked_add(codec_len) != Some(total - TRAILER_LEN) {
        return Err(corrupt("lengths in the trailer do not match the file"));
    }
    if crc_of(&mut file, len + codec_len).map_err(|e| file_error(path, e))? != crc {
        return Err(corrupt("checksum mismatch: the file is corrupted"));
    }
    let mut codec = vec![0u8; codec_len as usize];
    file.seek(SeekFrom::Start(len))
        .and_then(|_| file.read_exact(&mut codec))
        .map_err(|e| file_error(path, e))?;
    serde_json::from_slice(&codec).map_err(|e| file_error(path, format!("codec: {e}")))
}

/// CRC-32 of the first `len` bytes of `file`, read in 1 MiB steps.
fn crc_of(file: &mut File, len: u64) -> io::Result<u32> {
    file.seek(SeekFrom::Start(0))?;
    let mut reader = BufReader::with_capacity(1 << 20, file.take(len));
    let mut hasher = crc32fast::Hasher::new();
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        hasher.update(buf);
        let n = buf.len();
        reader.consume(n);
    }
    Ok(hasher.finalize())
}

/// usearch takes paths as UTF-8 strings.
fn utf8(path: &Path) -> Result<&str, IndexError> {
    path.to_str()
        .ok_or_else(|| file_error(path, "path is not valid UTF-8 (usearch needs UTF-8 paths)"))
}

/// A counting semaphore over usearch's per-thread scratch contexts.
struct Slots {
    free: Mutex<usize>,
    released: Condvar,
}

struct SlotGuard<'a>(&'a Slots);

impl Slots {
    fn new(count: usize) -> Self {
        Slots {
            free: Mutex::new(count),
            released: Condvar::new(),
        }
    }

    /// The guarded section only does integer arithmetic, so a poisoned lock
    /// still holds a correct count.
    fn lock(&self) -> MutexGuard<'_, usize> {
        self.free.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn acquire(&self) -> SlotGuard<'_> {
        let mut free = self.lock();
        while *free == 0 {
            free = self
                .released
                .wait(free)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *free -= 1;
        SlotGuard(self)
    }
}

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        *self.0.lock() += 1;
        self.0.released.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::{self, centers, XorShift};
    use crate::FlatIndex;
    use fundus_core::CoreError;
    use std::collections::HashSet;
    use std::sync::Arc;

    const DIM: usize = 32;
    const N: usize = 3000;
    const QUERIES: usize = 100;
    /// Noise around each cluster centre (the centres themselves are unit
    /// normal): wide enough that clusters overlap and a narrow beam visibly
    /// loses recall, so the recall assertions measure something.
    const SPREAD: f32 = 2.5;

    /// `n` points around 40 overlapping cluster centres, plus `QUERIES`
    /// queries drawn from the same distribution.
    fn clustered(seed: u64, n: usize) -> (Vec<f32>, Vec<f32>) {
        clustered_dim(seed, n, DIM)
    }

    fn clustered_dim(seed: u64, n: usize, dim: usize) -> (Vec<f32>, Vec<f32>) {
        let mut rng = XorShift::new(seed);
        let centres = centers(&mut rng, 40, dim);
        let data = testdata::clustered(&mut rng, &centres, dim, n, SPREAD);
        let queries = testdata::clustered(&mut rng, &centres, dim, QUERIES, SPREAD);
        (data, queries)
    }

    /// Keys are not row numbers, to catch any confusion of the two.
    fn key(row: usize) -> u64 {
        row as u64 * 7 + 1_000_003
    }

    fn build(metric: Metric, data: &[f32]) -> (HnswIndex, FlatIndex) {
        let mut hnsw = HnswIndex::new(DIM, metric, HnswParams::default()).unwrap();
        let mut flat = FlatIndex::new(DIM, metric);
        for (row, v) in data.chunks_exact(DIM).enumerate() {
            hnsw.add(key(row), v).unwrap();
            flat.add(v).unwrap();
        }
        (hnsw, flat)
    }

    /// Mean fraction of the exact top `k` that `approx` found.
    fn recall(exact: &[Vec<u64>], approx: &[Vec<u64>], k: usize) -> f64 {
        let mut found = 0usize;
        let mut total = 0usize;
        for (e, a) in exact.iter().zip(approx) {
            let a: HashSet<u64> = a.iter().copied().collect();
            found += e.iter().take(k).filter(|x| a.contains(x)).count();
            total += e.len().min(k);
        }
        found as f64 / total.max(1) as f64
    }

    fn exact_keys(
        flat: &FlatIndex,
        queries: &[f32],
        k: usize,
        allow: &(dyn Fn(u32) -> bool + Sync),
    ) -> Vec<Vec<u64>> {
        queries
            .chunks_exact(DIM)
            .map(|q| {
                let hits = flat.search_filtered(q, k, allow).unwrap();
                hits.iter().map(|&(row, _)| key(row as usize)).collect()
            })
            .collect()
    }

    fn hnsw_keys(hnsw: &HnswIndex, queries: &[f32], k: usize, ef: Option<usize>) -> Vec<Vec<u64>> {
        queries
            .chunks_exact(DIM)
            .map(|q| {
                let hits = hnsw.search(q, k, ef).unwrap();
                hits.iter().map(|&(key, _)| key).collect()
            })
            .collect()
    }

    #[test]
    fn hnsw_recall_at_10_matches_exact_search_for_every_metric() {
        let (data, queries) = clustered(1, N);
        for metric in [Metric::Cosine, Metric::Dot, Metric::Euclidean] {
            let (hnsw, flat) = build(metric, &data);
            assert_eq!(hnsw.len(), N);
            let exact = exact_keys(&flat, &queries, 10, &|_| true);
            let approx = hnsw_keys(&hnsw, &queries, 10, None);
            let r = recall(&exact, &approx, 10);
            eprintln!("hnsw {metric}: recall@10 = {r:.4} (defaults, n = {N}, dim = {DIM})");
            assert!(r >= 0.95, "{metric}: recall@10 = {r}");
            assert!(approx.iter().all(|a| a.len() == 10));
        }
    }

    #[test]
    fn hnsw_scores_equal_exact_scores() {
        let (data, queries) = clustered(2, 500);
        for metric in [Metric::Cosine, Metric::Dot, Metric::Euclidean] {
            let (hnsw, flat) = build(metric, &data);
            let rows: HashMap<u64, u32> = (0..500).map(|r| (key(r), r as u32)).collect();
            let mut q = queries[..DIM].to_vec();
            metric.prepare(&mut q);
            for (key, s) in hnsw.search(&queries[..DIM], 10, None).unwrap() {
                let expected = metric.score(&q, flat.vector(rows[&key] as usize));
                assert!(
                    (s - expected).abs() <= 1e-4 * expected.abs().max(1.0),
                    "{metric}: {s} vs {expected}"
                );
            }
            let hits = hnsw.search(&queries[..DIM], 10, None).unwrap();
            assert!(hits.windows(2).all(|w| w[0].1 >= w[1].1), "best first");
        }
    }

    #[test]
    fn hnsw_wider_ef_search_does_not_reduce_recall() {
        let (data, queries) = clustered(3, N);
        let (hnsw, flat) = build(Metric::Cosine, &data);
        let exact = exact_keys(&flat, &queries, 10, &|_| true);
        let mut last = 0.0;
        for ef in [1, 10, 32, 64, 256] {
            let approx = hnsw_keys(&hnsw, &queries, 10, Some(ef));
            assert!(
                approx.iter().all(|a| a.len() == 10),
                "k results even when ef < k"
            );
            let r = recall(&exact, &approx, 10);
            eprintln!("hnsw cosine: ef_search = {ef}: recall@10 = {r:.4}");
            assert!(r >= last, "ef {ef}: recall {r} fell below {last}");
            last = r;
        }
        assert!(last >= 0.99, "ef 256: recall@10 = {last}");
        assert!(matches!(
            hnsw.search(&queries[..DIM], 10, Some(0)),
            Err(IndexError::InvalidHnswParameter {
                name: "ef_search",
                ..
            })
        ));
    }

    #[test]
    fn hnsw_removed_keys_never_come_back() {
        let (data, queries) = clustered(4, N);
        let (mut hnsw, flat) = build(Metric::Cosine, &data);
        let removed = |row: u32| row.is_multiple_of(3);
        for row in (0..N).filter(|&r| removed(r as u32)) {
            assert!(hnsw.remove(key(row)).unwrap());
            assert!(!hnsw.remove(key(row)).unwrap(), "second removal is a no-op");
        }
        assert_eq!(hnsw.len(), N - N.div_ceil(3));
        assert!(!hnsw.contains(key(0)));
        let gone: HashSet<u64> = (0..N).filter(|&r| removed(r as u32)).map(key).collect();
        let approx = hnsw_keys(&hnsw, &queries, 50, None);
        assert!(approx.iter().flatten().all(|k| !gone.contains(k)));
        // A removed vector queried with itself must not find itself.
        let hits = hnsw.search(&data[..DIM], 5, None).unwrap();
        assert!(hits.iter().all(|h| h.0 != key(0)));
        // The survivors are still found well.
        let exact = exact_keys(&flat, &queries, 10, &|row| !removed(row));
        let r = recall(&exact, &hnsw_keys(&hnsw, &queries, 10, None), 10);
        eprintln!("hnsw cosine after removing a third: recall@10 = {r:.4}");
        assert!(r >= 0.95, "recall after removals = {r}");
        // Re-adding a removed key brings it back (into a reused slot).
        hnsw.add(key(0), &data[..DIM]).unwrap();
        assert_eq!(hnsw.search(&data[..DIM], 1, None).unwrap()[0].0, key(0));
    }

    #[test]
    fn hnsw_add_replaces_an_existing_key() {
        let mut hnsw = HnswIndex::new(3, Metric::Cosine, HnswParams::default()).unwrap();
        hnsw.add(5, &[1.0, 0.0, 0.0]).unwrap();
        hnsw.add(6, &[0.0, 1.0, 0.0]).unwrap();
        hnsw.add(5, &[0.0, 0.0, 1.0]).unwrap();
        assert_eq!(hnsw.len(), 2);
        let hits = hnsw.search(&[0.0, 0.0, 2.0], 1, None).unwrap();
        assert_eq!(hits[0].0, 5);
        assert!((hits[0].1 - 1.0).abs() < 1e-5);
        let hits = hnsw.search(&[1.0, 0.0, 0.0], 2, None).unwrap();
        assert!(hits.iter().all(|h| h.1 < 0.5), "old vector gone: {hits:?}");
    }

    #[test]
    fn hnsw_filtered_search_applies_the_filter_inside_the_graph() {
        let (data, queries) = clustered(5, N);
        let (hnsw, flat) = build(Metric::Cosine, &data);
        let allowed = |row: u32| row % 10 == 3;
        let keys_allowed: HashSet<u64> = (0..N).filter(|&r| allowed(r as u32)).map(key).collect();
        let allow = |k: u64| keys_allowed.contains(&k);
        let exact = exact_keys(&flat, &queries, 10, &allowed);
        let approx: Vec<Vec<u64>> = queries
            .chunks_exact(DIM)
            .map(|q| {
                let hits = hnsw.search_filtered(q, 10, None, &allow).unwrap();
                assert_eq!(hits.len(), 10);
                hits.iter().map(|h| h.0).collect()
            })
            .collect();
        assert!(approx.iter().flatten().all(|k| keys_allowed.contains(k)));
        let r = recall(&exact, &approx, 10);
        eprintln!("hnsw cosine filtered (10% allowed): recall@10 = {r:.4}");
        assert!(r >= 0.95, "filtered recall@10 = {r}");
        // What post-filtering a short list would give instead.
        let post: Vec<Vec<u64>> = queries
            .chunks_exact(DIM)
            .map(|q| {
                let hits = hnsw.search(q, 64, None).unwrap();
                hits.iter()
                    .map(|h| h.0)
                    .filter(|&k| allow(k))
                    .take(10)
                    .collect()
            })
            .collect();
        let post = recall(&exact, &post, 10);
        eprintln!("hnsw cosine post-filtering the top 64 (10% allowed): recall@10 = {post:.4}");
        assert!(post < r);

        // 1%: still k allowed results, exactly those an exact search finds.
        let rare: HashSet<u64> = (0..N).step_by(100).map(key).collect();
        let exact = exact_keys(&flat, &queries, 10, &|row| row % 100 == 0);
        let approx: Vec<Vec<u64>> = queries
            .chunks_exact(DIM)
            .map(|q| {
                let hits = hnsw
                    .search_filtered(q, 10, None, &|k| rare.contains(&k))
                    .unwrap();
                hits.iter().map(|h| h.0).collect()
            })
            .collect();
        assert!(approx.iter().all(|a| a.len() == 10));
        let r = recall(&exact, &approx, 10);
        eprintln!("hnsw cosine filtered (1% allowed): recall@10 = {r:.4}");
        assert!(r >= 0.95, "1% filtered recall@10 = {r}");

        let none = hnsw
            .search_filtered(&queries[..DIM], 10, None, &|_| false)
            .unwrap();
        assert!(none.is_empty());
    }

    #[test]
    fn hnsw_save_and_load_round_trip() {
        let (data, queries) = clustered(6, 1000);
        let (mut hnsw, _) = build(Metric::Euclidean, &data);
        hnsw.remove(key(1)).unwrap();
        let params = HnswParams {
            m: 12,
            ef_construct: 64,
            ef_search: 40,
        };
        let mut small = HnswIndex::new(DIM, Metric::Euclidean, params).unwrap();
        for (row, v) in data.chunks_exact(DIM).enumerate() {
            small.add(key(row), v).unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vectors.usearch");
        hnsw.save(&path).unwrap();
        assert!(!dir.path().join("vectors.usearch.tmp").exists());

        let loaded = HnswIndex::load(&path, DIM, Metric::Euclidean, HnswParams::default()).unwrap();
        assert_eq!(loaded.len(), hnsw.len());
        // Loading brings usearch's own kernel back; ours must be put again.
        assert!(
            loaded.distance_isa().starts_with("fundus-"),
            "{}",
            loaded.distance_isa()
        );
        assert!(!loaded.contains(key(1)), "removals are saved");
        for q in queries.chunks_exact(DIM) {
            assert_eq!(
                loaded.search(q, 10, None).unwrap(),
                hnsw.search(q, 10, None).unwrap()
            );
        }
        // A loaded index keeps growing incrementally.
        let mut loaded = loaded;
        loaded.add(key(5000), &queries[..DIM]).unwrap();
        assert_eq!(
            loaded.search(&queries[..DIM], 1, None).unwrap()[0].0,
            key(5000)
        );

        // The graph keeps the m it was built with.
        small.save(&path).unwrap();
        let reloaded =
            HnswIndex::load(&path, DIM, Metric::Euclidean, HnswParams::default()).unwrap();
        assert_eq!(reloaded.params().m, 12);
        assert_eq!(reloaded.params().ef_search, 64);

        // Mismatches and missing or broken files name the path.
        let wrong_dim = HnswIndex::load(&path, DIM + 1, Metric::Euclidean, params);
        assert!(matches!(&wrong_dim, Err(IndexError::HnswFile { path: p, .. }) if p == &path));
        assert!(wrong_dim
            .unwrap_err()
            .to_string()
            .contains("32-dimensional"));
        assert!(matches!(
            HnswIndex::load(&path, DIM, Metric::Cosine, params),
            Err(IndexError::HnswFile { .. })
        ));
        let missing = dir.path().join("missing.usearch");
        let err = HnswIndex::load(&missing, DIM, Metric::Cosine, params).unwrap_err();
        assert!(err.to_string().contains("missing.usearch"), "{err}");
        // A flipped byte (usearch alone would load it and crash on search)
        // and a cut file are caught by the trailer.
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();
        let err = HnswIndex::load(&path, DIM, Metric::Euclidean, params).unwrap_err();
        assert!(err.to_string().contains("checksum mismatch"), "{err}");
        std::fs::write(&path, &bytes[..middle]).unwrap();
        let err = HnswIndex::load(&path, DIM, Metric::Euclidean, params).unwrap_err();
        assert!(err.to_string().contains("trailer"), "{err}");
        let garbage = dir.path().join("garbage.usearch");
        std::fs::write(&garbage, b"this is not an index").unwrap();
        let err = HnswIndex::load(&garbage, DIM, Metric::Cosine, params).unwrap_err();
        assert!(err.to_string().contains("garbage.usearch"), "{err}");
    }

    /// The originals of `build`'s keys, for rescoring.
    struct ByKey<'a>(&'a FlatIndex);

    impl VectorSource for ByKey<'_> {
        fn vector_of(&self, key: u64) -> Option<&[f32]> {
            let row = key.checked_sub(1_000_003)?;
            (row % 7 == 0).then(|| self.0.vector((row / 7) as usize))
        }
    }

    fn quantized(metric: Metric, q: Quantization, data: &[f32]) -> (HnswIndex, FlatIndex) {
        let mut hnsw =
            HnswIndex::new_quantized(DIM, metric, HnswParams::default(), q, data).unwrap();
        let keys: Vec<u64> = (0..data.len() / DIM).map(key).collect();
        hnsw.add_batch(&keys, data).unwrap();
        let mut flat = FlatIndex::new(DIM, metric);
        data.chunks_exact(DIM).for_each(|v| {
            flat.add(v).unwrap();
        });
        (hnsw, flat)
    }

    fn rescored_keys(
        hnsw: &HnswIndex,
        flat: &FlatIndex,
        queries: &[f32],
        params: SearchParams,
    ) -> Vec<Vec<u64>> {
        queries
            .chunks_exact(DIM)
            .map(|q| {
                let hits = hnsw
                    .search_with(q, 10, None, &params, None, Some(&ByKey(flat)))
                    .unwrap();
                hits.iter().map(|&(key, _)| key).collect()
            })
            .collect()
    }

    #[test]
    fn quantized_graphs_rescored_keep_recall() {
        let (data, queries) = clustered(11, N);
        let int8 = Quantization::Int8 {
            per_dimension: true,
            quantile: None,
        };
        let rescore = SearchParams::default();
        let raw = SearchParams {
            oversampling: Some(1.0),
            rescore: false,
        };
        for (metric, q, oversampling, floor) in [
            (Metric::Cosine, Quantization::Float16, None, 0.95),
            (Metric::Cosine, int8, None, 0.95),
            (Metric::Euclidean, int8, None, 0.95),
            (Metric::Dot, int8, None, 0.95),
        ] {
            let (hnsw, flat) = quantized(metric, q, &data);
            assert_eq!(hnsw.quantization(), q);
            let exact = exact_keys(&flat, &queries, 10, &|_| true);
            let params = SearchParams {
                oversampling,
                ..rescore
            };
            let r = recall(&exact, &rescored_keys(&hnsw, &flat, &queries, params), 10);
            let r_raw = recall(&exact, &rescored_keys(&hnsw, &flat, &queries, raw), 10);
            eprintln!(
                "hnsw {} {metric}: recall@10 rescored {r:.4}, codes only {r_raw:.4}",
                q.name()
            );
            assert!(r >= floor, "{} {metric}: recall@10 = {r}", q.name());
            assert!(r >= r_raw, "rescoring must not lose recall");
        }
    }

    #[test]
    fn binary_graph_finds_what_a_scan_of_its_codes_finds() {
        // Hamming distances over 32 bits tie everywhere and a graph cannot
        // navigate them; binary is for embeddings of a few hundred
        // dimensions, so this test uses 256.
        const WIDE: usize = 256;
        let (data, queries) = clustered_dim(15, 2000, WIDE);
        let one = binary_graph_recall::<WIDE>(Quantization::BINARY, &data, &queries);
        let two = binary_graph_recall::<WIDE>(Quantization::BINARY2, &data, &queries);
        // Two bits per dimension: thermometer codes the same Hamming graph
        // walks, levels the re-ranking reads.
        assert!(two > one, "2 bits {two} vs 1 bit {one}");
    }

    /// Recall@10 of a binary graph (oversampling 4, rescored) on `data`,
    /// checked against a flat scan of the same codes and against no
    /// rescoring.
    fn binary_graph_recall<const WIDE: usize>(
        quantization: Quantization,
        data: &[f32],
        queries: &[f32],
    ) -> f64 {
        let p = HnswParams::default();
        let mut hnsw =
            HnswIndex::new_quantized(WIDE, Metric::Cosine, p, quantization, data).unwrap();
        let keys: Vec<u64> = (0..2000).collect();
        hnsw.add_batch(&keys, data).unwrap();
        let mut flat = FlatIndex::new(WIDE, Metric::Cosine);
        data.chunks_exact(WIDE).for_each(|v| {
            flat.add(v).unwrap();
        });
        let (mut found, mut found_raw) = (0, 0);
        let raw = SearchParams {
            oversampling: Some(1.0),
            rescore: false,
        };
        for q in queries.chunks_exact(WIDE) {
            let exact: HashSet<u64> = flat
                .search(q, 10)
                .unwrap()
                .iter()
                .map(|&(r, _)| r as u64)
                .collect();
            // The walk compares bits; its beam is re-ranked by the float
            // query (as the scan ranks everything): with a beam of a quarter
            // of the points the two must agree.
            let hits = hnsw
                .search_with(
                    q,
                    10,
                    Some(512),
                    &SearchParams::default(),
                    None,
                    Some(&flat),
                )
                .unwrap();
            found += hits.iter().filter(|(k, _)| exact.contains(k)).count();
            let hits = hnsw.search_with(q, 10, None, &raw, None, None).unwrap();
            found_raw += hits.iter().filter(|(k, _)| exact.contains(k)).count();
        }
        // Binary codes of isotropic noise rank poorly however they are
        // searched; what the graph must not do is lose against a scan of
        // the same codes. (Real embeddings: bench/ann.)
        let scan =
            crate::QuantizedFlatIndex::build(data, WIDE, Metric::Cosine, quantization).unwrap();
        let mut found_scan = 0;
        for q in queries.chunks_exact(WIDE) {
            let exact: HashSet<u64> = flat
                .search(q, 10)
                .unwrap()
                .iter()
                .map(|&(r, _)| r as u64)
                .collect();
            let hits = scan.search(q, 10, &SearchParams::default()).unwrap();
            found_scan += hits
                .iter()
                .filter(|(r, _)| exact.contains(&(*r as u64)))
                .count();
        }
        let total = (queries.len() / WIDE * 10) as f64;
        let (r, r_raw) = (found as f64 / total, found_raw as f64 / total);
        let r_scan = found_scan as f64 / total;
        eprintln!(
            "hnsw {} {WIDE}-d: recall@10 rescored (x4, ef 512) {r:.4}, codes only {r_raw:.4}, flat scan of the codes (x4) {r_scan:.4}",
            quantization.name()
        );
        assert!(r >= r_scan - 0.03, "graph {r} vs scan {r_scan}");
        assert!(r > r_raw + 0.1, "rescoring must pay: {r} vs {r_raw}");
        r
    }

    #[test]
    fn quantized_scores_are_exact_after_rescoring_and_estimates_before() {
        let (data, queries) = clustered(12, 800);
        let int8 = Quantization::Int8 {
            per_dimension: false,
            quantile: Some(0.999),
        };
        let (hnsw, flat) = quantized(Metric::Cosine, int8, &data);
        let q = &queries[..DIM];
        let mut prepared = q.to_vec();
        Metric::Cosine.prepare(&mut prepared);
        let by_key = ByKey(&flat);
        let hits = hnsw
            .search_with(q, 5, None, &SearchParams::default(), None, Some(&by_key))
            .unwrap();
        for (k, s) in &hits {
            let exact = Metric::Cosine.score(&prepared, by_key.vector_of(*k).unwrap());
            assert!((s - exact).abs() < 1e-5, "{s} vs {exact}");
        }
        let raw = SearchParams {
            oversampling: None,
            rescore: false,
        };
        for (k, s) in hnsw.search_with(q, 5, None, &raw, None, None).unwrap() {
            let exact = Metric::Cosine.score(&prepared, by_key.vector_of(k).unwrap());
            assert!((s - exact).abs() < 0.05, "int8 estimate {s} vs {exact}");
        }
        assert_eq!(
            hnsw.search_with(q, 5, None, &SearchParams::default(), None, None),
            Err(IndexError::NoOriginals)
        );
    }

    #[test]
    fn binary_graph_second_walk_honours_filters_and_removals() {
        // The walk under the asymmetric estimate goes through the graph's
        // links itself: it must skip rows the filter rejects and rows
        // removed since they were linked, as the first walk does.
        const WIDE: usize = 128;
        let (data, queries) = clustered_dim(21, 1500, WIDE);
        let mut hnsw = HnswIndex::new_quantized(
            WIDE,
            Metric::Cosine,
            HnswParams::default(),
            Quantization::BINARY2,
            &data,
        )
        .unwrap();
        let keys: Vec<u64> = (0..1500).map(key).collect();
        hnsw.add_batch(&keys, &data).unwrap();
        let mut flat = FlatIndex::new(WIDE, Metric::Cosine);
        data.chunks_exact(WIDE).for_each(|v| {
            flat.add(v).unwrap();
        });
        let removed: HashSet<u64> = (0..1500).step_by(3).map(key).collect();
        for &k in &removed {
            assert!(hnsw.remove(k).unwrap());
        }
        // Allowed: rows that are even, among those not removed.
        let allowed = |k: u64| ((k - 1_000_003) / 7).is_multiple_of(2);
        let params = SearchParams::default();
        let (mut found, mut total) = (0, 0);
        for q in queries.chunks_exact(WIDE) {
            let hits = hnsw
                .search_with(
                    q,
                    10,
                    Some(64),
                    &params,
                    Some(&allowed),
                    Some(&ByKey(&flat)),
                )
                .unwrap();
            assert_eq!(hits.len(), 10);
            for (k, _) in &hits {
                assert!(allowed(*k), "key {k} is filtered out");
                assert!(!removed.contains(k), "key {k} was removed");
            }
            let exact: HashSet<u64> = flat
                .search_filtered(q, 10, &|r| {
                    let k = key(r as usize);
                    allowed(k) && !removed.contains(&k)
                })
                .unwrap()
                .iter()
                .map(|&(r, _)| key(r as usize))
                .collect();
            found += hits.iter().filter(|(k, _)| exact.contains(k)).count();
            total += 10;
        }
        let recall = found as f64 / total as f64;
        assert!(recall >= 0.9, "filtered recall@10 {recall}");
    }

    #[test]
    fn plain_two_bit_graphs_of_earlier_versions_still_load_and_search() {
        // Before residual payloads, a two-bit graph stored only the
        // thermometer codes (codec `b1` with levels): such files still open,
        // and re-rank by the levels as they did.
        let (data, queries) = clustered(17, 600);
        let codec = GraphCodec::B1(
            crate::quantization::BinaryQuantizer::train_bits(&data, DIM, 2).unwrap(),
        );
        let mut hnsw =
            HnswIndex::with_codec(DIM, Metric::Cosine, HnswParams::default(), codec).unwrap();
        let keys: Vec<u64> = (0..600).map(key).collect();
        hnsw.add_batch(&keys, &data).unwrap();
        assert_eq!(hnsw.code_bytes(), 2 * DIM / 8);
        let mut flat = FlatIndex::new(DIM, Metric::Cosine);
        data.chunks_exact(DIM).for_each(|v| {
            flat.add(v).unwrap();
        });
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.usearch");
        hnsw.save(&path).unwrap();
        let loaded = HnswIndex::load(&path, DIM, Metric::Cosine, HnswParams::default()).unwrap();
        assert!(matches!(loaded.codec, GraphCodec::B1(_)));
        assert_eq!(loaded.quantization(), Quantization::BINARY2);
        let params = SearchParams::default();
        for q in queries.chunks_exact(DIM).take(20) {
            let a = hnsw.search_with(q, 10, None, &params, None, Some(&ByKey(&flat)));
            let b = loaded.search_with(q, 10, None, &params, None, Some(&ByKey(&flat)));
            assert_eq!(a.unwrap(), b.unwrap());
        }
    }

    #[test]
    fn quantized_graph_saves_its_codec() {
        let (data, queries) = clustered(13, 600);
        let dir = tempfile::tempdir().unwrap();
        for (i, q) in [
            Quantization::BINARY,
            Quantization::BINARY2,
            Quantization::Int8 {
                per_dimension: true,
                quantile: Some(0.99),
            },
            Quantization::Float16,
        ]
        .into_iter()
        .enumerate()
        {
            let (hnsw, flat) = quantized(Metric::Cosine, q, &data);
            let path = dir.path().join(format!("{i}.usearch"));
            hnsw.save(&path).unwrap();
            let loaded =
                HnswIndex::load(&path, DIM, Metric::Cosine, HnswParams::default()).unwrap();
            assert_eq!(loaded.quantization(), q);
            let params = SearchParams::default();
            for query in queries.chunks_exact(DIM).take(20) {
                let a = hnsw.search_with(query, 10, None, &params, None, Some(&ByKey(&flat)));
                let b = loaded.search_with(query, 10, None, &params, None, Some(&ByKey(&flat)));
                assert_eq!(a.unwrap(), b.unwrap(), "{}", q.name());
            }
        }
    }

    #[test]
    fn rename_moves_a_vector_to_a_free_key() {
        let (data, _) = clustered(14, 50);
        let (mut hnsw, _) = build(Metric::Cosine, &data);
        let v = &data[3 * DIM..4 * DIM];
        assert!(hnsw.rename(key(3), 7).unwrap());
        assert!(!hnsw.contains(key(3)) && hnsw.contains(7));
        assert_eq!(hnsw.search(v, 1, None).unwrap()[0].0, 7);
        assert!(hnsw.rename(key(4), 7).is_err(), "a taken key is refused");
        assert!(
            !hnsw.rename(999, 998).unwrap(),
            "a missing key reports false"
        );
    }

    #[test]
    fn hnsw_empty_index_saves_loads_and_searches_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.usearch");
        let mut hnsw = HnswIndex::new(4, Metric::Cosine, HnswParams::default()).unwrap();
        assert!(hnsw
            .search(&[1.0, 0.0, 0.0, 0.0], 10, None)
            .unwrap()
            .is_empty());
        hnsw.save(&path).unwrap();
        let loaded = HnswIndex::load(&path, 4, Metric::Cosine, HnswParams::default()).unwrap();
        assert!(loaded.is_empty());
        assert!(loaded
            .search(&[1.0, 0.0, 0.0, 0.0], 10, None)
            .unwrap()
            .is_empty());
        hnsw.add(1, &[1.0, 0.0, 0.0, 0.0]).unwrap();
        assert!(hnsw
            .search(&[1.0, 0.0, 0.0, 0.0], 0, None)
            .unwrap()
            .is_empty());
        hnsw.remove(1).unwrap();
        assert!(hnsw
            .search(&[1.0, 0.0, 0.0, 0.0], 10, None)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn hnsw_bad_input_is_refused_before_usearch() {
        let mut hnsw = HnswIndex::new(3, Metric::Cosine, HnswParams::default()).unwrap();
        hnsw.add(1, &[1.0, 2.0, 3.0]).unwrap();
        assert_eq!(
            hnsw.add(2, &[1.0, 2.0]),
            Err(IndexError::Core(CoreError::WrongVectorDimension {
                expected: 3,
                received: 2
            }))
        );
        assert!(matches!(
            hnsw.add(2, &[1.0, f32::NAN, 0.0]),
            Err(IndexError::Core(CoreError::NonFiniteComponent {
                index: 1,
                ..
            }))
        ));
        assert!(hnsw.add(RESERVED_KEY, &[1.0, 0.0, 0.0]).is_err());
        assert_eq!(hnsw.len(), 1);
        assert!(matches!(
            hnsw.search(&[1.0], 1, None),
            Err(IndexError::Core(CoreError::WrongVectorDimension { .. }))
        ));
        assert!(hnsw.search(&[f32::INFINITY, 0.0, 0.0], 1, None).is_err());
        assert!(matches!(
            hnsw.add_batch(&[7, 8], &[1.0, 2.0, 3.0]),
            Err(IndexError::KeyCountMismatch {
                keys: 2,
                floats: 3,
                dim: 3
            })
        ));
        assert!(hnsw
            .add_batch(&[7, 8], &[1.0, 2.0, 3.0, 1.0, f32::NAN, 3.0])
            .is_err());
        assert_eq!(hnsw.len(), 1, "a rejected batch inserts nothing");
        assert!(matches!(
            HnswIndex::new(0, Metric::Cosine, HnswParams::default()),
            Err(IndexError::InvalidHnswParameter { name: "dim", .. })
        ));
        let bad_m = HnswParams {
            m: 1,
            ..HnswParams::default()
        };
        assert!(matches!(
            HnswIndex::new(3, Metric::Cosine, bad_m),
            Err(IndexError::InvalidHnswParameter {
                name: "m",
                value: 1,
                ..
            })
        ));
    }

    #[test]
    fn hnsw_batch_insert_matches_single_inserts() {
        let (data, queries) = clustered(7, N);
        let (_, flat) = build(Metric::Dot, &data);
        let mut hnsw = HnswIndex::new(DIM, Metric::Dot, HnswParams::default()).unwrap();
        let keys: Vec<u64> = (0..N).map(key).collect();
        // First half, then the whole set: the overlap is replaced, not doubled.
        hnsw.add_batch(&keys[..N / 2], &data[..N / 2 * DIM])
            .unwrap();
        hnsw.add_batch(&keys, &data).unwrap();
        assert_eq!(hnsw.len(), N);
        let exact = exact_keys(&flat, &queries, 10, &|_| true);
        let r = recall(&exact, &hnsw_keys(&hnsw, &queries, 10, None), 10);
        eprintln!("hnsw dot, parallel batch insert: recall@10 = {r:.4}");
        assert!(r >= 0.95, "batch recall@10 = {r}");
        // A key given twice keeps its last vector.
        let (first, second) = (&data[..DIM], &data[DIM..2 * DIM]);
        hnsw.add_batch(&[1, 1], &[first, second].concat()).unwrap();
        assert_eq!(hnsw.len(), N + 1);
        let stored = hnsw
            .search(second, N + 1, Some(MAX_EF))
            .unwrap()
            .into_iter()
            .find(|h| h.0 == 1)
            .map(|h| h.1);
        let expected = fundus_core::distance::dot(second, second);
        assert!(
            stored.is_some_and(|s| (s - expected).abs() < 1e-3 * expected.abs().max(1.0)),
            "{stored:?} vs {expected}"
        );
    }

    #[test]
    fn hnsw_many_threads_share_one_index() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<HnswIndex>();
        let (data, queries) = clustered(8, 1000);
        let (hnsw, _) = build(Metric::Cosine, &data);
        let hnsw = Arc::new(hnsw);
        let expected = hnsw_keys(&hnsw, &queries, 10, None);
        // More threads than usearch has contexts: callers wait, none fail.
        let threads = hnsw.threads * 4;
        std::thread::scope(|s| {
            for t in 0..threads {
                let hnsw = Arc::clone(&hnsw);
                let (queries, expected) = (&queries, &expected);
                s.spawn(move || {
                    for (i, q) in queries.chunks_exact(DIM).enumerate().skip(t % 7) {
                        let got: Vec<u64> = hnsw
                            .search(q, 10, None)
                            .unwrap()
                            .iter()
                            .map(|h| h.0)
                            .collect();
                        assert_eq!(&got, &expected[i]);
                    }
                });
            }
        });
    }

    #[test]
    fn f32_graphs_are_native_and_old_usearch_f32_files_still_load() {
        let (data, queries) = clustered(16, 1000);
        let keys: Vec<u64> = (0..1000).map(key).collect();
        let params = HnswParams::default();
        let mut native = HnswIndex::new(DIM, Metric::Cosine, params).unwrap();
        native.add_batch(&keys, &data).unwrap();
        assert_eq!(native.engine(), "native");
        // An f32 graph as earlier versions built and saved it.
        let mut old = HnswIndex::new_on_usearch(DIM, Metric::Cosine, params).unwrap();
        assert_eq!(old.engine(), "usearch");
        old.add_batch(&keys, &data).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (new_path, old_path) = (dir.path().join("new.hnsw"), dir.path().join("old.hnsw"));
        native.save(&new_path).unwrap();
        old.save(&old_path).unwrap();
        assert!(native_hnsw::is_native_file(&new_path));
        assert!(!native_hnsw::is_native_file(&old_path));
        for (path, engine, original) in
            [(&new_path, "native", &native), (&old_path, "usearch", &old)]
        {
            let mut loaded = HnswIndex::load(path, DIM, Metric::Cosine, params).unwrap();
            assert_eq!(loaded.engine(), engine);
            assert_eq!(loaded.len(), 1000);
            for q in queries.chunks_exact(DIM).take(20) {
                assert_eq!(
                    loaded.search(q, 10, None).unwrap(),
                    original.search(q, 10, None).unwrap()
                );
            }
            // Both keep taking inserts, removals and renames.
            loaded.add(3, &queries[..DIM]).unwrap();
            assert_eq!(loaded.search(&queries[..DIM], 1, None).unwrap()[0].0, 3);
            assert!(loaded.remove(3).unwrap());
            assert!(loaded.rename(key(0), 4).unwrap());
            assert!(loaded.contains(4) && !loaded.contains(key(0)));
        }
    }

    #[test]
    fn a_native_graph_of_mostly_removed_nodes_is_rebuilt() {
        let (data, queries) = clustered(17, N);
        let (mut hnsw, flat) = build(Metric::Cosine, &data);
        let nodes = |h: &HnswIndex| match &h.engine {
            Engine::Native(n) => n.nodes(),
            Engine::Usearch(_) => unreachable!("f32 graphs are native"),
        };
        for row in 0..2000 {
            hnsw.remove(key(row)).unwrap();
        }
        assert_eq!(nodes(&hnsw), N, "removals leave tombstones");
        hnsw.add(key(0), &data[..DIM]).unwrap();
        assert_eq!(hnsw.len(), N - 1999);
        assert_eq!(nodes(&hnsw), N - 1999, "rebuilt without the tombstones");
        let exact = exact_keys(&flat, &queries, 10, &|row| row == 0 || row >= 2000);
        let r = recall(&exact, &hnsw_keys(&hnsw, &queries, 10, None), 10);
        assert!(r >= 0.95, "recall@10 after the rebuild = {r}");
    }

    #[test]
    fn hnsw_params_deserialize_with_defaults() {
        let p: HnswParams = serde_json::from_str("{}").unwrap();
        assert_eq!(p, HnswParams::default());
        let p: HnswParams = serde_json::from_str(r#"{"ef_search": 200}"#).unwrap();
        assert_eq!(p.ef_search, 200);
        assert_eq!(p.m, 16);
        assert!(serde_json::from_str::<HnswParams>(r#"{"ef_constuct": 200}"#).is_err());
        let json = serde_json::to_string(&HnswParams::default()).unwrap();
        assert_eq!(json, r#"{"m":16,"ef_construct":128,"ef_search":64}"#);
    }
}
