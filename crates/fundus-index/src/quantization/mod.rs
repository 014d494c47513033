//! Quantized vectors: smaller codes scanned first, exact floats second.
//!
//! A quantized index keeps every vector twice: as a compact code that the
//! scan reads (half, a quarter or a thirty-second of the float bytes) and as
//! the original `f32` row that only the few best candidates are re-scored
//! against. Memory bandwidth is what a flat scan spends its time on, so the
//! scan gets faster by the compression factor, and rescoring an oversampled
//! candidate set (`k * oversampling` rows) wins back most of the recall the
//! codes lose.
//!
//! Product quantization is the one whose size is a free choice, down to a
//! fraction of a bit per dimension: meant for the largest collections,
//! where even int8 codes no longer fit in memory.
//!
//! | quantization | code bytes per dim | scan score |
//! |---|---|---|
//! | [`Quantization::None`] | 4 | exact |
//! | [`Quantization::Float16`] | 2 | query `f32` against codes widened on the fly |
//! | [`Quantization::Int8`] | 1 | query `f32` against dequantized codes (asymmetric) |
//! | [`Quantization::Binary`] (`bits: 1`) | 1/8 | float query against the sign bits (asymmetric); Hamming in the graph |
//! | [`Quantization::Binary`] (`bits: 2`) | 1/4 (+ 12 bytes per vector) | float query against three levels of the residual from the nearest coarse centroid, corrected (residual.rs); Euclidean: Hamming of the vector's levels. The graph walks by Hamming of thermometer codes of the vector and keeps the residual code beside them (1/2 in all) |
//! | [`Quantization::Product`] | `subvectors / dim` (1/8 by default) | sum of per-subvector table lookups (ADC) |

use serde::{Deserialize, Serialize};

use crate::error::IndexError;

pub mod binary;
pub mod f16;
pub mod int8;
pub mod pq;
pub mod quantized_index;
pub mod residual;

pub use binary::{AsymmetricQuery, BinaryQuantizer};
pub use int8::{Int8Quantizer, Int8Query};
pub use pq::{PqQuery, ProductQuantizer};
pub use quantized_index::{MemoryUsage, QuantizedFlatIndex};
pub use residual::{ResidualCoder, ResidualQuery};

/// How a collection stores the vectors it scans. Serialized as an internally
/// tagged object, e.g. `{"type": "int8", "per_dimension": true, "quantile": 0.99}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Quantization {
    /// Plain `f32`: the scan is exact and nothing is re-scored.
    #[default]
    None,
    /// IEEE half precision: 11 significant bits, enough that rankings almost
    /// never change. Components beyond ±65504 saturate.
    Float16,
    /// Scalar quantization to 256 levels between a learned minimum and
    /// maximum.
    Int8 {
        /// One range per dimension (default) rather than one for all:
        /// embedding dimensions differ in spread, and a shared range wastes
        /// levels on the narrow ones.
        #[serde(default = "per_dimension_default")]
        per_dimension: bool,
        /// Clip each range to the `[1 - q, q]` quantiles of the training
        /// data, so a few outliers do not stretch the step for everyone.
        /// Outliers then map to code 0 or 255. `None` uses the full range.
        #[serde(default)]
        quantile: Option<f32>,
    },
    /// One or two bits per dimension, compared by Hamming distance in the
    /// graph and by the float query against the codes in the scan
    /// (binary.rs); always meant with rescoring. With one bit, whether the
    /// component lies above the training mean of its dimension: enough for
    /// embeddings of ~1024 dimensions or more. With two, three levels split
    /// at `mean ∓ σ/2`: twice the bytes, and on 384-d MiniLM vectors the
    /// difference between recall@10 0.90 and 0.97 at 40 rescored
    /// candidates, so the choice below ~1024 dimensions. Two-bit codes
    /// are of the residual from the vector's nearest coarse centroid
    /// (residual.rs), which keeps clustered data apart (0.90 → 0.99 on 1M
    /// clustered vectors); a graph stores them beside the thermometer code
    /// it walks by. Serialized as
    /// `{"type": "binary", "bits": 2}`; configs written before `bits`
    /// existed (`{"type": "binary"}`) mean one bit.
    Binary {
        /// Bits per dimension: 1 or 2 (checked by [`Quantization::validate`]).
        #[serde(default = "binary_bits_default")]
        bits: u8,
    },
    /// Product quantization: each vector cut into `subvectors` equal slices,
    /// each slice stored as the byte naming its nearest of 256 centroids
    /// learned by k-means. One byte per subvector; scored against the `f32`
    /// query through a per-query lookup table (asymmetric distance
    /// computation). Coarser than int8, so always meant with rescoring.
    Product {
        /// Slices per vector, which must divide the dimension (checked when
        /// the index is built, when the dimension is known). `None` (or
        /// left out) takes [`pq::default_subvectors`]: `dim / 8`, lowered
        /// to a divisor of `dim`, at least 1. More subvectors give finer
        /// codes and a larger, slower scan.
        #[serde(default)]
        subvectors: Option<usize>,
    },
}

