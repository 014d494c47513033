//! The MPNet encoder forward pass (all-mpnet-base-v2).
//!
//! MPNet's layer is BERT's (run by the same [`crate::transformer`] code,
//! so the same no-padding, fused fast path) with three differences, each
//! of which changes every vector if it is missed:
//!
//! * a **relative-position bias** added to the attention scores: the
//!   offset `j − i` between key and query falls into one of 32 buckets
//!   (16 per direction: exact up to 7, logarithmic up to 128), each bucket
//!   has one learned value per head (`encoder.relative_attention_bias`),
//!   and the same bias serves all layers. It depends only on the offset,
//!   so it is tabulated once per offset at load time;
//! * **positions start at 2** (`padding_idx + 1`, as in RoBERTa);
//! * **no token-type embeddings**, and layer-norm eps 1e-5 (from
//!   `config.json`).

use crate::error::ModelError;
use crate::folder::{Architecture, ModelFolder};
use crate::transformer::{load_checkpoint, to_vec, Embeddings, Encoder, LayerNames, OffsetBias};

/// MPNet's tensor names inside `encoder.layer.N`.
const LAYER_NAMES: LayerNames = LayerNames {
    query: "attention.attn.q",
    key: "attention.attn.k",
    value: "attention.attn.v",
    attn_out: "attention.attn.o",
    attn_norm: "attention.LayerNorm",
    intermediate: "intermediate.dense",
    output: "output.dense",
    output_norm: "output.LayerNorm",
};

/// The padding token id, fixed in MPNet's embeddings; the first real
/// position is the one after it.
const PADDING_IDX: usize = 1;
/// Buckets of the relative-position bias. transformers' `MPNetEncoder`
/// computes buckets with 32 whatever the config says, so this is fixed too.
const NUM_BUCKETS: usize = 32;
const MAX_DISTANCE: usize = 128;

/// transformers' `MPNetEncoder.relative_position_bucket` for
/// `relative_position = key − query` (bidirectional, 32 buckets, max
/// distance 128): offsets to the left (key before query) use buckets
/// 0..16, to the right 16..32; within a direction distances below 8 have
/// their own bucket and longer ones share logarithmically sized buckets up
/// to 128 and beyond.
pub fn relative_position_bucket(relative_position: isize) -> usize {
    let half = NUM_BUCKETS / 2;
    let n = -relative_position;
    let ret = if n < 0 { half } else { 0 };
    let n = n.unsigned_abs();
    let max_exact = half / 2;
    if n < max_exact {
        return ret + n;
    }
    // Same operations as transformers' (log of n / max_exact over
    // log(max_distance / max_exact), truncated); checked against it at the
    // boundaries in the tests.
    let large = max_exact
        + ((n as f64 / max_exact as f64).ln() / (MAX_DISTANCE as f64 / max_exact as f64).ln()
            * (half - max_exact) as f64) as usize;
    ret + large.min(half - 1)
}

/// An MPNet encoder (no pooler): token ids in, one hidden state per token
/// out.
pub struct Mpnet {
    embeddings: Embeddings,
    encoder: Encoder,
    relative_bias: OffsetBias,
}

impl Mpnet {
    /// Loads the weights named in `folder`, with or without the `mpnet.`
    /// prefix that `MPNetForX` checkpoints add.
    pub fn load(folder: &ModelFolder) -> Result<Self, ModelError> {
        load_checkpoint(folder, Architecture::Mpnet, "mpnet", |vb, c| {
            let embeddings = Embeddings::load(&vb.pp("embeddings"), c, PADDING_IDX + 1, false)?;
            let encoder = Encoder::load(&vb.pp("encoder.layer"), &LAYER_NAMES, c)?;
            let heads = encoder.heads();
            // `[buckets, heads]`, as nn.Embedding stores it.
            let table = to_vec(
                vb.pp("encoder.relative_attention_bias")
                    .get((NUM_BUCKETS, heads), "weight")?,
            )?;
            let relative_bias =
                OffsetBias::new(heads, embeddings.max_tokens().max(1), |head, d| {
                    table[relative_position_bucket(d) * heads + head]
                });
            Ok(Mpnet {
                embeddings,
                encoder,
                relative_bias,
            })
        })
    }

    /// Bytes of weights held in memory, the relative-position table included.
    pub fn weight_bytes(&self) -> usize {
        self.embeddings.weight_bytes()
            + self.encoder.weight_bytes()
            + self.relative_bias.weight_bytes()
    }

    pub fn hidden_size(&self) -> usize {
        self.embeddings.hidden
    }

    /// Switches the layer projections to int8 weights
    /// ([`crate::ops::qmatmul`]).
    pub fn quantize_int8(&mut self) {
        self.encoder.quantize_int8();
    }

    pub fn vocab_size(&self) -> usize {
        self.embeddings.vocab
    }

    /// Runs a batch of token sequences (no padding), as
    /// [`crate::bert::Bert::forward`] does.
    pub fn forward(&self, seqs: &[&[u32]], parallel: bool) -> Result<Vec<f32>, ModelError> {
        let mut x = self.embeddings.forward(seqs)?;
        self.encoder
            .forward(&mut x, seqs, parallel, Some(&self.relative_bias));
        Ok(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_match_transformers() {
        // (key − query, bucket) from transformers 5's
        // MPNetEncoder.relative_position_bucket, at the boundaries where
        // rounding of the logarithm could differ.
        let expected = [
            (-600, 15),
            (-128, 15),
            (-64, 14),
            (-63, 13),
            (-32, 12),
            (-31, 11),
            (-16, 10),
            (-15, 9),
            (-8, 8),
            (-7, 7),
            (-1, 1),
            (0, 0),
            (1, 17),
            (7, 23),
            (8, 24),
            (15, 25),
            (16, 26),
            (31, 27),
            (32, 28),
            (63, 29),
            (64, 30),
            (127, 31),
            (128, 31),
            (600, 31),
        ];
        for (rel, bucket) in expected {
            assert_eq!(relative_position_bucket(rel), bucket, "offset {rel}");
        }
    }
}
