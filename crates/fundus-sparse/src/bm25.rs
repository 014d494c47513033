//! The BM25 formulas and their parameters.
//!
//! BM25 scores a document `d` for a query `q` as
//!
//! ```text
//! score(q, d) = Σ over query terms t:  qtf(t) · idf(t) · tfc(t, d)
//! ```
//!
//! where `tf` is how often `t` occurs in `d`, `dl` is the length of `d` in
//! terms, `avgdl` the mean length over live documents, `N` the number of
//! live documents, `df` the number of live documents containing `t`, and
//! `qtf(t)` how often `t` occurs in the query (bm25s sums a repeated query
//! token once per occurrence; so do we, but read each postings list once).
//!
//! The variants, with bm25s' definitions (Kamphuis et al., ECIR 2020), so
//! that its published figures are a like-for-like reference:
//!
//! | variant | idf | tfc |
//! |---|---|---|
//! | Lucene | `ln(1 + (N - df + 0.5) / (df + 0.5))` | `tf / (tf + k1·(1 - b + b·dl/avgdl))` |
//! | Robertson | `ln(max(1, (N - df + 0.5) / (df + 0.5)))` | as Lucene |
//! | BM25+ | `ln((N + 1) / df)` | `(k1 + 1)·tf / (tf + k1·(1 - b + b·dl/avgdl)) + δ` |
//!
//! Robertson's idf is clamped at 0 (bm25s' default `allow_negative=False`):
//! a term in more than half the documents would otherwise lower the score
//! of the documents that contain it. BM25+ gives every query term at least
//! `idf·δ`, also in documents without it; that part is the same for every
//! document of a query, so it only shifts scores (bm25s adds it to every
//! document; here it is added to the documents returned, which are those
//! that contain at least one query term).
//!
//! Unlike tantivy, which fixes k1 = 1.2 and b = 0.75 and stores document
//! lengths quantized to one byte, lengths here are exact and the
//! parameters are read at query time: changing k1 or b needs no re-index.

use crate::SparseError;

/// Which BM25 formula to use; see the module documentation for each.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bm25Variant {
    /// Lucene's BM25 (the default of Lucene since 8, Elasticsearch,
    /// bm25s): idf never negative, no `(k1 + 1)` factor.
    Lucene,
    /// Robertson's original idf (clamped at 0), Lucene's tfc.
    Robertson,
    /// BM25+ (Lv and Zhai, 2011): a lower bound `delta` for every query
    /// term, which stops very long documents from being over-penalized.
    Bm25Plus {
        /// The lower bound of the term-frequency part (1.0 in the paper
        /// and in bm25s' default).
        delta: f32,
    },
}

impl Bm25Variant {
    /// The variant's name: `lucene`, `robertson` or `bm25+`.
    pub fn name(self) -> &'static str {
        match self {
            Bm25Variant::Lucene => "lucene",
            Bm25Variant::Robertson => "robertson",
            Bm25Variant::Bm25Plus { .. } => "bm25+",
        }
    }
}

/// BM25's free parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bm25Params {
    /// Term-frequency saturation: 0 counts presence only, larger values let
    /// repeated terms count longer. Usually 0.9 to 2.0.
    pub k1: f32,
    /// Length normalization: 0 ignores document length, 1 normalizes
    /// fully by `dl / avgdl`.
    pub b: f32,
    /// The formula.
    pub variant: Bm25Variant,
}

impl Default for Bm25Params {
    /// bm25s' defaults: k1 = 1.5, b = 0.75, Lucene.
    fn default() -> Self {
        Bm25Params {
            k1: 1.5,
            b: 0.75,
            variant: Bm25Variant::Lucene,
        }
    }
}

impl Bm25Params {
    /// Lucene with the given `k1` and `b`.
    pub fn lucene(k1: f32, b: f32) -> Self {
        Bm25Params {
            k1,
            b,
            variant: Bm25Variant::Lucene,
        }
    }

    /// Checks that the formula is defined for these values: `k1` finite
    /// and >= 0, `b` in [0, 1], BM25+'s `delta` finite and >= 0.
    pub fn validate(&self) -> Result<(), SparseError> {
        if !(self.k1.is_finite() && self.k1 >= 0.0) {
            return Err(SparseError::InvalidParameter {
                name: "k1",
                value: self.k1,
                expected: "a finite value >= 0 (usually 0.9 to 2.0)",
            });
        }
        if !(0.0..=1.0).contains(&self.b) {
            return Err(SparseError::InvalidParameter {
                name: "b",
                value: self.b,
                expected: "a value in [0, 1]",
            });
        }
        if let Bm25Variant::Bm25Plus { delta } = self.variant {
            if !(delta.is_finite() && delta >= 0.0) {
                return Err(SparseError::InvalidParameter {
                    name: "delta",
                    value: delta,
                    expected: "a finite value >= 0 (1.0 is usual)",
                });
            }
        }
        Ok(())
    }

