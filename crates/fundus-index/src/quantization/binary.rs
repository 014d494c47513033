//! Binary quantization: one or two bits per dimension, compared by Hamming
//! distance.
//!
//! A bit says whether the component lies above its dimension's training
//! mean. Plain sign bits (threshold 0) assume embeddings centred on the
//! origin; real ones rarely are (all vectors of a model share a common
//! direction), and bits that are the same for every vector carry nothing.
//! Centring first makes each bit split the data.
//!
//! For `±1` vectors `a · b = dims - 2 * hamming(a, b)`: the symmetric
//! score, with the query reduced to bits as well. It is coarse (at most
//! `dims + 1` distinct values).
//!
//! Dot-product and cosine searches rank by the *asymmetric* score instead
//! (Qdrant's "asymmetric" binary quantization, the estimator of RaBitQ
//! without its rotation): the query stays in floats, centred on the same
//! means, and is multiplied with the stored `±1` signs, `(q - t) · s`. That
//! keeps the query's magnitudes, and on all-MiniLM-L6-v2 vectors lifts
//! recall@10 of 40 rescored candidates from 0.76 (Hamming) to 0.90
//! (bench/ann). [`AsymmetricQuery`] evaluates it from per-byte lookup
//! tables, eight dimensions per lookup.
//!
//! **Two bits.** One sign bit cannot tell a component just above the mean
//! from one far above it, and at 384 dimensions that caps recall@10 of 40
//! rescored candidates near 0.90. With two bits each dimension falls in one
//! of three levels, split at `mean ∓ σ/2` of the dimension, and each level
//! stands for the mean of the training components in it (the value that
//! minimises the squared error of the level). The asymmetric score is then
//! the centred float query against the centred reconstruction `v`,
//! `q · t + (q - t) · (v - t)`, four dimensions per table lookup: recall@10
//! 0.965 at 40 candidates on MiniLM (`bench/ann/binary_estimators.py`),
//! where the plain `q · v` reaches 0.959. Centring both sides drops the
//! reconstruction's share along the mean, `t · (v - t)`, the direction all
//! vectors of a model share and the one that tells them apart least; the
//! one-bit score is centred the same way. The levels are stored as
//! *thermometer* codes, level 0 → `00`, 1 → `01`, 2 → `11` (lower bit
//! first), so that the Hamming distance of two codes is the L1 distance of
//! their levels: usearch's bit-vector graph walks over them unchanged, as
//! if the vector had `2 · dim` dimensions.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::error::IndexError;

/// Bits per code word.
const WORD_BITS: usize = 64;

/// Learned thresholds of a binary quantizer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinaryQuantizer {
    thresholds: Vec<f32>,
    /// Mean distance of a component from its threshold: stored vectors are
    /// approximated as `t + spread · s`, which turns the asymmetric score
    /// into an estimate of the dot product. Absent in files written before
    /// it existed (then `1 / sqrt(dim)`, the spread of a unit vector whose
    /// energy is even across dimensions).
    #[serde(default)]
    spread: Option<f32>,
    /// Present with two bits per dimension (absent, and not written, with
    /// one: one-bit files are unchanged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    levels: Option<Levels>,
}

/// The three levels of a two-bit quantizer, per dimension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Levels {
    /// Components below this (`mean - σ/2`) are level 0.
    low: Vec<f32>,
    /// Components above this (`mean + σ/2`) are level 2; the rest level 1.
    high: Vec<f32>,
    /// Three per dimension: the value each level stands for, the mean of
    /// the training components in it.
    values: Vec<f32>,
}

/// Thermometer code of each level: the Hamming distance of two codes is
/// the difference of their levels.
const THERMOMETER: [u64; 3] = [0b00, 0b01, 0b11];

/// Dimensions per code word at two bits each.
const TWO_BIT_DIMS_PER_WORD: usize = WORD_BITS / 2;

