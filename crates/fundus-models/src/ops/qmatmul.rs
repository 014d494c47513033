//! Linear layers with int8 weights and dynamically quantized u8
//! activations: `y ≈ x · W + b` on integer dot products.
//!
//! **Weights: int8, symmetric, one scale per output channel.** A column of
//! `W` (one output channel) is scaled by `max|w| / 127` and rounded. Per
//! channel rather than per tensor because the columns of a transformer's
//! projections differ in size by an order of magnitude; one scale for all
//! would leave the small ones a handful of levels. Symmetric, because the
//! weights are centred on zero and a zero point on the weight side would
//! cost a correction term per row *and* column.
//!
//! **Activations: u8, asymmetric, one scale and zero point per row**
//! (token), computed on the fly from the row's range (widened to include
//! 0). The VNNI instruction `vpdpbusd` multiplies *unsigned* bytes by
//! *signed* bytes, so one side must be u8; activations are the natural
//! choice since GELU outputs are almost all positive and would waste half
//! of a symmetric range. Per row, because tokens differ in scale and a row
//! is what one output row depends on, so the scale factors out of its dot
//! products.
//!
//! **Zero-point correction.** With `x ≈ sₐ·(qₐ − z)` and `w ≈ s_w·q_w`,
//!
//! ```text
//! Σₖ xₖ·wₖ ≈ sₐ·s_w·(Σₖ qₐₖ·q_wₖ − z·Σₖ q_wₖ)
//! ```
//!
//! The first sum is what `vpdpbusd` accumulates in i32 (at most
//! `255·127·K`, no overflow for any K below 66 000); the column sums
//! `Σₖ q_wₖ` are computed once at load time, so the correction is one
//! multiply-subtract per output in the epilogue, together with the two
//! scales and the bias.
//!
//! **Layout.** Weights are packed at load time for the kernel: panels of
//! 16 output channels; inside a panel, groups of 4 consecutive k, each
//! group one 64-byte vector holding channel `j`'s 4 bytes at `4j..4j+4` —
//! exactly the operand `vpdpbusd` multiplies by 4 broadcast activation
//! bytes. K is padded to a multiple of 4 and N to a multiple of 16 with
//! zero weights, which add nothing to the sums. The micro-kernel keeps a
//! 4-row × 64-channel block of i32 accumulators in 16 zmm registers: per
//! group of 4 k it loads 4 weight vectors and broadcasts 4 activation
//! words for 16 `vpdpbusd`.
//!
//! A portable kernel computes the same integers in plain Rust (CPUs
//! without AVX-512 VNNI; tests compare the two for exact equality).

use std::sync::OnceLock;

use rayon::prelude::*;

use crate::ops::matmul::Linear;

/// Output channels per packed panel (one zmm of i32 accumulators).
const PANEL: usize = 16;
/// Rows per micro-kernel call.
const MR: usize = 4;
/// Panels per micro-kernel call (64 channels).
const NP: usize = 4;
/// Rows per cache block: the activations of one block stay in L1/L2 while
/// the kernel walks all column blocks.
const MC: usize = 64;
/// Inputs per chunk of the sum: 4 panels × 512 inputs = 32 KiB of weights,
/// which stay in L1 while all rows of a block pass them.
const KC: usize = 512;

/// AVX-512 VNNI (with AVX-512BW/VL for the byte masks) is available.
pub fn has_vnni() -> bool {
    static F: OnceLock<bool> = OnceLock::new();
    *F.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("avx512vl")
                && is_x86_feature_detected!("avx512vnni")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    })
}

/// A linear layer with int8 per-channel weights, packed for the kernel.
pub struct QLinear {
    /// Panels of `PANEL` channels × `k4` inputs (see the module doc).
    packed: Vec<i8>,
    /// `Σₖ q_w[k][c]` per (padded) channel, for the zero-point correction.
    colsum: Vec<i32>,
    /// Per-channel weight scale (padded with 0).
    scale: Vec<f32>,
    /// Bias (padded with 0).
    bias: Vec<f32>,
    pub inputs: usize,
    pub outputs: usize,
    /// `inputs` rounded up to a multiple of 4.
    k4: usize,
    /// Number of panels: `outputs` rounded up to a multiple of 16, / 16.
    panels: usize,
}

