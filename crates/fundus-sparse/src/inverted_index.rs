//! Postings lists and the document statistics BM25 needs, kept exact
//! under additions and deletions.
//!
//! Documents are numbered by *ordinals* in the order they were added; a
//! postings list is a vector of `(ordinal, tf)` in ascending ordinal
//! order, so adding a document only appends. A deleted document becomes a
//! tombstone: its postings stay until [`InvertedIndex::compact`], but it is
//! at once left out of the statistics (`N`, `df`, `avgdl`) and of results,
//! so scores after a delete are those of an index that never held the
//! document. To decrement `df` without the document's text, each document
//! keeps the list of its distinct term ids (a forward index, half the size
//! of the postings).
//!
//! A postings list is stored as three parallel arrays (documents, term
//! frequencies, and the document's length copied into each posting) so
//! that scoring streams through memory and vectorizes; a document's length
//! never changes, since an upsert gives the new text a new ordinal.
//!
//! Nothing here knows about analyzers, keys or files: it maps term strings
//! to ids and ordinals to statistics.

use std::collections::HashMap;

use crate::SparseError;

/// A hash map with foldhash's seeded hasher: term and key lookups are on
/// every query's path, and std's SipHash cost more than the lookups'
/// other work; the random seed keeps crafted terms from colliding on
/// purpose.
pub(crate) type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// The documents that contain one term, ordinals ascending.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PostingList {
    /// Document ordinals.
    pub docs: Vec<u32>,
    /// How often the term occurs in each document.
    pub tfs: Vec<u32>,
    /// Each document's length in terms.
    pub lens: Vec<u32>,
    /// The `(tf, len)` pairs of the postings that no other posting beats
    /// on both counts (higher or equal tf *and* shorter or equal
    /// document), tf ascending: BM25's term score grows with tf and
    /// shrinks with length for every k1, b and avgdl, so the largest score
    /// any posting of the list can have is that of one of these. Kept
    /// here rather than as a number because the number depends on the
    /// query-time parameters and on avgdl, which every upsert changes.
    /// Deleting a document leaves its pair in (the bound stays valid,
    /// only less tight) until compaction rebuilds the list.
    pub frontier: Vec<(u32, u32)>,
}

impl PostingList {
    pub fn push(&mut self, doc: u32, tf: u32, len: u32) {
        self.docs.push(doc);
        self.tfs.push(tf);
        self.lens.push(len);
        add_to_frontier(&mut self.frontier, tf, len);
    }

    /// Recomputes [`PostingList::frontier`] from `tfs` and `lens`.
    pub fn rebuild_frontier(&mut self) {
        self.frontier.clear();
        for (&tf, &len) in self.tfs.iter().zip(&self.lens) {
            add_to_frontier(&mut self.frontier, tf, len);
        }
    }

    pub fn len(&self) -> usize {
        self.docs.len()
    }

    /// `(document, tf)` pairs.
    pub fn iter(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.docs.iter().copied().zip(self.tfs.iter().copied())
    }
}

/// Adds `(tf, len)` to a frontier of pairs sorted by tf ascending, in
/// which len ascends too (a pair with more tf and no longer document
/// than another makes that one redundant). Frontiers are short: one pair
/// per distinct tf at most, and tfs are small counts.
fn add_to_frontier(frontier: &mut Vec<(u32, u32)>, tf: u32, len: u32) {
    // Dominated by a pair at least as frequent in a document no longer?
    if frontier.iter().any(|&(t, l)| t >= tf && l <= len) {
        return;
    }
    frontier.retain(|&(t, l)| !(t <= tf && l >= len));
    let at = frontier.partition_point(|&(t, _)| t < tf);
    frontier.insert(at, (tf, len));
}

/// Most terms in one document: counts are converted to `f32` through
/// `i32` when scoring.
pub(crate) const MAX_DOC_TERMS: usize = i32::MAX as usize;

/// Most documents (live and tombstones) one index numbers; `u32::MAX`
/// stays free as a "none" marker during compaction.
pub(crate) const MAX_DOCS: u64 = u32::MAX as u64 - 1;

