//! The pieces BERT and MPNet share: the embedding sum, the post-LN
//! encoder layer stack, and the weight-loading helpers.
//!
//! Both architectures run the same layer (fused QKV projection,
//! attention per sequence, output projection + residual layer norm, GELU
//! feed-forward + residual layer norm); they differ in tensor names, in
//! where positions start, and in MPNet's relative-position bias added to
//! the attention scores. Those differences are data here ([`LayerNames`],
//! [`Embeddings::position_offset`], [`OffsetBias`]), so the fast path
//! (no padding, fused biases and residuals, one batch per core) is written
//! once.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use crate::error::ModelError;
use crate::folder::{Architecture, ModelFolder, TransformerConfig};
use crate::ops::activation;
use crate::ops::layer_norm::LayerNorm;
use crate::ops::matmul::{matmul, Linear, View};
use crate::ops::qmatmul::{QLinear, QuantRows};
use crate::ops::softmax::softmax_rows;

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

/// Opens the weights of `folder`, which must be of `architecture`, and
/// builds a model from them. Tensors are looked up without a prefix, or
/// under `prefix` (`bert`, `mpnet`) as `XForY` checkpoints store them.
/// Errors name the weight file.
pub(crate) fn load_checkpoint<T>(
    folder: &ModelFolder,
    architecture: Architecture,
    prefix: &str,
    build: impl FnOnce(VarBuilder, &TransformerConfig) -> candle_core::Result<T>,
) -> Result<T, ModelError> {
    if folder.architecture != architecture {
        return Err(ModelError::Unsupported {
            path: folder.root.clone(),
            what: format!(
                "model_type {:?} where a {:?} checkpoint is needed",
                folder.architecture.model_type(),
                architecture.model_type()
            ),
        });
    }
    let path = &folder.weights_path;
    let werr = |source| ModelError::Weights {
        path: path.clone(),
        source,
    };
    let vb = open_weights(path).map_err(werr)?;
    let vb = if vb.contains_tensor("embeddings.word_embeddings.weight") {
        vb
    } else {
        vb.pp(prefix)
    };
    build(vb, &folder.transformer).map_err(werr)
}

/// Token, position (and token-type) embeddings, summed and normalized.
pub(crate) struct Embeddings {
    pub word: Vec<f32>,
    pub position: Vec<f32>,
    /// Position of the first token: 0 for BERT; RoBERTa-style models
    /// (MPNet) count from `padding_idx + 1` = 2.
    pub position_offset: usize,
    /// Row 0 of the token-type table (every input is a single segment);
    /// empty for models without token types (MPNet).
    pub token_type: Vec<f32>,
    pub norm: LayerNorm,
    pub hidden: usize,
    pub vocab: usize,
    /// Rows of the position table.
    pub positions: usize,
}

impl Embeddings {
    /// Bytes of the embedding tables and their layer norm.
    pub fn weight_bytes(&self) -> usize {
        4 * (self.word.len() + self.position.len() + self.token_type.len())
            + self.norm.weight_bytes()
    }

    /// Reads the tables under `emb` (`embeddings`); row 0 of the
    /// token-type table only `with_token_types`.
    pub fn load(
        emb: &VarBuilder,
        c: &TransformerConfig,
        position_offset: usize,
        with_token_types: bool,
    ) -> candle_core::Result<Self> {
        let h = c.hidden_size;
        let token_type = if with_token_types {
            to_vec(
                emb.pp("token_type_embeddings")
                    .get((c.type_vocab_size, h), "weight")?
                    .get(0)?,
            )?
        } else {
            Vec::new()
        };
        Ok(Embeddings {
            word: to_vec(emb.pp("word_embeddings").get((c.vocab_size, h), "weight")?)?,
            position: to_vec(
                emb.pp("position_embeddings")
                    .get((c.max_position_embeddings, h), "weight")?,
            )?,
            position_offset,
            token_type,
            norm: layer_norm(&emb.pp("LayerNorm"), h, c.layer_norm_eps)?,
            hidden: h,
            vocab: c.vocab_size,
            positions: c.max_position_embeddings,
        })
    }

