//! Inserting nodes: levels, hnswlib's neighbour-selection heuristic, and
//! linking new nodes into the graph, many at once on rayon's threads.
//!
//! A batch is inserted in two phases. First, with `&mut self`, every new
//! node gets its id, level, key and vector (nothing links to it yet, so no
//! search can reach it). Then, with `&self`, the nodes are linked in
//! parallel exactly as hnswlib's `addPoint` does: greedy descent to the
//! node's level, a beam search of width `ef_construct` per level, the
//! heuristic picks at most `m` neighbours, and each neighbour gets a back
//! link, pruned by the same heuristic when its list is full.
//!
//! Concurrency: a link list is written only under its node's lock (a
//! striped array of mutexes; a thread holds one at a time, so stripes
//! cannot deadlock) and read without locks through atomics (see
//! `graph.rs`). A node whose level is above the current top holds the
//! entry lock for its whole insertion, as in hnswlib, so the entry point
//! changes only once that node is fully linked. A node being linked is
//! reachable on its upper levels before its lower lists exist, so another
//! insert may add a back link to a lower list first; the node's own list
//! is therefore merged with what is there, never overwritten.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::graph::{read_links, write_links};
use super::search::{pack, unpack, Accept};
use super::NativeHnsw;

/// Highest level a node can get. With `mult = 1/ln(m)` a level above 15
/// needs more than `m^15` nodes; the cap only guards the `u8` level.
pub(crate) const MAX_LEVEL: usize = 15;

/// Lock stripes: enough that two of rayon's threads rarely share one.
pub(crate) const LOCK_STRIPES: usize = 4096;

/// Deterministic level generator (splitmix64), so a build is reproducible
/// up to the thread timing of the parallel linking.
pub(crate) struct LevelRng {
    state: u64,
    mult: f64,
}

impl LevelRng {
    pub(crate) fn new(seed: u64, m: usize) -> Self {
        LevelRng {
            state: seed,
            mult: 1.0 / (m as f64).ln(),
        }
    }

    /// `floor(-ln(u) · mult)` for `u` uniform in (0, 1], as hnswlib draws.
    pub(crate) fn next_level(&mut self) -> usize {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        // 53 random bits, shifted into (0, 1].
        let u = ((z >> 11) + 1) as f64 / (1u64 << 53) as f64;
        ((-u.ln() * self.mult) as usize).min(MAX_LEVEL)
    }
}

