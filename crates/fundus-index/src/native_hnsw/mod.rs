//! Fundus' own HNSW graph for `f32` vectors, laid out and searched the way
//! hnswlib does it.
//!
//! Why an own engine: usearch (which serves the quantized graphs, see
//! `hnsw.rs`) reaches a neighbour's vector through two pointer loads and
//! tracks visited nodes in a hash set; with f32 vectors, where a query is
//! bound by fetching 1.5 KB per scored node, that held Fundus at ~0.7x
//! hnswlib's queries/s (bench/RESULTS.md, "bench/ann"). Here:
//!
//! - `graph.rs`: one 64-byte-aligned block per node, base-layer links then
//!   the vector, so a node is one address computation away;
//! - `visited.rs`: generation-tagged visited marks, pooled per search;
//! - `search.rs`: the beam search with packed integer heap keys and
//!   software prefetch of the neighbours' vectors;
//! - `insert.rs`: hnswlib's levels, neighbour heuristic and parallel,
//!   lock-striped linking;
//! - `io.rs`: the checksummed file format.
//!
//! Semantics follow [`HnswIndex`](crate::HnswIndex): cosine vectors are
//! normalized on the way in and compared by inner product (score = dot),
//! `Dot` compares as given, `Euclidean` by squared distance (score =
//! `-sqrt(d)`); scores are higher-is-better. Removed keys stay in the graph
//! as tombstones that searches walk through but never return (memory
//! comes back only with a rebuild); a filter predicate runs inside the walk
//! with the same rule.

mod graph;
mod insert;
mod io;
mod search;
#[cfg(test)]
mod tests;
mod visited;

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use rayon::prelude::*;

use fundus_core::metric::validate_vector;
use fundus_core::Metric;

use crate::error::IndexError;
use graph::Graph;
use insert::{LevelRng, LOCK_STRIPES};
use search::{unpack, Accept};
use visited::ScratchPool;

pub use io::{is_native_file, MAGIC};

/// No entry point: the graph is empty.
const NO_ENTRY: u64 = u64::MAX;

/// Seed of the level generator; fixed so that builds are reproducible up
/// to thread timing.
const LEVEL_SEED: u64 = 0x5eed_f00d;

/// An HNSW index over `f32` vectors keyed by `u64` (see the module doc).
///
/// Mutations take `&mut self`, searches `&self`; any number of threads may
/// search at once.
pub struct NativeHnsw {
    metric: Metric,
    ef_construct: usize,
    graph: Graph,
    /// Key of each node (removed nodes keep their last key).
    keys: Vec<u64>,
    /// Live keys to their node.
    ids: HashMap<u64, u32>,
    /// One bit per node: removed.
    deleted: Vec<u64>,
    deleted_count: usize,
    /// `level << 32 | id` of the entry node, or [`NO_ENTRY`].
    entry: AtomicU64,
    entry_lock: Mutex<()>,
    locks: Box<[Mutex<()>]>,
    scratch: ScratchPool,
    rng: LevelRng,
}

impl fmt::Debug for NativeHnsw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NativeHnsw")
            .field("dim", &self.graph.dim)
            .field("metric", &self.metric)
            .field("m", &self.graph.m)
            .field("ef_construct", &self.ef_construct)
            .field("len", &self.len())
            .field("removed", &self.deleted_count)
            .finish()
    }
}