/// Activations quantized per row, reused across calls.
#[derive(Default)]
pub struct QuantRows {
    /// `rows × k4` bytes.
    q: Vec<u8>,
    /// `(scale, zero point)` per row.
    params: Vec<(f32, i32)>,
}

impl QLinear {
    /// Quantizes a float layer (weights `in × out`, as [`Linear`] keeps
    /// them) per output channel.
    pub fn quantize(lin: &Linear) -> Self {
        let (k, n) = (lin.inputs, lin.outputs);
        let k4 = k.div_ceil(4) * 4;
        let panels = n.div_ceil(PANEL);
        let np = panels * PANEL;
        let mut scale = vec![0.0f32; np];
        for row in lin.weight.chunks_exact(n) {
            for (s, &w) in scale.iter_mut().zip(row) {
                *s = s.max(w.abs());
            }
        }
        for s in &mut scale {
            *s /= 127.0;
        }
        let mut packed = vec![0i8; panels * k4 * PANEL];
        let mut colsum = vec![0i32; np];
        for kk in 0..k {
            let row = &lin.weight[kk * n..(kk + 1) * n];
            for (c, &w) in row.iter().enumerate() {
                let s = scale[c];
                let q = if s > 0.0 {
                    (w / s).round().clamp(-127.0, 127.0) as i8
                } else {
                    0
                };
                let (p, j) = (c / PANEL, c % PANEL);
                packed[p * k4 * PANEL + (kk / 4) * 64 + j * 4 + kk % 4] = q;
                colsum[c] += q as i32;
            }
        }
        let mut bias = lin.bias.clone();
        bias.resize(np, 0.0);
        QLinear {
            packed,
            colsum,
            scale,
            bias,
            inputs: k,
            outputs: n,
            k4,
            panels,
        }
    }

    /// Bytes of weights held (int8 weights plus per-channel data).
    pub fn weight_bytes(&self) -> usize {
        self.packed.len() + 12 * self.colsum.len()
    }

    /// `out[rows × outputs] ≈ x[rows × inputs] · W + b`. `q` holds the
    /// quantized activations between calls (its buffers are reused). With
    /// `parallel` the rows (or, for few rows, the channels) are split over
    /// all cores.
    pub fn forward(
        &self,
        x: &[f32],
        rows: usize,
        out: &mut Vec<f32>,
        q: &mut QuantRows,
        parallel: bool,
    ) {
        self.forward_with(x, rows, out, q, parallel, has_vnni());
    }

    fn forward_with(
        &self,
        x: &[f32],
        rows: usize,
        out: &mut Vec<f32>,
        q: &mut QuantRows,
        parallel: bool,
        vnni: bool,
    ) {
        assert_eq!(x.len(), rows * self.inputs, "input is not rows × inputs");
        quantize_rows(x, rows, self.inputs, self.k4, q, parallel);
        let n = self.outputs;
        out.clear();
        // Written through spare capacity: every element is stored exactly
        // once by the tiles below (zero-filling the output first cost ~5%
        // of the int8 model's time).
        out.reserve(rows * n);
        if rows == 0 {
            return;
        }
        let dst = SendPtr(out.as_mut_ptr());
        let row_blocks = rows.div_ceil(MC);
        // Column groups: all channels when there are enough row blocks to
        // share; otherwise (a query of a few tokens) 64 channels each.
        let threads = if parallel {
            rayon::current_num_threads()
        } else {
            1
        };
        let col_groups = if row_blocks >= 2 * threads {
            1
        } else {
            self.panels.div_ceil(NP)
        };
        let per_group = self.panels.div_ceil(col_groups);
        let task = |t: usize| {
            let (rb, cg) = (t / col_groups, t % col_groups);
            let r = rb * MC..((rb + 1) * MC).min(rows);
            let p = cg * per_group..((cg + 1) * per_group).min(self.panels);
            // SAFETY: tasks write disjoint (row block, channel group)
            // tiles of `out`, which holds `rows × n` floats.
            unsafe { self.block(q, r, p, dst, vnni) };
        };
        let tasks = row_blocks * col_groups;
        if parallel && tasks > 1 {
            (0..tasks).into_par_iter().for_each(task);
        } else {
            (0..tasks).for_each(task);
        }
        // SAFETY: the tasks cover rows 0..rows × channels 0..n, each tile
        // storing every element of its rows × valid columns.
        unsafe { out.set_len(rows * n) };
    }

