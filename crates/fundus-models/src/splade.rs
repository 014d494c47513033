//! SPLADE: learned sparse vectors from a BERT masked-language-model head.
//!
//! A SPLADE model is a `BertForMaskedLM` checkpoint. For every token the MLM
//! head predicts a score per vocabulary term; SPLADE turns those into
//! weights with `log(1 + ReLU(logit))` and keeps, per term, the largest
//! weight over all tokens of the text ([CLS] and [SEP] included, as naver's
//! SPLADE and sentence-transformers' `SparseEncoder` do). The result has a
//! weight for each of the ~30k vocabulary terms, nearly all of them zero;
//! we return only the nonzero ones, sorted by term id, and a query scores a
//! document by the dot product of the two.
//!
//! The encoder half is the same [`Bert`] forward pass the bi-encoder uses.
//! The head is `dense → GELU → LayerNorm` on each token state, then the
//! decoder: a product with the word embedding table (tied, unless the
//! checkpoint carries its own decoder) plus a bias per term. The decoder is
//! what costs: `tokens × hidden × vocab` multiply-adds, and a
//! `tokens × vocab` logit matrix that would take gigabytes for one batch of
//! long texts. So it runs in tiles (the tokens of a few whole sequences ×
//! a block of terms), folding each tile into running per-term maxima while
//! it is in cache, and the activation is applied once per term
//! after the maximum: `log1p` and `ReLU` are monotone, so
//! `max_t log1p(relu(x_t + b)) = log1p(relu(max_t x_t + b))` exactly.

use std::path::Path;

use rayon::prelude::*;
use serde::Deserialize;

use crate::bert::{self, Bert};
use crate::bi_encoder::DEFAULT_BATCH_SIZE;
use crate::error::ModelError;
use crate::folder::ModelFolder;
use crate::ops::activation;
use crate::ops::layer_norm::LayerNorm;
use crate::ops::matmul::{matmul, Linear, View};
use crate::tokenize::TextTokenizer;

/// A sparse vector over the vocabulary: `(term id, weight)` for the nonzero
/// weights, sorted by term id.
pub type SparseVector = Vec<(u32, f32)>;

/// Most tokens whose logits are computed at once (whole sequences of a
/// batch, grouped): enough rows for the GEMM to run at full speed even
/// when the sequences are short queries.
const ROW_GROUP: usize = 512;

/// Terms whose logits are computed at once: `ROW_GROUP × VOCAB_BLOCK`
/// floats (2 MB) stay in L2 until folded into the maxima. Measured on
/// splade-tiny, this tiling ran the decoder 1.4-1.8x faster than blocks
/// of 64 tokens over the whole 30522-term vocabulary (an 8 MB logit
/// block, which spills to L3 before the maxima read it).
const VOCAB_BLOCK: usize = 1024;

#[derive(Debug, Clone, Copy)]
enum HeadActivation {
    GeluErf,
    GeluTanh,
    Relu,
}

/// The MLM head of `BertForMaskedLM` (`cls.predictions`).
struct MlmHead {
    dense: Linear,
    activation: HeadActivation,
    norm: LayerNorm,
    /// The decoder's own `[vocab, hidden]` weights when the checkpoint does
    /// not tie them to the word embeddings.
    decoder: Option<Vec<f32>>,
    bias: Vec<f32>,
}

/// `tie_word_embeddings` from `config.json` (Hugging Face's default: tied).
#[derive(Deserialize)]
struct TieConfig {
    #[serde(default = "tied_by_default")]
    tie_word_embeddings: bool,
}

fn tied_by_default() -> bool {
    true
}

