//! A bounded heap that keeps the `k` best-scoring candidates.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Candidate in the heap. Ordered so that the *worst* candidate is at the
/// top of std's max-heap and can be evicted in O(log k).
#[derive(Debug, Clone, Copy)]
struct Entry {
    score: f32,
    id: u32,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        // Lower score = "greater" (worse); on equal scores the higher id is
        // worse, so results are deterministic whatever the thread split.
        other
            .score
            .total_cmp(&self.score)
            .then_with(|| self.id.cmp(&other.id))
    }
}

/// Keeps the `k` highest scores seen so far.
#[derive(Debug, Clone)]
pub struct TopK {
    k: usize,
    heap: BinaryHeap<Entry>,
}

impl TopK {
    pub fn new(k: usize) -> Self {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
        }
    }

    /// The score a candidate must beat to get in; `-inf` while not full.
    #[inline]
    pub fn threshold(&self) -> f32 {
        if self.heap.len() < self.k {
            f32::NEG_INFINITY
        } else {
            self.heap.peek().map_or(f32::NEG_INFINITY, |e| e.score)
        }
    }

    #[inline]
    pub fn push(&mut self, id: u32, score: f32) {
        if self.k == 0 || score.is_nan() {
            return;
        }
        let entry = Entry { score, id };
        if self.heap.len() < self.k {
            self.heap.push(entry);
        } else if let Some(mut worst) = self.heap.peek_mut() {
            if entry < *worst {
                *worst = entry;
            }
        }
    }

    pub fn merge(&mut self, other: TopK) {
        for e in other.heap {
            self.push(e.id, e.score);
        }
    }

    /// Best first; ties by ascending id.
    pub fn into_sorted(self) -> Vec<(u32, f32)> {
        let mut v: Vec<Entry> = self.heap.into_vec();
        v.sort();
        v.into_iter().map(|e| (e.id, e.score)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_best_k_in_order() {
        let mut t = TopK::new(3);
        for (id, s) in [(0, 0.1), (1, 0.9), (2, 0.5), (3, 0.7), (4, 0.2)] {
            t.push(id, s);
        }
        assert_eq!(t.into_sorted(), vec![(1, 0.9), (3, 0.7), (2, 0.5)]);
    }

    #[test]
    fn ties_break_by_id_and_nan_is_ignored() {
        let mut t = TopK::new(2);
        t.push(5, 1.0);
        t.push(7, f32::NAN);
        t.push(2, 1.0);
        t.push(9, 1.0);
        assert_eq!(t.into_sorted(), vec![(2, 1.0), (5, 1.0)]);
    }

    #[test]
    fn merge_and_zero_k() {
        let mut a = TopK::new(2);
        a.push(1, 0.3);
        let mut b = TopK::new(2);
        b.push(2, 0.8);
        b.push(3, 0.1);
        a.merge(b);
        assert_eq!(a.into_sorted(), vec![(2, 0.8), (1, 0.3)]);
        let mut z = TopK::new(0);
        z.push(1, 1.0);
        assert!(z.into_sorted().is_empty());
    }
}
