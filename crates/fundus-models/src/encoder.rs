//! The transformer under a bi-encoder, chosen by `config.json`'s
//! `model_type`.

use crate::bert::Bert;
use crate::error::ModelError;
use crate::folder::{Architecture, ModelFolder};
use crate::mpnet::Mpnet;

/// How the layer projections compute: with the checkpoint's f32 weights
/// (exact), or with int8 per-channel weights and per-token u8 activations
/// on integer dot products ([`crate::ops::qmatmul`]): faster, and close to
/// but not the same vectors, so a different model as far as collections
/// are concerned ([`Precision::fingerprint`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    #[default]
    F32,
    Int8,
}

impl Precision {
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Int8 => "int8",
        }
    }

    /// The fingerprint of a model whose weight file has sha256
    /// `weights_sha256`, run at this precision: the weights' hash itself
    /// for f32 (what collections always recorded), otherwise the sha256 of
    /// that hash and the scheme, so a collection built with int8 vectors
    /// refuses f32 queries and the other way round.
    pub fn fingerprint(self, weights_sha256: &str) -> String {
        match self {
            Precision::F32 => weights_sha256.to_string(),
            Precision::Int8 => {
                use sha2::{Digest, Sha256};
                let mut h = Sha256::new();
                h.update(weights_sha256.as_bytes());
                // Names the scheme: a change to how weights or activations
                // are quantized must change this string.
                h.update(b"|int8 weights per output channel, u8 activations per token, v1");
                format!("{:x}", h.finalize())
            }
        }
    }
}

/// One of the encoder architectures Fundus runs. All take stacked,
/// unpadded sequences and return one hidden state per token, so batching
/// and pooling are the same for each.
pub enum Encoder {
    Bert(Bert),
    Mpnet(Mpnet),
}

impl Encoder {
    pub fn load(folder: &ModelFolder) -> Result<Self, ModelError> {
        Ok(match folder.architecture {
            Architecture::Bert | Architecture::XlmRoberta => Encoder::Bert(Bert::load(folder)?),
            Architecture::Mpnet => Encoder::Mpnet(Mpnet::load(folder)?),
        })
    }

    /// Switches the layer projections to int8 weights (see [`Precision`]).
    pub fn quantize_int8(&mut self) {
        match self {
            Encoder::Bert(m) => m.quantize_int8(),
            Encoder::Mpnet(m) => m.quantize_int8(),
        }
    }

    /// Bytes of weights held in memory.
    pub fn weight_bytes(&self) -> usize {
        match self {
            Encoder::Bert(m) => m.weight_bytes(),
            Encoder::Mpnet(m) => m.weight_bytes(),
        }
    }

    pub fn hidden_size(&self) -> usize {
        match self {
            Encoder::Bert(m) => m.hidden_size(),
            Encoder::Mpnet(m) => m.hidden_size(),
        }
    }

    /// Rows of the word embedding table: every token id must be below.
    pub fn vocab_size(&self) -> usize {
        match self {
            Encoder::Bert(m) => m.vocab_size(),
            Encoder::Mpnet(m) => m.vocab_size(),
        }
    }

    /// Size of the tokenizer the weights were made for, if the weight file
    /// records it.
    pub fn tokenizer_vocab(&self) -> Option<usize> {
        match self {
            Encoder::Bert(m) => m.tokenizer_vocab(),
            Encoder::Mpnet(_) => None,
        }
    }

    /// See [`Bert::forward`].
    pub fn forward(&self, seqs: &[&[u32]], parallel: bool) -> Result<Vec<f32>, ModelError> {
        match self {
            Encoder::Bert(m) => m.forward(seqs, parallel),
            Encoder::Mpnet(m) => m.forward(seqs, parallel),
        }
    }
}
