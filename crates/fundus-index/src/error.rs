//! Errors of the indexes.

use thiserror::Error;

#[derive(Debug, Error, PartialEq)]
pub enum IndexError {
    #[error(transparent)]
    Core(#[from] fundus_core::CoreError),
    #[error("vector data of {len} floats is not a multiple of dimension {dim}")]
    RaggedData { len: usize, dim: usize },
}
