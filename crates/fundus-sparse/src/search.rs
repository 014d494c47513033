//! Scoring a query against the inverted index: term at a time into a
//! dense accumulator, with MaxScore pruning.
//!
//! Term-at-a-time over a dense `f32` array: each postings list is read
//! once and sequentially, and the accumulator of a collection of some
//! thousand documents stays in L1. Measured on SciFact (4.5k postings
//! per query), the scatter and the reading of the postings cost the
//! time: vectorizing the arithmetic for AVX2 or AVX-512, precomputing
//! per-posting scores, prefetching, or blocking the accumulator by
//! document range each changed the time by less than the noise.
//!
//! The best k are kept *during* the scatter, in [`Leaders`], a heap whose
//! documents can rise as later terms add to them: a posting whose new
//! score reaches the k-th best so far is offered to it (one comparison
//! per posting), so no selection pass over the accumulator follows,
//! and the k-th best score so far is known at every moment. That is
//! what the pruning needs (MaxScore, Turtle & Flood 1995, term at a
//! time):
//!
//! - Each postings list keeps the `(tf, length)` pairs no other posting
//!   beats on both (see `PostingList::frontier`); the largest score the
//!   term can add to a document under the current k1, b and avgdl is the
//!   best of these, computed per query. Updates keep it an upper bound
//!   (a delete may leave it loose until compaction).
//! - Terms are scored in order of decreasing bound. Before term `j`,
//!   `rest` is the sum of the bounds of terms `j..`. A document whose
//!   score so far is below `threshold - rest` (threshold: the k-th best
//!   score so far, a lower bound of the final one) can never make the top
//!   k; once the threshold is well above `rest` (`PRUNE_AT`), the
//!   remaining lists are read for the documents above that cut only, and
//!   the contribution of the others is never computed.
//! - The bounds and `rest` carry a relative slack of a few units in the
//!   last place per term, so float rounding never prunes a document that
//!   would make the top k; a document is only dropped when it would rank
//!   strictly below k others, so ties resolve as without pruning.
//! - Every path sums a document's contributions in the same order with
//!   the same expression ([`contribution`]), so results are exactly those
//!   of the exhaustive search (checked against it on random indexes in
//!   the tests).
//!
//! On SciFact the pruning pays little: queries are short, their long
//! lists are some 1.5k postings, and the threshold passes the bound of
//! the remaining terms late. It skips whole lists' worth of divisions
//! on collections whose common terms have long lists. Every posting is
//! still read; skipping postings unread (document at a time with
//! per-block maxima, block-max WAND) is the next step for large
//! collections.
//!
//! The accumulator, the heap's slots and the term buffers are reused per
//! thread (the accumulator zeroed after each search), so a search
//! allocates only its result.

use std::cell::RefCell;

use crate::bm25::LengthNorm;
use crate::inverted_index::{InvertedIndex, PostingList};
use crate::leaders::Leaders;

/// A distinct query term: its id and `qtf · idf · tf_factor`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QueryTerm {
    pub id: u32,
    pub weight: f32,
}

/// A query term with the most it can add to one document's score.
#[derive(Debug, Clone, Copy)]
struct Ranked {
    id: u32,
    weight: f32,
    bound: f32,
}