impl MlmHead {
    fn load(folder: &ModelFolder) -> Result<Self, ModelError> {
        let path = &folder.weights_path;
        let werr = |source| ModelError::Weights {
            path: path.clone(),
            source,
        };
        let config_path = folder.root.join("config.json");
        let text = std::fs::read_to_string(&config_path).map_err(|e| ModelError::Io {
            path: config_path.clone(),
            source: e,
        })?;
        let tie: TieConfig =
            serde_json::from_str(&text).map_err(|e| ModelError::InvalidConfig {
                path: config_path.clone(),
                reason: e.to_string(),
            })?;

        let c = &folder.transformer;
        let (h, vocab) = (c.hidden_size, c.vocab_size);
        let vb = bert::open_weights(path).map_err(werr)?;
        let head = vb.pp("cls.predictions");
        if !head.contains_tensor("transform.dense.weight") {
            return Err(ModelError::Unsupported {
                path: path.clone(),
                what: "weights without a masked-language-model head (no \
                       cls.predictions.transform.dense.weight; SPLADE needs a \
                       BertForMaskedLM checkpoint)"
                    .into(),
            });
        }
        let activation = match c.hidden_act.as_str() {
            "gelu" => HeadActivation::GeluErf,
            "gelu_new" | "gelu_pytorch_tanh" => HeadActivation::GeluTanh,
            "relu" => HeadActivation::Relu,
            other => {
                return Err(ModelError::Unsupported {
                    path: config_path,
                    what: format!("hidden_act {other:?} in the MLM head"),
                })
            }
        };
        let dense = bert::linear(&head.pp("transform.dense"), h, h).map_err(werr)?;
        let norm =
            bert::layer_norm(&head.pp("transform.LayerNorm"), h, c.layer_norm_eps).map_err(werr)?;
        // Older checkpoints keep the bias at `cls.predictions.bias`, newer
        // ones also (or only) at `cls.predictions.decoder.bias`.
        let bias_name = if head.contains_tensor("bias") {
            "bias"
        } else {
            "decoder.bias"
        };
        let bias = bert::to_vec(head.get(vocab, bias_name).map_err(werr)?).map_err(werr)?;
        let decoder = if !tie.tie_word_embeddings && head.contains_tensor("decoder.weight") {
            Some(
                bert::to_vec(head.get((vocab, h), "decoder.weight").map_err(werr)?)
                    .map_err(werr)?,
            )
        } else {
            None
        };
        Ok(MlmHead {
            dense,
            activation,
            norm,
            decoder,
            bias,
        })
    }
}

/// A SPLADE model: texts in, one sparse vector over the vocabulary out.
pub struct SpladeEncoder {
    folder: ModelFolder,
    bert: Bert,
    head: MlmHead,
    tokenizer: TextTokenizer,
    /// Token string of every term id, for showing what a vector holds.
    vocab: Vec<String>,
    batch_size: usize,
}