/// Term dictionary, postings and document statistics.
#[derive(Debug, Clone, Default)]
pub(crate) struct InvertedIndex {
    /// Term text to term id.
    pub term_ids: FastMap<String, u32>,
    /// Term text by id.
    pub terms: Vec<String>,
    /// Postings by term id, ordinals ascending, tombstones included.
    pub postings: Vec<PostingList>,
    /// Live documents containing each term, by term id.
    pub df: Vec<u32>,
    /// Length in terms by ordinal (tombstones keep theirs).
    pub doc_len: Vec<u32>,
    /// Whether each ordinal is a live document.
    pub live: Vec<bool>,
    /// Forward index: the distinct term ids of ordinal `d` are
    /// `fwd[fwd_start[d]..fwd_start[d + 1]]`.
    pub fwd_start: Vec<usize>,
    pub fwd: Vec<u32>,
    /// Number of live documents.
    pub num_live: u32,
    /// Sum of `doc_len` over live documents.
    pub total_len: u64,
}

impl InvertedIndex {
    pub fn new() -> Self {
        InvertedIndex {
            fwd_start: vec![0],
            ..Default::default()
        }
    }

    /// Number of ordinals, tombstones included.
    pub fn num_ordinals(&self) -> usize {
        self.doc_len.len()
    }

    /// Mean length of the live documents (0 when there is none).
    pub fn avgdl(&self) -> f32 {
        if self.num_live == 0 {
            0.0
        } else {
            (self.total_len as f64 / f64::from(self.num_live)) as f32
        }
    }

    /// The id of `term`, if some document (live or not) ever had it.
    pub fn term_id(&self, term: &str) -> Option<u32> {
        self.term_ids.get(term).copied()
    }

