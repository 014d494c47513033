//! Turning several ranked lists into one.
//!
//! Dense and sparse retrieval fail on different queries, so fusing their
//! lists beats either alone — but their scores live on different scales
//! (cosine in [-1, 1], BM25 unbounded), so they cannot simply be added.
//! Three remedies, all "higher is better":
//!
//! - **RRF** (Cormack et al., 2009): ignore scores, use ranks.
//!   `score(d) = Σ_lists 1 / (k + rank(d))`, rank 1-based, `k` = 60 by
//!   default. A list that did not return `d` adds nothing. Robust and
//!   parameter-free, the usual default.
//! - **Weighted** linear fusion: normalize each list's scores, then
//!   `score(d) = Σ w_i · norm_i(d)` — the seeds' `0.7·dense + 0.3·sparse`.
//!   Normalizations ([`Normalization`]):
//!   - `minmax`: `(s - min) / (max - min)`, in [0, 1]. A list whose scores
//!     are all equal (or that has one hit) normalizes to 1: its documents
//!     are that list's best.
//!   - `zscore`: `(s - μ) / σ` with the population σ of the list. A list
//!     with σ = 0 normalizes to 0.
//!   - `none`: raw scores, for lists already on one scale.
//!
//!   A document a list did not return gets that list's **lowest normalized
//!   value** (0 for min-max; the lowest z-score; the lowest raw score): its
//!   true score is below the list's cut-off, and the lowest value seen is
//!   the best estimate that does not reward absence. Treating it as 0 would
//!   be wrong for z-scores, where 0 is the mean: a document missing from a
//!   list would then beat one the list ranked below average. An empty list
//!   contributes nothing to anyone.
//! - **DBSF** (distribution-based score fusion, as in Qdrant): each list is
//!   normalized with `(s - (μ - 3σ)) / ((μ + 3σ) - (μ - 3σ))`, σ the sample
//!   standard deviation, so outliers do not stretch the scale the way they
//!   do with min-max; the normalized scores are summed. As in Qdrant a list
//!   with one hit or σ = 0 normalizes to 0.5, and a missing document adds 0.
//!
//! Fused lists are sorted best first with equal scores ordered by id, so a
//! fusion is deterministic.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::candidate::{best_first, rank_list, Candidate, StageScore};
use crate::error::FusionError;

/// RRF's constant when none is given, the value of the original paper.
pub const DEFAULT_RRF_K: f32 = 60.0;

/// The fusion names of the pipeline language, reserved: no stage may be
/// called so.
pub const FUSION_NAMES: [&str; 3] = ["rrf", "weighted", "dbsf"];

/// How a weighted fusion puts each list's scores on a common scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Normalization {
    /// `(s - min) / (max - min)`.
    #[default]
    MinMax,
    /// `(s - μ) / σ`.
    ZScore,
    /// The raw scores.
    None,
}

impl Normalization {
    /// The name used in the pipeline language (`norm=zscore`).
    pub fn name(self) -> &'static str {
        match self {
            Normalization::MinMax => "minmax",
            Normalization::ZScore => "zscore",
            Normalization::None => "none",
        }
    }

    /// Reads a name of the pipeline language, ignoring ASCII case.
    pub fn from_name(name: &str) -> Option<Normalization> {
        [
            Normalization::MinMax,
            Normalization::ZScore,
            Normalization::None,
        ]
        .into_iter()
        .find(|n| n.name().eq_ignore_ascii_case(name))
    }
}

/// A way to fuse several ranked lists into one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Fusion {
    /// Reciprocal rank fusion.
    Rrf {
        /// The constant added to every rank; larger values flatten the
        /// advantage of the top ranks.
        #[serde(default = "default_rrf_k")]
        k: f32,
    },
    /// Weighted sum of normalized scores.
    Weighted {
        /// One weight per list, in the order of the lists.
        weights: Vec<f32>,
        /// How scores are normalized before weighting.
        #[serde(default)]
        normalization: Normalization,
    },
    /// Distribution-based score fusion.
    Dbsf,
}

fn default_rrf_k() -> f32 {
    DEFAULT_RRF_K
}

impl Default for Fusion {
    /// RRF with k = 60: it needs no tuning, which makes it the safe default.
    fn default() -> Self {
        Fusion::Rrf { k: DEFAULT_RRF_K }
    }
}

