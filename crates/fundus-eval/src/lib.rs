//! Measuring retrieval quality the way the literature does.
//!
//! A number like "nDCG@10 = 0.68 on SciFact" means something only if it is
//! computed exactly as BEIR computes it: BEIR's dataset layout, and
//! pytrec_eval (trec_eval 9) definitions down to the tie-breaking of equal
//! scores. This crate reads the data ([`BeirDataset`], [`Qrels`], [`Run`]),
//! computes the measures with those definitions ([`evaluate`], checked
//! against pytrec_eval to 1e-6 in `tests/pytrec_parity.rs`), and provides
//! what is needed to look at embedders directly: STS correlations
//! ([`sts`]) and distributions of similarity values ([`SimilarityStats`],
//! [`Histogram`], [`histogram_svg`]).
//!
//! ```
//! use fundus_eval::{evaluate, Qrels, Run};
//!
//! let mut qrels = Qrels::new();
//! qrels.insert("q1", "d1", 2);
//! qrels.insert("q1", "d2", 1);
//!
//! let mut run = Run::new();
//! run.insert("q1", "d9", 0.9); // not relevant, ranked first
//! run.insert("q1", "d1", 0.8);
//! run.insert("q1", "d2", 0.8); // tie: trec_eval puts "d2" before "d1"
//!
//! let report = evaluate(&qrels, &run, &[1, 10]);
//! assert_eq!(report.mean("P@1"), Some(0.0));
//! assert_eq!(report.mean("MRR@10"), Some(0.5));
//! assert_eq!(report.mean("Recall@10"), Some(1.0));
//! let json = serde_json::to_string(&report.mean).unwrap();
//! assert!(json.starts_with(r#"{"NDCG@1":0.0,"NDCG@10":0.6"#), "{json}");
//! ```

mod error;
mod lines;

pub mod beir;
pub mod histogram;
pub mod measure;
pub mod metrics;
pub mod plot;
pub mod qrels;
pub mod ranking;
pub mod report;
pub mod run;
pub mod similarity;
pub mod sts;

pub use beir::{BeirDataset, CorpusDoc, Query};
pub use error::EvalError;
pub use histogram::Histogram;
pub use measure::Measure;
pub use metrics::{evaluate, evaluate_measures, JudgedRanking};
pub use plot::{histogram_svg, histogram_svg_labeled};
pub use qrels::Qrels;
pub use report::{Report, Scores};
pub use run::Run;
pub use similarity::SimilarityStats;
pub use sts::{pearson, spearman, StsPair};
