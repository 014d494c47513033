//! The transformer under a bi-encoder, chosen by `config.json`'s
//! `model_type`.

use crate::bert::Bert;
use crate::error::ModelError;
use crate::folder::{Architecture, ModelFolder};
use crate::mpnet::Mpnet;

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
