//! The best `k` documents of a search while their scores are still being
//! summed: a bounded min-heap whose entries can *rise*.
//!
//! Term-at-a-time scoring adds to a document's score once per query term,
//! so a document already among the best can improve again; an ordinary
//! top-k heap would then hold it twice and overstate the k-th best score,
//! which the search prunes with. Here each document has a slot (its heap
//! position), found in O(1) and moved in O(log k), so the heap always
//! holds k distinct documents and its root is the exact k-th best score so
//! far. Scores only grow, so that root is a lower bound of the final k-th
//! best score at every moment.
//!
//! The search offers a document only when its new score reaches
//! [`Leaders::gate`] (one comparison in the scatter loop), which after the
//! first few postings is rare.

/// A document and its score so far.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Entry {
    score: f32,
    doc: u32,
}

/// Whether `a` ranks below `b`: lower score, or the same score and a
/// later ordinal (results break ties by ascending ordinal).
#[inline]
fn worse(a: Entry, b: Entry) -> bool {
    a.score < b.score || (a.score == b.score && a.doc > b.doc)
}

/// The `k` best live documents so far, with positive scores.
#[derive(Debug, Default)]
pub(crate) struct Leaders {
    /// Min-heap by [`worse`]: the root is the k-th best.
    heap: Vec<Entry>,
    /// Heap position + 1 of each ordinal, 0 when not in the heap; all 0
    /// between searches.
    slot: Vec<u32>,
    k: usize,
    /// Scores below this cannot enter: the root's score once the heap is
    /// full, else 0 (every positive score enters).
    gate: f32,
}

impl Leaders {
    /// Empties the heap for a search of `n` ordinals and `k >= 1`.
    pub fn reset(&mut self, n: usize, k: usize) {
        debug_assert!(self.heap.is_empty(), "finish() ends every search");
        self.heap.clear();
        self.slot.resize(n, 0);
        self.k = k.min(n).max(1);
        self.gate = 0.0;
    }

    /// The score a document must reach to be worth an [`Leaders::offer`].
    #[inline(always)]
    pub fn gate(&self) -> f32 {
        self.gate
    }

    /// The k-th best score so far, once there are k documents.
    pub fn threshold(&self) -> Option<f32> {
        (self.heap.len() == self.k).then(|| self.heap[0].score)
    }

    /// Document `doc` now scores `score` (never less than before): enters
    /// or moves if it ranks among the best `k`. Deleted documents and
    /// scores of 0 never enter.
    #[inline(never)]
    pub fn offer(&mut self, doc: u32, score: f32, live: &[bool]) {
        if score.is_nan() || score <= 0.0 || !live[doc as usize] {
            return;
        }
        let entry = Entry { score, doc };
        let slot = self.slot[doc as usize];
        if slot != 0 {
            // Better than before: away from the root.
            let i = slot as usize - 1;
            self.heap[i].score = score;
            self.sift_down(i);
        } else if self.heap.len() < self.k {
            self.heap.push(entry);
            let i = self.heap.len() - 1;
            self.slot[doc as usize] = i as u32 + 1;
            self.sift_up(i);
        } else if worse(self.heap[0], entry) {
            self.slot[self.heap[0].doc as usize] = 0;
            self.heap[0] = entry;
            self.slot[doc as usize] = 1;
            self.sift_down(0);
        } else {
            return;
        }
        if self.heap.len() == self.k {
            self.gate = self.heap[0].score;
        }
    }

    /// The documents, best first (ties by ascending ordinal); leaves the
    /// slots all 0 for the next search.
    pub fn finish(&mut self) -> Vec<(u32, f32)> {
        for e in &self.heap {
            self.slot[e.doc as usize] = 0;
        }
        let mut best: Vec<(u32, f32)> = self.heap.drain(..).map(|e| (e.doc, e.score)).collect();
        best.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        best
    }

    fn sift_up(&mut self, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if !worse(self.heap[i], self.heap[parent]) {
                break;
            }
            self.swap(i, parent);
            i = parent;
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        let len = self.heap.len();
        loop {
            let left = 2 * i + 1;
            if left >= len {
                break;
            }
            let right = left + 1;
            let child = if right < len && worse(self.heap[right], self.heap[left]) {
                right
            } else {
                left
            };
            if !worse(self.heap[child], self.heap[i]) {
                break;
            }
            self.swap(i, child);
            i = child;
        }
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.heap.swap(a, b);
        self.slot[self.heap[a].doc as usize] = a as u32 + 1;
        self.slot[self.heap[b].doc as usize] = b as u32 + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scores that rise in random steps, ties common, some documents
    /// deleted: the heap always equals sorting the current scores.
    #[test]
    fn equals_sorting_the_current_scores() {
        let mut next = crate::test_rng::xorshift(0x2545_f491_4f6c_dd1d);
        let mut leaders = Leaders::default();
        for round in 0..300 {
            let n = 1 + (next() % 60) as usize;
            let k = 1 + (next() % 12) as usize;
            let live: Vec<bool> = (0..n).map(|_| !next().is_multiple_of(6)).collect();
            let mut scores = vec![0.0f32; n];
            leaders.reset(n, k);
            for _ in 0..(next() % 200) {
                let d = (next() % n as u64) as usize;
                scores[d] += (next() % 3) as f32 * 0.5;
                if scores[d] >= leaders.gate() {
                    leaders.offer(d as u32, scores[d], &live);
                }
            }
            let mut want: Vec<(u32, f32)> = (0..n)
                .filter(|&d| live[d] && scores[d] > 0.0)
                .map(|d| (d as u32, scores[d]))
                .collect();
            want.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            want.truncate(k);
            let threshold = leaders.threshold();
            assert_eq!(
                threshold,
                (want.len() == k.min(n)).then(|| want[want.len() - 1].1),
                "round {round}"
            );
            assert_eq!(leaders.finish(), want, "round {round}");
            assert!(leaders.slot.iter().all(|&s| s == 0));
        }
    }
}