    /// The longest sequence the position table covers.
    pub fn max_tokens(&self) -> usize {
        self.positions.saturating_sub(self.position_offset)
    }

    /// Embeds the stacked tokens of `seqs` into a `[tokens, hidden]` matrix.
    pub fn forward(&self, seqs: &[&[u32]]) -> Result<Vec<f32>, ModelError> {
        let h = self.hidden;
        let tokens: usize = seqs.iter().map(|s| s.len()).sum();
        let mut x = Vec::with_capacity(tokens * h);
        for s in seqs {
            if s.len() > self.max_tokens() {
                return Err(ModelError::Tokenize(format!(
                    "sequence of {} tokens exceeds the model's {} positions",
                    s.len(),
                    self.max_tokens()
                )));
            }
            for (i, &id) in s.iter().enumerate() {
                let id = id as usize;
                if id >= self.vocab {
                    return Err(ModelError::Tokenize(format!(
                        "token id {id} is outside the model's vocabulary of {}: tokenizer and weights do not match",
                        self.vocab
                    )));
                }
                let pos = i + self.position_offset;
                let w = &self.word[id * h..(id + 1) * h];
                let p = &self.position[pos * h..(pos + 1) * h];
                if self.token_type.is_empty() {
                    x.extend(w.iter().zip(p).map(|(a, b)| a + b));
                } else {
                    x.extend(
                        w.iter()
                            .zip(p)
                            .zip(&self.token_type)
                            .map(|((a, b), c)| a + b + c),
                    );
                }
            }
        }
        self.norm.forward_residual(&mut x, &[]);
        Ok(x)
    }
}

#[derive(Debug, Clone, Copy)]
enum Activation {
    GeluErf,
    GeluTanh,
    Relu,
}

/// Where one encoder layer's tensors live, relative to the layer's prefix.
pub(crate) struct LayerNames {
    pub query: &'static str,
    pub key: &'static str,
    pub value: &'static str,
    pub attn_out: &'static str,
    pub attn_norm: &'static str,
    pub intermediate: &'static str,
    pub output: &'static str,
    pub output_norm: &'static str,
}

/// A projection's weights: the exact f32 ones, or int8 per-channel
/// weights run on integer dot products ([`crate::ops::qmatmul`]).
enum Projection {
    F32(Linear),
    Int8(QLinear),
}

impl Projection {
    fn forward(
        &self,
        x: &[f32],
        rows: usize,
        out: &mut Vec<f32>,
        q: &mut QuantRows,
        parallel: bool,
    ) {
        match self {
            Projection::F32(l) => l.forward(x, rows, out, parallel),
            Projection::Int8(l) => l.forward(x, rows, out, q, parallel),
        }
    }

    fn weight_bytes(&self) -> usize {
        match self {
            Projection::F32(l) => l.weight_bytes(),
            Projection::Int8(l) => l.weight_bytes(),
        }
    }

    fn quantize(&mut self) {
        if let Projection::F32(l) = self {
            *self = Projection::Int8(QLinear::quantize(l));
        }
    }
}

struct Layer {
    qkv: Projection,
    attn_out: Projection,
    attn_norm: LayerNorm,
    intermediate: Projection,
    output: Projection,
    output_norm: LayerNorm,
}

impl Layer {
    fn weight_bytes(&self) -> usize {
        [&self.qkv, &self.attn_out, &self.intermediate, &self.output]
            .iter()
            .map(|p| p.weight_bytes())
            .sum::<usize>()
            + self.attn_norm.weight_bytes()
            + self.output_norm.weight_bytes()
    }

