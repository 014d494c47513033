//! Scalar quantization: every component mapped to one of 256 levels between
//! a learned minimum and maximum.
//!
//! Distances are asymmetric: the query stays `f32` and is compared with the
//! dequantized vector `x̂_i = min_i + scale_i * code_i`. Expanding the dot
//! product,
//!
//! ```text
//! q · x̂ = Σ (q_i * scale_i) * code_i + Σ q_i * min_i
//! ```
//!
//! so a query is prepared once into weights `q_i * scale_i` and a constant,
//! and the per-vector work is a single multiply-add over bytes, which LLVM
//! vectorizes (widen bytes, convert, FMA). Euclidean distance follows from
//! `|q - x̂|² = |q|² - 2 q·x̂ + |x̂|²` with `|x̂|²` stored per vector.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::error::IndexError;

/// Quantiles are taken from at most this many values per range (rows are
/// sampled evenly beyond it): plenty for a 0.99 quantile, and training
/// never copies a large collection.
const MAX_QUANTILE_SAMPLE: usize = 1 << 20;

const LEVELS: f32 = 255.0;

const LANES: usize = 16;

/// Learned ranges of an int8 quantizer: the value of code 0 and the step
/// between codes, per dimension (a global range is stored repeated, so both
/// modes share one kernel).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Int8Quantizer {
    mins: Vec<f32>,
    /// Zero where a dimension's training range is empty: every value then
    /// encodes to 0 and decodes to the minimum, never NaN.
    scales: Vec<f32>,
}

impl Int8Quantizer {
    /// Learns the ranges from row-major `vectors` of dimension `dim`, which
    /// must be finite (the index validates them). `quantile` clips each range
    /// to the `[1 - q, q]` quantiles.
    pub fn train(
        vectors: &[f32],
        dim: usize,
        per_dimension: bool,
        quantile: Option<f32>,
    ) -> Result<Self, IndexError> {
        super::check_training_set(vectors, dim, "int8")?;
        if let Some(q) = quantile {
            if !(q > 0.5 && q <= 1.0) {
                return Err(IndexError::InvalidQuantile(q));
            }
        }
        let rows = vectors.len() / dim;
        let ranges: Vec<(f32, f32)> = match (per_dimension, quantile) {
            (true, None) => (0..dim)
                .map(|d| min_max(vectors.iter().skip(d).step_by(dim).copied()))
                .collect(),
            (false, None) => vec![min_max(vectors.iter().copied()); dim],
            (true, Some(q)) => {
                let stride = rows.div_ceil(MAX_QUANTILE_SAMPLE);
                let mut column = Vec::with_capacity(rows / stride + 1);
                (0..dim)
                    .map(|d| {
                        column.clear();
                        column.extend(vectors.iter().skip(d).step_by(dim * stride).copied());
                        quantile_range(&mut column, q)
                    })
                    .collect()
            }
            (false, Some(q)) => {
                let stride = rows.div_ceil((MAX_QUANTILE_SAMPLE / dim).max(1));
                let mut sample: Vec<f32> = vectors
                    .chunks_exact(dim)
                    .step_by(stride)
                    .flatten()
                    .copied()
                    .collect();
                vec![quantile_range(&mut sample, q); dim]
            }
        };
        let (mins, scales) = ranges
            .into_iter()
            // Divided before subtracting: `max - min` can overflow for
            // extreme (finite) inputs.
            .map(|(lo, hi)| (lo, (hi / LEVELS - lo / LEVELS).max(0.0)))
            .unzip();
        Ok(Int8Quantizer { mins, scales })
    }

    pub fn dim(&self) -> usize {
        self.mins.len()
    }

    /// Lower end of each dimension's range (the value of code 0).
    pub fn mins(&self) -> &[f32] {
        &self.mins
    }

    /// Step between neighbouring codes in each dimension.
    pub fn scales(&self) -> &[f32] {
        &self.scales
    }

    /// Appends the codes of `v` to `out` and returns `|x̂|²`, the squared
    /// length of the dequantized vector (euclidean search needs it). Values
    /// outside the learned range map to the nearest end.
    pub fn encode_into(&self, v: &[f32], out: &mut Vec<u8>) -> f32 {
        let mut norm = 0.0f32;
        out.extend(
            v.iter()
                .zip(self.mins.iter().zip(&self.scales))
                .map(|(&x, (&min, &scale))| {
                    let code = if scale > 0.0 {
                        ((x - min) / scale).round().clamp(0.0, LEVELS)
                    } else {
                        0.0
                    };
                    let back = min + scale * code;
                    norm += back * back;
                    code as u8
                }),
        );
        norm
    }

