//! Storage of the graph: one fixed-size, cache-line-aligned block per node
//! holding its base-layer links and its vector, plus the small upper layers.
//!
//! Why this shape: a beam search spends its time fetching, for each
//! candidate it expands, the candidate's neighbour list and then each
//! neighbour's vector. With the links and the vector of a node in one block
//! addressed by `id * block_lines`, a node costs one address computation
//! and no pointer chase (usearch pays a pointer load from a lookup table
//! and a second for the node tape before the vector; profiled as the gap to
//! hnswlib). Vectors start on a cache line so the 64-byte loads of the
//! distance kernel never straddle two lines.
//!
//! A link list has no count: unused slots hold [`EMPTY`], and readers stop
//! at the first one. With `m = 16` the 32 base-layer links fill exactly two
//! cache lines, where a count would cost a third.
//!
//! Links are atomics so that the parallel build can read lists other
//! threads are rewriting (under a per-node lock; see `insert.rs`) without a
//! data race: a reader sees old or new ids, each a valid node. On x86-64 a
//! relaxed/acquire load is a plain load, so searches pay nothing for it.
//! Vectors are written only through `&mut` (before any thread can reach the
//! node) and are read-only while shared.

use std::sync::atomic::{AtomicU32, Ordering};

/// Marks an unused link slot.
pub(crate) const EMPTY: u32 = u32::MAX;

/// One cache line of a block.
#[repr(C, align(64))]
pub(crate) struct Line([AtomicU32; 16]);

impl Line {
    fn empty() -> Self {
        Line(std::array::from_fn(|_| AtomicU32::new(EMPTY)))
    }
}

const LINE_WORDS: usize = 16;

/// The base layer (links and vectors) and the upper layers of the graph.
pub(crate) struct Graph {
    pub(crate) dim: usize,
    /// Links per node on the upper layers; the base layer holds `2·m`.
    pub(crate) m: usize,
    link_lines: usize,
    block_lines: usize,
    blocks: Vec<Line>,
    /// Per node, levels `1..=level` of `m` slots each (empty for level 0).
    upper: Vec<Box<[AtomicU32]>>,
    levels: Vec<u8>,
}

impl Graph {
    pub(crate) fn new(dim: usize, m: usize) -> Self {
        let link_lines = (2 * m).div_ceil(LINE_WORDS);
        let vector_lines = dim.div_ceil(LINE_WORDS);
        Graph {
            dim,
            m,
            link_lines,
            block_lines: link_lines + vector_lines,
            blocks: Vec::new(),
            upper: Vec::new(),
            levels: Vec::new(),
        }
    }

    /// Number of nodes (removed ones included: they stay in the graph).
    pub(crate) fn len(&self) -> usize {
        self.levels.len()
    }

    /// Link slots of a base-layer list.
    pub(crate) fn max_links0(&self) -> usize {
        2 * self.m
    }

    pub(crate) fn level(&self, id: u32) -> usize {
        self.levels[id as usize] as usize
    }

    /// Makes room for `extra` more nodes without moving the blocks later.
    pub(crate) fn reserve(&mut self, extra: usize) {
        self.blocks.reserve(extra * self.block_lines);
        self.upper.reserve(extra);
        self.levels.reserve(extra);
    }

    /// Appends a node with `vector` and no links; returns its id.
    pub(crate) fn push(&mut self, vector: &[f32], level: usize) -> u32 {
        debug_assert_eq!(vector.len(), self.dim);
        let id = self.levels.len();
        let start = self.blocks.len();
        self.blocks
            .resize_with(start + self.block_lines, Line::empty);
        let words = &mut self.blocks[start + self.link_lines..];
        for (slot, &x) in words
            .iter_mut()
            .flat_map(|line| line.0.iter_mut())
            .zip(vector)
        {
            *slot.get_mut() = x.to_bits();
        }
        let upper: Box<[AtomicU32]> = (0..level * self.m).map(|_| AtomicU32::new(EMPTY)).collect();
        self.upper.push(upper);
        self.levels.push(level as u8);
        id as u32
    }

    /// Address of a node's block; for prefetching.
    #[inline(always)]
    pub(crate) fn block_ptr(&self, id: u32) -> *const u8 {
        // SAFETY: callers pass ids of existing nodes (below `len`), so the
        // offset stays inside `blocks`.
        unsafe { self.blocks.as_ptr().add(id as usize * self.block_lines) as *const u8 }
    }