    /// Loads a layer with Q, K and V fused into one projection and the
    /// attention scale `1/√head_dim` folded into the query weights.
    fn load(
        l: &VarBuilder,
        n: &LayerNames,
        c: &TransformerConfig,
        head_dim: usize,
    ) -> candle_core::Result<Self> {
        let h = c.hidden_size;
        let scale = 1.0 / (head_dim as f64).sqrt();
        let (q, k, v) = (l.pp(n.query), l.pp(n.key), l.pp(n.value));
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
        Ok(Layer {
            qkv: Projection::F32(Linear::from_torch(
                &to_vec(qkv_w)?,
                to_vec(qkv_b)?,
                h,
                3 * h,
            )),
            attn_out: Projection::F32(linear(&l.pp(n.attn_out), h, h)?),
            attn_norm: layer_norm(&l.pp(n.attn_norm), h, c.layer_norm_eps)?,
            intermediate: Projection::F32(linear(&l.pp(n.intermediate), h, c.intermediate_size)?),
            output: Projection::F32(linear(&l.pp(n.output), c.intermediate_size, h)?),
            output_norm: layer_norm(&l.pp(n.output_norm), h, c.layer_norm_eps)?,
        })
    }
}

/// An additive attention bias that depends only on how far the key is
/// from the query (`j − i`) and on the head: MPNet's relative-position
/// buckets, looked up once for every offset at load time.
pub(crate) struct OffsetBias {
    /// `heads × (2·max_len − 1)`: head `h`, offset `d` at
    /// `h·(2·max_len − 1) + d + max_len − 1`.
    table: Vec<f32>,
    max_len: usize,
}

impl OffsetBias {
    pub fn weight_bytes(&self) -> usize {
        4 * self.table.len()
    }

    /// `bias(head, offset)` for offsets `−(max_len−1) ..= max_len−1`.
    pub fn new(heads: usize, max_len: usize, bias: impl Fn(usize, isize) -> f32) -> Self {
        let width = 2 * max_len - 1;
        let mut table = Vec::with_capacity(heads * width);
        for head in 0..heads {
            for i in 0..width {
                table.push(bias(head, i as isize - (max_len as isize - 1)));
            }
        }
        OffsetBias { table, max_len }
    }

    /// Writes the `len × len` bias of one head into `scores`; a row is a
    /// contiguous slice of the table, since offset `j − i` grows with `j`.
    fn fill(&self, head: usize, len: usize, scores: &mut [f32]) {
        let width = 2 * self.max_len - 1;
        let row0 = &self.table[head * width..(head + 1) * width];
        for (i, row) in scores.chunks_exact_mut(len).enumerate() {
            let start = self.max_len - 1 - i;
            row.copy_from_slice(&row0[start..start + len]);
        }
    }
}

/// The stack of encoder layers.
pub(crate) struct Encoder {
    layers: Vec<Layer>,
    heads: usize,
    head_dim: usize,
    hidden: usize,
    activation: Activation,
}

impl Encoder {
    /// Loads `c.num_hidden_layers` layers from `vb` (the prefix of the
    /// layer list, e.g. `encoder.layer`).
    pub fn load(
        vb: &VarBuilder,
        names: &LayerNames,
        c: &TransformerConfig,
    ) -> candle_core::Result<Self> {
        let h = c.hidden_size;
        if c.num_attention_heads == 0 || !h.is_multiple_of(c.num_attention_heads) {
            candle_core::bail!(
                "hidden_size {h} is not divisible by num_attention_heads {}",
                c.num_attention_heads
            );
        }
        let head_dim = h / c.num_attention_heads;
        let activation = match c.hidden_act.as_str() {
            "gelu" => Activation::GeluErf,
            "gelu_new" | "gelu_pytorch_tanh" => Activation::GeluTanh,
            "relu" => Activation::Relu,
            other => candle_core::bail!("unsupported hidden_act {other:?}"),
        };
        let layers = (0..c.num_hidden_layers)
            .map(|i| Layer::load(&vb.pp(i.to_string()), names, c, head_dim))
            .collect::<candle_core::Result<_>>()?;
        Ok(Encoder {
            layers,
            heads: c.num_attention_heads,
            head_dim,
            hidden: h,
            activation,
        })
    }

    pub fn heads(&self) -> usize {
        self.heads
    }