fn lock(m: &Mutex<()>) -> MutexGuard<'_, ()> {
    // The mutexes guard no data of their own (the lists are atomics), so a
    // poisoned one is as good as any.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl NativeHnsw {
    fn node_lock(&self, id: u32) -> MutexGuard<'_, ()> {
        lock(&self.locks[id as usize % self.locks.len()])
    }

    /// hnswlib's `getNeighborsByHeuristic2`: walks `candidates` (packed
    /// keys of distances to the base node, sorted ascending) and keeps a
    /// candidate unless a node already kept is closer to it than the base
    /// is; stops at `max` kept. Keeps all when there are at most `max`.
    /// The result spreads links over directions instead of spending them
    /// all on one dense cluster, which keeps the graph navigable.
    pub(crate) fn select_neighbours(&self, candidates: &[u64], max: usize, out: &mut Vec<u32>) {
        out.clear();
        if candidates.len() <= max {
            out.extend(candidates.iter().map(|&k| k as u32));
            return;
        }
        for &key in candidates {
            if out.len() >= max {
                break;
            }
            let (d, id) = unpack(key);
            let v = self.graph.vector(id);
            let good = out
                .iter()
                .all(|&kept| self.distance(self.graph.vector(kept), v) >= d);
            if good {
                out.push(id);
            }
        }
    }

    /// Writes to `slots` at most `max` of `ids`, chosen by the neighbour
    /// heuristic as seen from `base`: how a full list takes a new link.
    /// `sorted` is scratch.
    fn write_pruned(
        &self,
        slots: &[AtomicU32],
        base: &[f32],
        ids: impl IntoIterator<Item = u32>,
        max: usize,
        sorted: &mut Vec<u64>,
    ) {
        sorted.clear();
        sorted.extend(
            ids.into_iter()
                .map(|j| pack(self.distance(base, self.graph.vector(j)), j)),
        );
        sorted.sort_unstable();
        let mut kept = Vec::with_capacity(max);
        self.select_neighbours(sorted, max, &mut kept);
        write_links(slots, &kept);
    }

    /// Links node `id` (already stored, unreachable) into the graph.
    pub(crate) fn link(&self, id: u32) {
        let level = self.graph.level(id);
        let mut entry = self.entry();
        let mut top_guard = None;
        if entry.is_none_or(|(_, top)| level > top) {
            top_guard = Some(lock(&self.entry_lock));
            entry = self.entry();
        }
        let Some((mut cur, top_level)) = entry else {
            // The first node: it is the graph.
            self.set_entry(id, level);
            return;
        };
        let q = self.graph.vector(id);
        for l in (level + 1..=top_level).rev() {
            cur = self.greedy(q, cur, l).0;
        }
        let accept = if self.deleted_count == 0 {
            Accept::All
        } else {
            Accept::Live
        };
        let mut scratch = self.scratch.take(self.graph.len());
        let mut sorted = Vec::new();
        let mut selected = Vec::new();
        let mut neighbour_links = Vec::new();
        for l in (0..=level.min(top_level)).rev() {
            if l != level.min(top_level) {
                scratch.visited.reset(self.graph.len());
            }
            self.search_layer(q, cur, self.ef_construct, l, accept, &mut scratch);
            if scratch.top.is_empty() {
                // Every node reachable here was removed (hnswlib's rule
                // links new nodes to live ones only). Link to the removed
                // ones rather than leave the node unreachable.
                scratch.visited.reset(self.graph.len());
                self.search_layer(q, cur, self.ef_construct, l, Accept::All, &mut scratch);
            }
            sorted.clear();
            sorted.extend(scratch.top.drain());
            sorted.sort_unstable();
            self.select_neighbours(&sorted, self.graph.m, &mut selected);
            let max = if l == 0 {
                self.graph.max_links0()
            } else {
                self.graph.m
            };
            {
                let _own = self.node_lock(id);
                let slots = self.graph.links(id, l);
                read_links(slots, &mut neighbour_links);
                if neighbour_links.is_empty() {
                    write_links(slots, &selected);
                } else {
                    // Another thread reached this node on the level above
                    // and linked itself here before this node's own list
                    // was written: keep its back link, or it may become
                    // unreachable (hnswlib instead holds the new node's
                    // lock for the whole insert and blocks such readers).
                    let mut merged = selected.clone();
                    merged.extend(neighbour_links.iter().filter(|j| !selected.contains(j)));
                    if merged.len() <= max {
                        write_links(slots, &merged);
                    } else {
                        self.write_pruned(slots, q, merged, max, &mut sorted);
                    }
                }
            }
            for &n in &selected {
                let _guard = self.node_lock(n);
                let slots = self.graph.links(n, l);
                read_links(slots, &mut neighbour_links);
                if neighbour_links.contains(&id) {
                    // It linked itself here first (see the merge above).
                    continue;
                }
                if neighbour_links.len() < max {
                    slots[neighbour_links.len()].store(id, Ordering::Release);
                    continue;
                }
                let candidates = std::iter::once(id).chain(neighbour_links.iter().copied());
                self.write_pruned(slots, self.graph.vector(n), candidates, max, &mut sorted);
            }
            // The closest neighbour found is the entry to the next level.
            cur = selected[0];
        }
        self.scratch.give(scratch);
        if top_guard.is_some() && level > top_level {
            self.set_entry(id, level);
        }
        drop(top_guard);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_the_geometric_law() {
        let mut rng = LevelRng::new(42, 16);
        let n = 200_000;
        let mut counts = [0usize; MAX_LEVEL + 1];
        for _ in 0..n {
            counts[rng.next_level()] += 1;
        }
        // P(level >= 1) = 1/m.
        let above = (n - counts[0]) as f64 / n as f64;
        assert!((above - 1.0 / 16.0).abs() < 0.005, "{above}");
        assert!(counts[1] > counts[2] && counts[2] > counts[3]);
    }
}