/// Buffers reused by every search of a thread, so that a search allocates
/// only its result.
#[derive(Default)]
struct Scratch {
    /// One score per ordinal; all zero between searches.
    acc: Vec<f32>,
    /// The best k so far.
    leaders: Leaders,
    /// The query terms, largest bound first.
    terms: Vec<Ranked>,
    /// `rest[i]`: the most terms `i..` can add to a score, inflated to
    /// cover rounding; `rest[m] = 0`.
    rest: Vec<f64>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// The `k` live documents with the highest positive score, best first,
/// ties by ascending ordinal. Documents containing no query term score 0
/// and are never returned.
pub(crate) fn top_k(
    index: &InvertedIndex,
    norm: LengthNorm,
    terms: &[QueryTerm],
    k: usize,
) -> Vec<(u32, f32)> {
    if k == 0 || terms.is_empty() || index.num_ordinals() == 0 {
        return Vec::new();
    }
    SCRATCH.with(|cell| {
        // A re-entrant call (impossible today) gets fresh buffers rather
        // than a panic.
        match cell.try_borrow_mut() {
            Ok(mut scratch) => search(index, norm, terms, k, &mut scratch),
            Err(_) => search(index, norm, terms, k, &mut Scratch::default()),
        }
    })
}

/// What one posting adds to its document's score. Every path calls this,
/// so a document's score is the same bits whichever path added its terms.
#[inline(always)]
fn contribution(weight: f32, tf: u32, len: u32, norm: LengthNorm) -> f32 {
    // Through `i32`, which has a vector conversion where `u32` has none
    // before AVX-512; counts are below 2^31 (see `MAX_DOC_TERMS`).
    let tf = tf as i32 as f32;
    weight * tf / (tf + norm.base + norm.per_term * len as i32 as f32)
}

/// The largest score `list` can add to a document for a term of
/// `weight`: the best of its frontier.
fn term_bound(list: &PostingList, weight: f32, norm: LengthNorm) -> f32 {
    list.frontier
        .iter()
        .map(|&(tf, len)| contribution(weight, tf, len, norm))
        .fold(0.0, f32::max)
}

/// See the module documentation.
fn search(
    index: &InvertedIndex,
    norm: LengthNorm,
    query: &[QueryTerm],
    k: usize,
    s: &mut Scratch,
) -> Vec<(u32, f32)> {
    let n = index.num_ordinals();
    s.terms.clear();
    for t in query {
        // A term of weight 0 (Robertson's clamped idf) adds +0.0, which
        // changes no score: skip it.
        if t.weight > 0.0 {
            let list = &index.postings[t.id as usize];
            s.terms.push(Ranked {
                id: t.id,
                weight: t.weight,
                bound: term_bound(list, t.weight, norm),
            });
        }
    }
    if s.terms.is_empty() {
        return Vec::new();
    }
    s.terms
        .sort_unstable_by(|a, b| b.bound.total_cmp(&a.bound).then(a.id.cmp(&b.id)));
    let m = s.terms.len();
    // A score is a sum of up to m rounded contributions, each at most its
    // term's bound; a relative slack of a few units in the last place per
    // term covers the rounding of both the score and the bound's sum.
    let slack = 1.0 + (m as f64 + 4.0) * 4.0 * f64::from(f32::EPSILON);
    s.rest.clear();
    s.rest.resize(m + 1, 0.0);
    for i in (0..m).rev() {
        s.rest[i] = s.rest[i + 1] + f64::from(s.terms[i].bound);
    }
    for r in &mut s.rest {
        *r *= slack;
    }

    s.acc.resize(n, 0.0);
    s.leaders.reset(n, k);
    let scores = &mut s.acc[..n];
    let live = &index.live[..n];
    for j in 0..m {
        let t = s.terms[j];
        let list = &index.postings[t.id as usize];
        // Once the k-th best score so far beats all that terms `j..` can
        // add, a document below `threshold - rest` cannot make the top k:
        // the list is read, but only the documents that can still make
        // it get the term.
        let cut = match s.leaders.threshold() {
            Some(threshold) if f64::from(threshold) > PRUNE_AT * s.rest[j] => {
                cutoff(f64::from(threshold), s.rest[j])
            }
            _ => 0.0,
        };
        if cut > 0.0 {
            #[cfg(test)]
            tests::PRUNED.with(|c| c.set(c.get() + 1));
            accumulate_reachable(list, t.weight, norm, scores, cut, &mut s.leaders, live);
        } else {
            accumulate_offering(list, t.weight, norm, scores, &mut s.leaders, live);
        }
    }
    let best = s.leaders.finish();
    scores.fill(0.0);
    best
}

/// How far the k-th best score must be above what the remaining terms
/// can add before their lists are read for the documents above the cut
/// only: just above, almost every document is, and scattering the whole
/// list costs less than a mispredicted branch per posting.
const PRUNE_AT: f64 = 2.0;

/// A score below which a document cannot reach `threshold` with `rest`
/// more: `threshold - rest`, rounded down (a little lower keeps a few
/// more documents, never too few).
fn cutoff(threshold: f64, rest: f64) -> f32 {
    let c = (threshold - rest) as f32;
    c - c.abs() * f32::EPSILON * 4.0
}

/// Postings scored per batch: small enough for the stack and L1, large
/// enough to amortize the vector loop.
const CHUNK: usize = 256;

/// Adds each posting's contribution to `scores[doc]` and offers the
/// scores that reach the gate to `leaders` (one comparison per posting,
/// rarely passed once the heap is full). The contributions of a batch are
/// computed first, in a loop that vectorizes, then scattered.
fn accumulate_offering(
    list: &PostingList,
    weight: f32,
    norm: LengthNorm,
    scores: &mut [f32],
    leaders: &mut Leaders,
    live: &[bool],
) {
    let (docs, tfs, lens) = (&list.docs, &list.tfs, &list.lens);
    let mut contrib = [0.0f32; CHUNK];
    let n = docs.len().min(tfs.len()).min(lens.len());
    let mut start = 0;
    while start < n {
        let end = n.min(start + CHUNK);
        let c = &mut contrib[..end - start];
        let t = &tfs[start..end];
        let l = &lens[start..end];
        for i in 0..c.len() {
            c[i] = contribution(weight, t[i], l[i], norm);
        }
        for (&doc, &x) in docs[start..end].iter().zip(c.iter()) {
            let score = scores[doc as usize] + x;
            scores[doc as usize] = score;
            if score >= leaders.gate() {
                leaders.offer(doc, score, live);
            }
        }
        start = end;
    }
}

/// Adds the term to the documents of `list` whose score is at least
/// `cut`, offering the results to `leaders`. Meant for cuts that few
/// documents reach: the branch then predicts well, and the contribution
/// (a division) of the others is never computed.
fn accumulate_reachable(
    list: &PostingList,
    weight: f32,
    norm: LengthNorm,
    scores: &mut [f32],
    cut: f32,
    leaders: &mut Leaders,
    live: &[bool],
) {
    let (docs, tfs, lens) = (&list.docs, &list.tfs, &list.lens);
    let n = docs.len().min(tfs.len()).min(lens.len());
    for i in 0..n {
        let doc = docs[i];
        let old = scores[doc as usize];
        if old >= cut {
            let score = old + contribution(weight, tfs[i], lens[i], norm);
            scores[doc as usize] = score;
            if score >= leaders.gate() {
                leaders.offer(doc, score, live);
            }
        }
    }
}

use fundus_core::TopK;

/// Accumulator entries summarized by one maximum in [`select`].
const BLOCK: usize = 64;

/// The best `k` positive, live scores, best first.
///
/// Not one heap over everything: first the maximum of each block of
/// [`BLOCK`] live scores (one vectorized pass), then the blocks in order of
/// decreasing maximum, each read only while its maximum can still beat
/// the k-th best so far. Since every maximum is the score of a different
/// live document, the k-th largest maximum is a lower bound of the k-th
/// best score: blocks below it are never read, and once k documents are
/// in, a block whose maximum is below the k-th ends the search.
pub(crate) fn select(scores: &[f32], live: &[bool], k: usize) -> Vec<(u32, f32)> {
    let mut maxima = Vec::with_capacity(scores.len().div_ceil(BLOCK));
    block_maxima(scores, live, &mut maxima);
    let mut blocks: Vec<(u32, u32)> = maxima
        .iter()
        .enumerate()
        .filter(|&(_, &m)| m > 0)
        .map(|(b, &m)| (m, b as u32))
        .collect();
    if blocks.len() > k {
        // Only the blocks at or above the k-th largest maximum matter.
        let at = blocks.len() - k;
        let bound = blocks.select_nth_unstable(at).1 .0;
        blocks.retain(|&(m, _)| m >= bound);
    }
    blocks.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));

    let mut top = TopK::new(k);
    // The k-th best score so far (0 until there are k): anything below it
    // is out without touching the heap.
    let mut threshold = 0.0f32;
    for (max, b) in blocks {
        if f32::from_bits(max) < threshold {
            break;
        }
        let start = b as usize * BLOCK;
        let end = scores.len().min(start + BLOCK);
        for d in start..end {
            let score = scores[d];
            if score < threshold || score <= 0.0 || !live[d] {
                continue;
            }
            top.push(d as u32, score);
            threshold = top.threshold().max(0.0);
        }
    }
    top.into_sorted()
}