impl SpladeEncoder {
    /// Loads a `BertForMaskedLM` folder (`config.json`, `tokenizer.json`,
    /// `model.safetensors` or `pytorch_model.bin`), such as the one
    /// `fundus models pull splade-tiny` provides.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self, ModelError> {
        Self::from_folder(ModelFolder::open(dir)?)
    }

    pub fn from_folder(folder: ModelFolder) -> Result<Self, ModelError> {
        let bert = Bert::load(&folder)?;
        let head = MlmHead::load(&folder)?;
        let tokenizer = TextTokenizer::from_file(
            &folder.tokenizer_path,
            folder.max_seq_length,
            folder.do_lower_case,
        )?;
        let vocab = vocab_table(&folder.tokenizer_path, bert.vocab_size())?;
        Ok(SpladeEncoder {
            folder,
            bert,
            head,
            tokenizer,
            vocab,
            batch_size: DEFAULT_BATCH_SIZE,
        })
    }

    pub fn set_batch_size(&mut self, batch_size: usize) {
        self.batch_size = batch_size.max(1);
    }

    pub fn folder(&self) -> &ModelFolder {
        &self.folder
    }

    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.tokenizer
    }

    /// Number of terms, i.e. the dimension of the (sparse) vectors.
    pub fn vocab_size(&self) -> usize {
        self.bert.vocab_size()
    }

    pub fn max_seq_length(&self) -> usize {
        self.folder.max_seq_length
    }

    /// The token string of a term id (`"vitamin"`, `"##ku"`), for explaining
    /// a vector; `None` outside the vocabulary.
    pub fn term(&self, id: u32) -> Option<&str> {
        self.vocab
            .get(id as usize)
            .map(String::as_str)
            .filter(|t| !t.is_empty())
    }

    /// The term id of a token string, the inverse of [`SpladeEncoder::term`]
    /// (a linear scan: for explaining vectors, not for hot paths).
    pub fn term_id(&self, token: &str) -> Option<u32> {
        self.vocab.iter().position(|t| t == token).map(|i| i as u32)
    }

    /// Encodes texts; see [`SpladeEncoder::encode_with_progress`].
    pub fn encode(&self, texts: &[&str]) -> Result<Vec<SparseVector>, ModelError> {
        self.encode_with_progress(texts, &|_| {})
    }

    /// Encodes texts in the order given, each into the nonzero
    /// `(term id, weight)` pairs sorted by term id. Texts are truncated at
    /// `max_seq_length` tokens (512 for BERT) like the reference
    /// implementations do; an empty text is encoded as `[CLS] [SEP]`.
    ///
    /// Batching is the bi-encoder's: texts sorted by token count, batches
    /// of similar length, one batch per core when there are enough of
    /// them, else one batch at a time with all cores inside its products.
    /// `progress` hears the number of texts each finished batch held.
    pub fn encode_with_progress(
        &self,
        texts: &[&str],
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<Vec<SparseVector>, ModelError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encoded = self.tokenizer.encode_batch(texts)?;
        let mut order: Vec<usize> = (0..encoded.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(encoded[i].len()));
        let batches: Vec<&[usize]> = order.chunks(self.batch_size).collect();

        let per_core = batches.len() >= rayon::current_num_threads();
        let run = |batch: &&[usize]| {
            let out = self.run_batch(batch, &encoded, !per_core)?;
            progress(batch.len());
            Ok(out)
        };
        let results: Vec<Vec<(usize, SparseVector)>> = if per_core {
            batches
                .par_iter()
                .map(run)
                .collect::<Result<_, ModelError>>()?
        } else {
            batches.iter().map(run).collect::<Result<_, ModelError>>()?
        };
        let mut vectors = vec![Vec::new(); texts.len()];
        for (i, v) in results.into_iter().flatten() {
            vectors[i] = v;
        }
        Ok(vectors)
    }

    /// The largest decoder logit (bias not yet added) of every term over
    /// the tokens of each sequence: `states` holds the transformed token
    /// states of consecutive sequences of lengths `lens`; the result is
    /// `lens.len() × vocab`, one row per sequence.
    ///
    /// The `tokens × vocab` product runs in blocks of [`VOCAB_BLOCK`]
    /// terms, each block's logits folded into the maxima while they are in
    /// cache. In parallel mode (a lone batch) the blocks are spread over
    /// the cores, each a single-threaded product.
    fn decode_max(
        &self,
        states: &[f32],
        lens: &[usize],
        decoder: &[f32],
        parallel: bool,
    ) -> Vec<f32> {
        let h = self.bert.hidden_size();
        let vocab = self.bert.vocab_size();
        let rows = states.len() / h;
        let block = |buf: &mut Vec<f32>, v0: usize| -> Vec<f32> {
            let vn = VOCAB_BLOCK.min(vocab - v0);
            buf.resize(rows * vn, 0.0);
            matmul(
                View::new(states, rows, h),
                View::new(&decoder[v0 * h..(v0 + vn) * h], vn, h),
                true,
                buf,
                vn,
                false,
                false,
            );
            let mut best = vec![f32::NEG_INFINITY; lens.len() * vn];
            let mut logits = buf.chunks_exact(vn);
            for (s, &len) in lens.iter().enumerate() {
                let acc = &mut best[s * vn..(s + 1) * vn];
                for row in logits.by_ref().take(len) {
                    fold_max(acc, row);
                }
            }
            best
        };
        let starts: Vec<usize> = (0..vocab).step_by(VOCAB_BLOCK).collect();
        let blocks: Vec<Vec<f32>> = if parallel {
            starts
                .par_iter()
                .map_init(Vec::new, |buf, &v0| block(buf, v0))
                .collect()
        } else {
            let mut buf = Vec::new();
            starts.iter().map(|&v0| block(&mut buf, v0)).collect()
        };
        // Blocks are [sequence][term in block]; put them side by side.
        let mut best = vec![0.0f32; lens.len() * vocab];
        for (&v0, b) in starts.iter().zip(&blocks) {
            let vn = VOCAB_BLOCK.min(vocab - v0);
            for (s, part) in b.chunks_exact(vn).enumerate() {
                best[s * vocab + v0..s * vocab + v0 + vn].copy_from_slice(part);
            }
        }
        best
    }

    fn run_batch(
        &self,
        batch: &[usize],
        encoded: &[Vec<u32>],
        parallel: bool,
    ) -> Result<Vec<(usize, SparseVector)>, ModelError> {
        let seqs: Vec<&[u32]> = batch.iter().map(|&i| encoded[i].as_slice()).collect();
        let h = self.bert.hidden_size();
        let vocab = self.bert.vocab_size();
        let states = self.bert.forward(&seqs, parallel)?;
        let tokens = states.len() / h;

        // The head's transform, over all tokens of the batch at once.
        let mut t = Vec::new();
        self.head.dense.forward(&states, tokens, &mut t, parallel);
        match self.head.activation {
            HeadActivation::GeluErf => activation::gelu_erf(&mut t),
            HeadActivation::GeluTanh => activation::gelu_tanh(&mut t),
            HeadActivation::Relu => activation::relu(&mut t),
        }
        self.head.norm.forward_residual(&mut t, &[]);

        let decoder = self
            .head
            .decoder
            .as_deref()
            .unwrap_or(self.bert.word_embeddings());
        let mut out = Vec::with_capacity(batch.len());
        let mut first_row = 0;
        for group in row_groups(&seqs, ROW_GROUP) {
            let lens: Vec<usize> = group.clone().map(|s| seqs[s].len()).collect();
            let rows: usize = lens.iter().sum();
            let states = &t[first_row * h..(first_row + rows) * h];
            first_row += rows;
            let best = self.decode_max(states, &lens, decoder, parallel);
            for (s, best) in group.zip(best.chunks_exact(vocab)) {
                out.push((batch[s], activate(best, &self.head.bias)));
            }
        }
        Ok(out)
    }
}

