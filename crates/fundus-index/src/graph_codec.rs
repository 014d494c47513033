//! How an HNSW graph stores its vectors: `f32`, or a quantized code that
//! usearch compares natively.
//!
//! A graph walk touches a few thousand vectors per query, at random places
//! in memory; smaller vectors mean fewer cache misses and a graph that fits
//! in RAM at all. The codes must be comparable *by usearch's own kernels*
//! (no per-distance callback into Rust), which decides their form:
//!
//! - **float16**: usearch's `f16` scalar; it casts on insert and query.
//! - **int8**: one symmetric scale for all dimensions,
//!   `code = round(clamp(x · scale, -127, 127))`, so that the integer dot
//!   product (or squared distance) is the float one times `1 / scale²`: the
//!   ranking, and the graph's neighbour choice, are those of the floats up
//!   to rounding. Per-dimension ranges ([`Quantization::Int8`]'s
//!   `per_dimension`, which the flat scan uses) would make the integer dot
//!   product weigh dimensions differently, so the graph ignores it. The
//!   scale comes from the training sample's largest magnitude, or its
//!   `quantile` of magnitudes when one is set (outliers then clip).
//!   usearch's own `f32 → i8` cast is not used: it normalizes each vector,
//!   which is wrong for dot and euclidean.
//! - **binary**: usearch's `b1` scalar under the Hamming metric, with the
//!   bits of [`BinaryQuantizer`] (above the training mean of the dimension);
//!   the graph walks by Hamming distance, then its beam is re-ranked by the
//!   float query against the signs (`HnswIndex::search_with`). Two-bit
//!   codes are thermometer codes whose Hamming distance is the L1 distance
//!   of their levels; usearch sees them as bit vectors of `2 · dim`
//!   dimensions ([`GraphCodec::usearch_dimensions`]).
//! - **binary, two bits, with residuals** (what two-bit graphs are built
//!   as now): each stored bit vector is the thermometer code the walk
//!   compares, followed by a payload the walk never reads — the vector's
//!   coarse centroid, two correction floats and the two-bit code of its
//!   residual ([`ResidualCoder`]). A Hamming kernel of ours over the
//!   leading bytes only replaces usearch's; the beam is re-ranked by the
//!   residual estimate, which tells members of one cluster apart where the
//!   thermometer code cannot (1M clustered vectors: recall@10 of 40
//!   rescored candidates 0.90 → 0.99 in a scan). Files of plain two-bit
//!   graphs (`b1`) still load and search as before.
//!
//! Scores read off quantized codes are approximate; the index rescoring
//! pass replaces them with exact ones (see [`HnswIndex`](crate::HnswIndex)).

use serde::{Deserialize, Serialize};
use usearch::{b1x8, MetricKind, ScalarKind};

use fundus_core::Metric;

use crate::error::IndexError;
use crate::quantization::{BinaryQuantizer, Quantization, ResidualCoder};

/// Largest int8 code magnitude; -128 is left out so the range is symmetric.
const I8_MAX: f32 = 127.0;

/// A graph's vector encoding, with what it learned from the training data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum GraphCodec {
    F32,
    F16,
    I8 {
        /// Multiplies a component before rounding.
        scale: f32,
        /// The configuration it was trained from (for reporting).
        quantization: Quantization,
    },
    B1(BinaryQuantizer),
    /// Two-bit walk codes with a residual payload (see the module comment).
    B1Residual {
        walk: BinaryQuantizer,
        residual: ResidualCoder,
    },
}

/// A vector in the graph's encoding, ready for usearch.
pub(crate) enum Encoded<'a> {
    F32(&'a [f32]),
    I8(Vec<i8>),
    B1(Vec<b1x8>),
}

impl GraphCodec {
    /// Learns the codec for `quantization` from row-major, already prepared
    /// `sample` vectors (int8 and binary need at least one). Two-bit binary
    /// graphs carry residual payloads for dot and cosine, whose searches
    /// re-rank by them; a euclidean search ranks by Hamming distance alone
    /// and gets plain two-bit codes.
    pub(crate) fn train(
        quantization: Quantization,
        sample: &[f32],
        dim: usize,
        metric: Metric,
    ) -> Result<Self, IndexError> {
        quantization.validate()?;
        match quantization {
            Quantization::None => Ok(GraphCodec::F32),
            Quantization::Float16 => Ok(GraphCodec::F16),
            Quantization::Binary { bits: 2 } if metric != Metric::Euclidean => {
                Ok(GraphCodec::B1Residual {
                    walk: BinaryQuantizer::train_bits(sample, dim, 2)?,
                    residual: ResidualCoder::train(sample, dim)?,
                })
            }
            Quantization::Binary { bits } => Ok(GraphCodec::B1(BinaryQuantizer::train_bits(
                sample, dim, bits,
            )?)),
            Quantization::Int8 { quantile, .. } => {
                crate::quantization::check_training_set(sample, dim, "int8")?;
                let range = magnitude_range(sample, quantile.unwrap_or(1.0));
                let scale = if range > 0.0 { I8_MAX / range } else { 1.0 };
                Ok(GraphCodec::I8 {
                    scale,
                    quantization,
                })
            }
            #[allow(unreachable_patterns)]
            other => Err(IndexError::UnsupportedGraphQuantization(other.name())),
        }
    }