impl BinaryQuantizer {
    /// Learns the per-dimension means of row-major `vectors`.
    pub fn train(vectors: &[f32], dim: usize) -> Result<Self, IndexError> {
        super::check_training_set(vectors, dim, "binary")?;
        let mut sums = vec![0.0f64; dim];
        for row in vectors.chunks_exact(dim) {
            sums.iter_mut().zip(row).for_each(|(s, &x)| *s += x as f64);
        }
        let rows = (vectors.len() / dim) as f64;
        let thresholds: Vec<f32> = sums.into_iter().map(|s| (s / rows) as f32).collect();
        let deviation: f64 = vectors
            .chunks_exact(dim)
            .flat_map(|row| row.iter().zip(&thresholds))
            .map(|(&x, &t)| (x - t).abs() as f64)
            .sum();
        Ok(BinaryQuantizer {
            thresholds,
            spread: Some((deviation / (rows * dim as f64)) as f32),
            levels: None,
        })
    }

    /// Learns a quantizer of `bits` (1 or 2) per dimension: [`train`]
    /// for one, levels at `mean ∓ σ/2` for two (see the module comment).
    ///
    /// [`train`]: BinaryQuantizer::train
    pub fn train_bits(vectors: &[f32], dim: usize, bits: u8) -> Result<Self, IndexError> {
        match bits {
            1 => Self::train(vectors, dim),
            2 => Self::train_two_bit(vectors, dim),
            other => Err(IndexError::InvalidBinaryBits(other)),
        }
    }

    fn train_two_bit(vectors: &[f32], dim: usize) -> Result<Self, IndexError> {
        let mut quantizer = Self::train(vectors, dim)?;
        let rows = (vectors.len() / dim) as f64;
        let mut squares = vec![0.0f64; dim];
        for row in vectors.chunks_exact(dim) {
            for ((s, &x), &t) in squares.iter_mut().zip(row).zip(&quantizer.thresholds) {
                let d = (x - t) as f64;
                *s += d * d;
            }
        }
        let (low, high): (Vec<f32>, Vec<f32>) = squares
            .iter()
            .zip(&quantizer.thresholds)
            .map(|(&s, &t)| {
                let half_sigma = 0.5 * (s / rows).sqrt() as f32;
                (t - half_sigma, t + half_sigma)
            })
            .unzip();
        let mut levels = Levels {
            low,
            high,
            values: Vec::new(),
        };
        let mut sums = vec![0.0f64; 3 * dim];
        let mut counts = vec![0usize; 3 * dim];
        for row in vectors.chunks_exact(dim) {
            for (d, &x) in row.iter().enumerate() {
                let l = levels.level(d, x);
                sums[3 * d + l] += x as f64;
                counts[3 * d + l] += 1;
            }
        }
        // An empty level (a dimension without spread) stands for its split
        // point, or the mean for the middle one: never reached by training
        // data, so any value in range serves.
        levels.values = (0..3 * dim)
            .map(|i| match (counts[i], i % 3) {
                (0, 0) => levels.low[i / 3],
                (0, 1) => quantizer.thresholds[i / 3],
                (0, _) => levels.high[i / 3],
                (n, _) => (sums[i] / n as f64) as f32,
            })
            .collect();
        quantizer.levels = Some(levels);
        Ok(quantizer)
    }

    pub fn dim(&self) -> usize {
        self.thresholds.len()
    }

    /// Checks that a quantizer read from a file has its tables for `dim`
    /// dimensions (the scorer indexes them by dimension); the message
    /// says what is off.
    pub fn check(&self, dim: usize) -> Result<(), String> {
        let sizes = match &self.levels {
            None => vec![("thresholds", self.thresholds.len(), dim)],
            Some(l) => vec![
                ("thresholds", self.thresholds.len(), dim),
                ("low", l.low.len(), dim),
                ("high", l.high.len(), dim),
                ("values", l.values.len(), 3 * dim),
            ],
        };
        match sizes.into_iter().find(|&(_, got, want)| got != want) {
            Some((name, got, want)) => Err(format!(
                "binary codec holds {got} {name}, expected {want} for {dim} dimensions"
            )),
            None => Ok(()),
        }
    }

    /// Bits per dimension: 1 or 2.
    pub fn bits(&self) -> u8 {
        if self.levels.is_some() {
            2
        } else {
            1
        }
    }

    /// Bits per code: `bits · dim`. The graph stores codes as bit vectors
    /// of this many "dimensions".
    pub fn code_bits(&self) -> usize {
        self.dim() * self.bits() as usize
    }

