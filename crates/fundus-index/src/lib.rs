//! Vector indexes of Fundus.
//!
//! [`FlatIndex`] is exact search over a contiguous block of vectors. It is
//! the ground truth every approximate index is measured against, and below a
//! few ten thousand vectors it is also the fastest.
//!
//! [`QuantizedFlatIndex`] scans compact codes instead ([`Quantization`]:
//! float16, int8, binary) and re-scores an oversampled candidate set against
//! the original floats ([`SearchParams`]), trading a little recall for a
//! scan that reads 2 to 32 times fewer bytes.
//!
//! [`HnswIndex`] is approximate search on an HNSW graph for collections too
//! large to scan: incremental inserts, immediate deletes, filters applied
//! inside the graph traversal, per-query `ef_search` ([`HnswParams`]). f32
//! graphs run on Fundus' own [`NativeHnsw`] (hnswlib's layout, faster than
//! usearch for floats); graphs of quantized codes (float16, int8, binary)
//! run on usearch and re-score an oversampled candidate set against the
//! floats of a [`VectorSource`].
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
mod graph_codec;
pub mod hnsw;
pub mod native_hnsw;
pub mod quantization;
#[cfg(test)]
pub(crate) mod testdata;
pub mod vector_source;

pub use error::IndexError;
pub use flat::FlatIndex;
pub use fundus_core::TopK;
pub use hnsw::{HnswIndex, HnswParams};
pub use native_hnsw::NativeHnsw;
pub use quantization::{MemoryUsage, Quantization, QuantizedFlatIndex, SearchParams};
pub use vector_source::VectorSource;
