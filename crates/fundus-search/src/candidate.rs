//! What flows between stages: a document id, its current score, and the
//! score and rank every earlier stage gave it.
//!
//! Keeping the whole history is what makes a hybrid result explainable
//! (`--explain`): a document at rank 1 after RRF can be seen to have been
//! 3rd for BM25 and 1st for dense, or to have come from one list only.

use std::cmp::Ordering;
use std::collections::HashSet;
use std::fmt::Write;

use serde::{Deserialize, Serialize};

/// One stage's verdict on a candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageScore {
    /// The stage's name as written in the pipeline (`bm25`, `dense`, `rrf`).
    pub stage: String,
    /// The score that stage gave (higher is better; not comparable across stages).
    pub score: f32,
    /// 1-based position in that stage's list, best first.
    pub rank: usize,
}

/// A document on its way through a pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// The document id.
    pub id: String,
    /// The score of the last stage that scored it; the list is ordered by it.
    pub score: f32,
    /// Every stage that scored it, in the order they ran. A candidate that
    /// came through a fusion carries the histories of all the branches that
    /// found it, then the fusion's own entry.
    pub stages: Vec<StageScore>,
}

impl Candidate {
    /// The last entry of the stage called `name`, if that stage scored it.
    pub fn stage(&self, name: &str) -> Option<&StageScore> {
        self.stages.iter().rev().find(|s| s.stage == name)
    }

    /// One line saying how the candidate got its place:
    /// `bm25 #3 12.4100 | dense #1 0.8312 | rrf #1 0.0325`.
    pub fn explain(&self) -> String {
        let mut out = String::new();
        for (i, s) in self.stages.iter().enumerate() {
            if i > 0 {
                out.push_str(" | ");
            }
            // Writing to a String cannot fail.
            let _ = write!(out, "{} #{} {:.4}", s.stage, s.rank, s.score);
        }
        out
    }
}

/// The order of every list in this crate: higher score first, equal scores
/// by id so that results do not depend on hash-map order or on the order a
/// stage happened to return ties in.
pub(crate) fn best_first(a: (&str, f32), b: (&str, f32)) -> Ordering {
    b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0))
}

/// Sorts a stage's raw output best first and keeps the best entry of each
/// id, so a stage that returns a document twice (two chunks) cannot give it
/// two ranks.
pub(crate) fn rank_list(mut hits: Vec<(String, f32)>) -> Vec<(String, f32)> {
    hits.sort_by(|a, b| best_first((&a.0, a.1), (&b.0, b.1)));
    let mut seen = HashSet::with_capacity(hits.len());
    hits.retain(|(id, _)| seen.insert(id.clone()));
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranking_sorts_breaks_ties_by_id_and_drops_duplicates() {
        let list = rank_list(vec![
            ("b".into(), 1.0),
            ("c".into(), 2.0),
            ("a".into(), 1.0),
            ("c".into(), 0.5),
        ]);
        assert_eq!(
            list,
            vec![("c".into(), 2.0), ("a".into(), 1.0), ("b".into(), 1.0)]
        );
    }

    #[test]
    fn explain_lists_every_stage() {
        let c = Candidate {
            id: "d1".into(),
            score: 0.5,
            stages: vec![
                StageScore {
                    stage: "bm25".into(),
                    score: 12.41,
                    rank: 3,
                },
                StageScore {
                    stage: "dense".into(),
                    score: 0.5,
                    rank: 1,
                },
            ],
        };
        assert_eq!(c.explain(), "bm25 #3 12.4100 | dense #1 0.5000");
        assert_eq!(c.stage("bm25").map(|s| s.rank), Some(3));
        assert!(c.stage("rrf").is_none());
    }
}