    /// Bytes per code as the graph stores it (the words' little-endian
    /// bytes, cut to `ceil(code_bits / 8)`).
    pub fn code_bytes(&self) -> usize {
        self.code_bits().div_ceil(8)
    }

    /// The per-dimension thresholds (training means).
    pub fn thresholds(&self) -> &[f32] {
        &self.thresholds
    }

    /// Code words per vector; unused bits of the last word are zero.
    pub fn words(&self) -> usize {
        self.code_bits().div_ceil(WORD_BITS)
    }

    /// Appends the code words of `v` to `out`.
    pub fn encode_into(&self, v: &[f32], out: &mut Vec<u64>) {
        if let Some(levels) = &self.levels {
            for (chunk, values) in v.chunks(TWO_BIT_DIMS_PER_WORD).enumerate() {
                let first = chunk * TWO_BIT_DIMS_PER_WORD;
                let word = values.iter().enumerate().fold(0u64, |w, (i, &x)| {
                    w | (THERMOMETER[levels.level(first + i, x)] << (2 * i))
                });
                out.push(word);
            }
            return;
        }
        for (values, limits) in v.chunks(WORD_BITS).zip(self.thresholds.chunks(WORD_BITS)) {
            let word = values
                .iter()
                .zip(limits)
                .enumerate()
                .fold(0u64, |w, (bit, (x, t))| w | (((x > t) as u64) << bit));
            out.push(word);
        }
    }

    /// Appends code `words` as the bytes a code is stored and scored in:
    /// `ceil(code_bits / 8)` of the words' little-endian bytes, so byte j
    /// holds dimensions 8j..8j+8 (4j..4j+4 at two bits) lowest bit first,
    /// the order [`AsymmetricQuery::score`]'s tables read them in.
    pub fn append_code_bytes(&self, words: &[u64], out: &mut Vec<u8>) {
        out.extend(
            words
                .iter()
                .flat_map(|w| w.to_le_bytes())
                .take(self.code_bytes()),
        );
    }

    /// The vector a code stands for: `t ± spread` per dimension with one
    /// bit, the level's value with two. The asymmetric score is
    /// `q · t + (q - t) · (decode - t)`.
    pub fn decode(&self, words: &[u64]) -> Vec<f32> {
        let bit = |i: usize| {
            words
                .get(i / WORD_BITS)
                .map_or(0, |w| (w >> (i % WORD_BITS)) & 1)
        };
        match &self.levels {
            Some(levels) => (0..self.dim())
                .map(|d| {
                    // The number of set bits is the level (thermometer).
                    let level = (bit(2 * d) + bit(2 * d + 1)) as usize;
                    levels.values[3 * d + level]
                })
                .collect(),
            None => {
                let spread = self.spread();
                (0..self.dim())
                    .map(|d| self.thresholds[d] + if bit(d) == 1 { spread } else { -spread })
                    .collect()
            }
        }
    }

    /// The symmetric score of a Hamming distance between two codes,
    /// `code_bits - 2 * hamming`: for one bit the dot product of the `±1`
    /// codes; for two bits a ranking stand-in (the Hamming distance is the
    /// L1 distance of the levels).
    #[inline]
    pub fn score(&self, hamming: u32) -> f32 {
        self.code_bits() as f32 - 2.0 * hamming as f32
    }

    fn spread(&self) -> f32 {
        self.spread
            .unwrap_or_else(|| 1.0 / (self.dim().max(1) as f32).sqrt())
    }

    /// Prepares a float query for [`AsymmetricQuery::score`].
    pub fn prepare_query(&self, q: &[f32]) -> AsymmetricQuery {
        if let Some(levels) = &self.levels {
            return self.prepare_two_bit_query(levels, q);
        }
        let centred: Vec<f32> = q
            .iter()
            .zip(&self.thresholds)
            .map(|(&x, &t)| x - t)
            .collect();
        let bytes = self.dim().div_ceil(8);
        let mut tables = vec![0.0f32; bytes * 256];
        for (j, table) in tables.chunks_exact_mut(256).enumerate() {
            let dims = &centred[j * 8..((j + 1) * 8).min(centred.len())];
            // table[b] = 2 · Σ of the centred query over the bits set in b,
            // built from the entry with b's lowest bit cleared.
            for b in 1..256usize {
                let low = b.trailing_zeros() as usize;
                let value = dims.get(low).map_or(0.0, |&x| 2.0 * x);
                table[b] = table[b & (b - 1)] + value;
            }
        }
        let spread = self.spread();
        let base = fundus_core::distance::dot(q, &self.thresholds);
        let total: f32 = centred.iter().sum();
        AsymmetricQuery {
            tables,
            // (q - t) · s = Σ_set 2(q - t) - Σ (q - t); q · x ≈ q · t + spread · that.
            offset: base - spread * total,
            spread,
        }
    }
}