    /// Address of a node's vector; for prefetching.
    #[inline(always)]
    pub(crate) fn vector_ptr(&self, id: u32) -> *const u8 {
        // SAFETY: as in `block_ptr`.
        unsafe {
            self.blocks
                .as_ptr()
                .add(id as usize * self.block_lines + self.link_lines) as *const u8
        }
    }

    /// The vector of node `id`.
    #[inline(always)]
    pub(crate) fn vector(&self, id: u32) -> &[f32] {
        let start = id as usize * self.block_lines + self.link_lines;
        let lines = &self.blocks[start..start + self.block_lines - self.link_lines];
        // SAFETY: the lines hold `dim` floats' bits from `push` (then
        // padding); vectors are only written through `&mut self`, so no
        // write happens while this shared borrow lives. `AtomicU32` has the
        // size and alignment of `f32`.
        unsafe { std::slice::from_raw_parts(lines.as_ptr() as *const f32, self.dim) }
    }

    /// The base-layer link slots of node `id` (`2·m`, unused ones [`EMPTY`]).
    #[inline(always)]
    pub(crate) fn links0(&self, id: u32) -> &[AtomicU32] {
        let start = id as usize * self.block_lines;
        let lines = &self.blocks[start..start + self.link_lines];
        // SAFETY: `link_lines` lines of 16 atomics each hold at least `2·m`.
        unsafe { std::slice::from_raw_parts(lines.as_ptr() as *const AtomicU32, 2 * self.m) }
    }

    /// The link slots of node `id` on `level` (which must be at most the
    /// node's level).
    #[inline(always)]
    pub(crate) fn links(&self, id: u32, level: usize) -> &[AtomicU32] {
        if level == 0 {
            self.links0(id)
        } else {
            &self.upper[id as usize][(level - 1) * self.m..level * self.m]
        }
    }

    /// Bytes held by blocks, upper layers and levels (capacity included).
    pub(crate) fn memory_bytes(&self) -> usize {
        self.blocks.capacity() * 64
            + self.upper.capacity() * std::mem::size_of::<Box<[AtomicU32]>>()
            + self.upper.iter().map(|u| u.len() * 4).sum::<usize>()
            + self.levels.capacity()
    }
}

/// Reads the ids of a link list up to its first unused slot into `out`.
#[inline(always)]
pub(crate) fn read_links(slots: &[AtomicU32], out: &mut Vec<u32>) {
    out.clear();
    for slot in slots {
        let id = slot.load(Ordering::Acquire);
        if id == EMPTY {
            break;
        }
        out.push(id);
    }
}

/// Replaces a link list with `ids` (at most `slots.len()`), padding with
/// [`EMPTY`]. The caller holds the node's lock (or `&mut` of the graph).
pub(crate) fn write_links(slots: &[AtomicU32], ids: &[u32]) {
    debug_assert!(ids.len() <= slots.len());
    for (i, slot) in slots.iter().enumerate() {
        slot.store(ids.get(i).copied().unwrap_or(EMPTY), Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_line_aligned_and_hold_vector_and_links() {
        let mut g = Graph::new(20, 3);
        let a: Vec<f32> = (0..20).map(|i| i as f32).collect();
        let b: Vec<f32> = (0..20).map(|i| -(i as f32)).collect();
        assert_eq!(g.push(&a, 0), 0);
        assert_eq!(g.push(&b, 2), 1);
        assert_eq!(g.vector(0), &a[..]);
        assert_eq!(g.vector(1), &b[..]);
        assert_eq!(g.vector_ptr(1) as usize % 64, 0);
        assert_eq!(g.block_ptr(1) as usize % 64, 0);
        // 6 links fit one line, 20 floats take two.
        assert_eq!(g.block_lines, 3);
        write_links(g.links0(1), &[0, 7]);
        write_links(g.links(1, 2), &[0]);
        let mut out = Vec::new();
        read_links(g.links0(1), &mut out);
        assert_eq!(out, [0, 7]);
        read_links(g.links(1, 2), &mut out);
        assert_eq!(out, [0]);
        read_links(g.links(1, 1), &mut out);
        assert!(out.is_empty());
        assert_eq!(g.vector(1), &b[..], "links do not overlap the vector");
    }
}