impl NativeHnsw {
    /// An empty index. `m` is the link count per node on the upper layers
    /// (`2·m` on the base layer), `ef_construct` the beam width of inserts.
    pub fn new(
        dim: usize,
        metric: Metric,
        m: usize,
        ef_construct: usize,
    ) -> Result<Self, IndexError> {
        let bad = |name, value, expected| {
            Err(IndexError::InvalidHnswParameter {
                name,
                value,
                expected,
            })
        };
        if dim == 0 {
            return bad("dim", dim, "at least 1");
        }
        if !(2..=1024).contains(&m) {
            return bad("m", m, "2 to 1024 (16 suits most data)");
        }
        if !(1..=1 << 16).contains(&ef_construct) {
            return bad("ef_construct", ef_construct, "1 to 65536");
        }
        Ok(NativeHnsw {
            metric,
            ef_construct,
            graph: Graph::new(dim, m),
            keys: Vec::new(),
            ids: HashMap::new(),
            deleted: Vec::new(),
            deleted_count: 0,
            entry: AtomicU64::new(NO_ENTRY),
            entry_lock: Mutex::new(()),
            locks: (0..LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
            scratch: ScratchPool::default(),
            rng: LevelRng::new(LEVEL_SEED, m),
        })
    }

    pub fn dim(&self) -> usize {
        self.graph.dim
    }

    pub fn metric(&self) -> Metric {
        self.metric
    }

    pub fn m(&self) -> usize {
        self.graph.m
    }

    pub fn ef_construct(&self) -> usize {
        self.ef_construct
    }

    /// Changes the beam width of later inserts.
    pub fn set_ef_construct(&mut self, ef_construct: usize) {
        self.ef_construct = ef_construct.max(1);
    }

    /// Number of live (not removed) vectors.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Nodes in the graph, removed ones included.
    pub fn nodes(&self) -> usize {
        self.graph.len()
    }

    pub fn contains(&self, key: u64) -> bool {
        self.ids.contains_key(&key)
    }

    /// The stored vector of `key` (normalized, for cosine).
    pub fn vector(&self, key: u64) -> Option<&[f32]> {
        self.ids.get(&key).map(|&id| self.graph.vector(id))
    }

    /// Bytes held by the graph, the vectors and the key tables (capacity
    /// included; the hash map estimated at 16 bytes per slot).
    pub fn memory_usage(&self) -> usize {
        self.graph.memory_bytes()
            + self.keys.capacity() * 8
            + self.ids.capacity() * 16
            + self.deleted.capacity() * 8
    }

    /// Distance used inside the graph: lower is closer.
    #[inline(always)]
    fn distance(&self, a: &[f32], b: &[f32]) -> f32 {
        match self.metric {
            Metric::Cosine | Metric::Dot => -fundus_core::distance::dot(a, b),
            Metric::Euclidean => fundus_core::distance::l2_squared(a, b),
        }
    }

    /// The score reported for a graph distance.
    fn score(&self, d: f32) -> f32 {
        match self.metric {
            Metric::Cosine | Metric::Dot => -d,
            Metric::Euclidean => -d.max(0.0).sqrt(),
        }
    }

    #[inline(always)]
    fn is_deleted(&self, id: u32) -> bool {
        self.deleted_count > 0 && (self.deleted[id as usize >> 6] >> (id & 63)) & 1 == 1
    }

    fn entry(&self) -> Option<(u32, usize)> {
        match self.entry.load(Ordering::Acquire) {
            NO_ENTRY => None,
            e => Some((e as u32, (e >> 32) as usize)),
        }
    }

    fn set_entry(&self, id: u32, level: usize) {
        self.entry
            .store(((level as u64) << 32) | id as u64, Ordering::Release);
    }

    /// Inserts `vector` under `key`; an existing `key` is replaced (its old
    /// node becomes a tombstone).
    pub fn add(&mut self, key: u64, vector: &[f32]) -> Result<(), IndexError> {
        self.add_batch(&[key], vector)
    }

    /// Inserts many row-major vectors, linking them in parallel on rayon's
    /// threads. Same result as adding row by row (a key given twice keeps
    /// its last vector), except that the graph depends on thread timing.
    /// Every key and vector is checked before anything changes.
    pub fn add_batch(&mut self, keys: &[u64], vectors: &[f32]) -> Result<(), IndexError> {
        let dim = self.graph.dim;
        let last = crate::hnsw::last_rows(keys, vectors, dim)?;
        if self.graph.len() + last.len() > u32::MAX as usize - 1 {
            return Err(IndexError::Hnsw(
                "the native HNSW graph holds at most 2^32 - 2 nodes".into(),
            ));
        }
        for &key in last.keys() {
            self.remove(key);
        }
        // Phase 1: store the new nodes, unreachable (no links to them yet).
        let first = self.graph.len() as u32;
        self.graph.reserve(last.len());
        self.keys.reserve(last.len());
        for (row, &key) in keys.iter().enumerate() {
            if last.get(&key) != Some(&row) {
                continue;
            }
            let v = prepare(self.metric, &vectors[row * dim..(row + 1) * dim]);
            let level = self.rng.next_level();
            let id = self.graph.push(&v, level);
            self.keys.push(key);
            self.ids.insert(key, id);
        }
        self.deleted.resize(self.graph.len().div_ceil(64), 0);
        // Phase 2: link them. The first node of an empty graph becomes the
        // entry point before the others look for one.
        let end = self.graph.len() as u32;
        let mut start = first;
        if start < end && self.entry().is_none() {
            self.link(start);
            start += 1;
        }
        let this = &*self;
        (start..end).into_par_iter().for_each(|id| this.link(id));
        Ok(())
    }

    /// Removes `key` and reports whether it was there. No later search
    /// returns it; its node stays in the graph as a waypoint.
    pub fn remove(&mut self, key: u64) -> bool {
        let Some(id) = self.ids.remove(&key) else {
            return false;
        };
        self.deleted[id as usize >> 6] |= 1 << (id & 63);
        self.deleted_count += 1;
        true
    }

    /// Moves the vector stored under `from` to the free key `to`; the graph
    /// is unchanged. Returns whether `from` was there; a taken `to` is an
    /// error.
    pub fn rename(&mut self, from: u64, to: u64) -> Result<bool, IndexError> {
        if from == to {
            return Ok(self.contains(from));
        }
        if self.contains(to) {
            return Err(IndexError::Hnsw(format!(
                "cannot rename key {from} to {to}: {to} is taken"
            )));
        }
        let Some(id) = self.ids.remove(&from) else {
            return Ok(false);
        };
        self.keys[id as usize] = to;
        self.ids.insert(to, id);
        Ok(true)
    }

    /// The (about) `k` nearest keys to `query`, best first, as
    /// `(key, score)`, searched with a beam of `max(k, ef)`. With `allow`,
    /// only keys it accepts are returned; the rest are walked through, so
    /// the beam fills with allowed keys (a very selective filter makes the
    /// walk cover most of the graph: scan exactly instead).
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        allow: Option<&dyn Fn(u64) -> bool>,
    ) -> Result<Vec<(u64, f32)>, IndexError> {
        validate_vector(query, self.graph.dim)?;
        let Some((entry, top)) = self.entry() else {
            return Ok(Vec::new());
        };
        if k == 0 || self.is_empty() {
            return Ok(Vec::new());
        }
        let q = prepare(self.metric, query);
        let mut cur = entry;
        for level in (1..=top).rev() {
            cur = self.greedy(&q, cur, level).0;
        }
        let accept = match allow {
            Some(f) => Accept::Filter(f),
            None if self.deleted_count > 0 => Accept::Live,
            None => Accept::All,
        };
        let mut scratch = self.scratch.take(self.graph.len());
        self.search_layer(&q, cur, ef.max(k), 0, accept, &mut scratch);
        let mut found: Vec<u64> = scratch.top.drain().collect();
        self.scratch.give(scratch);
        found.sort_unstable();
        Ok(found
            .into_iter()
            .take(k)
            .map(|key| {
                let (d, id) = unpack(key);
                (self.keys[id as usize], self.score(d))
            })
            .collect())
    }
}

