//! Errors of the indexes.

use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error, PartialEq)]
pub enum IndexError {
    #[error(transparent)]
    Core(#[from] fundus_core::CoreError),
    #[error("vector data of {len} floats is not a multiple of dimension {dim}")]
    RaggedData { len: usize, dim: usize },
    #[error("{quantization} quantization needs at least one training vector to learn its ranges")]
    EmptyTrainingSet { quantization: &'static str },
    #[error(
        "quantile {0} is out of range: expected a value above 0.5 and at most 1.0 (e.g. 0.99)"
    )]
    InvalidQuantile(f32),
    #[error("oversampling {0} is out of range: expected a finite factor of at least 1.0")]
    InvalidOversampling(f32),
    #[error("cannot rescore: this index was built without its original float vectors (search with rescore off)")]
    NoOriginals,
    /// An exception thrown by usearch's C++ core (out of memory, a broken
    /// invariant), passed on with its message.
    #[error("HNSW index (usearch): {0}")]
    Hnsw(String),
    #[error("HNSW parameter {name} = {value} is out of range: expected {expected}")]
    InvalidHnswParameter {
        name: &'static str,
        value: usize,
        expected: &'static str,
    },
    #[error("HNSW index file {}: {message}", path.display())]
    HnswFile { path: PathBuf, message: String },
    #[error("key {0} is reserved by the HNSW index (it marks removed entries)")]
    ReservedKey(u64),
    #[error("{keys} keys but {floats} floats: expected {dim} floats per key")]
    KeyCountMismatch {
        keys: usize,
        floats: usize,
        dim: usize,
    },
}
