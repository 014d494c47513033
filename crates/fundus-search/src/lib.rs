//! Hybrid search: pipelines of retrieval stages, fused and re-scored.
//!
//! No single retriever is best: dense embeddings find paraphrases and miss
//! product codes, BM25 the other way round, and a cross-encoder is too slow
//! to run on a whole collection. Good search chains them — retrieve many
//! cheaply, fuse, re-score few expensively — and which chain is best is an
//! empirical question. This crate makes the chain a value a user can write,
//! measure (`fundus eval --pipeline …`) and explain:
//!
//! - [`Pipeline`]: the chain, written `bm25(1000) -> dense(100) -> 10` or
//!   `(dense(100) + bm25(100)) -> rrf -> 10` (grammar in [`pipeline`]), or
//!   as JSON; built-in [`NAMED`] pipelines (`hybrid` is the default).
//! - [`Fusion`]: RRF, weighted linear fusion with min-max / z-score
//!   normalization, DBSF ([`fusion`] has the formulas and the choices).
//! - [`Retriever`] / [`Rescorer`]: the traits a stage implements. This crate
//!   knows no index and no model: the binary registers its stages in a
//!   [`StageRegistry`], and a new stage (cross-encoder, ColBERT) is a new
//!   implementation, not a change here.
//! - [`Runner`]: runs a pipeline for one query or a batch; every
//!   [`Candidate`] keeps each stage's score and rank ([`StageScore`]), and
//!   every stage's time is reported ([`StageTiming`]).
//!
//! ```
//! use std::sync::Arc;
//! use fundus_search::{Pipeline, Query, Retriever, Runner, Stage, StageError, StageRegistry};
//!
//! /// A retriever over a fixed list, standing in for a dense index or BM25.
//! struct Fixed {
//!     name: &'static str,
//!     hits: Vec<(&'static str, f32)>,
//! }
//!
//! impl Stage for Fixed {
//!     fn name(&self) -> &str {
//!         self.name
//!     }
//! }
//!
//! impl Retriever for Fixed {
//!     fn retrieve(&self, _query: &Query, k: usize) -> Result<Vec<(String, f32)>, StageError> {
//!         Ok(self.hits.iter().take(k).map(|(id, s)| (id.to_string(), *s)).collect())
//!     }
//! }
//!
//! let mut registry = StageRegistry::new();
//! registry.add_retriever(Arc::new(Fixed { name: "a", hits: vec![("d1", 0.9), ("d2", 0.8), ("d3", 0.1)] }))?;
//! registry.add_retriever(Arc::new(Fixed { name: "b", hits: vec![("d3", 12.0), ("d1", 7.5), ("d4", 1.0)] }))?;
//!
//! let pipeline = Pipeline::parse("(a(10) + b(10)) -> rrf -> 3")?;
//! let runner = Runner::new(&registry, pipeline)?;
//! let out = runner.run(&Query::new("cold storage for vaccines"))?;
//! for c in &out.candidates {
//!     println!("{} {:.4}   {}", c.id, c.score, c.explain());
//! }
//! // d1: 1st in a, 2nd in b; d3: 3rd in a, 1st in b; d2 and d4 in one list each.
//! let ids: Vec<&str> = out.candidates.iter().map(|c| c.id.as_str()).collect();
//! assert_eq!(ids, ["d1", "d3", "d2"]);
//! assert_eq!(out.candidates[0].explain(), "a #1 0.9000 | b #2 7.5000 | rrf #1 0.0325");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod candidate;
mod error;
mod registry;
mod runner;
mod stage;

pub mod fusion;
pub mod pipeline;

pub use candidate::{Candidate, StageScore};
pub use error::{FusionError, PipelineError, RegistryError, SearchError, StageError, StageRole};
pub use fusion::{fuse, Fusion, Normalization, DEFAULT_RRF_K, FUSION_NAMES};
pub use pipeline::{Pipeline, Source, StageCall, Step, DEFAULT_PIPELINE, MAX_DEPTH, NAMED};
pub use registry::StageRegistry;
pub use runner::{BatchOutput, Runner, SearchOutput, StageTiming};
pub use stage::{retrieve_one, Query, Rescorer, Retriever, Stage};