impl BinaryQuantizer {
    /// Tables of `(q - t) · (v - t)` per code byte (four dimensions), so
    /// that a score is `q · t` plus one lookup per byte.
    fn prepare_two_bit_query(&self, levels: &Levels, q: &[f32]) -> AsymmetricQuery {
        let t = &self.thresholds;
        let bytes = self.code_bytes();
        let mut tables = vec![0.0f32; bytes * 256];
        let mut offset = fundus_core::distance::dot(q, t);
        for (j, table) in tables.chunks_exact_mut(256).enumerate() {
            // delta[i][g]: what dimension 4j + i adds over its level 0 when
            // its two bits read g (the level is the number of set bits; the
            // pattern 10 never occurs). Level 0's own term goes to the
            // offset, so that a zero byte scores zero.
            let mut delta = [[0.0f32; 4]; 4];
            for (i, row) in delta.iter_mut().enumerate() {
                let d = 4 * j + i;
                let Some(&x) = q.get(d) else { break };
                let term = |level: usize| (x - t[d]) * (levels.values[3 * d + level] - t[d]);
                offset += term(0);
                for (g, cell) in row.iter_mut().enumerate() {
                    *cell = term(g.count_ones() as usize) - term(0);
                }
            }
            // Built from the entry with b's lowest non-zero pair cleared.
            for b in 1..256usize {
                let i = b.trailing_zeros() as usize / 2;
                let pair = (b >> (2 * i)) & 0b11;
                table[b] = table[b & !(0b11 << (2 * i))] + delta[i][pair];
            }
        }
        AsymmetricQuery {
            tables,
            offset,
            spread: 1.0,
        }
    }
}

impl Levels {
    /// The level (0, 1, 2) of component `x` of dimension `d`.
    #[inline]
    fn level(&self, d: usize, x: f32) -> usize {
        (x >= self.low[d]) as usize + (x > self.high[d]) as usize
    }
}

/// A float query against stored codes (see the module comment).
#[derive(Debug, Clone)]
pub struct AsymmetricQuery {
    /// 256 entries per code byte.
    tables: Vec<f32>,
    offset: f32,
    spread: f32,
}

impl AsymmetricQuery {
    /// The estimated dot product of the query with the vector whose code
    /// bytes (little-endian bytes of the code words, as the graph stores
    /// them) are `code`.
    #[inline]
    pub fn score(&self, code: &[u8]) -> f32 {
        let sum: f32 = self
            .tables
            .chunks_exact(256)
            .zip(code)
            .map(|(table, &b)| table[b as usize])
            .sum();
        self.offset + self.spread * sum
    }

    /// [`AsymmetricQuery::score`] of a code given as words.
    #[inline]
    pub fn score_words(&self, words: &[u64]) -> f32 {
        let mut sum = 0.0f32;
        let mut tables = self.tables.chunks_exact(256);
        'words: for w in words {
            for b in w.to_le_bytes() {
                let Some(table) = tables.next() else {
                    break 'words;
                };
                sum += table[b as usize];
            }
        }
        self.offset + self.spread * sum
    }
}

/// Signature of the Hamming-distance kernel.
pub type HammingKernel = fn(&[u64], &[u64]) -> u32;

