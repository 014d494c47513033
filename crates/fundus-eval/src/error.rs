//! The one error type of this crate.
//!
//! Evaluation data comes from files that other people wrote, so every
//! message names the file and, where there is one, the 1-based line: a
//! broken line 48,213 of a qrels file must be findable without a debugger.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while reading evaluation data or computing
/// statistics over it.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The file could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },

    /// A line could not be understood.
    #[error("{path}:{line}: {reason}")]
    Malformed {
        /// The file concerned.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with the line.
        reason: String,
    },

    /// A tab-separated file lacks a column that is looked up by name.
    #[error("{path}:1: header has no column `{column}`")]
    MissingColumn {
        /// The file concerned.
        path: PathBuf,
        /// The column that was looked for.
        column: String,
    },

    /// The qrels judge a document that the corpus does not contain: the
    /// corpus is not the one the judgements were made for.
    #[error("{qrels}: document `{doc_id}` is judged but absent from {corpus}")]
    UnknownDocument {
        /// The qrels file that mentions the document.
        qrels: PathBuf,
        /// The corpus file that lacks it.
        corpus: PathBuf,
        /// The document id.
        doc_id: String,
    },

    /// The qrels judge a query that the queries file does not contain, so
    /// the query text needed to run it is missing.
    #[error("{qrels}: query `{query_id}` is judged but absent from {queries}")]
    UnknownQuery {
        /// The qrels file that mentions the query.
        qrels: PathBuf,
        /// The queries file that lacks it.
        queries: PathBuf,
        /// The query id.
        query_id: String,
    },

    /// The input cannot be used as asked: a statistic of data it is not
    /// defined for (empty, different lengths, zero variance, non-finite),
    /// or an id with whitespace that a TREC file could not hold.
    #[error("{0}")]
    Invalid(String),
}

impl EvalError {
    /// Wraps an I/O error with the path it happened on.
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        EvalError::Io {
            path: path.into(),
            source,
        }
    }

    /// A [`EvalError::Malformed`] for `path` at 1-based `line`.
    pub(crate) fn malformed(
        path: impl Into<PathBuf>,
        line: usize,
        reason: impl Into<String>,
    ) -> Self {
        EvalError::Malformed {
            path: path.into(),
            line,
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_names_file_and_line() {
        let err = EvalError::malformed("data/qrels/test.tsv", 12, "expected 3 columns, found 2");
        assert_eq!(
            err.to_string(),
            "data/qrels/test.tsv:12: expected 3 columns, found 2"
        );
    }

    #[test]
    fn missing_column_names_header_line() {
        let err = EvalError::MissingColumn {
            path: "sts.tsv".into(),
            column: "score".into(),
        };
        assert_eq!(err.to_string(), "sts.tsv:1: header has no column `score`");
    }
}