    /// Bytes of every layer's weights as held (int8 ones after
    /// [`Encoder::quantize_int8`]).
    pub fn weight_bytes(&self) -> usize {
        self.layers.iter().map(Layer::weight_bytes).sum()
    }

    /// Replaces the weights of every projection (QKV, attention output,
    /// intermediate, output) by int8 per-channel weights; attention,
    /// layer norms and activations stay f32. The f32 weights are dropped.
    pub fn quantize_int8(&mut self) {
        for l in &mut self.layers {
            for p in [
                &mut l.qkv,
                &mut l.attn_out,
                &mut l.intermediate,
                &mut l.output,
            ] {
                p.quantize();
            }
        }
    }

    /// Runs every layer over the stacked tokens `x` of `seqs` in place,
    /// adding `bias` to the attention scores when given. With `parallel`
    /// the matrix products use all cores.
    pub fn forward(
        &self,
        x: &mut Vec<f32>,
        seqs: &[&[u32]],
        parallel: bool,
        bias: Option<&OffsetBias>,
    ) {
        let tokens: usize = seqs.iter().map(|s| s.len()).sum();
        let mut scratch = Scratch::default();
        for layer in &self.layers {
            self.layer_forward(layer, x, seqs, tokens, parallel, bias, &mut scratch);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn layer_forward(
        &self,
        layer: &Layer,
        x: &mut Vec<f32>,
        seqs: &[&[u32]],
        tokens: usize,
        parallel: bool,
        bias: Option<&OffsetBias>,
        s: &mut Scratch,
    ) {
        let (h, hd) = (self.hidden, self.head_dim);
        layer
            .qkv
            .forward(x, tokens, &mut s.qkv, &mut s.quant, parallel);

        // Attention per sequence and head, straight out of the QKV rows.
        s.ctx.clear();
        s.ctx.resize(tokens * h, 0.0);
        let mut start = 0;
        for seq in seqs {
            let len = seq.len();
            if len == 0 {
                // A tokenizer without special tokens can return nothing
                // for an empty text; it pools to a zero vector.
                continue;
            }
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
                // A position bias is fused like a GEMM bias: written
                // first, the product accumulated onto it.
                if let Some(b) = bias {
                    b.fill(head, len, &mut s.scores);
                }
                matmul(q, k, true, &mut s.scores, len, bias.is_some(), parallel);
                softmax_rows(&mut s.scores, len);
                let probs = View::new(&s.scores, len, len);
                let out = &mut s.ctx[start * h + head * hd..];
                matmul(probs, v, false, out, h, false, parallel);
            }
            start += len;
        }

        layer
            .attn_out
            .forward(&s.ctx, tokens, &mut s.proj, &mut s.quant, parallel);
        layer.attn_norm.forward_residual(&mut s.proj, x);
        std::mem::swap(x, &mut s.proj);

        layer
            .intermediate
            .forward(x, tokens, &mut s.inter, &mut s.quant, parallel);
        match self.activation {
            Activation::GeluErf => activation::gelu_erf(&mut s.inter),
            Activation::GeluTanh => activation::gelu_tanh(&mut s.inter),
            Activation::Relu => activation::relu(&mut s.inter),
        }
        layer
            .output
            .forward(&s.inter, tokens, &mut s.proj, &mut s.quant, parallel);
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
    /// Quantized activations of int8 projections.
    quant: QuantRows,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_bias_rows_follow_the_offset() {
        // bias = 10·head + offset, so every cell says which offset it read.
        let b = OffsetBias::new(2, 4, |head, d| (10 * head) as f32 + d as f32);
        let mut s = vec![0.0; 9];
        b.fill(1, 3, &mut s);
        #[rustfmt::skip]
        let want = [
            10.0, 11.0, 12.0,
             9.0, 10.0, 11.0,
             8.0,  9.0, 10.0,
        ];
        assert_eq!(s, want);
        let mut s = vec![0.0; 16];
        b.fill(0, 4, &mut s);
        assert_eq!(s[3], 3.0); // (0, 3): j − i = 3, the largest offset
        assert_eq!(s[12], -3.0); // (3, 0)
    }
}