/// The maximum of each block of [`BLOCK`] scores of live documents
/// (deleted ones count as 0), as bit patterns: scores are never
/// negative, and the bits of non-negative floats order like the
/// floats, so the maximum is an integer one, which vectorizes (a float
/// maximum does not without fast-math).
pub fn block_maxima(scores: &[f32], live: &[bool], out: &mut Vec<u32>) {
    for (block, alive) in scores.chunks(BLOCK).zip(live.chunks(BLOCK)) {
        let mut max = 0u32;
        for (&s, &a) in block.iter().zip(alive) {
            max = max.max(s.to_bits() & 0u32.wrapping_sub(u32::from(a)));
        }
        out.push(max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bm25::Bm25Params;
    use std::cell::Cell;

    thread_local! {
        /// Lists read for the documents above a cut only.
        pub(super) static PRUNED: Cell<usize> = const { Cell::new(0) };
    }

    /// The definition: every posting of every term, summed in the order
    /// the search sums them (decreasing bound), then sorted.
    fn exhaustive(
        index: &InvertedIndex,
        norm: LengthNorm,
        query: &[QueryTerm],
        k: usize,
    ) -> Vec<(u32, f32)> {
        let mut terms: Vec<(f32, QueryTerm)> = query
            .iter()
            .filter(|t| t.weight > 0.0)
            .map(|t| {
                (
                    term_bound(&index.postings[t.id as usize], t.weight, norm),
                    *t,
                )
            })
            .collect();
        terms.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.id.cmp(&b.1.id)));
        let mut scores = vec![0.0f32; index.num_ordinals()];
        for (_, t) in terms {
            let list = &index.postings[t.id as usize];
            for i in 0..list.len() {
                scores[list.docs[i] as usize] +=
                    contribution(t.weight, list.tfs[i], list.lens[i], norm);
            }
        }
        naive(&scores, &index.live, k)
    }

    /// Random indexes (skewed term frequencies, repeated documents for
    /// ties, deletes, some compacted), random parameters and queries: the
    /// pruned search returns exactly the exhaustive top k, and does prune.
    #[test]
    fn pruned_search_equals_exhaustive() {
        let mut next = crate::test_rng::xorshift(0x853c_49e6_748f_ea9b);
        PRUNED.with(|c| c.set(0));
        let mut checked = 0;
        for round in 0..80 {
            let vocab = 3 + (next() % 60) as usize;
            let n = 1 + (next() % 500) as usize;
            let mut index = InvertedIndex::new();
            let mut scratch = Vec::new();
            let mut docs: Vec<Vec<String>> = Vec::new();
            for _ in 0..n {
                let terms = if !docs.is_empty() && next().is_multiple_of(4) {
                    docs[(next() % docs.len() as u64) as usize].clone()
                } else {
                    let len = (next() % 40) as usize;
                    (0..len)
                        .map(|_| {
                            // Small ids are common: min of two draws.
                            let t = (next() % vocab as u64).min(next() % vocab as u64);
                            format!("t{t}")
                        })
                        .collect()
                };
                index
                    .add(terms.iter().map(String::as_str), &mut scratch)
                    .unwrap();
                docs.push(terms);
            }
            for d in 0..n {
                if next().is_multiple_of(6) {
                    index.delete(d as u32);
                }
            }
            if round % 5 == 0 {
                index.compact();
            }
            let k1 = [0.0, 0.5, 1.2, 2.0][(next() % 4) as usize];
            let b = [0.0, 0.5, 0.75, 1.0][(next() % 4) as usize];
            let params = Bm25Params::lucene(k1, b);
            let norm = params.length_norm(index.avgdl());
            for _ in 0..25 {
                let mut query = Vec::new();
                for _ in 0..1 + next() % 8 {
                    let id = (next() % index.terms.len().max(1) as u64) as u32;
                    if index.terms.is_empty() || query.iter().any(|t: &QueryTerm| t.id == id) {
                        continue;
                    }
                    let df = index.df[id as usize];
                    let weight = if df == 0 || next().is_multiple_of(10) {
                        0.0
                    } else {
                        (1 + next() % 3) as f32 * params.idf(df, index.num_live)
                    };
                    query.push(QueryTerm { id, weight });
                }
                for k in [1, 10, 100] {
                    assert_eq!(
                        top_k(&index, norm, &query, k),
                        exhaustive(&index, norm, &query, k),
                        "round {round} k {k} query {query:?}"
                    );
                    checked += 1;
                }
            }
        }
        let pruned = PRUNED.with(Cell::get);
        assert!(
            pruned > 200,
            "pruning ran on {pruned} lists of {checked} searches"
        );
    }

    #[test]
    fn select_keeps_best_positive_live() {
        let mut scores = vec![0.5, 0.0, 2.0, 0.5, 3.0, 1.0];
        scores.extend((0..200).map(|i| if i == 150 { 2.5 } else { 0.0 }));
        let mut live = vec![true, true, true, true, false, true];
        live.resize(scores.len(), true);
        let best = select(&scores, &live, 3);
        assert_eq!(best, vec![(156, 2.5), (2, 2.0), (5, 1.0)]);
    }

    /// The obvious definition: sort everything.
    fn naive(scores: &[f32], live: &[bool], k: usize) -> Vec<(u32, f32)> {
        let mut all: Vec<(u32, f32)> = (0..scores.len())
            .filter(|&d| live[d] && scores[d] > 0.0)
            .map(|d| (d as u32, scores[d]))
            .collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        all.truncate(k);
        all
    }

    #[test]
    fn select_equals_sorting_everything() {
        let mut next = crate::test_rng::xorshift(0x9e37_79b9_7f4a_7c15);
        for round in 0..500 {
            let n = (next() % 700) as usize;
            // Few distinct values, so that ties are common.
            let scores: Vec<f32> = (0..n)
                .map(|_| {
                    if next().is_multiple_of(3) {
                        0.0
                    } else {
                        (next() % 8) as f32 * 0.5
                    }
                })
                .collect();
            let live: Vec<bool> = (0..n).map(|_| !next().is_multiple_of(5)).collect();
            for k in [1, 3, 10, 100] {
                assert_eq!(
                    select(&scores, &live, k),
                    naive(&scores, &live, k),
                    "round {round} k {k}"
                );
            }
        }
    }

    #[test]
    fn a_deleted_document_does_not_raise_the_bound() {
        // Doc 0 (deleted) has the best score, in its own block; the live
        // documents of the other blocks must still make the top 2.
        let mut scores = vec![0.0f32; 3 * BLOCK];
        let mut live = vec![true; scores.len()];
        scores[0] = 9.0;
        live[0] = false;
        scores[BLOCK] = 1.0;
        scores[2 * BLOCK + 5] = 2.0;
        assert_eq!(
            select(&scores, &live, 2),
            vec![(2 * BLOCK as u32 + 5, 2.0), (BLOCK as u32, 1.0)]
        );
        assert_eq!(select(&scores, &live, 1), vec![(2 * BLOCK as u32 + 5, 2.0)]);
    }

    #[test]
    fn equal_scores_at_the_bound_are_kept_in_ordinal_order() {
        // Several blocks whose maxima tie at the bound.
        let mut scores = vec![0.0f32; 4 * BLOCK];
        for b in 0..4 {
            scores[b * BLOCK + 3] = 1.0;
            scores[b * BLOCK + 7] = 1.0;
        }
        scores[2 * BLOCK] = 3.0;
        let live = vec![true; scores.len()];
        let want = vec![(2 * BLOCK as u32, 3.0), (3, 1.0), (7, 1.0)];
        assert_eq!(select(&scores, &live, 3), want);
    }

    #[test]
    fn select_breaks_ties_by_ordinal() {
        let scores = vec![1.0, 1.0, 1.0, 1.0];
        let live = vec![true; 4];
        assert_eq!(select(&scores, &live, 2), vec![(0, 1.0), (1, 1.0)]);
        assert_eq!(
            select(&scores[..2], &live[..2], 5),
            vec![(0, 1.0), (1, 1.0)]
        );
    }
}