impl Fusion {
    /// The name used in the pipeline language and in [`StageScore::stage`].
    pub fn name(&self) -> &'static str {
        match self {
            Fusion::Rrf { .. } => "rrf",
            Fusion::Weighted { .. } => "weighted",
            Fusion::Dbsf => "dbsf",
        }
    }

    /// Whether this fusion can fuse `lists` lists: weights must be one per
    /// list, finite and not negative; RRF's k finite and not negative.
    pub fn check(&self, lists: usize) -> Result<(), FusionError> {
        match self {
            Fusion::Rrf { k } if !(k.is_finite() && *k >= 0.0) => {
                Err(FusionError::InvalidK { k: *k })
            }
            Fusion::Weighted { weights, .. } => {
                if weights.len() != lists {
                    return Err(FusionError::WeightCount {
                        weights: weights.len(),
                        lists,
                    });
                }
                match weights
                    .iter()
                    .enumerate()
                    .find(|(_, w)| !(w.is_finite() && **w >= 0.0))
                {
                    Some((index, &weight)) => Err(FusionError::InvalidWeight { index, weight }),
                    None => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }

    /// Fuses `lists` — `(stage name, [(id, score)])`, in any order — into one
    /// list, best first. Each candidate's [`Candidate::stages`] holds its
    /// raw score and 1-based rank in every list that returned it, in list
    /// order; its score is the fused score.
    pub fn fuse(
        &self,
        lists: &[(String, Vec<(String, f32)>)],
    ) -> Result<Vec<Candidate>, FusionError> {
        self.check(lists.len())?;
        for (name, hits) in lists {
            if let Some((id, _)) = hits.iter().find(|(_, s)| s.is_nan()) {
                return Err(FusionError::NanScore {
                    list: name.clone(),
                    id: id.clone(),
                });
            }
        }
        let ranked: Vec<Vec<(String, f32)>> =
            lists.iter().map(|(_, h)| rank_list(h.clone())).collect();

        // Every document starts from `base` (what all lists give a
        // document they did not return) and adds, per list that returned
        // it, the difference between its value and that floor.
        let mut base = 0.0_f64;
        let mut fused: HashMap<&str, (f64, Vec<StageScore>)> = HashMap::new();
        for (i, ((name, _), hits)) in lists.iter().zip(&ranked).enumerate() {
            let (values, floor) = self.contributions(i, hits);
            base += floor;
            for (rank0, ((id, score), value)) in hits.iter().zip(values).enumerate() {
                let entry = fused.entry(id.as_str()).or_default();
                entry.0 += value - floor;
                entry.1.push(StageScore {
                    stage: name.clone(),
                    score: *score,
                    rank: rank0 + 1,
                });
            }
        }
        let mut out: Vec<Candidate> = fused
            .into_iter()
            .map(|(id, (delta, stages))| Candidate {
                id: id.to_string(),
                score: (base + delta) as f32,
                stages,
            })
            .collect();
        out.sort_by(|a, b| best_first((&a.id, a.score), (&b.id, b.score)));
        Ok(out)
    }

    /// The weighted value each hit of list `i` contributes, and the value
    /// the list contributes to a document it did not return.
    fn contributions(&self, i: usize, hits: &[(String, f32)]) -> (Vec<f64>, f64) {
        let scores: Vec<f64> = hits.iter().map(|(_, s)| f64::from(*s)).collect();
        if scores.is_empty() {
            return (Vec::new(), 0.0);
        }
        match self {
            Fusion::Rrf { k } => {
                let k = f64::from(*k);
                let values = (1..=scores.len())
                    .map(|rank| 1.0 / (k + rank as f64))
                    .collect();
                (values, 0.0)
            }
            Fusion::Weighted {
                weights,
                normalization,
            } => {
                let w = weights.get(i).copied().map_or(0.0, f64::from);
                let values = normalize(&scores, *normalization);
                let floor = match normalization {
                    Normalization::MinMax => 0.0,
                    Normalization::ZScore | Normalization::None => {
                        values.iter().copied().fold(f64::INFINITY, f64::min)
                    }
                };
                (values.into_iter().map(|v| w * v).collect(), w * floor)
            }
            Fusion::Dbsf => (dbsf_normalize(&scores), 0.0),
        }
    }
}

/// Fuses `lists` with `fusion`; see [`Fusion::fuse`].
pub fn fuse(
    lists: &[(String, Vec<(String, f32)>)],
    fusion: &Fusion,
) -> Result<Vec<Candidate>, FusionError> {
    fusion.fuse(lists)
}

fn normalize(scores: &[f64], normalization: Normalization) -> Vec<f64> {
    match normalization {
        Normalization::MinMax => {
            let min = scores.iter().copied().fold(f64::INFINITY, f64::min);
            let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let range = max - min;
            // A constant list has no spread to scale; its documents are
            // its best, so they get the top of the range.
            if range > 0.0 && range.is_finite() {
                scores.iter().map(|s| (s - min) / range).collect()
            } else {
                vec![1.0; scores.len()]
            }
        }
        Normalization::ZScore => {
            let (mean, variance) = mean_variance(scores, 0);
            let sd = variance.sqrt();
            if sd > 0.0 && sd.is_finite() {
                scores.iter().map(|s| (s - mean) / sd).collect()
            } else {
                vec![0.0; scores.len()]
            }
        }
        Normalization::None => scores.to_vec(),
    }
}

/// Qdrant's DBSF normalization: μ ± 3σ (sample σ) mapped to [0, 1].
fn dbsf_normalize(scores: &[f64]) -> Vec<f64> {
    if scores.len() < 2 {
        return vec![0.5; scores.len()];
    }
    let (mean, variance) = mean_variance(scores, 1);
    let sd = variance.sqrt();
    if !(sd > 0.0 && sd.is_finite()) {
        return vec![0.5; scores.len()];
    }
    let low = mean - 3.0 * sd;
    let high = mean + 3.0 * sd;
    scores.iter().map(|s| (s - low) / (high - low)).collect()
}

/// Mean and variance with `ddof` delta degrees of freedom (0: population,
/// 1: sample). Two passes: the lists are short and this is exact enough.
fn mean_variance(scores: &[f64], ddof: usize) -> (f64, f64) {
    let n = scores.len() as f64;
    let mean = scores.iter().sum::<f64>() / n;
    let squares: f64 = scores.iter().map(|s| (s - mean).powi(2)).sum();
    let dof = (scores.len() - ddof.min(scores.len().saturating_sub(1))) as f64;
    (mean, squares / dof)
}

impl fmt::Display for Fusion {
    /// The pipeline-language form: `rrf`, `rrf(k=40)`, `weighted(0.7, 0.3)`,
    /// `weighted(0.5, 0.5, norm=zscore)`, `dbsf`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fusion::Rrf { k } if *k == DEFAULT_RRF_K => f.write_str("rrf"),
            Fusion::Rrf { k } => write!(f, "rrf(k={k})"),
            Fusion::Weighted {
                weights,
                normalization,
            } => {
                f.write_str("weighted(")?;
                for (i, w) in weights.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{w}")?;
                }
                if *normalization != Normalization::default() {
                    if !weights.is_empty() {
                        f.write_str(", ")?;
                    }
                    write!(f, "norm={}", normalization.name())?;
                }
                f.write_str(")")
            }
            Fusion::Dbsf => f.write_str("dbsf"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(name: &str, hits: &[(&str, f32)]) -> (String, Vec<(String, f32)>) {
        (
            name.to_string(),
            hits.iter().map(|(id, s)| (id.to_string(), *s)).collect(),
        )
    }

    fn scores(c: &[Candidate]) -> Vec<(&str, f32)> {
        c.iter().map(|c| (c.id.as_str(), c.score)).collect()
    }

    fn assert_scores(actual: &[Candidate], expected: &[(&str, f64)]) {
        assert_eq!(actual.len(), expected.len(), "{:?}", scores(actual));
        for (c, (id, s)) in actual.iter().zip(expected) {
            assert_eq!(c.id, *id, "{:?}", scores(actual));
            assert!(
                (f64::from(c.score) - s).abs() < 1e-6,
                "{id}: {} != {s} in {:?}",
                c.score,
                scores(actual)
            );
        }
    }

    /// A: d1 > d2 > d3; B: d3 > d1.
    fn two_lists() -> Vec<(String, Vec<(String, f32)>)> {
        vec![
            list("a", &[("d2", 6.0), ("d1", 10.0), ("d3", 2.0)]),
            list("b", &[("d3", 0.9), ("d1", 0.1)]),
        ]
    }

    #[test]
    fn rrf_sums_reciprocal_ranks() {
        let fused = fuse(&two_lists(), &Fusion::default()).unwrap();
        // d1: ranks 1 and 2; d3: ranks 3 and 1; d2: rank 2 in A only.
        assert_scores(
            &fused,
            &[
                ("d1", 1.0 / 61.0 + 1.0 / 62.0),
                ("d3", 1.0 / 63.0 + 1.0 / 61.0),
                ("d2", 1.0 / 62.0),
            ],
        );
        let d3 = &fused[1];
        assert_eq!(
            d3.stages,
            vec![
                StageScore {
                    stage: "a".into(),
                    score: 2.0,
                    rank: 3
                },
                StageScore {
                    stage: "b".into(),
                    score: 0.9,
                    rank: 1
                },
            ]
        );
        let fused = fuse(&two_lists(), &Fusion::Rrf { k: 0.0 }).unwrap();
        assert_scores(&fused, &[("d1", 1.5), ("d3", 1.0 + 1.0 / 3.0), ("d2", 0.5)]);
    }

    #[test]
    fn weighted_min_max_gives_missing_documents_zero() {
        let lists = vec![
            list("dense", &[("d1", 10.0), ("d2", 6.0), ("d3", 2.0)]),
            list("bm25", &[("d3", 0.9), ("d4", 0.5), ("d1", 0.1)]),
        ];
        let fusion = Fusion::Weighted {
            weights: vec![0.7, 0.3],
            normalization: Normalization::MinMax,
        };
        // dense: d1 1, d2 .5, d3 0; bm25: d3 1, d4 .5, d1 0.
        assert_scores(
            &fuse(&lists, &fusion).unwrap(),
            &[("d1", 0.7), ("d2", 0.35), ("d3", 0.3), ("d4", 0.15)],
        );
    }

    #[test]
    fn min_max_of_a_constant_list_does_not_divide_by_zero() {
        let lists = vec![
            list("a", &[("d2", 5.0), ("d1", 5.0)]),
            list("b", &[("d3", 1.0)]),
            list("c", &[]),
        ];
        let fusion = Fusion::Weighted {
            weights: vec![0.5, 0.25, 1.0],
            normalization: Normalization::MinMax,
        };
        let fused = fuse(&lists, &fusion).unwrap();
        assert!(fused.iter().all(|c| c.score.is_finite()));
        assert_scores(&fused, &[("d1", 0.5), ("d2", 0.5), ("d3", 0.25)]);
    }

    #[test]
    fn z_score_uses_the_lowest_z_for_missing_documents() {
        // A: 3, 2, 1: μ 2, σ √(2/3), z ±1.2247449. B: 4, 0: μ 2, σ 2, z ±1.
        let lists = vec![
            list("a", &[("d1", 3.0), ("d2", 2.0), ("d3", 1.0)]),
            list("b", &[("d2", 4.0), ("d4", 0.0)]),
        ];
        let fusion = Fusion::Weighted {
            weights: vec![1.0, 1.0],
            normalization: Normalization::ZScore,
        };
        let z = 1.5_f64.sqrt();
        assert_scores(
            &fuse(&lists, &fusion).unwrap(),
            &[
                ("d2", 1.0),
                ("d1", z - 1.0),
                // d3 and d4 tie at -z - 1: ordered by id.
                ("d3", -z - 1.0),
                ("d4", -z - 1.0),
            ],
        );
        // A constant list has no spread: everything in it is 0.
        let flat = vec![list("a", &[("d1", 2.0), ("d2", 2.0)]), list("b", &[])];
        let fused = fuse(
            &flat,
            &Fusion::Weighted {
                weights: vec![1.0, 1.0],
                normalization: Normalization::ZScore,
            },
        )
        .unwrap();
        assert_scores(&fused, &[("d1", 0.0), ("d2", 0.0)]);
    }

    #[test]
    fn raw_weighted_scores_use_the_list_minimum_for_missing_documents() {
        let lists = vec![
            list("a", &[("d1", 0.9), ("d2", 0.5)]),
            list("b", &[("d2", 12.0), ("d3", 4.0)]),
        ];
        let fusion = Fusion::Weighted {
            weights: vec![1.0, 0.1],
            normalization: Normalization::None,
        };
        assert_scores(
            &fuse(&lists, &fusion).unwrap(),
            &[("d2", 1.7), ("d1", 1.3), ("d3", 0.9)],
        );
    }

    #[test]
    fn dbsf_maps_three_sigma_to_the_unit_interval() {
        let lists = vec![
            list("a", &[("d1", 3.0), ("d2", 2.0), ("d3", 1.0)]),
            list("b", &[("d2", 4.0), ("d4", 0.0)]),
            list("c", &[("d5", 7.0)]),
        ];
        // A: μ 2, sample σ 1 → [-1, 5]: 4/6, 3/6, 2/6.
        // B: μ 2, sample σ √8 → [2 - 3√8, 2 + 3√8].
        // C: one hit → 0.5.
        let s8 = 8.0_f64.sqrt();
        let b = |s: f64| (s - (2.0 - 3.0 * s8)) / (6.0 * s8);
        assert_scores(
            &fuse(&lists, &Fusion::Dbsf).unwrap(),
            &[
                ("d2", 0.5 + b(4.0)),
                ("d1", 4.0 / 6.0),
                ("d5", 0.5),
                ("d4", b(0.0)),
                ("d3", 2.0 / 6.0),
            ],
        );
    }

    #[test]
    fn bad_parameters_and_nan_scores_are_errors() {
        let weighted = |weights: Vec<f32>| Fusion::Weighted {
            weights,
            normalization: Normalization::MinMax,
        };
        assert_eq!(
            fuse(&two_lists(), &weighted(vec![0.7, 0.2, 0.1])).unwrap_err(),
            FusionError::WeightCount {
                weights: 3,
                lists: 2
            }
        );
        let e = fuse(&two_lists(), &weighted(vec![0.7, -0.3])).unwrap_err();
        assert!(e.to_string().contains("weight 1"), "{e}");
        let e = fuse(&two_lists(), &Fusion::Rrf { k: f32::NAN }).unwrap_err();
        assert!(matches!(e, FusionError::InvalidK { .. }), "{e}");
        let nan = vec![list("a", &[("d1", 1.0), ("d2", f32::NAN)])];
        assert_eq!(
            fuse(&nan, &Fusion::Dbsf).unwrap_err(),
            FusionError::NanScore {
                list: "a".into(),
                id: "d2".into()
            }
        );
    }

    #[test]
    fn fusing_nothing_gives_nothing() {
        assert!(fuse(&[], &Fusion::default()).unwrap().is_empty());
        let empty = vec![list("a", &[]), list("b", &[])];
        for f in [Fusion::default(), Fusion::Dbsf] {
            assert!(fuse(&empty, &f).unwrap().is_empty());
        }
    }

    #[test]
    fn display_is_the_pipeline_syntax() {
        assert_eq!(Fusion::default().to_string(), "rrf");
        assert_eq!(Fusion::Rrf { k: 40.5 }.to_string(), "rrf(k=40.5)");
        let w = Fusion::Weighted {
            weights: vec![0.7, 0.3],
            normalization: Normalization::ZScore,
        };
        assert_eq!(w.to_string(), "weighted(0.7, 0.3, norm=zscore)");
        assert_eq!(
            Normalization::from_name("MinMax"),
            Some(Normalization::MinMax)
        );
        assert_eq!(Normalization::from_name("l2"), None);
    }

    #[test]
    fn json_form() {
        let f: Fusion = serde_json::from_str(r#"{"rrf": {}}"#).unwrap();
        assert_eq!(f, Fusion::default());
        let f: Fusion = serde_json::from_str(
            r#"{"weighted": {"weights": [0.7, 0.3], "normalization": "zscore"}}"#,
        )
        .unwrap();
        assert_eq!(f.to_string(), "weighted(0.7, 0.3, norm=zscore)");
        let f: Fusion = serde_json::from_str(r#""dbsf""#).unwrap();
        assert_eq!(f, Fusion::Dbsf);
    }
}
