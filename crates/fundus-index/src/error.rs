//! Errors of the indexes.

use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error, PartialEq)]
pub enum IndexError {
    #[error(transparent)]
    Core(#[from] fundus_core::CoreError),
    #[error("vector data of {len} floats is not a multiple of dimension {dim}")]
    RaggedData { len: usize, dim: usize },
    #[error("{quantization} quantization needs at least one training vector to learn from")]
    EmptyTrainingSet { quantization: &'static str },
    #[error(
        "quantile {0} is out of range: expected a value above 0.5 and at most 1.0 (e.g. 0.99)"
    )]
    InvalidQuantile(f32),
    #[error("oversampling {0} is out of range: expected a finite factor of at least 1.0")]
    InvalidOversampling(f32),
    #[error(
        "binary quantization bits = {0} is out of range: expected 1 or 2 \
         (2 for embeddings of fewer than ~1024 dimensions)"
    )]
    InvalidBinaryBits(u8),
    #[error("product quantization subvectors = {0} is out of range: expected at least 1")]
    InvalidSubvectors(usize),
    /// Product quantization cuts every vector into equal slices, so the
    /// subvector count must divide the dimension.
    #[error(
        "product quantization cannot split dimension {dim} into {subvectors} subvectors: \
         {subvectors} does not divide {dim} (the nearest count that does is {suggestion})"
    )]
    SubvectorsDoNotDivide {
        dim: usize,
        subvectors: usize,
        suggestion: usize,
    },
    #[error(
        "product quantizer codebooks hold {floats} floats, expected {expected} \
         (256 centroids per dimension), with 1 to 256 learned centroids (got {centroids})"
    )]
    InvalidCodebooks {
        floats: usize,
        expected: usize,
        centroids: usize,
    },
    #[error("cannot rescore: this index was built without its original float vectors (search with rescore off)")]
    NoOriginals,
    #[error("cannot rescore: no original vector for key {0}")]
    MissingOriginal(u64),
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
    #[error("{0} quantization is not available for the HNSW graph (use it with exact search)")]
    UnsupportedGraphQuantization(&'static str),
    #[error("key {0} is reserved by the HNSW index (it marks removed entries)")]
    ReservedKey(u64),
    #[error("{keys} keys but {floats} floats: expected {dim} floats per key")]
    KeyCountMismatch {
        keys: usize,
        floats: usize,
        dim: usize,
    },
}