    /// The dequantized vector of `codes`.
    pub fn decode(&self, codes: &[u8]) -> Vec<f32> {
        codes
            .iter()
            .zip(self.mins.iter().zip(&self.scales))
            .map(|(&c, (&min, &scale))| min + scale * c as f32)
            .collect()
    }

    /// Folds the ranges into the query once, so each vector costs one
    /// byte-times-float multiply-add per dimension.
    pub fn prepare_query(&self, q: &[f32]) -> Int8Query {
        let weights = q.iter().zip(&self.scales).map(|(x, s)| x * s).collect();
        let offset = q
            .iter()
            .zip(&self.mins)
            .map(|(&x, &m)| x as f64 * m as f64)
            .sum::<f64>() as f32;
        Int8Query {
            weights,
            offset,
            kernel: dot_kernel(),
        }
    }
}

/// A query prepared for [`Int8Quantizer`] codes.
#[derive(Debug, Clone)]
pub struct Int8Query {
    weights: Vec<f32>,
    offset: f32,
    kernel: Int8Kernel,
}

impl Int8Query {
    /// `q · x̂` for the vector encoded as `codes`.
    #[inline]
    pub fn dot(&self, codes: &[u8]) -> f32 {
        (self.kernel)(&self.weights, codes) + self.offset
    }
}

fn min_max(values: impl Iterator<Item = f32>) -> (f32, f32) {
    values.fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), x| {
        (lo.min(x), hi.max(x))
    })
}

/// The `1 - q` and `q` quantiles of `values` (nearest rank, rounded outwards
/// so `q = 1` is exactly min and max). Reorders `values`.
fn quantile_range(values: &mut [f32], q: f32) -> (f32, f32) {
    let last = values.len() - 1;
    let hi_at = ((q as f64 * last as f64).ceil() as usize).min(last);
    let lo_at = (((1.0 - q as f64) * last as f64).floor() as usize).min(hi_at);
    let (below, &mut hi, _) = values.select_nth_unstable_by(hi_at, f32::total_cmp);
    let lo = if lo_at == hi_at {
        hi
    } else {
        *below.select_nth_unstable_by(lo_at, f32::total_cmp).1
    };
    (lo, hi)
}

/// Signature of the weights-times-codes kernel.
pub type Int8Kernel = fn(&[f32], &[u8]) -> f32;

macro_rules! kernel {
    ($name:ident, $fma:expr) => {
        #[inline(always)]
        fn $name(w: &[f32], c: &[u8]) -> f32 {
            let n = w.len().min(c.len());
            let mut acc = [0.0f32; super::LANES];
            let mut cw = w[..n].chunks_exact(super::LANES);
            let mut cc = c[..n].chunks_exact(super::LANES);
            for (x, y) in (&mut cw).zip(&mut cc) {
                for i in 0..super::LANES {
                    let y = y[i] as f32;
                    acc[i] = if $fma {
                        x[i].mul_add(y, acc[i])
                    } else {
                        acc[i] + x[i] * y
                    };
                }
            }
            let tail: f32 = cw
                .remainder()
                .iter()
                .zip(cc.remainder())
                .map(|(x, y)| x * *y as f32)
                .sum();
            acc.iter().sum::<f32>() + tail
        }
    };
}

mod portable {
    // Plain multiply-add: without FMA hardware `mul_add` is a libm call.
    kernel!(dot_impl, false);

    pub fn dot(w: &[f32], c: &[u8]) -> f32 {
        dot_impl(w, c)
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    kernel!(dot_impl, true);

    #[target_feature(enable = "avx2,fma")]
    unsafe fn dot_avx2(w: &[f32], c: &[u8]) -> f32 {
        dot_impl(w, c)
    }

    pub fn dot(w: &[f32], c: &[u8]) -> f32 {
        // SAFETY: only selected after `is_x86_feature_detected!` confirmed
        // AVX2 and FMA on this CPU.
        unsafe { dot_avx2(w, c) }
    }
}

/// `Σ w_i * c_i` kernel for this CPU.
pub fn dot_kernel() -> Int8Kernel {
    static KERNEL: OnceLock<Int8Kernel> = OnceLock::new();
    *KERNEL.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            return avx2::dot;
        }
        portable::dot
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_dimension_ranges_and_round_trip() {
        // Two dimensions with very different spreads.
        let data = [0.0, -10.0, 1.0, 10.0, 0.5, 0.0];
        let q = Int8Quantizer::train(&data, 2, true, None).unwrap();
        assert_eq!(q.mins(), &[0.0, -10.0]);
        let mut codes = Vec::new();
        let norm = q.encode_into(&[0.5, 0.0], &mut codes);
        assert_eq!(codes.len(), 2);
        let back = q.decode(&codes);
        assert!((back[0] - 0.5).abs() <= q.scales()[0] / 2.0);
        assert!((back[1]).abs() <= q.scales()[1] / 2.0);
        assert!((norm - (back[0] * back[0] + back[1] * back[1])).abs() < 1e-5);

        // A global range spends the narrow dimension's levels on the wide one.
        let g = Int8Quantizer::train(&data, 2, false, None).unwrap();
        assert_eq!(g.mins(), &[-10.0, -10.0]);
        assert_eq!(g.scales()[0], g.scales()[1]);
    }