fn per_dimension_default() -> bool {
    true
}

fn binary_bits_default() -> u8 {
    1
}

impl Quantization {
    /// One-bit binary quantization (what `{"type": "binary"}` means).
    pub const BINARY: Quantization = Quantization::Binary { bits: 1 };
    /// Two-bit binary quantization.
    pub const BINARY2: Quantization = Quantization::Binary { bits: 2 };
}

impl Quantization {
    pub fn name(&self) -> &'static str {
        match self {
            Quantization::None => "none",
            Quantization::Float16 => "float16",
            Quantization::Int8 { .. } => "int8",
            Quantization::Binary { bits: 2 } => "binary (2 bits)",
            Quantization::Binary { .. } => "binary",
            Quantization::Product { .. } => "product",
        }
    }

    /// How many candidates per requested hit are re-scored unless a query
    /// says otherwise: 1 without quantization (the scan is exact), 4 for
    /// binary (64 to 1000 bits rank coarsely; the float pass sorts it out),
    /// 2 for float16 and int8 (their errors only swap near neighbours), 8
    /// for product (one byte per 8 dimensions leaves members of a cluster
    /// barely told apart; rescoring a wide candidate set restores them).
    pub fn default_oversampling(&self) -> f32 {
        match self {
            Quantization::None => 1.0,
            Quantization::Float16 | Quantization::Int8 { .. } => 2.0,
            Quantization::Binary { .. } => 4.0,
            Quantization::Product { .. } => 8.0,
        }
    }

    /// Checks the settings a user can get wrong without knowing the
    /// dimension (the quantile, a zero subvector count, binary bits other
    /// than 1 or 2); whether the
    /// subvectors divide the dimension is checked at build.
    pub fn validate(&self) -> Result<(), IndexError> {
        match *self {
            // NaN fails both comparisons and is refused too.
            Quantization::Int8 {
                quantile: Some(q), ..
            } if !(q > 0.5 && q <= 1.0) => Err(IndexError::InvalidQuantile(q)),
            Quantization::Product {
                subvectors: Some(0),
            } => Err(IndexError::InvalidSubvectors(0)),
            Quantization::Binary { bits } if !(1..=2).contains(&bits) => {
                Err(IndexError::InvalidBinaryBits(bits))
            }
            _ => Ok(()),
        }
    }
}

/// Checks that `vectors` is a non-empty row-major block of `dim`-wide
/// rows: what every quantizer needs before it can learn from it.
pub(crate) fn check_training_set(
    vectors: &[f32],
    dim: usize,
    quantization: &'static str,
) -> Result<(), IndexError> {
    if dim == 0 || !vectors.len().is_multiple_of(dim) {
        return Err(IndexError::RaggedData {
            len: vectors.len(),
            dim,
        });
    }
    if vectors.is_empty() {
        return Err(IndexError::EmptyTrainingSet { quantization });
    }
    Ok(())
}

