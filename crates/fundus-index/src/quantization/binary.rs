//! Binary quantization: one bit per dimension, compared by Hamming distance.
//!
//! A bit says whether the component lies above its dimension's training
//! mean. Plain sign bits (threshold 0) assume embeddings centred on the
//! origin; real ones rarely are (all vectors of a model share a common
//! direction), and bits that are the same for every vector carry nothing.
//! Centring first makes each bit split the data.
//!
//! For `±1` vectors `a · b = dims - 2 * hamming(a, b)`, which is the
//! approximate score the scan ranks by. It is coarse (at most `dims + 1`
//! distinct values), which is why binary search oversamples and rescores.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::error::IndexError;

/// Bits per code word.
const WORD_BITS: usize = 64;

/// Learned thresholds of a binary quantizer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinaryQuantizer {
    thresholds: Vec<f32>,
}

impl BinaryQuantizer {
    /// Learns the per-dimension means of row-major `vectors`.
    pub fn train(vectors: &[f32], dim: usize) -> Result<Self, IndexError> {
        super::check_training_set(vectors, dim, "binary")?;
        let mut sums = vec![0.0f64; dim];
        for row in vectors.chunks_exact(dim) {
            sums.iter_mut().zip(row).for_each(|(s, &x)| *s += x as f64);
        }
        let rows = (vectors.len() / dim) as f64;
        Ok(BinaryQuantizer {
            thresholds: sums.into_iter().map(|s| (s / rows) as f32).collect(),
        })
    }

    pub fn dim(&self) -> usize {
        self.thresholds.len()
    }

    /// The per-dimension thresholds (training means).
    pub fn thresholds(&self) -> &[f32] {
        &self.thresholds
    }

    /// Code words per vector; unused bits of the last word are zero.
    pub fn words(&self) -> usize {
        self.dim().div_ceil(WORD_BITS)
    }

    /// Appends the code words of `v` to `out`.
    pub fn encode_into(&self, v: &[f32], out: &mut Vec<u64>) {
        for (values, limits) in v.chunks(WORD_BITS).zip(self.thresholds.chunks(WORD_BITS)) {
            let word = values
                .iter()
                .zip(limits)
                .enumerate()
                .fold(0u64, |w, (bit, (x, t))| w | (((x > t) as u64) << bit));
            out.push(word);
        }
    }

    /// The approximate dot product of two `±1` codes: `dims - 2 * hamming`.
    #[inline]
    pub fn score(&self, hamming: u32) -> f32 {
        self.dim() as f32 - 2.0 * hamming as f32
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
    fn empty_training_set_is_refused() {
        assert_eq!(
            BinaryQuantizer::train(&[], 8),
            Err(IndexError::EmptyTrainingSet {
                quantization: "binary"
            })
        );
    }
}