/// The vector as the graph stores it: unit length for cosine.
fn prepare(metric: Metric, v: &[f32]) -> Cow<'_, [f32]> {
    if metric == Metric::Cosine {
        let mut owned = v.to_vec();
        metric.prepare(&mut owned);
        Cow::Owned(owned)
    } else {
        Cow::Borrowed(v)
    }
}

impl NativeHnsw {
    /// A new graph of the live vectors only (removed nodes dropped), with
    /// the same parameters; keys keep their vectors.
    pub fn rebuilt(&self) -> Result<NativeHnsw, IndexError> {
        let mut fresh =
            NativeHnsw::new(self.graph.dim, self.metric, self.graph.m, self.ef_construct)?;
        let mut live: Vec<(u64, u32)> = self.ids.iter().map(|(&k, &id)| (k, id)).collect();
        // Insertion order by node id: the old order, so the rebuild does
        // not depend on the hash map's.
        live.sort_unstable_by_key(|&(_, id)| id);
        let keys: Vec<u64> = live.iter().map(|&(k, _)| k).collect();
        let mut vectors = Vec::with_capacity(live.len() * self.graph.dim);
        for &(_, id) in &live {
            vectors.extend_from_slice(self.graph.vector(id));
        }
        fresh.add_batch(&keys, &vectors)?;
        Ok(fresh)
    }
}