/// Per-query knobs of a quantized search.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SearchParams {
    /// Candidates scanned from the codes per requested hit
    /// (`ceil(k * oversampling)`). `None` takes
    /// [`Quantization::default_oversampling`]. Must be at least 1.
    #[serde(default)]
    pub oversampling: Option<f32>,
    /// Re-score the candidates exactly against the original floats
    /// (default). Off returns the scan's approximate scores: for binary
    /// the asymmetric estimate of the dot product (binary.rs), or under
    /// euclidean `code_bits - 2 * hamming`, not the metric's units; for the
    /// others, the metric's score of the reconstructed vector.
    #[serde(default = "rescore_default")]
    pub rescore: bool,
}

fn rescore_default() -> bool {
    true
}

impl Default for SearchParams {
    fn default() -> Self {
        SearchParams {
            oversampling: None,
            rescore: true,
        }
    }
}

impl SearchParams {
    /// The oversampling factor in effect for `quantization`, checked.
    pub fn oversampling_for(&self, quantization: &Quantization) -> Result<f32, IndexError> {
        match self.oversampling {
            None => Ok(quantization.default_oversampling()),
            Some(f) if f.is_finite() && f >= 1.0 => Ok(f),
            Some(f) => Err(IndexError::InvalidOversampling(f)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips_through_json() {
        for q in [
            Quantization::None,
            Quantization::Float16,
            Quantization::Int8 {
                per_dimension: false,
                quantile: Some(0.99),
            },
            Quantization::BINARY,
            Quantization::BINARY2,
            Quantization::Product {
                subvectors: Some(48),
            },
            Quantization::Product { subvectors: None },
        ] {
            let json = serde_json::to_string(&q).unwrap();
            assert_eq!(serde_json::from_str::<Quantization>(&json).unwrap(), q);
        }
        let q: Quantization = serde_json::from_str(r#"{"type": "int8"}"#).unwrap();
        assert_eq!(
            q,
            Quantization::Int8 {
                per_dimension: true,
                quantile: None
            }
        );
        assert!(serde_json::from_str::<Quantization>(r#"{"type": "int4"}"#).is_err());
    }

    #[test]
    fn binary_written_before_bits_existed_means_one_bit() {
        let old: Quantization = serde_json::from_str(r#"{"type": "binary"}"#).unwrap();
        assert_eq!(old, Quantization::Binary { bits: 1 });
        let two: Quantization = serde_json::from_str(r#"{"type":"binary","bits":2}"#).unwrap();
        assert_eq!(two, Quantization::BINARY2);
        assert_eq!(two.validate(), Ok(()));
        assert_eq!(two.default_oversampling(), 4.0);
        assert_eq!(two.name(), "binary (2 bits)");
        assert_eq!(old.name(), "binary");
    }

    #[test]
    fn binary_bits_other_than_one_or_two_are_refused() {
        for bits in [0, 3, 8] {
            let q = Quantization::Binary { bits };
            assert_eq!(q.validate(), Err(IndexError::InvalidBinaryBits(bits)));
        }
        let message = IndexError::InvalidBinaryBits(3).to_string();
        assert!(message.contains("1 or 2"), "{message}");
    }

    #[test]
    fn quantile_and_oversampling_are_checked() {
        let int8 = |q| Quantization::Int8 {
            per_dimension: true,
            quantile: Some(q),
        };
        assert_eq!(int8(0.99).validate(), Ok(()));
        assert_eq!(int8(1.0).validate(), Ok(()));
        assert_eq!(int8(0.5).validate(), Err(IndexError::InvalidQuantile(0.5)));
        assert!(int8(f32::NAN).validate().is_err());

        let params = SearchParams::default();
        assert_eq!(params.oversampling_for(&Quantization::BINARY), Ok(4.0));
        assert_eq!(params.oversampling_for(&Quantization::Float16), Ok(2.0));
        let bad = SearchParams {
            oversampling: Some(0.5),
            ..params
        };
        assert_eq!(
            bad.oversampling_for(&Quantization::BINARY),
            Err(IndexError::InvalidOversampling(0.5))
        );
        let json: SearchParams = serde_json::from_str(r#"{"oversampling": 3}"#).unwrap();
        assert_eq!(json.oversampling, Some(3.0));
        assert!(json.rescore);
    }
}
