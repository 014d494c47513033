//! How two vectors are compared.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::distance;
use crate::error::CoreError;

/// A similarity measure. Every metric is turned into a score where higher is
/// better at this boundary, so heaps, fusion and evaluation never need to
/// know whether they sort distances or similarities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Cosine similarity. Vectors are normalized once on insert, so a search
    /// is a plain dot product.
    #[default]
    Cosine,
    /// Inner product on the vectors as given.
    Dot,
    /// Negated euclidean distance.
    Euclidean,
}

impl Metric {
    /// Score of `b` for query `a`; both must already be prepared with
    /// [`Metric::prepare`].
    #[inline]
    pub fn score(self, a: &[f32], b: &[f32]) -> f32 {
        match self {
            Metric::Cosine | Metric::Dot => distance::dot(a, b),
            Metric::Euclidean => -distance::l2_squared(a, b).sqrt(),
        }
    }

    /// Brings a vector into the form the metric compares: unit length for
    /// cosine, untouched otherwise.
    pub fn prepare(self, v: &mut [f32]) {
        if self == Metric::Cosine {
            distance::normalize(v);
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Cosine => "cosine",
            Metric::Dot => "dot",
            Metric::Euclidean => "euclidean",
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Metric {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "cosine" | "cos" => Ok(Metric::Cosine),
            "dot" | "ip" | "inner" => Ok(Metric::Dot),
            "euclidean" | "l2" => Ok(Metric::Euclidean),
            _ => Err(CoreError::UnknownMetric(s.to_string())),
        }
    }
}

/// Checks a vector a user handed in: right length, finite components.
pub fn validate_vector(v: &[f32], expected: usize) -> Result<(), CoreError> {
    if v.len() != expected {
        return Err(CoreError::WrongVectorDimension {
            expected,
            received: v.len(),
        });
    }
    if let Some((index, &value)) = v.iter().enumerate().find(|(_, x)| !x.is_finite()) {
        return Err(CoreError::NonFiniteComponent { index, value });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_aliases() {
        assert_eq!("Cosine".parse::<Metric>(), Ok(Metric::Cosine));
        assert_eq!("l2".parse::<Metric>(), Ok(Metric::Euclidean));
        assert!(matches!(
            "manhattan".parse::<Metric>(),
            Err(CoreError::UnknownMetric(_))
        ));
    }

    #[test]
    fn euclidean_score_is_negated_distance() {
        let s = Metric::Euclidean.score(&[0.0, 0.0], &[3.0, 4.0]);
        assert!((s + 5.0).abs() < 1e-6);
    }

    #[test]
    fn validation_names_the_problem() {
        assert_eq!(
            validate_vector(&[1.0, 2.0], 3),
            Err(CoreError::WrongVectorDimension {
                expected: 3,
                received: 2
            })
        );
        assert!(matches!(
            validate_vector(&[1.0, f32::NAN], 2),
            Err(CoreError::NonFiniteComponent { index: 1, .. })
        ));
        assert_eq!(validate_vector(&[1.0, 2.0], 2), Ok(()));
    }
}
