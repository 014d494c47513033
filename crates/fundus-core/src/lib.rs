//! The shared vocabulary of Fundus.
//!
//! Every other crate speaks in these types: a [`Document`] is what a user
//! hands in, a [`Chunk`] is the piece of it a model actually sees, a [`Hit`]
//! is what a search hands back, and a [`Metric`] says how two vectors are
//! compared. The distance kernels live here too, because the index, the
//! store and the evaluation all need the same fast dot product.
//!
//! ```
//! use fundus_core::{distance, Metric};
//!
//! let a = [0.6_f32, 0.8, 0.0];
//! let b = [0.6_f32, 0.8, 0.0];
//! assert!((distance::dot(&a, &b) - 1.0).abs() < 1e-6);
//! // Scores are always "higher is better", also for euclidean distance.
//! assert!(Metric::Euclidean.score(&a, &b) > Metric::Euclidean.score(&a, &[0.0, 0.0, 1.0]));
//! ```

pub mod chunk;
pub mod corpus;
pub mod distance;
pub mod document;
pub mod error;
pub mod filter;
pub mod hit;
pub mod metric;
pub mod reduction;
pub mod simd;
pub mod topk;

pub use chunk::Chunk;
pub use document::Document;
pub use error::CoreError;
pub use filter::Filter;
pub use hit::Hit;
pub use metric::Metric;
pub use reduction::Reduction;
pub use topk::TopK;
