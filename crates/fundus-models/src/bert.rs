//! The BERT encoder forward pass on candle.
//!
//! Written here rather than taken from candle-transformers so that the hot
//! path is ours to shape: Q, K and V are one fused projection, the
//! attention scale is folded into the query weights at load time, weights
//! are stored pre-transposed for the matmul kernel, and every activation is
//! kept as a 2-D `[tokens, hidden]` matrix so each projection is a single
//! large GEMM.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use crate::error::ModelError;
use crate::folder::{ModelFolder, TransformerConfig};

/// Added to the attention scores of padding positions. Large enough that
/// `exp` underflows to exactly zero, small enough not to overflow.
const MASKED: f32 = -1e9;

#[derive(Debug, Clone, Copy)]
enum Activation {
    GeluErf,
    GeluTanh,
    Relu,
}

struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f32,
}

impl LayerNorm {
    fn load(vb: &VarBuilder, hidden: usize, eps: f64) -> candle_core::Result<Self> {
        // Old TF-converted checkpoints (SPLADE's) name them gamma/beta.
        let (w, b) = if vb.contains_tensor("weight") {
            ("weight", "bias")
        } else {
            ("gamma", "beta")
        };
        Ok(LayerNorm {
            weight: vb.get(hidden, w)?,
            bias: vb.get(hidden, b)?,
            eps: eps as f32,
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        candle_nn::ops::layer_norm(x, &self.weight, &self.bias, self.eps)
    }
}

/// A linear layer with its weight stored as `[in, out]`, contiguous.
struct Dense {
    weight_t: Tensor,
    bias: Tensor,
}

impl Dense {
    fn from_parts(weight: Tensor, bias: Tensor) -> candle_core::Result<Self> {
        Ok(Dense {
            weight_t: weight.t()?.contiguous()?,
            bias,
        })
    }

    fn load(vb: &VarBuilder, inp: usize, out: usize) -> candle_core::Result<Self> {
        Self::from_parts(vb.get((out, inp), "weight")?, vb.get(out, "bias")?)
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.matmul(&self.weight_t)?.broadcast_add(&self.bias)
    }
}

struct Layer {
    qkv: Dense,
    attn_out: Dense,
    attn_norm: LayerNorm,
    intermediate: Dense,
    output: Dense,
    output_norm: LayerNorm,
}

/// A BERT encoder (no pooler): token ids in, one hidden state per token out.
pub struct Bert {
    word_embeddings: Tensor,
    position_embeddings: Tensor,
    token_type_embeddings: Tensor,
    embedding_norm: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
    head_dim: usize,
    hidden: usize,
    max_positions: usize,
    activation: Activation,
    device: Device,
}

impl Bert {
    /// Loads the weights named in `folder`, with or without the `bert.`
    /// prefix that `BertForX` checkpoints add.
    pub fn load(folder: &ModelFolder, device: &Device) -> Result<Self, ModelError> {
        let path = &folder.weights_path;
        let werr = |source| ModelError::Weights {
            path: path.clone(),
            source,
        };
        let vb = if path.extension().is_some_and(|e| e == "safetensors") {
            // SAFETY: the file is mapped read-only; Fundus never writes into
            // model folders while a model is loaded.
            unsafe { VarBuilder::from_mmaped_safetensors(&[path], DType::F32, device) }
        } else {
            VarBuilder::from_pth(path, DType::F32, device)
        }
        .map_err(werr)?;
        let vb = if vb.contains_tensor("embeddings.word_embeddings.weight") {
            vb
        } else {
            vb.pp("bert")
        };
        Self::from_var_builder(vb, &folder.transformer).map_err(werr)
    }

    fn from_var_builder(vb: VarBuilder, c: &TransformerConfig) -> candle_core::Result<Self> {
        let h = c.hidden_size;
        if c.num_attention_heads == 0 || h % c.num_attention_heads != 0 {
            candle_core::bail!(
                "hidden_size {h} is not divisible by num_attention_heads {}",
                c.num_attention_heads
            );
        }
        let head_dim = h / c.num_attention_heads;
        let emb = vb.pp("embeddings");
        let word_embeddings = emb.pp("word_embeddings").get((c.vocab_size, h), "weight")?;
        let position_embeddings = emb
            .pp("position_embeddings")
            .get((c.max_position_embeddings, h), "weight")?;
        let token_type_embeddings = emb
            .pp("token_type_embeddings")
            .get((c.type_vocab_size, h), "weight")?;
        let embedding_norm = LayerNorm::load(&emb.pp("LayerNorm"), h, c.layer_norm_eps)?;

        let scale = 1.0 / (head_dim as f64).sqrt();
        let mut layers = Vec::with_capacity(c.num_hidden_layers);
        for i in 0..c.num_hidden_layers {
            let l = vb.pp(format!("encoder.layer.{i}"));
            let att = l.pp("attention.self");
            let q = att.pp("query");
            let k = att.pp("key");
            let v = att.pp("value");
            let qkv_w = Tensor::cat(
                &[
                    (q.get((h, h), "weight")? * scale)?,
                    k.get((h, h), "weight")?,
                    v.get((h, h), "weight")?,
                ],
                0,
            )?;
            let qkv_b = Tensor::cat(
                &[(q.get(h, "bias")? * scale)?, k.get(h, "bias")?, v.get(h, "bias")?],
                0,
            )?;
            let out = l.pp("attention.output");
            layers.push(Layer {
                qkv: Dense::from_parts(qkv_w, qkv_b)?,
                attn_out: Dense::load(&out.pp("dense"), h, h)?,
                attn_norm: LayerNorm::load(&out.pp("LayerNorm"), h, c.layer_norm_eps)?,
                intermediate: Dense::load(&l.pp("intermediate.dense"), h, c.intermediate_size)?,
                output: Dense::load(&l.pp("output.dense"), c.intermediate_size, h)?,
                output_norm: LayerNorm::load(&l.pp("output.LayerNorm"), h, c.layer_norm_eps)?,
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
            token_type_embeddings,
            embedding_norm,
            layers,
            heads: c.num_attention_heads,
            head_dim,
            hidden: h,
            max_positions: c.max_position_embeddings,
            activation,
            device: vb.device().clone(),
        })
    }

    pub fn hidden_size(&self) -> usize {
        self.hidden
    }

    pub fn max_positions(&self) -> usize {
        self.max_positions
    }

    /// Runs a padded batch. `ids` is `batch × seq` row-major, `lens[i]` the
    /// number of real tokens of row `i` (the rest is padding). Returns the
    /// hidden states as `batch × seq × hidden`, row-major.
    pub fn forward(&self, ids: &[u32], lens: &[usize], seq: usize) -> candle_core::Result<Vec<f32>> {
        let batch = lens.len();
        if seq > self.max_positions {
            candle_core::bail!(
                "sequence of {seq} tokens exceeds the model's {} positions",
                self.max_positions
            );
        }
        let (h, dev) = (self.hidden, &self.device);
        let tokens = batch * seq;
        let ids_t = Tensor::from_slice(ids, tokens, dev)?;
        let words = self.word_embeddings.index_select(&ids_t, 0)?.reshape((batch, seq, h))?;
        let positions = self.position_embeddings.narrow(0, 0, seq)?;
        let token_type = self.token_type_embeddings.narrow(0, 0, 1)?;
        let x = words
            .broadcast_add(&positions)?
            .broadcast_add(&token_type)?
            .reshape((tokens, h))?;
        let mut x = self.embedding_norm.forward(&x)?;

        // Additive attention bias: 0 on real tokens, MASKED on padding.
        let needs_mask = lens.iter().any(|&l| l < seq);
        let mask = if needs_mask {
            let bias: Vec<f32> = lens
                .iter()
                .flat_map(|&l| (0..seq).map(move |j| if j < l { 0.0 } else { MASKED }))
                .collect();
            Some(Tensor::from_vec(bias, (batch, 1, 1, seq), dev)?)
        } else {
            None
        };

        for layer in &self.layers {
            x = self.layer_forward(layer, &x, mask.as_ref(), batch, seq)?;
        }
        x.flatten_all()?.to_vec1::<f32>()
    }

    fn layer_forward(
        &self,
        layer: &Layer,
        x: &Tensor,
        mask: Option<&Tensor>,
        batch: usize,
        seq: usize,
    ) -> candle_core::Result<Tensor> {
        let (heads, hd, h) = (self.heads, self.head_dim, self.hidden);
        let qkv = layer
            .qkv
            .forward(x)?
            .reshape((batch, seq, 3, heads, hd))?
            .permute((2, 0, 3, 1, 4))?
            .contiguous()?;
        let q = qkv.get(0)?;
        let k = qkv.get(1)?;
        let v = qkv.get(2)?;
        // The 1/sqrt(head_dim) scale is already folded into q.
        let scores = q.matmul(&k.t()?)?;
        let scores = match mask {
            Some(m) => scores.broadcast_add(m)?,
            None => scores,
        };
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        let ctx = probs
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((batch * seq, h))?;
        let attn = layer.attn_out.forward(&ctx)?;
        let x = layer.attn_norm.forward(&(attn + x)?)?;
        let inter = layer.intermediate.forward(&x)?;
        let inter = match self.activation {
            Activation::GeluErf => inter.gelu_erf()?,
            Activation::GeluTanh => inter.gelu()?,
            Activation::Relu => inter.relu()?,
        };
        let out = layer.output.forward(&inter)?;
        layer.output_norm.forward(&(out + x)?)
    }
}
