//! The one error type of this crate.
//!
//! Sparse retrieval fails in three places: a setting the caller chose
//! (unknown analyzer, k1 out of range), a query that leaves nothing to
//! search for, and an index file on disk. Each message says which value,
//! which query or which file, so the fix is obvious from the message alone.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while analyzing, indexing, searching or
/// persisting with BM25.
#[derive(Debug, thiserror::Error)]
pub enum SparseError {
    /// An analyzer name that is not one of ours.
    #[error("unknown analyzer {name:?}: expected one of {known}")]
    UnknownAnalyzer {
        /// The name asked for.
        name: String,
        /// The known names, comma separated.
        known: String,
    },

    /// A BM25 parameter outside the range where the formula is defined.
    #[error("BM25 parameter {name} = {value} is out of range: expected {expected}")]
    InvalidParameter {
        /// `k1`, `b` or `delta`.
        name: &'static str,
        /// The value given.
        value: f32,
        /// The accepted range, in words.
        expected: &'static str,
    },

    /// The query has no term left after analysis (empty, only punctuation
    /// or only stop words), so no document can be ranked against it.
    #[error(
        "query {query:?} has no searchable terms after the {analyzer} analyzer \
         (empty, only punctuation or only stop words)"
    )]
    EmptyQuery {
        /// The query as given (cut to 200 characters).
        query: String,
        /// The analyzer's name.
        analyzer: &'static str,
    },

    /// A document has more tokens than a `u32` counts.
    #[error("document {key:?} is too long to index ({tokens} tokens, at most {max})")]
    DocumentTooLong {
        /// The document's key.
        key: String,
        /// Its number of tokens (at least).
        tokens: u64,
        /// The limit.
        max: u64,
    },

    /// A sparse vector given to the sparse vector index has a weight that
    /// is not a finite number; it would turn every score it touches into
    /// NaN or infinity.
    #[error(
        "sparse vector of {key:?} has weight {value} for term {term}: expected a finite number"
    )]
    InvalidWeight {
        /// The document's key (or `"query"`).
        key: String,
        /// The term id.
        term: u32,
        /// The weight given.
        value: f32,
    },

    /// The index holds as many documents as its 32-bit ordinals can number.
    #[error("the index is full: at most {max} documents (live and deleted) before compaction")]
    Full {
        /// The limit.
        max: u64,
    },

    /// The index file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },

    /// The index file is not one of ours, is of a newer version, or is
    /// damaged (checksum or structure).
    #[error("{path}: {reason}")]
    Corrupt {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

impl SparseError {
    /// Wraps an I/O error with the path it happened on.
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        SparseError::Io {
            path: path.into(),
            source,
        }
    }

    /// A [`SparseError::Corrupt`] for `path`.
    pub(crate) fn corrupt(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        SparseError::Corrupt {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_value_and_the_file() {
        let err = SparseError::InvalidParameter {
            name: "b",
            value: 1.5,
            expected: "a value in [0, 1]",
        };
        assert_eq!(
            err.to_string(),
            "BM25 parameter b = 1.5 is out of range: expected a value in [0, 1]"
        );
        let err = SparseError::corrupt("idx/bm25.idx", "checksum mismatch");
        assert_eq!(err.to_string(), "idx/bm25.idx: checksum mismatch");
    }
}
