//! Errors of the shared types.

use thiserror::Error;

#[derive(Debug, Error, PartialEq)]
pub enum CoreError {
    #[error("unknown metric {0:?}: expected one of cosine, dot, euclidean")]
    UnknownMetric(String),
    #[error("wrong vector dimension: expected {expected}, received {received}")]
    WrongVectorDimension { expected: usize, received: usize },
    #[error("vector component {index} is not finite ({value})")]
    NonFiniteComponent { index: usize, value: f32 },
    #[error("dimension reduction: {0}")]
    Reduction(String),
}