#[inline(always)]
fn hamming_impl(a: &[u64], b: &[u64]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

fn hamming_portable(a: &[u64], b: &[u64]) -> u32 {
    hamming_impl(a, b)
}

/// Signature of the Hamming-distance kernel over code bytes.
pub type HammingBytesKernel = fn(&[u8], &[u8]) -> u32;

/// Hamming distance of two byte strings of equal length, eight bytes per
/// step (codes as usearch stores them, at any alignment).
#[inline(always)]
fn hamming_bytes_impl(a: &[u8], b: &[u8]) -> u32 {
    let word = |c: &[u8]| u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: u32 = a8
        .remainder()
        .iter()
        .zip(b8.remainder())
        .map(|(x, y)| (x ^ y).count_ones())
        .sum();
    a8.zip(b8)
        .map(|(x, y)| (word(x) ^ word(y)).count_ones())
        .sum::<u32>()
        + tail
}

fn hamming_bytes_portable(a: &[u8], b: &[u8]) -> u32 {
    hamming_bytes_impl(a, b)
}

#[cfg(target_arch = "x86_64")]
mod popcnt {
    #[target_feature(enable = "popcnt")]
    unsafe fn hamming_popcnt(a: &[u64], b: &[u64]) -> u32 {
        super::hamming_impl(a, b)
    }

    pub fn hamming(a: &[u64], b: &[u64]) -> u32 {
        // SAFETY: only selected after `is_x86_feature_detected!` confirmed
        // POPCNT on this CPU.
        unsafe { hamming_popcnt(a, b) }
    }

    #[target_feature(enable = "popcnt")]
    unsafe fn hamming_bytes_popcnt(a: &[u8], b: &[u8]) -> u32 {
        super::hamming_bytes_impl(a, b)
    }

    pub fn hamming_bytes(a: &[u8], b: &[u8]) -> u32 {
        // SAFETY: as above.
        unsafe { hamming_bytes_popcnt(a, b) }
    }
}

/// [`hamming_kernel`] for codes given as bytes.
pub fn hamming_bytes_kernel() -> HammingBytesKernel {
    static KERNEL: OnceLock<HammingBytesKernel> = OnceLock::new();
    *KERNEL.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("popcnt") {
            return popcnt::hamming_bytes;
        }
        hamming_bytes_portable
    })
}