/// Consecutive runs of sequences with at most `max_rows` tokens in all (a
/// longer sequence makes a run of its own), as index ranges.
fn row_groups(seqs: &[&[u32]], max_rows: usize) -> Vec<std::ops::Range<usize>> {
    let mut groups = Vec::new();
    let (mut start, mut rows) = (0, 0);
    for (i, s) in seqs.iter().enumerate() {
        if i > start && rows + s.len() > max_rows {
            groups.push(start..i);
            start = i;
            rows = 0;
        }
        rows += s.len();
    }
    if start < seqs.len() {
        groups.push(start..seqs.len());
    }
    groups
}

/// `best[j] = max(best[j], row[j])`, written as a compare-and-select so it
/// compiles to SIMD max instructions.
fn fold_max(best: &mut [f32], row: &[f32]) {
    for (b, &x) in best.iter_mut().zip(row) {
        *b = if x > *b { x } else { *b };
    }
}

/// The SPLADE weights `log(1 + ReLU(max_logit + bias))`, nonzero ones only.
fn activate(best: &[f32], bias: &[f32]) -> SparseVector {
    best.iter()
        .zip(bias)
        .enumerate()
        .filter_map(|(j, (&m, &b))| {
            let x = m + b;
            (x > 0.0).then(|| (j as u32, x.ln_1p()))
        })
        .collect()
}

