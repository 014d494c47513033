//! [`SparseVectorIndex`]: exact dot-product search over learned sparse
//! vectors (SPLADE) by document key.
//!
//! A SPLADE vector has a weight for a few dozen to a few hundred of the
//! ~30k vocabulary terms, so documents are found the way BM25 finds them:
//! an inverted index from term id to `(document, weight)` postings, and a
//! query adds `query weight × document weight` into a dense accumulator
//! term at a time, reading each of its terms' postings once. The score is
//! the exact dot product; no pruning, so results equal a brute-force scan.
//! The best `k` are picked by the same block-maximum selection the BM25
//! index uses (over [`fundus_core::TopK`]).
//!
//! Documents are numbered by ordinals in insertion order, so postings stay
//! sorted by just appending; an upsert gives the new vector a new ordinal
//! and turns the old one into a tombstone, skipped by searches until a
//! compaction (automatic once tombstones outnumber live documents) drops
//! its postings. Unlike BM25 there are no collection statistics to keep
//! exact, so a delete is only a flag.
//!
//! ```
//! use fundus_sparse::SparseVectorIndex;
//!
//! let mut index = SparseVectorIndex::new();
//! index.upsert("d1", &[(7, 1.5), (42, 0.5)])?;
//! index.upsert("d2", &[(42, 2.0)])?;
//! let hits = index.search(&[(42, 1.0)], 10)?;
//! assert_eq!(hits, vec![("d2".to_string(), 2.0), ("d1".to_string(), 0.5)]);
//! index.delete("d2");
//! assert_eq!(index.search(&[(42, 1.0)], 10)?.len(), 1);
//! # Ok::<(), fundus_sparse::SparseError>(())
//! ```

use std::cell::RefCell;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::file::{put_f32, put_str, put_u32, write_atomic, Reader};
use crate::inverted_index::{FastMap, MAX_DOCS};
use crate::search::select;
use crate::SparseError;

const MAGIC: &[u8; 8] = b"FNDSSPLV";
const VERSION: u32 = 1;

/// The documents that have one term, ordinals ascending, with their
/// weights (parallel arrays, so accumulation streams through memory).
#[derive(Debug, Clone, Default, PartialEq)]
struct Postings {
    docs: Vec<u32>,
    weights: Vec<f32>,
}

/// Counts that describe a [`SparseVectorIndex`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SparseIndexStats {
    /// Live documents.
    pub documents: usize,
    /// Deleted or replaced documents whose postings remain until the next
    /// compaction.
    pub deleted: usize,
    /// Distinct term ids with postings.
    pub terms: usize,
    /// Postings stored, tombstones included.
    pub postings: usize,
}

/// An inverted index of sparse vectors by document key, searched by exact
/// dot product.
#[derive(Debug, Clone, Default)]
pub struct SparseVectorIndex {
    postings: FastMap<u32, Postings>,
    /// Key by ordinal (tombstones keep theirs until compaction).
    keys: Vec<String>,
    /// Whether each ordinal is live.
    live: Vec<bool>,
    /// Ordinal of each live key.
    ordinals: FastMap<String, u32>,
    /// Postings stored, tombstones included.
    num_postings: usize,
}

