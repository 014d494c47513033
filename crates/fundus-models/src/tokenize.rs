//! The HF tokenizer with the model folder's truncation rules.
//!
//! `tokenizer.json` files often carry padding and truncation settings from
//! training (all-MiniLM-L6-v2's pads to a fixed 128 and truncates at 128,
//! although the model is meant to read 256 tokens). sentence-transformers
//! ignores them and truncates at `max_seq_length`; so do we: padding off,
//! truncation at `max_seq_length`, padding done by the batcher.

use std::path::Path;

use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::error::ModelError;

/// A tokenizer configured for one model.
#[derive(Clone)]
pub struct TextTokenizer {
    inner: Tokenizer,
    /// The same tokenizer without truncation, for chunking and for telling
    /// a user how much of a text was cut.
    untruncated: Tokenizer,
    max_len: usize,
    lower_case: bool,
}

impl TextTokenizer {
    pub fn from_file(path: &Path, max_len: usize, lower_case: bool) -> Result<Self, ModelError> {
        let err = |e: Box<dyn std::error::Error + Send + Sync>| ModelError::Tokenizer {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        let mut untruncated = Tokenizer::from_file(path).map_err(err)?;
        untruncated.with_padding(None);
        untruncated.with_truncation(None).map_err(err)?;
        let mut inner = untruncated.clone();
        inner
            .with_truncation(Some(TruncationParams {
                max_length: max_len,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .map_err(err)?;
        Ok(TextTokenizer {
            inner,
            untruncated,
            max_len,
            lower_case,
        })
    }

    /// One past the highest token id the tokenizer can produce (added
    /// special tokens included): the embedding table must have that many
    /// rows.
    pub fn id_bound(&self) -> usize {
        self.inner
            .get_vocab(true)
            .values()
            .max()
            .map_or(0, |&id| id as usize + 1)
    }

    /// Number of token ids the tokenizer can produce (added tokens included).
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    pub fn max_len(&self) -> usize {
        self.max_len
    }

    fn prepare<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        if self.lower_case {
            text.to_lowercase().into()
        } else {
            text.into()
        }
    }

    /// Tokenizes a batch in parallel (the HF tokenizer uses rayon).
    /// Returns the token ids of each text, truncated to the model window.
    pub fn encode_batch(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>, ModelError> {
        let inputs: Vec<String> = texts.iter().map(|t| self.prepare(t).into_owned()).collect();
        let encodings = self
            .inner
            .encode_batch(inputs, true)
            .map_err(|e| ModelError::Tokenize(e.to_string()))?;
        Ok(encodings
            .into_iter()
            .map(|e| e.get_ids().to_vec())
            .collect())
    }

    /// Tokens of `text` without special tokens or truncation, with the byte
    /// offsets of each token in `text`. Used by the chunker.
    pub fn token_offsets(&self, text: &str) -> Result<Vec<(usize, usize)>, ModelError> {
        // Lower-casing can change byte lengths (e.g. 'İ'), so offsets are
        // taken on the original text; the HF normalizer maps them back.
        let enc = self
            .untruncated
            .encode(text, false)
            .map_err(|e| ModelError::Tokenize(e.to_string()))?;
        Ok(enc.get_offsets().to_vec())
    }

    /// Number of tokens of `text` including special tokens, untruncated.
    pub fn count_tokens(&self, text: &str) -> Result<usize, ModelError> {
        let enc = self
            .untruncated
            .encode(self.prepare(text).as_ref(), true)
            .map_err(|e| ModelError::Tokenize(e.to_string()))?;
        Ok(enc.len())
    }

    /// Number of special tokens the tokenizer adds around one text.
    pub fn special_tokens(&self) -> usize {
        self.inner
            .get_post_processor()
            .map_or(0, |p| tokenizers::PostProcessor::added_tokens(p, false))
    }
}