/// Token strings indexed by id, from the tokenizer's vocabulary (added
/// tokens included). Ids the tokenizer does not know stay empty.
fn vocab_table(path: &Path, vocab_size: usize) -> Result<Vec<String>, ModelError> {
    let tok = tokenizers::Tokenizer::from_file(path).map_err(|e| ModelError::Tokenizer {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut table = vec![String::new(); vocab_size];
    for (token, id) in tok.get_vocab(true) {
        if let Some(slot) = table.get_mut(id as usize) {
            *slot = token;
        }
    }
    Ok(table)
}

/// Dot product of two sparse vectors sorted by term id (a merge of the two
/// lists): the SPLADE score of a query against a document.
pub fn dot(a: &[(u32, f32)], b: &[(u32, f32)]) -> f32 {
    let (mut i, mut j, mut s) = (0, 0, 0.0f32);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                s += a[i].1 * b[j].1;
                i += 1;
                j += 1;
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activation_after_the_maximum_keeps_positive_terms_only() {
        let best = [-1.0f32, 0.5, 2.0, f32::NEG_INFINITY];
        let bias = [0.5f32, -0.5, 1.0, 3.0];
        let v = activate(&best, &bias);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].0, 2);
        assert!((v[0].1 - 4.0f32.ln()).abs() < 1e-6);
    }

    #[test]
    fn fold_max_is_elementwise() {
        let mut best = vec![f32::NEG_INFINITY; 3];
        fold_max(&mut best, &[1.0, -2.0, 0.0]);
        fold_max(&mut best, &[0.5, -1.0, 3.0]);
        assert_eq!(best, vec![1.0, -1.0, 3.0]);
    }

    #[test]
    fn row_groups_keep_sequences_whole() {
        let (a, b, c, d) = ([0u32; 3], [0u32; 4], [0u32; 9], [0u32; 1]);
        let seqs: Vec<&[u32]> = vec![&a, &b, &c, &d];
        assert_eq!(row_groups(&seqs, 8), vec![0..2, 2..3, 3..4]);
        assert_eq!(row_groups(&seqs, 100), vec![0..4]);
        assert_eq!(row_groups(&seqs, 1), vec![0..1, 1..2, 2..3, 3..4]);
        assert!(row_groups(&[], 8).is_empty());
    }

    #[test]
    fn sparse_dot_matches_dense() {
        let a = vec![(1, 2.0), (4, 1.0), (9, 3.0)];
        let b = vec![(0, 5.0), (4, 2.0), (9, 0.5), (10, 1.0)];
        assert_eq!(dot(&a, &b), 2.0 + 1.5);
        assert_eq!(dot(&a, &[]), 0.0);
    }

    #[test]
    fn a_folder_without_an_mlm_head_is_refused_by_name() {
        // A plain BertModel checkpoint: encoder tensors only.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"model_type":"bert","vocab_size":4,"hidden_size":2,"num_hidden_layers":0,
                "num_attention_heads":1,"intermediate_size":2,"max_position_embeddings":4}"#,
        )
        .unwrap();
        std::fs::write(dir.path().join("tokenizer.json"), "{}").unwrap();
        let t = |shape: &[usize]| {
            candle_core::Tensor::zeros(shape, candle_core::DType::F32, &candle_core::Device::Cpu)
                .unwrap()
        };
        let tensors = std::collections::HashMap::from([
            ("embeddings.word_embeddings.weight".to_string(), t(&[4, 2])),
            (
                "embeddings.position_embeddings.weight".to_string(),
                t(&[4, 2]),
            ),
            (
                "embeddings.token_type_embeddings.weight".to_string(),
                t(&[2, 2]),
            ),
            ("embeddings.LayerNorm.weight".to_string(), t(&[2])),
            ("embeddings.LayerNorm.bias".to_string(), t(&[2])),
        ]);
        let weights = dir.path().join("model.safetensors");
        candle_core::safetensors::save(&tensors, &weights).unwrap();
        let err = SpladeEncoder::load(dir.path()).err().unwrap();
        let msg = err.to_string();
        assert!(msg.contains("model.safetensors"), "{msg}");
        assert!(msg.contains("masked-language-model head"), "{msg}");
    }
}