thread_local! {
    /// Score accumulator reused across searches on a thread (all zero
    /// between calls).
    static ACCUMULATOR: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Sorts by term id, sums repeated ids, drops zero weights, and refuses
/// weights that are not finite (they would poison every score they
/// touch). `owner` names the vector in the error.
fn normalize(vector: &[(u32, f32)], owner: &str) -> Result<Vec<(u32, f32)>, SparseError> {
    if let Some(&(term, value)) = vector.iter().find(|(_, w)| !w.is_finite()) {
        return Err(SparseError::InvalidWeight {
            key: owner.chars().take(200).collect(),
            term,
            value,
        });
    }
    let mut out = sum_by_term(vector);
    out.retain(|&(_, w)| w != 0.0);
    Ok(out)
}

/// `vector` sorted by term id with the weights of repeated ids summed: the
/// form a dot product by merging two vectors needs.
pub fn sum_by_term(vector: &[(u32, f32)]) -> Vec<(u32, f32)> {
    let mut v = vector.to_vec();
    v.sort_unstable_by_key(|&(t, _)| t);
    let mut out: Vec<(u32, f32)> = Vec::with_capacity(v.len());
    for (t, w) in v {
        match out.last_mut() {
            Some(last) if last.0 == t => last.1 += w,
            _ => out.push((t, w)),
        }
    }
    out
}

impl SparseVectorIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// An index of `(key, vector)` pairs; a repeated key keeps its last
    /// vector.
    pub fn build<I, K, V>(docs: I) -> Result<Self, SparseError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: AsRef<[(u32, f32)]>,
    {
        let mut index = Self::new();
        for (key, vector) in docs {
            index.upsert(key, vector.as_ref())?;
        }
        Ok(index)
    }

    /// Stores `vector` under `key`, replacing the key's previous vector.
    /// The vector is `(term id, weight)` pairs in any order; repeated term
    /// ids are summed and zero weights dropped. A weight that is NaN or
    /// infinite is [`SparseError::InvalidWeight`] and changes nothing.
    pub fn upsert(
        &mut self,
        key: impl Into<String>,
        vector: &[(u32, f32)],
    ) -> Result<(), SparseError> {
        let key = key.into();
        let vector = normalize(vector, &key)?;
        if self.keys.len() as u64 >= MAX_DOCS {
            self.compact();
            if self.keys.len() as u64 >= MAX_DOCS {
                return Err(SparseError::Full { max: MAX_DOCS });
            }
        }
        let ord = self.keys.len() as u32;
        for &(term, weight) in &vector {
            let list = self.postings.entry(term).or_default();
            list.docs.push(ord);
            list.weights.push(weight);
        }
        self.num_postings += vector.len();
        if let Some(old) = self.ordinals.insert(key.clone(), ord) {
            self.live[old as usize] = false;
        }
        self.keys.push(key);
        self.live.push(true);
        self.maybe_compact();
        Ok(())
    }

    /// Removes `key`; `false` if it was not there. It leaves results at
    /// once; its postings go with the next compaction.
    pub fn delete(&mut self, key: &str) -> bool {
        let Some(ord) = self.ordinals.remove(key) else {
            return false;
        };
        self.live[ord as usize] = false;
        self.maybe_compact();
        true
    }

    /// Whether `key` is indexed.
    pub fn contains(&self, key: &str) -> bool {
        self.ordinals.contains_key(key)
    }

    /// Number of live documents.
    pub fn len(&self) -> usize {
        self.ordinals.len()
    }

    /// Whether no document is indexed.
    pub fn is_empty(&self) -> bool {
        self.ordinals.is_empty()
    }

    /// Sizes of the index.
    pub fn stats(&self) -> SparseIndexStats {
        SparseIndexStats {
            documents: self.len(),
            deleted: self.keys.len() - self.len(),
            terms: self.postings.len(),
            postings: self.num_postings,
        }
    }

    /// The stored vector of `key`, sorted by term id (a scan of all
    /// postings: for explaining a result, not for hot paths).
    pub fn vector(&self, key: &str) -> Option<Vec<(u32, f32)>> {
        let ord = *self.ordinals.get(key)?;
        let mut v: Vec<(u32, f32)> = self
            .postings
            .iter()
            .filter_map(|(&term, list)| {
                list.docs
                    .binary_search(&ord)
                    .ok()
                    .map(|i| (term, list.weights[i]))
            })
            .collect();
        v.sort_unstable_by_key(|&(t, _)| t);
        Some(v)
    }

    /// The `k` documents with the highest dot product with `query`, best
    /// first, ties broken by insertion order (earlier first). Only
    /// documents with a positive score are returned (with SPLADE's
    /// non-negative weights: those sharing a term with the query), so there
    /// may be fewer than `k`; an empty query or `k = 0` returns nothing.
    /// Repeated query terms are summed; a weight that is not finite is
    /// [`SparseError::InvalidWeight`].
    pub fn search(
        &self,
        query: &[(u32, f32)],
        k: usize,
    ) -> Result<Vec<(String, f32)>, SparseError> {
        Ok(self
            .search_ordinals(query, k)?
            .into_iter()
            .map(|(ord, score)| (self.keys[ord as usize].clone(), score))
            .collect())
    }

    /// [`SparseVectorIndex::search`] returning `(ordinal, score)`; turn
    /// ordinals into keys with [`SparseVectorIndex::key`] (valid until the
    /// next upsert or delete).
    pub fn search_ordinals(
        &self,
        query: &[(u32, f32)],
        k: usize,
    ) -> Result<Vec<(u32, f32)>, SparseError> {
        self.search_ordinals_where(query, k, None)
    }

    /// [`SparseVectorIndex::search_ordinals`] among the documents `allow`
    /// accepts (a payload filter), so `k` matching documents come back when
    /// they exist. `allow` is asked only about live documents that share a
    /// term with the query, after scoring, once each.
    pub fn search_ordinals_filtered(
        &self,
        query: &[(u32, f32)],
        k: usize,
        allow: &dyn Fn(u32) -> bool,
    ) -> Result<Vec<(u32, f32)>, SparseError> {
        self.search_ordinals_where(query, k, Some(allow))
    }

    fn search_ordinals_where(
        &self,
        query: &[(u32, f32)],
        k: usize,
        allow: Option<&dyn Fn(u32) -> bool>,
    ) -> Result<Vec<(u32, f32)>, SparseError> {
        if let Some(&(term, value)) = query.iter().find(|(_, w)| !w.is_finite()) {
            return Err(SparseError::InvalidWeight {
                key: "query".into(),
                term,
                value,
            });
        }
        if k == 0 || query.is_empty() || self.is_empty() {
            return Ok(Vec::new());
        }
        Ok(ACCUMULATOR.with(|cell| match cell.try_borrow_mut() {
            Ok(mut acc) => self.score_and_select(query, k, allow, &mut acc),
            Err(_) => self.score_and_select(query, k, allow, &mut Vec::new()),
        }))
    }

    fn score_and_select(
        &self,
        query: &[(u32, f32)],
        k: usize,
        allow: Option<&dyn Fn(u32) -> bool>,
        acc: &mut Vec<f32>,
    ) -> Vec<(u32, f32)> {
        let n = self.keys.len();
        acc.resize(n, 0.0);
        let scores = &mut acc[..n];
        for &(term, qw) in query {
            let Some(list) = self.postings.get(&term) else {
                continue;
            };
            for (&doc, &w) in list.docs.iter().zip(&list.weights) {
                scores[doc as usize] += qw * w;
            }
        }
        // The selection bounds blocks by the bit patterns of their
        // maxima, which order like the floats only for non-negative
        // scores; negative ones are never returned anyway.
        scores.iter_mut().for_each(|s| *s = s.max(0.0));
        let best = match allow {
            None => select(scores, &self.live, k),
            Some(allow) => {
                let allowed: Vec<bool> = (0..n)
                    .map(|d| self.live[d] && scores[d] > 0.0 && allow(d as u32))
                    .collect();
                select(scores, &allowed, k)
            }
        };
        scores.fill(0.0);
        best
    }

    /// The key of an ordinal from [`SparseVectorIndex::search_ordinals`].
    pub fn key(&self, ordinal: u32) -> Option<&str> {
        self.keys.get(ordinal as usize).map(String::as_str)
    }

    /// Drops the postings of deleted and replaced documents now and
    /// renumbers the live ones (in their order). Happens on its own once
    /// tombstones outnumber live documents.
    pub fn compact(&mut self) {
        let deleted = self.keys.len() - self.len();
        if deleted == 0 {
            return;
        }
        let mut remap = vec![u32::MAX; self.keys.len()];
        let mut next = 0u32;
        for (old, &alive) in self.live.iter().enumerate() {
            if alive {
                remap[old] = next;
                next += 1;
            }
        }
        let mut num_postings = 0;
        self.postings.retain(|_, list| {
            let mut w = 0;
            for r in 0..list.docs.len() {
                let new = remap[list.docs[r] as usize];
                if new != u32::MAX {
                    list.docs[w] = new;
                    list.weights[w] = list.weights[r];
                    w += 1;
                }
            }
            list.docs.truncate(w);
            list.weights.truncate(w);
            num_postings += w;
            w > 0
        });
        self.num_postings = num_postings;
        let old_keys = std::mem::take(&mut self.keys);
        for (key, new) in old_keys.into_iter().zip(remap) {
            if new != u32::MAX {
                self.ordinals.insert(key.clone(), new);
                self.keys.push(key);
            }
        }
        self.live = vec![true; self.keys.len()];
    }

    fn maybe_compact(&mut self) {
        let deleted = self.keys.len() - self.len();
        if deleted > 1024 && deleted > self.len() {
            self.compact();
        }
    }

    /// Writes the live documents to `path` atomically (temporary file,
    /// fsync, rename) in a checksummed format:
    ///
    /// ```text
    /// magic "FNDSSPLV" | version u32 = 1
    /// documents u32, then per document: key (u32 length + UTF-8)
    /// terms u32, then per term (ids ascending): term id u32 | postings u32 |
    ///     postings × (document u32, weight f32), documents ascending
    /// crc32 u32 of everything before it
    /// ```
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), SparseError> {
        write_atomic(&self.encode(), path.as_ref())
    }

    /// Reads an index written by [`SparseVectorIndex::save`], checking its
    /// checksum and structure; a damaged file is an error naming it.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, SparseError> {
        let path = path.as_ref();
        let mut buf = Vec::new();
        File::open(path)
            .and_then(|mut f| f.read_to_end(&mut buf))
            .map_err(|e| SparseError::io(path, e))?;
        decode(&buf).map_err(|reason| SparseError::corrupt(path, reason))
    }

    fn encode(&self) -> Vec<u8> {
        let mut remap = vec![u32::MAX; self.keys.len()];
        let mut live_docs = 0u32;
        for (d, &alive) in self.live.iter().enumerate() {
            if alive {
                remap[d] = live_docs;
                live_docs += 1;
            }
        }
        let mut out = Vec::with_capacity(64 + self.num_postings * 8 + self.keys.len() * 16);
        out.extend_from_slice(MAGIC);
        put_u32(&mut out, VERSION);
        put_u32(&mut out, live_docs);
        for (d, &alive) in self.live.iter().enumerate() {
            if alive {
                put_str(&mut out, &self.keys[d]);
            }
        }
        let mut terms: Vec<(u32, Vec<(u32, f32)>)> = self
            .postings
            .iter()
            .map(|(&t, list)| {
                let live: Vec<(u32, f32)> = list
                    .docs
                    .iter()
                    .zip(&list.weights)
                    .filter_map(|(&d, &w)| {
                        let new = remap[d as usize];
                        (new != u32::MAX).then_some((new, w))
                    })
                    .collect();
                (t, live)
            })
            .filter(|(_, live)| !live.is_empty())
            .collect();
        terms.sort_unstable_by_key(|&(t, _)| t);
        put_u32(&mut out, terms.len() as u32);
        for (term, list) in terms {
            put_u32(&mut out, term);
            put_u32(&mut out, list.len() as u32);
            for (d, w) in list {
                put_u32(&mut out, d);
                put_f32(&mut out, w);
            }
        }
        let crc = crc32fast::hash(&out);
        put_u32(&mut out, crc);
        out
    }
}

