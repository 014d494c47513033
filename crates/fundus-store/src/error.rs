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
    #[error("invalid alias name {0:?}: use letters, digits, '-', '_' and '.' (not leading)")]
    InvalidAliasName(String),
    #[error("unknown alias {name:?} (aliases: {available})")]
    UnknownAlias { name: String, available: String },
    /// An alias and a collection would share a name, a deleted collection
    /// would leave an alias dangling, or an alias would point at an alias.
    #[error("{name:?}: {reason}")]
    AliasConflict { name: String, reason: String },
    /// A snapshot file that cannot be restored; `reason` says which entry
    /// and what is wrong with it.
    #[error("snapshot {path} cannot be restored: {reason}")]
    BadSnapshot { path: PathBuf, reason: String },
    /// Flushes kept replacing the collection's segments while a snapshot
    /// copied them.
    #[error("collection {name:?} changed under {attempts} snapshot attempts in a row (flushes kept replacing its segments); try again")]
    SnapshotBusy { name: String, attempts: usize },
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
    /// A query was embedded by another model than the collection's vectors:
    /// the scores would be meaningless.
    #[error("collection {collection:?} holds vectors of model {expected} (sha256 {expected_sha256}); the query was embedded by {received} (sha256 {received_sha256}). Search with the collection's model, or re-ingest into a new collection and switch an alias")]
    ModelMismatch {
        collection: String,
        expected: String,
        expected_sha256: String,
        received: String,
        received_sha256: String,
    },
    #[error("vector of document {doc_id:?} (chunk {chunk}): {source}")]
    BadVector {
        doc_id: String,
        chunk: u32,
        #[source]
        source: fundus_core::CoreError,
    },
    /// A sparse vector that breaks the rules of
    /// [`check_vector`](crate::sparse_vectors::check_vector).
    #[error("sparse vector {vector:?} of document {doc_id:?} (chunk {chunk}): {problem}")]
    BadSparseVector {
        doc_id: String,
        chunk: u32,
        vector: String,
        problem: crate::sparse_vectors::SparseVectorProblem,
    },
    /// A point carries a sparse vector the collection was not created with.
    #[error("document {doc_id:?} (chunk {chunk}) has a sparse vector {vector:?}, but collection {collection:?} has {configured}")]
    UnknownSparseVector {
        collection: String,
        doc_id: String,
        chunk: u32,
        vector: String,
        configured: String,
    },
    /// A sparse search (or query model check) names a vector the
    /// collection does not have.
    #[error("collection {collection:?} has no sparse vector {vector:?} (it has {configured}); sparse vectors are chosen when a collection is created, e.g. `fundus collection create NAME --splade-model splade-tiny`, then ingest into it")]
    NoSparseVector {
        collection: String,
        vector: String,
        configured: String,
    },
    #[error("payload of document {doc_id:?} is {found}; a payload must be a JSON object")]
    PayloadNotObject { doc_id: String, found: &'static str },
    #[error("invalid collection config: {0}")]
    InvalidConfig(String),
    #[error("collection {0:?} has no text index for BM25 (create it with one: `fundus collection create NAME --analyzer english`)")]
    NoTextIndex(String),
    #[error(transparent)]
    Sparse(#[from] fundus_sparse::SparseError),
    /// A background merge failed; the segments it read are untouched.
    #[error("merging segments failed: {0}")]
    Merge(String),
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
