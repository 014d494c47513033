//! Vector indexes of Fundus.
//!
//! For now one index: [`FlatIndex`], exact search over a contiguous block of
//! vectors. It is the ground truth every approximate index is measured
//! against, and below a few ten thousand vectors it is also the fastest.
//!
//! ```
//! use fundus_core::Metric;
//! use fundus_index::FlatIndex;
//!
//! let mut index = FlatIndex::new(2, Metric::Cosine);
//! index.add(&[1.0, 0.0]).unwrap();
//! index.add(&[0.0, 1.0]).unwrap();
//! let hits = index.search(&[0.9, 0.1], 1).unwrap();
//! assert_eq!(hits[0].0, 0);
//! ```

pub mod error;
pub mod flat;
pub mod topk;

pub use error::IndexError;
pub use flat::FlatIndex;
pub use topk::TopK;