    pub(crate) fn quantization(&self) -> Quantization {
        match self {
            GraphCodec::F32 => Quantization::None,
            GraphCodec::F16 => Quantization::Float16,
            GraphCodec::I8 { quantization, .. } => *quantization,
            GraphCodec::B1(q) => Quantization::Binary { bits: q.bits() },
            GraphCodec::B1Residual { walk, .. } => Quantization::Binary { bits: walk.bits() },
        }
    }

    /// The `dimensions` usearch is told: the vector's, except for binary
    /// codes, whose "dimensions" are bits (`2 · dim` at two bits, plus the
    /// payload's bits with residuals).
    pub(crate) fn usearch_dimensions(&self, dim: usize) -> usize {
        match self {
            GraphCodec::B1(q) => dim * q.bits() as usize,
            GraphCodec::B1Residual { walk, residual } => {
                8 * (walk.code_bytes() + residual.payload_bytes())
            }
            _ => dim,
        }
    }

    /// Bytes the graph stores per vector (the codes, payload included).
    pub(crate) fn code_bytes(&self, dim: usize) -> usize {
        match self {
            GraphCodec::F32 => 4 * dim,
            GraphCodec::F16 => 2 * dim,
            GraphCodec::I8 { .. } => dim,
            GraphCodec::B1(_) | GraphCodec::B1Residual { .. } => {
                self.usearch_dimensions(dim).div_ceil(8)
            }
        }
    }

    /// The code bytes the graph walk compares (all of them but a residual
    /// payload).
    pub(crate) fn walk_bytes(&self, dim: usize) -> usize {
        match self {
            GraphCodec::B1Residual { walk, .. } => walk.code_bytes(),
            _ => self.usearch_dimensions(dim).div_ceil(8),
        }
    }

    /// Checks the tables of a codec read from a file against the
    /// dimension; the message says what is off.
    pub(crate) fn check(&self, dim: usize) -> Result<(), String> {
        match self {
            GraphCodec::B1(q) => q.check(dim),
            GraphCodec::B1Residual { walk, residual } => {
                walk.check(dim)?;
                residual.check(dim)
            }
            _ => Ok(()),
        }
    }

    pub(crate) fn scalar_kind(&self) -> ScalarKind {
        match self {
            GraphCodec::F32 => ScalarKind::F32,
            GraphCodec::F16 => ScalarKind::F16,
            GraphCodec::I8 { .. } => ScalarKind::I8,
            GraphCodec::B1(_) | GraphCodec::B1Residual { .. } => ScalarKind::B1,
        }
    }

    pub(crate) fn metric_kind(&self, metric: Metric) -> MetricKind {
        match (self, metric) {
            (GraphCodec::B1(_) | GraphCodec::B1Residual { .. }, _) => MetricKind::Hamming,
            (_, Metric::Cosine | Metric::Dot) => MetricKind::IP,
            (_, Metric::Euclidean) => MetricKind::L2sq,
        }
    }

    /// Encodes a prepared vector. float16 is passed as `f32`: usearch casts.
    pub(crate) fn encode<'a>(&self, v: &'a [f32]) -> Encoded<'a> {
        match self {
            GraphCodec::F32 | GraphCodec::F16 => Encoded::F32(v),
            GraphCodec::I8 { scale, .. } => Encoded::I8(
                v.iter()
                    .map(|&x| (x * scale).round().clamp(-I8_MAX, I8_MAX) as i8)
                    .collect(),
            ),
            GraphCodec::B1(q) => Encoded::B1(code_bytes(q, v).into_iter().map(b1x8).collect()),
            GraphCodec::B1Residual { walk, residual } => {
                let mut bytes = code_bytes(walk, v);
                residual.encode_into(v, &mut bytes);
                Encoded::B1(bytes.into_iter().map(b1x8).collect())
            }
        }
    }

    /// A usearch distance on codes as a score in the metric's units (higher
    /// is better), approximately equal to the exact one.
    pub(crate) fn score(&self, metric: Metric, dim: usize, distance: f32) -> f32 {
        match (self, metric) {
            // For ±1 vectors `a · b = dims - 2 · hamming`; see binary.rs
            // (at two bits, `2 · dims - 2 · hamming`, a ranking stand-in).
            (GraphCodec::B1(q) | GraphCodec::B1Residual { walk: q, .. }, _) => {
                (dim * q.bits() as usize) as f32 - 2.0 * distance
            }
            (GraphCodec::I8 { scale, .. }, Metric::Cosine | Metric::Dot) => {
                (1.0 - distance) / (scale * scale)
            }
            (GraphCodec::I8 { scale, .. }, Metric::Euclidean) => -distance.max(0.0).sqrt() / scale,
            (_, Metric::Cosine | Metric::Dot) => 1.0 - distance,
            (_, Metric::Euclidean) => -distance.max(0.0).sqrt(),
        }
    }
}