/// Hamming distance kernel for this CPU: one `popcnt` instruction per word
/// where the CPU has it (the x86-64 baseline does not, and falls back to a
/// bit-twiddling count).
pub fn hamming_kernel() -> HammingKernel {
    static KERNEL: OnceLock<HammingKernel> = OnceLock::new();
    *KERNEL.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("popcnt") {
            return popcnt::hamming;
        }
        hamming_portable
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_hamming_counts_every_byte_at_any_length() {
        let a: Vec<u8> = (0..21u8).map(|i| i.wrapping_mul(37)).collect();
        let b: Vec<u8> = (0..21u8).map(|i| i.wrapping_mul(11) ^ 0x5a).collect();
        for len in [0, 1, 7, 8, 9, 16, 21] {
            let want: u32 = a[..len]
                .iter()
                .zip(&b[..len])
                .map(|(x, y)| (x ^ y).count_ones())
                .sum();
            assert_eq!(hamming_bytes_kernel()(&a[..len], &b[..len]), want, "{len}");
            assert_eq!(hamming_bytes_portable(&a[..len], &b[..len]), want, "{len}");
        }
    }

    #[test]
    fn bits_split_at_the_training_mean() {
        // Dimension 0 is centred at 10, dimension 1 at 0.
        let data = [9.0, -1.0, 11.0, 1.0];
        let q = BinaryQuantizer::train(&data, 2).unwrap();
        assert_eq!(q.thresholds(), &[10.0, 0.0]);
        let mut codes = Vec::new();
        q.encode_into(&[9.5, 2.0], &mut codes);
        q.encode_into(&[10.5, -2.0], &mut codes);
        assert_eq!(codes, vec![0b10, 0b01]);
        assert_eq!(hamming_kernel()(&codes[..1], &codes[1..]), 2);
        assert_eq!(q.score(2), -2.0);
        assert_eq!(q.score(0), 2.0);
    }

    #[test]
    fn codes_span_several_words() {
        let dim = 130;
        let q = BinaryQuantizer::train(&vec![0.0; dim], dim).unwrap();
        assert_eq!(q.words(), 3);
        let mut a = Vec::new();
        let mut b = Vec::new();
        q.encode_into(&vec![1.0; dim], &mut a);
        q.encode_into(&vec![-1.0; dim], &mut b);
        assert_eq!(a.len(), 3);
        assert_eq!(a[2], 0b11);
        assert_eq!(hamming_kernel()(&a, &b), dim as u32);
        assert_eq!(hamming_portable(&a, &b), dim as u32);
        assert_eq!(q.score(dim as u32), -(dim as f32));
    }

    #[test]
    fn asymmetric_score_is_the_float_query_times_the_signs() {
        let dim = 70;
        let data: Vec<f32> = (0..dim * 3)
            .map(|i| ((i * 37 % 11) as f32 - 5.0) / 7.0)
            .collect();
        let quantizer = BinaryQuantizer::train(&data, dim).unwrap();
        let q: Vec<f32> = (0..dim).map(|i| (i as f32 * 0.3).sin()).collect();
        let prepared = quantizer.prepare_query(&q);
        let spread = quantizer.spread();
        for row in data.chunks_exact(dim) {
            let mut words = Vec::new();
            quantizer.encode_into(row, &mut words);
            // By hand: q · t + spread · (q - t) · s.
            let expected: f32 = q
                .iter()
                .zip(row)
                .zip(quantizer.thresholds())
                .map(|((&q, &x), &t)| q * t + spread * (q - t) * if x > t { 1.0 } else { -1.0 })
                .sum();
            let bytes: Vec<u8> = words
                .iter()
                .flat_map(|w| w.to_le_bytes())
                .take(dim.div_ceil(8))
                .collect();
            assert!((prepared.score(&bytes) - expected).abs() < 1e-4);
            assert!((prepared.score_words(&words) - expected).abs() < 1e-4);
        }
    }

    /// Rows of `dim` deterministic, unevenly spread components.
    fn uneven(dim: usize, rows: usize) -> Vec<f32> {
        let mut rng = crate::testdata::XorShift::new(11);
        (0..dim * rows)
            .map(|i| rng.gaussian() * (1.0 + (i % dim) as f32 / dim as f32) + (i % 5) as f32)
            .collect()
    }

    #[test]
    fn two_bit_levels_are_thermometer_codes() {
        // Dimension 0: mean 0, σ 1 → splits at ∓0.5.
        let data = [-1.0, 1.0, 1.0, 3.0];
        let q = BinaryQuantizer::train_bits(&data, 2, 2).unwrap();
        assert_eq!(
            (q.bits(), q.code_bits(), q.code_bytes(), q.words()),
            (2, 4, 1, 1)
        );
        let mut codes = Vec::new();
        q.encode_into(&[-0.9, 2.0], &mut codes); // levels 0, 1
        q.encode_into(&[0.9, 3.5], &mut codes); // levels 2, 2
        q.encode_into(&[0.1, 0.0], &mut codes); // levels 1, 0
        assert_eq!(codes, vec![0b01_00, 0b11_11, 0b00_01]);
        // Each level stands for the mean of its training values.
        assert_eq!(q.decode(&codes[..1]), vec![-1.0, 2.0]);
        assert_eq!(q.decode(&codes[1..2]), vec![1.0, 3.0]);
        let hamming = hamming_kernel();
        assert_eq!(hamming(&codes[..1], &codes[1..2]), 2 + 1);
        assert_eq!(hamming(&codes[1..2], &codes[2..]), 1 + 2);
    }

    #[test]
    fn two_bit_hamming_is_the_l1_distance_of_the_levels() {
        let dim = 70; // 140 bits: three words, the last one partial
        let data = uneven(dim, 200);
        let q = BinaryQuantizer::train_bits(&data, dim, 2).unwrap();
        assert_eq!(q.words(), 3);
        let levels = q.levels.as_ref().unwrap();
        let rows: Vec<&[f32]> = data.chunks_exact(dim).collect();
        let mut seen = [0usize; 3];
        for pair in rows.windows(2) {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            q.encode_into(pair[0], &mut a);
            q.encode_into(pair[1], &mut b);
            assert_eq!(a.len(), 3);
            let l1: usize = (0..dim)
                .map(|d| {
                    let (la, lb) = (levels.level(d, pair[0][d]), levels.level(d, pair[1][d]));
                    seen[la] += 1;
                    la.abs_diff(lb)
                })
                .sum();
            assert_eq!(hamming_kernel()(&a, &b) as usize, l1);
            assert_eq!(hamming_portable(&a, &b) as usize, l1);
        }
        // About 38% / 38% / 24% for these near-normal components: every
        // level is in use.
        assert!(seen.iter().all(|&n| n > dim * 199 / 5), "{seen:?}");
    }

    #[test]
    fn two_bit_asymmetric_score_is_the_centred_query_times_the_reconstruction() {
        let dim = 70;
        let data = uneven(dim, 50);
        let quantizer = BinaryQuantizer::train_bits(&data, dim, 2).unwrap();
        let q: Vec<f32> = (0..dim).map(|i| (i as f32 * 0.3).sin()).collect();
        let prepared = quantizer.prepare_query(&q);
        let mut error = 0.0f32;
        let mut one_bit_error = 0.0f32;
        let one_bit = BinaryQuantizer::train(&data, dim).unwrap();
        let one_bit_query = one_bit.prepare_query(&q);
        for row in data.chunks_exact(dim) {
            let mut words = Vec::new();
            quantizer.encode_into(row, &mut words);
            // By hand: q · t + (q - t) · (v - t), v the reconstruction.
            let t = quantizer.thresholds();
            let expected: f32 = q
                .iter()
                .zip(quantizer.decode(&words))
                .zip(t)
                .map(|((&q, v), &t)| q * t + (q - t) * (v - t))
                .sum();
            let bytes: Vec<u8> = words
                .iter()
                .flat_map(|w| w.to_le_bytes())
                .take(quantizer.code_bytes())
                .collect();
            assert_eq!(bytes.len(), 18);
            let tolerance = 1e-4 * expected.abs().max(1.0);
            assert!((prepared.score(&bytes) - expected).abs() < tolerance);
            assert!((prepared.score_words(&words) - expected).abs() < tolerance);
            // And it estimates what both scores estimate, the same
            // expression of the true vector, better than one bit does.
            let exact: f32 = q
                .iter()
                .zip(row)
                .zip(t)
                .map(|((&q, &x), &t)| q * t + (q - t) * (x - t))
                .sum();
            error += (prepared.score(&bytes) - exact).powi(2);
            let mut one = Vec::new();
            one_bit.encode_into(row, &mut one);
            one_bit_error += (one_bit_query.score_words(&one) - exact).powi(2);
        }
        assert!(error < one_bit_error, "{error} vs {one_bit_error}");
    }

    #[test]
    fn two_bit_quantizer_round_trips_and_one_bit_json_is_unchanged() {
        let data = uneven(9, 20);
        let two = BinaryQuantizer::train_bits(&data, 9, 2).unwrap();
        let json = serde_json::to_string(&two).unwrap();
        assert_eq!(serde_json::from_str::<BinaryQuantizer>(&json).unwrap(), two);
        let one = BinaryQuantizer::train_bits(&data, 9, 1).unwrap();
        assert_eq!(one, BinaryQuantizer::train(&data, 9).unwrap());
        assert!(!serde_json::to_string(&one).unwrap().contains("levels"));
    }

    #[test]
    fn tables_of_the_wrong_size_are_reported() {
        let data = uneven(9, 20);
        let two = BinaryQuantizer::train_bits(&data, 9, 2).unwrap();
        assert_eq!(two.check(9), Ok(()));
        assert!(two.check(8).unwrap_err().contains("expected 8"));
        let mut cut = two.clone();
        cut.levels.as_mut().unwrap().values.pop();
        assert_eq!(
            cut.check(9),
            Err("binary codec holds 26 values, expected 27 for 9 dimensions".into())
        );
    }

    #[test]
    fn three_bits_are_refused() {
        assert_eq!(
            BinaryQuantizer::train_bits(&[0.0; 4], 2, 3),
            Err(IndexError::InvalidBinaryBits(3))
        );
    }

    #[test]
    fn old_files_without_spread_still_load() {
        let q: BinaryQuantizer =
            serde_json::from_str(r#"{"thresholds":[0.0,0.5,1.0,0.0]}"#).unwrap();
        assert_eq!(q.spread(), 0.5);
    }

    #[test]
    fn empty_training_set_is_refused() {
        assert_eq!(
            BinaryQuantizer::train(&[], 8),
            Err(IndexError::EmptyTrainingSet {
                quantization: "binary"
            })
        );
    }
}