fn decode(buf: &[u8]) -> Result<SparseVectorIndex, String> {
    if buf.len() < MAGIC.len() + 8 || &buf[..MAGIC.len()] != MAGIC {
        return Err("not a Fundus sparse vector index (bad magic)".into());
    }
    let (body, tail) = buf.split_at(buf.len() - 4);
    let stored = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
    let mut r = Reader {
        buf: body,
        pos: MAGIC.len(),
    };
    let version = r.u32()?;
    if version != VERSION {
        return Err(format!(
            "sparse vector index format version {version}, this build reads version {VERSION}"
        ));
    }
    if crc32fast::hash(body) != stored {
        return Err("checksum mismatch: the file is damaged".into());
    }
    let num_docs = r.u32()? as usize;
    let mut index = SparseVectorIndex::new();
    // At least 4 bytes (the length) per key: a count beyond that is damage,
    // not a reason to reserve memory.
    if num_docs > r.remaining() / 4 {
        return Err(format!("{num_docs} documents do not fit in the file"));
    }
    index.keys.reserve(num_docs);
    for d in 0..num_docs {
        let key = r.str()?;
        if let Some(first) = index.ordinals.insert(key.clone(), d as u32) {
            return Err(format!(
                "key {key:?} stored twice (documents {first} and {d})"
            ));
        }
        index.keys.push(key);
    }
    index.live = vec![true; num_docs];

    let num_terms = r.u32()? as usize;
    let mut prev_term: Option<u32> = None;
    for _ in 0..num_terms {
        let term = r.u32()?;
        if prev_term.is_some_and(|p| term <= p) {
            return Err(format!("term ids not ascending at term {term}"));
        }
        prev_term = Some(term);
        let count = r.u32()? as usize;
        if count == 0 || count > num_docs || count > r.remaining() / 8 {
            return Err(format!(
                "term {term} has {count} postings ({num_docs} documents)"
            ));
        }
        let mut list = Postings {
            docs: Vec::with_capacity(count),
            weights: Vec::with_capacity(count),
        };
        let mut prev: Option<u32> = None;
        for _ in 0..count {
            let doc = r.u32()?;
            let weight = r.f32()?;
            if doc as usize >= num_docs
                || prev.is_some_and(|p| doc <= p)
                || !weight.is_finite()
                || weight == 0.0
            {
                return Err(format!(
                    "postings of term {term} are invalid (document {doc}, weight {weight}, {num_docs} documents)"
                ));
            }
            prev = Some(doc);
            list.docs.push(doc);
            list.weights.push(weight);
        }
        index.num_postings += count;
        index.postings.insert(term, list);
    }
    if r.remaining() != 0 {
        return Err(format!(
            "{} unexpected bytes after the postings",
            r.remaining()
        ));
    }
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// Deterministic pseudo-random numbers (xorshift).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn vector(&mut self, terms: u64, nnz: u64) -> Vec<(u32, f32)> {
            let n = self.next() % nnz;
            (0..n)
                .map(|_| {
                    (
                        (self.next() % terms) as u32,
                        (self.next() % 1000) as f32 / 300.0,
                    )
                })
                .collect()
        }
    }

    fn dense_dot(a: &[(u32, f32)], b: &[(u32, f32)]) -> f32 {
        let mut s = 0.0;
        for &(ta, wa) in a {
            for &(tb, wb) in b {
                if ta == tb {
                    s += wa * wb;
                }
            }
        }
        s
    }

    /// Brute force: every live document scored, sorted, positive only.
    fn brute(
        docs: &[(String, Vec<(u32, f32)>)],
        query: &[(u32, f32)],
        k: usize,
    ) -> Vec<(String, f32)> {
        let mut all: Vec<(usize, String, f32)> = docs
            .iter()
            .enumerate()
            .map(|(i, (key, v))| (i, key.clone(), dense_dot(v, query)))
            .filter(|(_, _, s)| *s > 0.0)
            .collect();
        all.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)));
        all.into_iter().take(k).map(|(_, k, s)| (k, s)).collect()
    }

    fn assert_close(got: &[(String, f32)], want: &[(String, f32)], what: &str) {
        assert_eq!(got.len(), want.len(), "{what}: {got:?} vs {want:?}");
        for (g, w) in got.iter().zip(want) {
            assert!(
                (g.1 - w.1).abs() <= 1e-4 * w.1.abs().max(1.0),
                "{what}: {got:?} vs {want:?}"
            );
        }
        // Keys equal where scores are not (near) tied.
        for i in 0..got.len() {
            let tied = want
                .iter()
                .enumerate()
                .any(|(j, w)| j != i && (w.1 - want[i].1).abs() < 1e-4);
            if !tied {
                assert_eq!(got[i].0, want[i].0, "{what}: {got:?} vs {want:?}");
            }
        }
    }

    #[test]
    fn search_equals_brute_force_under_upserts_and_deletes() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        let mut index = SparseVectorIndex::new();
        // The model: key -> vector, in insertion order of the live version.
        let mut model: Vec<(String, Vec<(u32, f32)>)> = Vec::new();
        for step in 0..3000 {
            let key = format!("d{}", rng.next() % 700);
            match rng.next() % 10 {
                0..=1 => {
                    let was = model.iter().any(|(k, _)| *k == key);
                    assert_eq!(index.delete(&key), was);
                    model.retain(|(k, _)| *k != key);
                }
                _ => {
                    let v = rng.vector(300, 40);
                    index.upsert(key.clone(), &v).unwrap();
                    model.retain(|(k, _)| *k != key);
                    model.push((key, normalize(&v, "").unwrap()));
                }
            }
            if step % 100 == 99 {
                assert_eq!(index.len(), model.len());
                for _ in 0..5 {
                    let q = rng.vector(300, 30);
                    for k in [1, 10, 1000] {
                        let got = index.search(&q, k).unwrap();
                        assert_close(&got, &brute(&model, &q, k), &format!("step {step} k {k}"));
                    }
                }
            }
        }
        // Compaction keeps results and order.
        let q = rng.vector(300, 30);
        let before = index.search(&q, 50).unwrap();
        index.compact();
        assert_eq!(index.stats().deleted, 0);
        assert_eq!(index.search(&q, 50).unwrap(), before);
        for (key, v) in &model {
            assert_eq!(index.vector(key).as_ref(), Some(v));
        }
    }

    #[test]
    fn duplicates_zeros_and_bad_weights() {
        let mut index = SparseVectorIndex::new();
        index
            .upsert("a", &[(5, 1.0), (3, 0.0), (5, 0.5), (1, 2.0)])
            .unwrap();
        assert_eq!(index.vector("a"), Some(vec![(1, 2.0), (5, 1.5)]));
        assert_eq!(index.stats().postings, 2);

        let err = index.upsert("b", &[(2, f32::NAN)]).unwrap_err();
        assert!(
            err.to_string().contains("\"b\"") && err.to_string().contains("term 2"),
            "{err}"
        );
        assert!(!index.contains("b"));
        let err = index.search(&[(1, f32::INFINITY)], 3).unwrap_err();
        assert!(err.to_string().contains("query"), "{err}");

        // Repeated query terms add up; no shared term, no result.
        assert_eq!(
            index.search(&[(1, 1.0), (1, 1.0)], 3).unwrap(),
            vec![("a".to_string(), 4.0)]
        );
        assert!(index.search(&[(9, 1.0)], 3).unwrap().is_empty());
        assert!(index.search(&[], 3).unwrap().is_empty());
        assert!(index.search(&[(1, 1.0)], 0).unwrap().is_empty());
        // A negative total is not a match.
        assert!(index.search(&[(1, -1.0)], 3).unwrap().is_empty());
    }

    #[test]
    fn filtered_search_fills_k_from_allowed_documents_and_asks_only_about_matches() {
        let mut index = SparseVectorIndex::new();
        for i in 0..100u32 {
            index
                .upsert(format!("d{i}"), &[(1, i as f32 + 1.0)])
                .unwrap();
        }
        index.upsert("other", &[(2, 1.0)]).unwrap();
        index.delete("d98");
        let asked = std::cell::RefCell::new(Vec::new());
        let even = |ord: u32| {
            asked.borrow_mut().push(ord);
            ord.is_multiple_of(2)
        };
        let hits = index
            .search_ordinals_filtered(&[(1, 1.0)], 3, &even)
            .unwrap();
        let keys: Vec<&str> = hits.iter().filter_map(|&(o, _)| index.key(o)).collect();
        assert_eq!(keys, ["d96", "d94", "d92"], "d98 is deleted");
        let asked = asked.into_inner();
        assert_eq!(asked.len(), 99, "live documents with the term, once each");
        assert!(
            !asked.contains(&100),
            "the document without the term is not asked"
        );
        assert_eq!(
            index
                .search_ordinals_filtered(&[(1, 1.0)], 3, &|_| true)
                .unwrap(),
            index.search_ordinals(&[(1, 1.0)], 3).unwrap()
        );
    }

    #[test]
    fn replaced_documents_leave_results_at_once() {
        let mut index =
            SparseVectorIndex::build([("a", vec![(1, 1.0)]), ("b", vec![(1, 2.0)])]).unwrap();
        index.upsert("b", &[(2, 1.0)]).unwrap();
        assert_eq!(
            index.search(&[(1, 1.0)], 10).unwrap(),
            vec![("a".to_string(), 1.0)]
        );
        assert_eq!(index.stats().deleted, 1);
        assert!(index.delete("a"));
        assert!(!index.delete("a"));
        assert!(index.search(&[(1, 1.0)], 10).unwrap().is_empty());
        assert_eq!(index.len(), 1);
    }

    #[test]
    fn tombstones_are_compacted_automatically() {
        let mut index = SparseVectorIndex::new();
        for round in 0..3 {
            for i in 0..1000 {
                index
                    .upsert(format!("k{i}"), &[(i % 7, 1.0 + round as f32)])
                    .unwrap();
            }
        }
        let s = index.stats();
        assert_eq!(s.documents, 1000);
        assert!(s.deleted <= 1024, "{s:?}");
        let hits = index.search(&[(3, 1.0)], 2).unwrap();
        assert_eq!(
            hits,
            vec![("k3".to_string(), 3.0), ("k10".to_string(), 3.0)]
        );
    }

    fn sample() -> SparseVectorIndex {
        let mut index = SparseVectorIndex::build([
            ("kühlschrank", vec![(10, 1.25), (2000, 0.5)]),
            ("b", vec![(10, 0.75), (30000, 2.0)]),
            ("c", vec![(7, 1.0)]),
        ])
        .unwrap();
        index.delete("c");
        index.upsert("b", &[(10, 0.5), (30000, 2.5)]).unwrap();
        index
    }

    #[test]
    fn round_trip_keeps_results() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("splade.idx");
        let index = sample();
        index.save(&path).unwrap();
        assert!(!dir.path().join("splade.idx.tmp").exists());
        let mut loaded = SparseVectorIndex::load(&path).unwrap();
        assert_eq!(loaded.len(), 2);
        assert_eq!(loaded.stats().deleted, 0, "saved compact");
        for q in [
            vec![(10, 1.0)],
            vec![(30000, 1.0), (2000, 3.0)],
            vec![(7, 1.0)],
        ] {
            assert_eq!(
                loaded.search(&q, 10).unwrap(),
                index.search(&q, 10).unwrap()
            );
        }
        assert_eq!(loaded.vector("b"), index.vector("b"));
        // The loaded index keeps working.
        loaded.upsert("d", &[(7, 1.0)]).unwrap();
        assert_eq!(loaded.search(&[(7, 1.0)], 10).unwrap()[0].0, "d");
        // An empty index round-trips too.
        SparseVectorIndex::new().save(&path).unwrap();
        assert!(SparseVectorIndex::load(&path).unwrap().is_empty());
    }

    #[test]
    fn every_damaged_byte_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("splade.idx");
        sample().save(&path).unwrap();
        let good = fs::read(&path).unwrap();
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x20;
            fs::write(&path, &bad).unwrap();
            let err = SparseVectorIndex::load(&path).unwrap_err();
            assert!(
                matches!(err, SparseError::Corrupt { .. }),
                "byte {i}: {err}"
            );
            assert!(err.to_string().contains("splade.idx"), "{err}");
        }
        for len in [0, 5, good.len() / 2, good.len() - 1] {
            fs::write(&path, &good[..len]).unwrap();
            assert!(
                SparseVectorIndex::load(&path).is_err(),
                "truncated to {len}"
            );
        }
    }

    #[test]
    fn wrong_missing_and_structurally_bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.txt");
        fs::write(&path, "hello, this is not an index").unwrap();
        let err = SparseVectorIndex::load(&path).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("notes.txt: not a Fundus sparse vector index (bad magic)"),
            "{err}"
        );
        let err = SparseVectorIndex::load(dir.path().join("missing.idx")).unwrap_err();
        assert!(matches!(err, SparseError::Io { .. }));
        assert!(err.to_string().contains("missing.idx"), "{err}");

        // A valid checksum over a posting that points past the documents.
        let index = SparseVectorIndex::build([("k", vec![(3, 1.0)])]).unwrap();
        let mut bytes = index.encode();
        bytes.truncate(bytes.len() - 4);
        let at = bytes.len() - 8; // the document of the only posting
        bytes[at..at + 4].copy_from_slice(&5u32.to_le_bytes());
        let crc = crc32fast::hash(&bytes);
        bytes.extend_from_slice(&crc.to_le_bytes());
        let err = decode(&bytes).err().unwrap();
        assert!(err.contains("postings of term 3 are invalid"), "{err}");

        let mut bytes = index.encode();
        bytes[8..12].copy_from_slice(&9u32.to_le_bytes());
        let err = decode(&bytes).err().unwrap();
        assert!(err.contains("version 9"), "{err}");
    }
}
