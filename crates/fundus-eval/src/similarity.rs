//! Summary statistics of a set of similarity values.
//!
//! Used to look at what an embedder actually produces — the spread of
//! cosine similarities between random pairs, between a query and its
//! relevant documents, between near-duplicate chunks — because a model
//! whose similarities all sit in 0.85..0.95 needs different thresholds
//! (and shows anisotropy) compared to one that uses the whole range.

use serde::{Deserialize, Serialize};

use crate::EvalError;

/// Percentiles reported by [`SimilarityStats::compute`].
pub const DEFAULT_PERCENTILES: [f64; 7] = [1.0, 5.0, 25.0, 50.0, 75.0, 95.0, 99.0];

/// Thresholds reported by [`SimilarityStats::compute`]; 0.95 is a common
/// near-duplicate cut for sentence embeddings.
pub const DEFAULT_THRESHOLDS: [f64; 5] = [0.5, 0.8, 0.9, 0.95, 0.99];

/// The value below which `p` percent of the values lie.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Percentile {
    /// Percent, 0 to 100.
    pub p: f64,
    /// The value.
    pub value: f64,
}

/// The share of values at or above a threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ShareAtLeast {
    /// The threshold.
    pub threshold: f64,
    /// Share (0 to 1) of values `>= threshold`.
    pub share: f64,
}

/// Count, range, moments, percentiles and threshold shares of a set of
/// values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimilarityStats {
    /// Number of values.
    pub count: usize,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Population standard deviation (divides by n, as `numpy.std`).
    pub std: f64,
    /// Percentiles, linearly interpolated (`numpy.percentile` default).
    pub percentiles: Vec<Percentile>,
    /// Shares of values at or above each threshold.
    pub at_least: Vec<ShareAtLeast>,
}

impl SimilarityStats {
    /// Statistics with [`DEFAULT_PERCENTILES`] and [`DEFAULT_THRESHOLDS`].
    /// Accepts `f32` (what embedders produce) as well as `f64`.
    pub fn compute<I, T>(values: I) -> Result<Self, EvalError>
    where
        I: IntoIterator<Item = T>,
        T: Into<f64>,
    {
        Self::compute_with(values, &DEFAULT_PERCENTILES, &DEFAULT_THRESHOLDS)
    }

    /// Statistics with chosen percentiles (0..=100) and thresholds.
    /// Empty input, non-finite values and percentiles outside 0..=100 are
    /// errors.
    pub fn compute_with<I, T>(
        values: I,
        percentiles: &[f64],
        thresholds: &[f64],
    ) -> Result<Self, EvalError>
    where
        I: IntoIterator<Item = T>,
        T: Into<f64>,
    {
        let mut sorted: Vec<f64> = values.into_iter().map(Into::into).collect();
        if sorted.is_empty() {
            return Err(EvalError::Invalid(
                "statistics of an empty set of values".into(),
            ));
        }
        if sorted.iter().any(|v| !v.is_finite()) {
            return Err(EvalError::Invalid(
                "statistics of non-finite values (NaN or infinite)".into(),
            ));
        }
        if let Some(p) = percentiles.iter().find(|p| !(0.0..=100.0).contains(*p)) {
            return Err(EvalError::Invalid(format!(
                "percentile {p} is outside 0..=100"
            )));
        }
        sorted.sort_by(f64::total_cmp);

        let n = sorted.len() as f64;
        let mean = sorted.iter().sum::<f64>() / n;
        let variance = sorted.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        Ok(SimilarityStats {
            count: sorted.len(),
            min: sorted[0],
            max: sorted[sorted.len() - 1],
            mean,
            std: variance.sqrt(),
            percentiles: percentiles
                .iter()
                .map(|&p| Percentile {
                    p,
                    value: percentile_of_sorted(&sorted, p),
                })
                .collect(),
            at_least: thresholds
                .iter()
                .map(|&threshold| ShareAtLeast {
                    threshold,
                    share: share_at_least_sorted(&sorted, threshold),
                })
                .collect(),
        })
    }

    /// The reported value of percentile `p`, if it was computed.
    pub fn percentile(&self, p: f64) -> Option<f64> {
        self.percentiles.iter().find(|x| x.p == p).map(|x| x.value)
    }

    /// The reported share at or above `threshold`, if it was computed.
    pub fn share_at_least(&self, threshold: f64) -> Option<f64> {
        self.at_least
            .iter()
            .find(|x| x.threshold == threshold)
            .map(|x| x.share)
    }
}

/// Percentile `p` (0..=100) of ascending `sorted` values with linear
/// interpolation between closest ranks (`numpy.percentile`'s default).
/// `sorted` must be non-empty.
pub fn percentile_of_sorted(sorted: &[f64], p: f64) -> f64 {
    let Some(&last) = sorted.last() else {
        return f64::NAN;
    };
    let position = (p / 100.0).clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let fraction = position - below as f64;
    match sorted.get(below + 1) {
        Some(&next) => sorted[below] + (next - sorted[below]) * fraction,
        None => last,
    }
}

/// Share of ascending `sorted` values that are `>= threshold` (0 for an
/// empty slice).
fn share_at_least_sorted(sorted: &[f64], threshold: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let below = sorted.partition_point(|&v| v < threshold);
    (sorted.len() - below) as f64 / sorted.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_statistics() {
        let stats = SimilarityStats::compute([0.1_f32, 0.5, 0.9, 0.96, 1.0]).unwrap();
        assert_eq!(stats.count, 5);
        assert!((stats.min - 0.1).abs() < 1e-7);
        assert_eq!(stats.max, 1.0);
        assert!((stats.mean - 0.692).abs() < 1e-6);
        // numpy.std([0.1, 0.5, 0.9, 0.96, 1.0]) = 0.34562407...
        assert!((stats.std - 0.345_624_073_2).abs() < 1e-6, "{}", stats.std);
        assert!((stats.percentile(50.0).unwrap() - 0.9).abs() < 1e-6);
        assert_eq!(stats.share_at_least(0.95), Some(0.4));
        assert_eq!(stats.share_at_least(0.5), Some(0.8));
    }

    #[test]
    fn percentiles_interpolate_like_numpy() {
        let sorted = [1.0, 2.0, 3.0, 4.0];
        // numpy.percentile([1,2,3,4], [0, 25, 50, 90, 100]) = [1, 1.75, 2.5, 3.7, 4]
        assert_eq!(percentile_of_sorted(&sorted, 0.0), 1.0);
        assert_eq!(percentile_of_sorted(&sorted, 25.0), 1.75);
        assert_eq!(percentile_of_sorted(&sorted, 50.0), 2.5);
        assert!((percentile_of_sorted(&sorted, 90.0) - 3.7).abs() < 1e-12);
        assert_eq!(percentile_of_sorted(&sorted, 100.0), 4.0);
        assert_eq!(percentile_of_sorted(&[7.0], 30.0), 7.0);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(SimilarityStats::compute(Vec::<f64>::new()).is_err());
        assert!(SimilarityStats::compute([0.5, f64::NAN]).is_err());
        assert!(SimilarityStats::compute_with([0.5], &[101.0], &[]).is_err());
    }

    #[test]
    fn serializes_to_json() {
        let stats = SimilarityStats::compute_with([1.0, 3.0], &[50.0], &[2.0]).unwrap();
        let json = serde_json::to_string(&stats).unwrap();
        assert_eq!(
            json,
            r#"{"count":2,"min":1.0,"max":3.0,"mean":2.0,"std":1.0,"percentiles":[{"p":50.0,"value":2.0}],"at_least":[{"threshold":2.0,"share":0.5}]}"#
        );
    }
}