    #[test]
    fn quantile_clipping_maps_outliers_to_the_ends() {
        // 1000 values in [0, 1) and one outlier at each end.
        let mut data: Vec<f32> = (0..1000).map(|i| i as f32 / 1000.0).collect();
        data.push(1000.0);
        data.push(-1000.0);
        let clipped = Int8Quantizer::train(&data, 1, true, Some(0.99)).unwrap();
        assert!(clipped.mins()[0] > -0.01 && clipped.mins()[0] < 0.02);
        let top = clipped.mins()[0] + clipped.scales()[0] * LEVELS;
        assert!(top > 0.97 && top < 1.0, "{top}");
        let mut codes = Vec::new();
        for x in [1000.0, -1000.0, 0.5] {
            clipped.encode_into(&[x], &mut codes);
        }
        assert_eq!(&codes[..2], &[255, 0]);
        // The bulk keeps a fine step, unlike the full range.
        let full = Int8Quantizer::train(&data, 1, true, None).unwrap();
        assert!(clipped.scales()[0] < full.scales()[0] / 1000.0);
        let mid = clipped.decode(&codes[2..])[0];
        assert!((mid - 0.5).abs() < 0.01, "{mid}");
        // Global quantiles behave the same way.
        let global = Int8Quantizer::train(&data, 1, false, Some(0.99)).unwrap();
        assert_eq!(global, clipped);
    }

    #[test]
    fn zero_range_dimension_does_not_produce_nan() {
        let data = [3.0, 1.0, 3.0, 2.0, 3.0, 4.0];
        let q = Int8Quantizer::train(&data, 2, true, Some(0.99)).unwrap();
        assert_eq!(q.scales()[0], 0.0);
        let mut codes = Vec::new();
        let norm = q.encode_into(&[5.0, 2.0], &mut codes);
        assert!(norm.is_finite());
        assert_eq!(codes[0], 0);
        assert_eq!(q.decode(&codes)[0], 3.0);
        let s = q.prepare_query(&[1.0, 1.0]).dot(&codes);
        assert!(s.is_finite());
    }

    #[test]
    fn prepared_query_equals_dot_with_dequantized_vector() {
        let dim = 37;
        let data: Vec<f32> = (0..dim * 5)
            .map(|i| ((i * 13 % 29) as f32 - 14.0) / 7.0)
            .collect();
        let q = Int8Quantizer::train(&data, dim, true, None).unwrap();
        let mut codes = Vec::new();
        q.encode_into(&data[dim..2 * dim], &mut codes);
        let query: Vec<f32> = (0..dim).map(|i| (i as f32 - 18.0) / 10.0).collect();
        let expected: f32 = q
            .decode(&codes)
            .iter()
            .zip(&query)
            .map(|(a, b)| a * b)
            .sum();
        assert!((q.prepare_query(&query).dot(&codes) - expected).abs() < 1e-3);
        let portable = portable::dot(&query, &codes);
        assert!((dot_kernel()(&query, &codes) - portable).abs() < 1e-2);
    }

    #[test]
    fn bad_training_input_is_refused() {
        assert_eq!(
            Int8Quantizer::train(&[], 4, true, None),
            Err(IndexError::EmptyTrainingSet {
                quantization: "int8"
            })
        );
        assert!(matches!(
            Int8Quantizer::train(&[1.0, 2.0, 3.0], 2, true, None),
            Err(IndexError::RaggedData { .. })
        ));
        assert_eq!(
            Int8Quantizer::train(&[1.0], 1, true, Some(0.3)),
            Err(IndexError::InvalidQuantile(0.3))
        );
    }
}
