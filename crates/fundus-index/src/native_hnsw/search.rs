//! The beam search on one layer (hnswlib's `searchBaseLayerST`), the greedy
//! descent through the upper layers, and software prefetching.
//!
//! Heap entries are one `u64` each: the distance mapped to an order-
//! preserving `u32` in the high half and the node id in the low half, so
//! every heap comparison is one integer compare (no float `partial_cmp`,
//! no tuple) and ties break by id, deterministically.
//!
//! Per expanded candidate the search first walks its link list, marks the
//! unvisited neighbours and issues a prefetch of each one's vector, then
//! scores them in order: by the time the kernel reaches the second
//! neighbour its first cache lines are on their way. hnswlib prefetches one
//! neighbour ahead; issuing them all first lets the memory system fetch
//! several vectors at once.

use std::cmp::Reverse;
use std::sync::atomic::Ordering;

use super::graph::EMPTY;
use super::visited::Scratch;
use super::NativeHnsw;

/// Which nodes may enter the results of a layer search. All nodes are
/// walked through regardless.
#[derive(Clone, Copy)]
pub(crate) enum Accept<'a> {
    /// Every node (no removals, no filter).
    All,
    /// Nodes not removed.
    Live,
    /// Nodes not removed whose key the predicate allows.
    Filter(&'a dyn Fn(u64) -> bool),
}

/// Maps a float to a `u32` with the same order (negative numbers included).
#[inline(always)]
pub(crate) fn ordered(d: f32) -> u32 {
    let b = d.to_bits();
    if b >> 31 == 1 {
        !b
    } else {
        b | 0x8000_0000
    }
}

/// Inverse of [`ordered`].
#[inline(always)]
pub(crate) fn unordered(u: u32) -> f32 {
    if u >> 31 == 1 {
        f32::from_bits(u & 0x7fff_ffff)
    } else {
        f32::from_bits(!u)
    }
}

/// A heap entry: distance (ordered) high, id low.
#[inline(always)]
pub(crate) fn pack(distance: f32, id: u32) -> u64 {
    ((ordered(distance) as u64) << 32) | id as u64
}

#[inline(always)]
pub(crate) fn unpack(key: u64) -> (f32, u32) {
    (unordered((key >> 32) as u32), key as u32)
}

/// Asks the CPU to start loading the cache line at `p` into all cache
/// levels; a no-op off x86-64. Never faults, whatever the address.
#[inline(always)]
pub(crate) fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint and does not access memory
    // architecturally; any address is allowed.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(p as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Cache lines of a vector prefetched per neighbour before scoring: the
/// hardware's stream prefetcher follows once a few consecutive lines miss.
/// Measured on the 45k real set (vectors in L3), 1, 2, 4 and 8 lines and a
/// second batch one neighbour ahead were all within the run-to-run noise.
const PREFETCH_LINES: usize = 4;

impl NativeHnsw {
    /// Whether node `id` may enter results under `accept`.
    #[inline(always)]
    fn accepts(&self, accept: Accept<'_>, id: u32) -> bool {
        match accept {
            Accept::All => true,
            Accept::Live => !self.is_deleted(id),
            Accept::Filter(allow) => !self.is_deleted(id) && allow(self.keys[id as usize]),
        }
    }

    /// Greedy descent: from `start`, moves to the closest neighbour on
    /// `level` while that improves the distance to `q`; returns the node
    /// reached and its distance.
    pub(crate) fn greedy(&self, q: &[f32], start: u32, level: usize) -> (u32, f32) {
        let (mut cur, mut best) = (start, self.distance(q, self.graph.vector(start)));
        loop {
            let mut changed = false;
            for slot in self.graph.links(cur, level) {
                let id = slot.load(Ordering::Acquire);
                if id == EMPTY {
                    break;
                }
                let d = self.distance(q, self.graph.vector(id));
                if d < best {
                    (best, cur, changed) = (d, id, true);
                }
            }
            if !changed {
                return (cur, best);
            }
        }
    }

    /// Beam search of width `ef` on `level` from `entry`; afterwards
    /// `scratch.top` holds the (at most `ef`) best accepted nodes as a
    /// max-heap of packed keys. `scratch.visited` must be reset.
    pub(crate) fn search_layer(
        &self,
        q: &[f32],
        entry: u32,
        ef: usize,
        level: usize,
        accept: Accept<'_>,
        scratch: &mut Scratch,
    ) {
        let Scratch {
            visited,
            fresh,
            top,
            candidates,
        } = scratch;
        top.clear();
        candidates.clear();
        // Without removals or a filter every scored node is a result, so
        // the search may stop as soon as the best candidate left is worse
        // than the beam's worst, full or not (hnswlib's rule).
        let restricted = !matches!(accept, Accept::All);
        let first = pack(self.distance(q, self.graph.vector(entry)), entry);
        visited.insert(entry);
        candidates.push(Reverse(first));
        if self.accepts(accept, entry) {
            top.push(first);
        }
        let mut bound = top.peek().copied().unwrap_or(u64::MAX);
        while let Some(&Reverse(current)) = candidates.peek() {
            if current > bound && (top.len() >= ef || !restricted) {
                break;
            }
            candidates.pop();
            let (_, node) = unpack(current);
            fresh.clear();
            for slot in self.graph.links(node, level) {
                let id = slot.load(Ordering::Acquire);
                if id == EMPTY {
                    break;
                }
                if visited.insert(id) {
                    let v = self.graph.vector_ptr(id);
                    for line in 0..PREFETCH_LINES {
                        prefetch(v.wrapping_add(64 * line));
                    }
                    fresh.push(id);
                }
            }
            for &id in fresh.iter() {
                let key = pack(self.distance(q, self.graph.vector(id)), id);
                if top.len() < ef || key < bound {
                    candidates.push(Reverse(key));
                    if let Some(&Reverse(next)) = candidates.peek() {
                        prefetch(self.graph.block_ptr(next as u32));
                    }
                    if self.accepts(accept, id) {
                        top.push(key);
                        if top.len() > ef {
                            top.pop();
                        }
                    }
                    if let Some(&worst) = top.peek() {
                        bound = worst;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_keys_order_like_their_distances() {
        let ds = [-3.5f32, -1.0, -0.0, 0.0, 1e-30, 0.5, 2.0, f32::INFINITY];
        for w in ds.windows(2) {
            assert!(ordered(w[0]) <= ordered(w[1]), "{} {}", w[0], w[1]);
        }
        for &d in &ds {
            assert_eq!(unordered(ordered(d)).to_bits(), d.to_bits());
        }
        assert!(pack(-1.0, 9) < pack(0.5, 1));
        assert!(pack(0.5, 1) < pack(0.5, 2), "ties break by id");
        assert_eq!(unpack(pack(-0.25, 77)), (-0.25, 77));
    }
}
