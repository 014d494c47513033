//! The set of nodes a search has already scored, and the pool that hands
//! one to each concurrent search.
//!
//! A search touches a few thousand nodes of possibly millions. A hash set
//! costs a hash and a probe per neighbour (usearch's choice); a bitmap
//! would need clearing per query. Here every node has a `u16` tag and a
//! node counts as visited when its tag equals the search's generation:
//! starting a search is one increment, and the array is cleared only when
//! the generation wraps (every 65 535 searches). The tag array of a
//! million nodes is 2 MB, so it mostly stays in the L2/L3 cache.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Mutex;

/// Generation-tagged visited marks for up to `len` nodes.
pub(crate) struct Visited {
    tags: Vec<u16>,
    generation: u16,
}

impl Visited {
    fn new() -> Self {
        Visited {
            tags: Vec::new(),
            generation: 0,
        }
    }

    /// Starts a new search over `nodes` nodes: nothing is visited.
    pub(crate) fn reset(&mut self, nodes: usize) {
        if self.tags.len() < nodes {
            self.tags.resize(nodes, 0);
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.tags.fill(0);
            self.generation = 1;
        }
    }

    /// Marks `id` and reports whether it was unvisited.
    #[inline(always)]
    pub(crate) fn insert(&mut self, id: u32) -> bool {
        let tag = &mut self.tags[id as usize];
        let fresh = *tag != self.generation;
        *tag = self.generation;
        fresh
    }
}

/// Scratch space of one search: the visited marks and reusable buffers
/// (the two heaps of the beam search hold packed `(distance, id)` keys; see
/// `search.rs`).
pub(crate) struct Scratch {
    pub(crate) visited: Visited,
    pub(crate) fresh: Vec<u32>,
    pub(crate) top: BinaryHeap<u64>,
    pub(crate) candidates: BinaryHeap<Reverse<u64>>,
}

/// Reusable scratch spaces, one taken per running search (hnswlib's
/// `VisitedListPool`): a search pops one, returns it when done, and a new
/// one is made only when all are in use.
#[derive(Default)]
pub(crate) struct ScratchPool {
    free: Mutex<Vec<Scratch>>,
}

impl ScratchPool {
    /// A scratch space ready for a search over `nodes` nodes.
    pub(crate) fn take(&self, nodes: usize) -> Scratch {
        let popped = self
            .free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        let mut s = popped.unwrap_or_else(|| Scratch {
            visited: Visited::new(),
            fresh: Vec::new(),
            top: BinaryHeap::new(),
            candidates: BinaryHeap::new(),
        });
        s.visited.reset(nodes);
        s
    }

    /// Gives a scratch space back for the next search.
    pub(crate) fn give(&self, s: Scratch) {
        // The pool only holds plain buffers, so a poisoned lock is harmless.
        self.free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_reset_forgets_all_marks_even_across_the_wrap() {
        let mut v = Visited::new();
        v.reset(10);
        assert!(v.insert(3));
        assert!(!v.insert(3));
        for round in 0..70_000u32 {
            v.reset(10);
            assert!(v.insert(3), "round {round}");
            assert!(v.insert(round % 10) || round % 10 == 3);
        }
        v.reset(20);
        assert!((0..20).all(|i| v.insert(i)));
    }

    #[test]
    fn the_pool_reuses_scratch_spaces() {
        let pool = ScratchPool::default();
        let mut a = pool.take(5);
        a.visited.insert(1);
        pool.give(a);
        let mut b = pool.take(5);
        assert!(b.visited.insert(1), "a reused space starts empty");
        assert_eq!(pool.free.lock().unwrap().len(), 0);
        pool.give(b);
        assert_eq!(pool.free.lock().unwrap().len(), 1);
    }
}
