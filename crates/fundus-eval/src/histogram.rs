//! Equal-width histograms of values, e.g. of similarity scores.
//!
//! Percentiles say where the mass is; a histogram shows its shape
//! (bimodal relevant/irrelevant, a spike of near-duplicates at 1.0), which
//! is what one looks at before choosing a threshold.

use serde::{Deserialize, Serialize};

use crate::EvalError;

/// Counts of values in `bins` equal-width bins over `[lo, hi]`.
///
/// Bins are half-open `[edge_i, edge_i+1)` except the last, which also
/// holds `hi` (as `numpy.histogram`). Values outside the range are not
/// lost: they are counted in `below` and `above`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// Lower edge of the first bin.
    pub lo: f64,
    /// Upper edge of the last bin.
    pub hi: f64,
    /// Count per bin.
    pub counts: Vec<u64>,
    /// Values `< lo`.
    pub below: u64,
    /// Values `> hi`.
    pub above: u64,
}

impl Histogram {
    /// Histogram of `values` over a fixed range, so that histograms of
    /// different models or datasets share their bins (cosine: `(-1, 1)`).
    ///
    /// Needs `bins >= 1`, finite `lo < hi` and finite values.
    pub fn new<I, T>(values: I, bins: usize, range: (f64, f64)) -> Result<Self, EvalError>
    where
        I: IntoIterator<Item = T>,
        T: Into<f64>,
    {
        let (lo, hi) = range;
        if bins == 0 {
            return Err(EvalError::Invalid(
                "a histogram needs at least one bin".into(),
            ));
        }
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return Err(EvalError::Invalid(format!(
                "histogram range ({lo}, {hi}) must be finite with lo < hi"
            )));
        }
        let mut hist = Histogram {
            lo,
            hi,
            counts: vec![0; bins],
            below: 0,
            above: 0,
        };
        let width = hist.bin_width();
        for value in values {
            let v: f64 = value.into();
            if !v.is_finite() {
                return Err(EvalError::Invalid("histogram of a non-finite value".into()));
            }
            if v < lo {
                hist.below += 1;
            } else if v > hi {
                hist.above += 1;
            } else {
                let bin = (((v - lo) / width).floor() as usize).min(bins - 1);
                hist.counts[bin] += 1;
            }
        }
        Ok(hist)
    }

    /// Histogram over the values' own range (min to max; a single distinct
    /// value gets a range of ±0.5 around it). Empty input is an error.
    pub fn auto<T: Into<f64> + Copy>(values: &[T], bins: usize) -> Result<Self, EvalError> {
        let mut range: Option<(f64, f64)> = None;
        for &value in values {
            let v: f64 = value.into();
            if !v.is_finite() {
                return Err(EvalError::Invalid("histogram of a non-finite value".into()));
            }
            range = Some(match range {
                None => (v, v),
                Some((lo, hi)) => (lo.min(v), hi.max(v)),
            });
        }
        let Some((lo, hi)) = range else {
            return Err(EvalError::Invalid(
                "histogram of an empty set of values".into(),
            ));
        };
        let range = if lo < hi {
            (lo, hi)
        } else {
            (lo - 0.5, hi + 0.5)
        };
        Self::new(values.iter().copied(), bins, range)
    }

    /// Width of one bin.
    pub fn bin_width(&self) -> f64 {
        (self.hi - self.lo) / self.counts.len().max(1) as f64
    }

    /// The `bins + 1` bin edges, `lo` first and `hi` last.
    pub fn edges(&self) -> Vec<f64> {
        let n = self.counts.len();
        (0..=n)
            .map(|i| {
                if i == n {
                    self.hi
                } else {
                    self.lo + self.bin_width() * i as f64
                }
            })
            .collect()
    }

    /// Number of values inside the range.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_like_numpy_with_last_bin_closed() {
        // numpy.histogram([0, 0.25, 0.5, 0.75, 1.0], bins=4, range=(0, 1))
        // -> [1, 1, 1, 2]
        let h = Histogram::new([0.0, 0.25, 0.5, 0.75, 1.0], 4, (0.0, 1.0)).unwrap();
        assert_eq!(h.counts, vec![1, 1, 1, 2]);
        assert_eq!(h.edges(), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        assert_eq!(h.total(), 5);
    }

    #[test]
    fn out_of_range_values_are_counted_apart() {
        let h = Histogram::new([-2.0_f32, 0.5, 3.0, 4.0], 2, (0.0, 1.0)).unwrap();
        assert_eq!((h.below, h.counts.clone(), h.above), (1, vec![0, 1], 2));
    }

    #[test]
    fn auto_range_spans_the_values() {
        let h = Histogram::auto(&[0.2, 0.4, 0.6], 2).unwrap();
        assert_eq!((h.lo, h.hi), (0.2, 0.6));
        assert_eq!(h.counts, vec![1, 2]);
        let h = Histogram::auto(&[0.3, 0.3], 3).unwrap();
        assert_eq!(h.total(), 2);
    }

    #[test]
    fn invalid_arguments_are_errors() {
        assert!(Histogram::new([0.5], 0, (0.0, 1.0)).is_err());
        assert!(Histogram::new([0.5], 2, (1.0, 1.0)).is_err());
        assert!(Histogram::new([f64::NAN], 2, (0.0, 1.0)).is_err());
        assert!(Histogram::auto::<f64>(&[], 2).is_err());
    }
}