    /// Adds a document given as its terms (with repeats) and returns its
    /// ordinal. `scratch` is a reusable buffer for the term ids.
    #[cfg(test)]
    pub fn add<'t>(
        &mut self,
        terms: impl IntoIterator<Item = &'t str>,
        scratch: &mut Vec<u32>,
    ) -> Result<u32, SparseError> {
        scratch.clear();
        for term in terms {
            let id = self.intern(term);
            scratch.push(id);
        }
        self.add_ids(scratch)
    }

    /// Adds a document given as term ids (with repeats, any order; sorted
    /// in place) and returns its ordinal.
    pub fn add_ids(&mut self, ids: &mut [u32]) -> Result<u32, SparseError> {
        let ord = self.doc_len.len() as u64;
        if ord >= MAX_DOCS {
            return Err(SparseError::Full { max: MAX_DOCS });
        }
        // The caller checks the length first; this only guards the cast.
        let len = u32::try_from(ids.len()).map_err(|_| SparseError::Full { max: MAX_DOCS })?;
        let ord = ord as u32;
        ids.sort_unstable();
        let mut i = 0;
        while i < ids.len() {
            let id = ids[i];
            let mut j = i + 1;
            while j < ids.len() && ids[j] == id {
                j += 1;
            }
            let slot = id as usize;
            self.postings[slot].push(ord, (j - i) as u32, len);
            self.df[slot] += 1;
            self.fwd.push(id);
            i = j;
        }
        self.fwd_start.push(self.fwd.len());
        self.doc_len.push(len);
        self.live.push(true);
        self.num_live += 1;
        self.total_len += u64::from(len);
        Ok(ord)
    }

    /// The id of `term`, creating it if new.
    pub fn intern(&mut self, term: &str) -> u32 {
        if let Some(&id) = self.term_ids.get(term) {
            return id;
        }
        let id = self.terms.len() as u32;
        self.term_ids.insert(term.to_string(), id);
        self.terms.push(term.to_string());
        self.postings.push(PostingList::default());
        self.df.push(0);
        id
    }

    /// Turns `ord` into a tombstone; `false` if it was not live.
    pub fn delete(&mut self, ord: u32) -> bool {
        let d = ord as usize;
        if !self.live.get(d).copied().unwrap_or(false) {
            return false;
        }
        self.live[d] = false;
        self.num_live -= 1;
        self.total_len -= u64::from(self.doc_len[d]);
        for &id in &self.fwd[self.fwd_start[d]..self.fwd_start[d + 1]] {
            self.df[id as usize] -= 1;
        }
        true
    }

    /// Number of tombstones.
    pub fn num_deleted(&self) -> usize {
        self.num_ordinals() - self.num_live as usize
    }

    /// Drops tombstones and terms no live document has, renumbering both
    /// (relative order kept). Returns the new ordinal of each old one,
    /// `u32::MAX` for tombstones.
    pub fn compact(&mut self) -> Vec<u32> {
        let mut remap = vec![u32::MAX; self.num_ordinals()];
        let mut next = 0u32;
        for (d, &live) in self.live.iter().enumerate() {
            if live {
                remap[d] = next;
                next += 1;
            }
        }
        let old = std::mem::replace(self, InvertedIndex::new());
        let mut per_doc: Vec<Vec<u32>> = vec![Vec::new(); next as usize];
        for (id, (term, postings)) in old.terms.into_iter().zip(old.postings).enumerate() {
            if old.df[id] == 0 {
                continue;
            }
            let new_id = self.terms.len() as u32;
            let mut kept = PostingList::default();
            for (i, (doc, tf)) in postings.iter().enumerate() {
                let doc = remap[doc as usize];
                if doc != u32::MAX {
                    kept.push(doc, tf, postings.lens[i]);
                    per_doc[doc as usize].push(new_id);
                }
            }
            self.df.push(kept.len() as u32);
            self.postings.push(kept);
            self.term_ids.insert(term.clone(), new_id);
            self.terms.push(term);
        }
        for (d, live) in old.live.iter().enumerate() {
            if *live {
                self.doc_len.push(old.doc_len[d]);
                self.live.push(true);
            }
        }
        for ids in per_doc {
            self.fwd.extend_from_slice(&ids);
            self.fwd_start.push(self.fwd.len());
        }
        self.num_live = old.num_live;
        self.total_len = old.total_len;
        remap
    }

    /// Rebuilds the forward index and `df` from the postings (after
    /// loading a file, which stores postings only). All ordinals live.
    pub fn rebuild_from_postings(&mut self) {
        let n = self.num_ordinals();
        let mut counts = vec![0usize; n + 1];
        for list in &self.postings {
            for &doc in &list.docs {
                counts[doc as usize + 1] += 1;
            }
        }
        for d in 0..n {
            counts[d + 1] += counts[d];
        }
        self.fwd = vec![0; counts[n]];
        let mut heads = counts.clone();
        for (id, list) in self.postings.iter().enumerate() {
            for &doc in &list.docs {
                let h = &mut heads[doc as usize];
                self.fwd[*h] = id as u32;
                *h += 1;
            }
        }
        self.fwd_start = counts;
        self.df = self.postings.iter().map(|l| l.len() as u32).collect();
        for list in &mut self.postings {
            list.lens = list
                .docs
                .iter()
                .map(|&d| self.doc_len[d as usize])
                .collect();
            list.rebuild_frontier();
        }
        self.live = vec![true; n];
        self.num_live = n as u32;
        self.total_len = self.doc_len.iter().map(|&l| u64::from(l)).sum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(index: &mut InvertedIndex, text: &str) -> u32 {
        index.add(text.split_whitespace(), &mut Vec::new()).unwrap()
    }

    fn df(index: &InvertedIndex, term: &str) -> u32 {
        index.term_id(term).map_or(0, |id| index.df[id as usize])
    }

    #[test]
    fn add_counts_tf_df_and_lengths() {
        let mut index = InvertedIndex::new();
        assert_eq!(add(&mut index, "a b a c"), 0);
        assert_eq!(add(&mut index, "b d"), 1);
        let a = index.term_id("a").unwrap() as usize;
        assert_eq!(index.postings[a].iter().collect::<Vec<_>>(), vec![(0, 2)]);
        assert_eq!(index.postings[a].lens, vec![4]);
        assert_eq!(df(&index, "b"), 2);
        assert_eq!(index.doc_len, vec![4, 2]);
        assert_eq!(index.avgdl(), 3.0);
    }

    #[test]
    fn delete_updates_statistics_at_once() {
        let mut index = InvertedIndex::new();
        add(&mut index, "a b a c");
        add(&mut index, "b d");
        assert!(index.delete(0));
        assert!(!index.delete(0), "second delete is a no-op");
        assert!(!index.delete(7), "unknown ordinal");
        assert_eq!(index.num_live, 1);
        assert_eq!(index.avgdl(), 2.0);
        assert_eq!(df(&index, "a"), 0);
        assert_eq!(df(&index, "b"), 1);
        assert_eq!(index.num_deleted(), 1);
    }

    #[test]
    fn compact_drops_tombstones_and_dead_terms() {
        let mut index = InvertedIndex::new();
        add(&mut index, "a b a c");
        add(&mut index, "b d");
        add(&mut index, "c c e");
        index.delete(1);
        let remap = index.compact();
        assert_eq!(remap, vec![0, u32::MAX, 1]);
        assert_eq!(index.num_ordinals(), 2);
        assert_eq!(index.term_id("d"), None, "only the deleted doc had it");
        assert_eq!(df(&index, "c"), 2);
        let c = index.term_id("c").unwrap() as usize;
        assert_eq!(
            index.postings[c].iter().collect::<Vec<_>>(),
            vec![(0, 1), (1, 2)]
        );
        assert_eq!(index.postings[c].lens, vec![4, 3]);
        // The forward index still works: deleting doc 0 fixes df.
        index.delete(0);
        assert_eq!(df(&index, "a"), 0);
        assert_eq!(df(&index, "c"), 1);
        assert_eq!(index.total_len, 3);
    }

    #[test]
    fn rebuild_from_postings_restores_forward_index() {
        let mut index = InvertedIndex::new();
        add(&mut index, "a b a c");
        add(&mut index, "b d");
        let mut copy = InvertedIndex {
            term_ids: index.term_ids.clone(),
            terms: index.terms.clone(),
            postings: index.postings.clone(),
            doc_len: index.doc_len.clone(),
            ..InvertedIndex::new()
        };
        copy.rebuild_from_postings();
        assert_eq!(copy.df, index.df);
        assert_eq!(copy.fwd_start, index.fwd_start);
        assert_eq!(copy.num_live, 2);
        assert_eq!(copy.total_len, 6);
        copy.delete(1);
        assert_eq!(df(&copy, "d"), 0);
    }

    /// The frontier's best score is the list's best score, whatever the
    /// length normalization, through adds, deletes and compaction.
    #[test]
    fn frontier_bounds_every_posting() {
        let mut next = crate::test_rng::xorshift(0x9e37_79b9_7f4a_7c15);
        let mut index = InvertedIndex::new();
        let mut scratch = Vec::new();
        for _ in 0..400 {
            let len = (next() % 50) as usize;
            let words: Vec<String> = (0..len).map(|_| format!("w{}", next() % 12)).collect();
            index
                .add(words.iter().map(String::as_str), &mut scratch)
                .unwrap();
        }
        let check = |index: &InvertedIndex| {
            for list in &index.postings {
                let mut want = list.tfs.iter().zip(&list.lens).collect::<Vec<_>>();
                want.retain(|&(&t, &l)| {
                    !list
                        .tfs
                        .iter()
                        .zip(&list.lens)
                        .any(|(&t2, &l2)| (t2, l2) != (t, l) && t2 >= t && l2 <= l)
                });
                let mut want: Vec<(u32, u32)> = want.into_iter().map(|(&t, &l)| (t, l)).collect();
                want.sort_unstable();
                want.dedup();
                assert_eq!(list.frontier, want);
            }
        };
        check(&index);
        for d in 0..200 {
            index.delete(d * 2);
        }
        index.compact();
        check(&index);
        let mut copy = InvertedIndex {
            term_ids: index.term_ids.clone(),
            terms: index.terms.clone(),
            postings: index
                .postings
                .iter()
                .map(|l| PostingList {
                    docs: l.docs.clone(),
                    tfs: l.tfs.clone(),
                    ..PostingList::default()
                })
                .collect(),
            doc_len: index.doc_len.clone(),
            ..InvertedIndex::new()
        };
        copy.rebuild_from_postings();
        check(&copy);
    }

    #[test]
    fn empty_document_has_length_zero() {
        let mut index = InvertedIndex::new();
        assert_eq!(add(&mut index, ""), 0);
        assert_eq!(index.avgdl(), 0.0);
        assert_eq!(index.num_live, 1);
        assert!(index.delete(0));
    }
}
