//! Errors of the store.

use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("unknown collection {name:?} (collections: {available})")]
    UnknownCollection { name: String, available: String },
    #[error("collection {0:?} already exists")]
    AlreadyExists(String),
    #[error("invalid collection name {0:?}: use letters, digits, '-', '_' and '.' (not leading)")]
    InvalidName(String),
    #[error("collection {name:?} is being written by another process (lock {path})")]
    Locked { name: String, path: PathBuf },
    #[error("{path} is corrupt: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{count} points but {vectors} vectors: each point needs exactly one vector")]
    LengthMismatch { count: usize, vectors: usize },
    #[error(transparent)]
    Core(#[from] fundus_core::CoreError),
    #[error(transparent)]
    Index(#[from] fundus_index::IndexError),
    #[error(transparent)]
    Wal(#[from] crate::wal::WalError),
}

impl StoreError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StoreError::Io {
            path: path.into(),
            source,
        }
    }
}