/// The code of `v` as usearch stores it
/// ([`BinaryQuantizer::append_code_bytes`]).
fn code_bytes(q: &BinaryQuantizer, v: &[f32]) -> Vec<u8> {
    let mut words = Vec::with_capacity(q.words());
    q.encode_into(v, &mut words);
    let mut bytes = Vec::with_capacity(q.code_bytes());
    q.append_code_bytes(&words, &mut bytes);
    bytes
}

/// The `quantile` of all component magnitudes of `sample` (1.0: the
/// largest), estimated on at most ~1M components.
fn magnitude_range(sample: &[f32], quantile: f32) -> f32 {
    let step = (sample.len() / (1 << 20)).max(1);
    let mut mags: Vec<f32> = sample.iter().step_by(step).map(|x| x.abs()).collect();
    let last = mags.len() - 1;
    let at = ((last as f64) * quantile as f64).round() as usize;
    let (_, v, _) = mags.select_nth_unstable_by(at.min(last), f32::total_cmp);
    *v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int8_scale_maps_the_range_onto_127_and_clips_outliers() {
        let sample = [0.5, -0.25, 0.1, -0.5];
        let c = GraphCodec::train(
            Quantization::Int8 {
                per_dimension: true,
                quantile: None,
            },
            &sample,
            2,
            Metric::Dot,
        )
        .unwrap();
        let Encoded::I8(codes) = c.encode(&[0.5, -0.25]) else {
            panic!("int8 codes expected")
        };
        assert_eq!(codes, [127, -64]);
        let Encoded::I8(codes) = c.encode(&[9.0, -9.0]) else {
            panic!("int8 codes expected")
        };
        assert_eq!(codes, [127, -127], "outliers clip");
        // dot([127, -64], [127, -64]) = 20225 → 1 - that is usearch's IP
        // distance; the score undoes the scale.
        let s = c.score(Metric::Dot, 2, 1.0 - 20225.0);
        assert!((s - (0.25 + 0.0625)).abs() < 0.01, "{s}");
    }

    #[test]
    fn binary_codes_use_the_training_means_and_ceil_dim_bytes() {
        let sample = [1.0, 1.0, 1.0, 3.0, 3.0, 3.0];
        let c = GraphCodec::train(Quantization::BINARY, &sample, 3, Metric::Cosine).unwrap();
        let Encoded::B1(bits) = c.encode(&[3.0, 1.0, 3.0]) else {
            panic!("bits expected")
        };
        assert_eq!(bits.len(), 1);
        assert_eq!(bits[0].0, 0b101);
        assert_eq!(c.metric_kind(Metric::Cosine), MetricKind::Hamming);
        assert_eq!(c.score(Metric::Cosine, 3, 1.0), 1.0);
    }

    #[test]
    fn two_bit_codes_are_bit_vectors_of_twice_the_dimension() {
        // Per dimension: mean 2, σ 1 → levels split at 1.5 and 2.5.
        let sample = [1.0, 1.0, 1.0, 3.0, 3.0, 3.0];
        let c = GraphCodec::train(Quantization::BINARY2, &sample, 3, Metric::Cosine).unwrap();
        assert_eq!(c.quantization(), Quantization::BINARY2);
        let GraphCodec::B1Residual { residual, .. } = &c else {
            panic!("two-bit graphs carry residual payloads")
        };
        // One walk byte, then the payload (12 header bytes, one code byte).
        assert_eq!(residual.payload_bytes(), 13);
        assert_eq!(c.usearch_dimensions(3), 8 * 14);
        assert_eq!(c.walk_bytes(3), 1);
        let Encoded::B1(bits) = c.encode(&[3.0, 2.0, 1.0]) else {
            panic!("bits expected")
        };
        // Levels 2, 1, 0 → 11, 01, 00 (lower bit first).
        assert_eq!(bits.len(), 14);
        assert_eq!(bits[0].0, 0b00_01_11);
        assert_eq!(c.score(Metric::Cosine, 3, 1.0), 4.0);
        assert_eq!(c.check(3), Ok(()));
        assert!(c.check(4).is_err());
        // Euclidean searches never read the payload: plain codes.
        let l2 = GraphCodec::train(Quantization::BINARY2, &sample, 3, Metric::Euclidean).unwrap();
        assert!(matches!(l2, GraphCodec::B1(_)));
        assert_eq!(l2.usearch_dimensions(3), 6);
        // The codec, levels included, round-trips through the file trailer's JSON.
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<GraphCodec>(&json).unwrap(), c);
        assert!(matches!(
            GraphCodec::train(Quantization::Binary { bits: 3 }, &sample, 3, Metric::Cosine),
            Err(IndexError::InvalidBinaryBits(3))
        ));
    }

    #[test]
    fn int8_needs_training_data() {
        let q = Quantization::Int8 {
            per_dimension: false,
            quantile: Some(0.99),
        };
        assert!(matches!(
            GraphCodec::train(q, &[], 4, Metric::Dot),
            Err(IndexError::EmptyTrainingSet { .. })
        ));
    }
}