    /// Computes rows `r` × panels `p` of the output into `dst`.
    ///
    /// Loop order, outside in: 64-channel column blocks, chunks of at most
    /// `KC` inputs, micro-tiles of 4 rows. A column block's weights for
    /// one chunk (≤ 32 KiB) stay in L1 while every row of the block passes
    /// them; the i32 sums of earlier chunks wait in `partial`.
    ///
    /// # Safety
    /// `dst` points to a `rows × outputs` buffer that no one else writes
    /// in this tile; `q` holds at least `r.end` quantized rows.
    unsafe fn block(
        &self,
        q: &QuantRows,
        r: std::ops::Range<usize>,
        p: std::ops::Range<usize>,
        dst: SendPtr,
        vnni: bool,
    ) {
        let groups = self.k4 / 4;
        let chunks = groups.div_ceil(KC / 4);
        let per_chunk = groups.div_ceil(chunks);
        let mut partial = vec![0i32; if chunks > 1 { r.len() * NP * PANEL } else { 0 }];
        let mut p0 = p.start;
        while p0 < p.end {
            let np = (p.end - p0).min(NP);
            for chunk in 0..chunks {
                let g = chunk * per_chunk..((chunk + 1) * per_chunk).min(groups);
                let mut r0 = r.start;
                while r0 < r.end {
                    let mr = (r.end - r0).min(MR);
                    let tile = Tile {
                        a: &q.q[r0 * self.k4..(r0 + mr) * self.k4],
                        params: &q.params[r0..r0 + mr],
                        w: &self.packed[p0 * self.k4 * PANEL..(p0 + np) * self.k4 * PANEL],
                        colsum: &self.colsum[p0 * PANEL..(p0 + np) * PANEL],
                        scale: &self.scale[p0 * PANEL..(p0 + np) * PANEL],
                        bias: &self.bias[p0 * PANEL..(p0 + np) * PANEL],
                        k4: self.k4,
                        groups: g.clone(),
                        first: chunk == 0,
                        last: chunk + 1 == chunks,
                        partial: if chunks > 1 {
                            partial[(r0 - r.start) * NP * PANEL..].as_mut_ptr()
                        } else {
                            std::ptr::null_mut()
                        },
                        // Valid channels of this tile: the last panel may
                        // be partly padding.
                        cols: (self.outputs - p0 * PANEL).min(np * PANEL),
                        out: unsafe { dst.0.add(r0 * self.outputs + p0 * PANEL) },
                        out_stride: self.outputs,
                    };
                    #[cfg(target_arch = "x86_64")]
                    if vnni {
                        unsafe { vnni::tile_dispatch(&tile, mr, np) };
                        r0 += mr;
                        continue;
                    }
                    let _ = vnni;
                    unsafe { tile_portable(&tile, mr, np) };
                    r0 += mr;
                }
            }
            p0 += np;
        }
    }
}

#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
// SAFETY: used only to hand disjoint tiles of one output buffer to rayon
// tasks (see `QLinear::forward_with`).
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

/// One micro-kernel call: up to `MR` rows × up to `NP` panels, over the
/// groups of 4 inputs in `groups`.
struct Tile<'a> {
    a: &'a [u8],
    params: &'a [(f32, i32)],
    w: &'a [i8],
    colsum: &'a [i32],
    scale: &'a [f32],
    bias: &'a [f32],
    k4: usize,
    groups: std::ops::Range<usize>,
    /// Start from zero (else from `partial`).
    first: bool,
    /// Write floats to `out` (else the sums to `partial`).
    last: bool,
    /// i32 sums of earlier chunks, `NP·PANEL` per row; null with one chunk.
    partial: *mut i32,
    cols: usize,
    out: *mut f32,
    out_stride: usize,
}

/// The epilogue for one output: zero-point correction, both scales, bias.
/// The VNNI kernel does the same operations in the same order (no fused
/// multiply-add), so both produce bit-identical floats.
#[inline(always)]
fn dequantize(acc: i32, (sa, zp): (f32, i32), colsum: i32, sw: f32, bias: f32) -> f32 {
    (acc.wrapping_sub(zp.wrapping_mul(colsum))) as f32 * (sa * sw) + bias
}