    /// The idf of a term found in `df` of `n` live documents (`df >= 1`),
    /// computed in f64 as bm25s does, then rounded to f32.
    pub fn idf(&self, df: u32, n: u32) -> f32 {
        let (df, n) = (f64::from(df), f64::from(n));
        let idf = match self.variant {
            Bm25Variant::Lucene => (1.0 + (n - df + 0.5) / (df + 0.5)).ln(),
            Bm25Variant::Robertson => ((n - df + 0.5) / (df + 0.5)).max(1.0).ln(),
            Bm25Variant::Bm25Plus { .. } => ((n + 1.0) / df).ln(),
        };
        idf as f32
    }

    /// The per-query constants of the tfc denominator for a collection
    /// whose mean document length is `avgdl`.
    pub(crate) fn length_norm(&self, avgdl: f32) -> LengthNorm {
        let avgdl = if avgdl > 0.0 { avgdl } else { 1.0 };
        LengthNorm {
            base: self.k1 * (1.0 - self.b),
            per_term: self.k1 * self.b / avgdl,
        }
    }

    /// The factor in front of `tf` in the tfc numerator.
    pub(crate) fn tf_factor(&self) -> f32 {
        match self.variant {
            Bm25Variant::Lucene | Bm25Variant::Robertson => 1.0,
            Bm25Variant::Bm25Plus { .. } => self.k1 + 1.0,
        }
    }

    /// The part every document gets for a query term of this idf, whether
    /// it contains the term or not (BM25+'s `idf·δ`, else 0).
    pub(crate) fn floor(&self, idf: f32) -> f32 {
        match self.variant {
            Bm25Variant::Bm25Plus { delta } => idf * delta,
            _ => 0.0,
        }
    }

    /// The score of one term in one document, straight from the formula
    /// (the search loop computes the same thing with hoisted constants).
    pub fn term_score(&self, tf: u32, dl: u32, avgdl: f32, idf: f32) -> f32 {
        let norm = self.length_norm(avgdl);
        let tf = tf as f32;
        idf * self.tf_factor() * tf / (tf + norm.base + norm.per_term * dl as f32) + self.floor(idf)
    }
}

/// `k1·(1 - b + b·dl/avgdl)` as `base + per_term·dl`, one multiply-add per
/// posting.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LengthNorm {
    pub base: f32,
    pub per_term: f32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idf_matches_bm25s_definitions() {
        // Values from bm25s.scoring._score_idf_* with N = 10.
        let lucene = Bm25Params::default();
        assert!((lucene.idf(1, 10) - (1.0f64 + 9.5 / 1.5).ln() as f32).abs() < 1e-6);
        assert!(lucene.idf(10, 10) > 0.0, "Lucene idf is never negative");
        let robertson = Bm25Params {
            variant: Bm25Variant::Robertson,
            ..Default::default()
        };
        assert!((robertson.idf(1, 10) - (9.5f64 / 1.5).ln() as f32).abs() < 1e-6);
        assert_eq!(robertson.idf(8, 10), 0.0, "clamped, not negative");
        let plus = Bm25Params {
            variant: Bm25Variant::Bm25Plus { delta: 1.0 },
            ..Default::default()
        };
        assert!((plus.idf(2, 10) - (11.0f64 / 2.0).ln() as f32).abs() < 1e-6);
    }

    #[test]
    fn term_score_follows_the_formula() {
        let p = Bm25Params::lucene(1.2, 0.75);
        // tf 2, dl 10, avgdl 5: 2 / (2 + 1.2 * (0.25 + 0.75 * 2)) = 2 / 4.1
        let s = p.term_score(2, 10, 5.0, 1.0);
        assert!((s - 2.0 / 4.1).abs() < 1e-6, "{s}");
        let plus = Bm25Params {
            k1: 1.2,
            b: 0.75,
            variant: Bm25Variant::Bm25Plus { delta: 0.5 },
        };
        let s = plus.term_score(2, 10, 5.0, 2.0);
        assert!((s - (2.0 * 2.2 * 2.0 / 4.1 + 1.0)).abs() < 1e-5, "{s}");
        // b = 0: length does not matter.
        let flat = Bm25Params::lucene(1.2, 0.0);
        assert_eq!(
            flat.term_score(3, 1, 100.0, 1.0),
            flat.term_score(3, 1000, 100.0, 1.0)
        );
    }

    #[test]
    fn out_of_range_parameters_are_refused() {
        assert!(Bm25Params::default().validate().is_ok());
        assert!(Bm25Params::lucene(0.0, 0.0).validate().is_ok());
        let err = Bm25Params::lucene(-1.0, 0.5).validate().unwrap_err();
        assert!(err.to_string().contains("k1 = -1"), "{err}");
        assert!(Bm25Params::lucene(f32::NAN, 0.5).validate().is_err());
        assert!(Bm25Params::lucene(1.2, 1.01).validate().is_err());
        let bad = Bm25Params {
            variant: Bm25Variant::Bm25Plus { delta: -0.1 },
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("delta"));
    }
}