/// The integer dot products of a tile in plain Rust.
///
/// # Safety
/// `tile.out` must be valid for the tile's rows and `tile.cols` columns,
/// `tile.partial` (unless both first and last) for its rows × `NP·PANEL`.
unsafe fn tile_portable(t: &Tile, mr: usize, np: usize) {
    for r in 0..mr {
        let a = &t.a[r * t.k4..(r + 1) * t.k4];
        let mut acc = [0i32; NP * PANEL];
        if !t.first {
            for (c, v) in acc.iter_mut().enumerate() {
                // SAFETY: see the function's contract.
                *v = unsafe { *t.partial.add(r * NP * PANEL + c) };
            }
        }
        for p in 0..np {
            let w = &t.w[p * t.k4 * PANEL..(p + 1) * t.k4 * PANEL];
            for g in t.groups.clone() {
                let av = &a[4 * g..4 * g + 4];
                let wg = &w[g * 64..(g + 1) * 64];
                for j in 0..PANEL {
                    let mut s = 0i32;
                    for i in 0..4 {
                        s += av[i] as i32 * wg[4 * j + i] as i32;
                    }
                    acc[p * PANEL + j] = acc[p * PANEL + j].wrapping_add(s);
                }
            }
        }
        if !t.last {
            for (c, &v) in acc.iter().enumerate() {
                // SAFETY: see the function's contract.
                unsafe { *t.partial.add(r * NP * PANEL + c) = v };
            }
            continue;
        }
        for (c, &v) in acc[..t.cols].iter().enumerate() {
            let y = dequantize(v, t.params[r], t.colsum[c], t.scale[c], t.bias[c]);
            // SAFETY: row r < mr, column c < cols, inside the caller's tile.
            unsafe { *t.out.add(r * t.out_stride + c) = y };
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod vnni {
    use std::arch::x86_64::*;

    use super::{Tile, NP, PANEL};

    /// Picks the monomorphized kernel for a tile of `mr` rows × `np` panels.
    ///
    /// # Safety
    /// AVX-512F/BW/VNNI must be available; see [`super::tile_portable`].
    pub(super) unsafe fn tile_dispatch(t: &Tile, mr: usize, np: usize) {
        unsafe {
            match (mr, np) {
                (4, 4) => tile::<4, 4>(t),
                (4, 3) => tile::<4, 3>(t),
                (4, 2) => tile::<4, 2>(t),
                (4, 1) => tile::<4, 1>(t),
                (3, 4) => tile::<3, 4>(t),
                (3, 3) => tile::<3, 3>(t),
                (3, 2) => tile::<3, 2>(t),
                (3, 1) => tile::<3, 1>(t),
                (2, 4) => tile::<2, 4>(t),
                (2, 3) => tile::<2, 3>(t),
                (2, 2) => tile::<2, 2>(t),
                (2, 1) => tile::<2, 1>(t),
                (1, 4) => tile::<1, 4>(t),
                (1, 3) => tile::<1, 3>(t),
                (1, 2) => tile::<1, 2>(t),
                (1, 1) => tile::<1, 1>(t),
                _ => unreachable!("tile of {mr} rows × {np} panels"),
            }
        }
    }

    /// `R` rows × `P` panels: `R·P` zmm accumulators, one `vpdpbusd` per
    /// accumulator and group of 4 k.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    unsafe fn tile<const R: usize, const P: usize>(t: &Tile) {
        debug_assert!(R <= 4 && P <= NP);
        let panel_bytes = t.k4 * PANEL;
        let a = t.a.as_ptr();
        let w = t.w.as_ptr();
        let mut acc = [[_mm512_setzero_si512(); P]; R];
        if !t.first {
            for (r, row) in acc.iter_mut().enumerate() {
                for (p, v) in row.iter_mut().enumerate() {
                    // SAFETY: `partial` holds NP·PANEL sums per row.
                    *v = unsafe {
                        _mm512_loadu_si512(t.partial.add(r * NP * PANEL + p * PANEL).cast())
                    };
                }
            }
        }
        for g in t.groups.clone() {
            let mut wv = [_mm512_setzero_si512(); P];
            for (p, v) in wv.iter_mut().enumerate() {
                // SAFETY: panel p, group g lies inside `t.w`.
                *v = unsafe { _mm512_loadu_si512(w.add(p * panel_bytes + g * 64).cast()) };
            }
            for (r, row) in acc.iter_mut().enumerate() {
                // SAFETY: row r, bytes 4g..4g+4 lie inside `t.a`.
                let word = unsafe { (a.add(r * t.k4 + 4 * g) as *const i32).read_unaligned() };
                let av = _mm512_set1_epi32(word);
                for (p, acc) in row.iter_mut().enumerate() {
                    *acc = _mm512_dpbusd_epi32(*acc, av, wv[p]);
                }
            }
        }
        if !t.last {
            for (r, row) in acc.iter().enumerate() {
                for (p, &v) in row.iter().enumerate() {
                    // SAFETY: as above.
                    unsafe {
                        _mm512_storeu_si512(t.partial.add(r * NP * PANEL + p * PANEL).cast(), v)
                    };
                }
            }
            return;
        }
        for (r, row) in acc.iter().enumerate() {
            let (sa, zp) = t.params[r];
            let sa_v = _mm512_set1_ps(sa);
            let zp_v = _mm512_set1_epi32(zp);
            for (p, &acc) in row.iter().enumerate() {
                let c0 = p * PANEL;
                if c0 >= t.cols {
                    break;
                }
                // SAFETY: the per-channel slices hold P·PANEL entries.
                let (colsum, sw, bias) = unsafe {
                    (
                        _mm512_loadu_si512(t.colsum.as_ptr().add(c0).cast()),
                        _mm512_loadu_ps(t.scale.as_ptr().add(c0)),
                        _mm512_loadu_ps(t.bias.as_ptr().add(c0)),
                    )
                };
                let v = _mm512_sub_epi32(acc, _mm512_mullo_epi32(zp_v, colsum));
                let y = _mm512_add_ps(
                    _mm512_mul_ps(_mm512_cvtepi32_ps(v), _mm512_mul_ps(sa_v, sw)),
                    bias,
                );
                let valid = (t.cols - c0).min(PANEL);
                let mask: __mmask16 = if valid == PANEL {
                    0xffff
                } else {
                    (1u16 << valid) - 1
                };
                // SAFETY: the mask keeps the store inside the tile's
                // `cols` columns of row r.
                unsafe { _mm512_mask_storeu_ps(t.out.add(r * t.out_stride + c0), mask, y) };
            }
        }
    }
}

fundus_core::multiversion! {
    /// `(min(0, x…), max(0, x…))`.
    pub fn row_range(x: &[f32]) -> (f32, f32) {
        let mut lo = [0.0f32; 16];
        let mut hi = [0.0f32; 16];
        let mut chunks = x.chunks_exact(16);
        for c in &mut chunks {
            for i in 0..16 {
                lo[i] = if c[i] < lo[i] { c[i] } else { lo[i] };
                hi[i] = if c[i] > hi[i] { c[i] } else { hi[i] };
            }
        }
        let (mut l, mut h) = (0.0f32, 0.0f32);
        for &v in chunks.remainder() {
            l = if v < l { v } else { l };
            h = if v > h { v } else { h };
        }
        for i in 0..16 {
            l = if lo[i] < l { lo[i] } else { l };
            h = if hi[i] > h { hi[i] } else { h };
        }
        (l, h)
    }
}

/// Quantizes one row to u8 with its own scale and zero point (range
/// widened to include 0, so 0 is exact and the zero point lies in
/// 0..=255); the row's padding up to `q.len()` is set to 0. Returns
/// `(scale, zero point)`.
pub fn quantize_row(x: &[f32], q: &mut [u8]) -> (f32, i32) {
    let (l, h) = row_range(x);
    let scale = if h > l { (h - l) / 255.0 } else { 1.0 };
    let inv = 1.0 / scale;
    let zp = (-l * inv + 0.5) as i32;
    // Round half up: + 0.5, clamp, truncate.
    let offset = zp as f32 + 0.5;
    let (body, pad) = q.split_at_mut(x.len());
    #[cfg(target_arch = "x86_64")]
    if has_vnni() {
        // SAFETY: AVX-512F/BW/VL are available; equal lengths.
        unsafe { to_u8_avx512(x, inv, offset, body) };
        pad.fill(0);
        return (scale, zp);
    }
    to_u8(x, inv, offset, body);
    pad.fill(0);
    (scale, zp)
}

/// `clamp(x·inv + offset, 0, 255)` truncated to u8, in plain Rust: the
/// same float operations as [`to_u8_avx512`], so the same bytes.
fn to_u8(x: &[f32], inv: f32, offset: f32, q: &mut [u8]) {
    for (d, &v) in q.iter_mut().zip(x) {
        *d = (v * inv + offset).clamp(0.0, 255.0) as u8;
    }
}

/// [`to_u8`] 16 lanes at a time (LLVM scalarizes the saturating float to
/// u8 conversion, which cost as much as a third of the int8 GEMM).
///
/// # Safety
/// AVX-512F/BW/VL must be available; `x` and `q` have the same length.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
unsafe fn to_u8_avx512(x: &[f32], inv: f32, offset: f32, q: &mut [u8]) {
    use std::arch::x86_64::*;
    debug_assert_eq!(x.len(), q.len());
    let (inv, offset) = (_mm512_set1_ps(inv), _mm512_set1_ps(offset));
    let (zero, top) = (_mm512_setzero_ps(), _mm512_set1_ps(255.0));
    let n = x.len();
    let mut i = 0;
    while i < n {
        let left = n - i;
        let mask: __mmask16 = if left >= 16 {
            0xffff
        } else {
            (1u16 << left) - 1
        };
        // SAFETY: the mask keeps loads and stores inside both slices.
        unsafe {
            let v = _mm512_maskz_loadu_ps(mask, x.as_ptr().add(i));
            let y = _mm512_add_ps(_mm512_mul_ps(v, inv), offset);
            // max(y, 0) first: a NaN becomes 0, as `NaN as u8` is.
            let y = _mm512_min_ps(_mm512_max_ps(y, zero), top);
            let b = _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(y));
            _mm_mask_storeu_epi8(q.as_mut_ptr().add(i).cast(), mask, b);
        }
        i += 16;
    }
}

/// Quantizes `rows` rows of `k` floats into `q` (rows padded to `k4`).
fn quantize_rows(x: &[f32], rows: usize, k: usize, k4: usize, q: &mut QuantRows, parallel: bool) {
    q.q.clear();
    q.q.resize(rows * k4, 0);
    q.params.clear();
    q.params.resize(rows, (0.0, 0));
    if rows == 0 {
        return;
    }
    type Job<'a> = ((&'a mut [u8], &'a mut (f32, i32)), &'a [f32]);
    let work = |((d, p), x): Job| *p = quantize_row(x, d);
    if parallel {
        q.q.par_chunks_exact_mut(k4)
            .zip(q.params.par_iter_mut())
            .zip(x.par_chunks_exact(k))
            .for_each(work);
    } else {
        q.q.chunks_exact_mut(k4)
            .zip(q.params.iter_mut())
            .zip(x.chunks_exact(k))
            .for_each(work);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift), so failures repeat.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> f32 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
        }
    }

    fn random_linear(rng: &mut Rng, k: usize, n: usize) -> Linear {
        // Channels of very different size, as in real projections.
        let col_scale: Vec<f32> = (0..n).map(|c| 0.01 + (c % 7) as f32 * 0.3).collect();
        let w_out_in: Vec<f32> = (0..n * k).map(|i| rng.next() * col_scale[i / k]).collect();
        let bias = (0..n).map(|_| rng.next()).collect();
        Linear::from_torch(&w_out_in, bias, k, n)
    }

    fn random_input(rng: &mut Rng, m: usize, k: usize) -> Vec<f32> {
        // Rows of different scale and offset (GELU-like rows are mostly
        // positive).
        (0..m * k)
            .map(|i| {
                let r = i / k;
                rng.next() * (1.0 + r as f32) + if r.is_multiple_of(2) { 0.5 } else { 0.0 }
            })
            .collect()
    }

    const SHAPES: &[(usize, usize, usize)] = &[
        (1, 1, 1),
        (1, 384, 384),
        (3, 7, 5),
        (5, 13, 17),
        (4, 64, 64),
        (9, 385, 31),
        (67, 130, 129),
        (130, 1536, 40),
    ];

    #[test]
    fn int8_product_stays_within_the_quantization_error_bound() {
        let mut rng = Rng(0x9e3779b97f4a7c15);
        for &(m, k, n) in SHAPES {
            let lin = random_linear(&mut rng, k, n);
            let x = random_input(&mut rng, m, k);
            let ql = QLinear::quantize(&lin);
            let mut want = Vec::new();
            lin.forward(&x, m, &mut want, false);
            let mut got = Vec::new();
            let mut q = QuantRows::default();
            for parallel in [false, true] {
                ql.forward(&x, m, &mut got, &mut q, parallel);
                assert_eq!(got.len(), m * n);
                for r in 0..m {
                    let xr = &x[r * k..(r + 1) * k];
                    let (lo, hi) = xr
                        .iter()
                        .fold((0.0f32, 0.0f32), |(l, h), &v| (l.min(v), h.max(v)));
                    let sa = (hi - lo) / 255.0;
                    for c in 0..n {
                        let sw = ql.scale[c];
                        // |x·w − x̂·ŵ| ≤ Σ |x|·|w − ŵ| + |ŵ|·|x − x̂|,
                        // with |w − ŵ| ≤ s_w/2 and |x − x̂| ≤ sₐ/2.
                        let bound: f32 = (0..k)
                            .map(|kk| {
                                let w = lin.weight[kk * n + c];
                                xr[kk].abs() * sw / 2.0 + (w.abs() + sw / 2.0) * sa / 2.0
                            })
                            .sum();
                        let (g, w) = (got[r * n + c], want[r * n + c]);
                        assert!(
                            (g - w).abs() <= bound * 1.001 + 1e-4 * (1.0 + w.abs()),
                            "{m}×{k}×{n} row {r} col {c}: {g} vs {w} (bound {bound})"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn vnni_kernel_equals_the_portable_kernel_exactly() {
        if !has_vnni() {
            eprintln!("skipped: this CPU has no AVX-512 VNNI");
            return;
        }
        let mut rng = Rng(42);
        for &(m, k, n) in SHAPES
            .iter()
            .chain(&[(200, 1536, 384), (33, 384, 1152), (70, 1031, 70)])
        {
            let lin = random_linear(&mut rng, k, n);
            let x = random_input(&mut rng, m, k);
            let ql = QLinear::quantize(&lin);
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let mut q = QuantRows::default();
            ql.forward_with(&x, m, &mut a, &mut q, false, true);
            ql.forward_with(&x, m, &mut b, &mut q, true, false);
            // Same integers, same float epilogue: bit for bit.
            let (a, b): (Vec<u32>, Vec<u32>) = (
                a.iter().map(|v| v.to_bits()).collect(),
                b.iter().map(|v| v.to_bits()).collect(),
            );
            assert_eq!(a, b, "{m}×{k}×{n}");
        }
    }

    #[test]
    fn rows_quantize_to_their_range() {
        let x = [-1.0f32, 0.0, 0.5, 3.0, 2.0];
        let mut q = [9u8; 8];
        let (s, zp) = quantize_row(&x, &mut q);
        assert!((s - 4.0 / 255.0).abs() < 1e-7);
        assert_eq!(zp, 64); // round(1 / (4/255)) = round(63.75)
        assert_eq!(q[0], 0);
        assert_eq!(q[1], 64);
        assert_eq!(q[3], 255);
        assert_eq!(&q[5..], &[0, 0, 0], "padding is cleared");
        for (i, &v) in x.iter().enumerate() {
            let back = s * (q[i] as f32 - zp as f32);
            assert!(
                (back - v).abs() <= s / 2.0 + 1e-6,
                "{v} came back as {back}"
            );
        }
        // The AVX-512 conversion gives the plain one's bytes.
        let mut rng = Rng(7);
        let xs: Vec<f32> = (0..1000).map(|_| rng.next() * 3.0).collect();
        let (mut a, mut b) = (vec![0u8; 1000], vec![0u8; 1000]);
        let (s, zp) = quantize_row(&xs, &mut a);
        to_u8(&xs, 1.0 / s, zp as f32 + 0.5, &mut b);
        assert_eq!(a, b);
        // An all-zero row gets a usable scale and zero point 0.
        let (s, zp) = quantize_row(&[0.0; 3], &mut q[..4]);
        assert_eq!((s, zp), (1.0, 0));
    }
}
