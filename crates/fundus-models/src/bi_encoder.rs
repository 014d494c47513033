//! The bi-encoder: texts in, one normalized vector per text out.

use std::path::Path;
use std::sync::OnceLock;

use rayon::prelude::*;

use fundus_core::distance;

use crate::embedder::ModelIdentity;
use crate::encoder::{Encoder, Precision};
use crate::error::ModelError;
use crate::folder::{ModelFolder, Prompts};
use crate::tokenize::TextTokenizer;

/// Whether a text is a query or a passage; models such as E5 prepend a
/// different prefix to each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Query,
    Passage,
}

/// Default number of texts per forward pass, as in sentence-transformers.
pub const DEFAULT_BATCH_SIZE: usize = 32;

/// A sentence embedding model (sentence-transformers' `SentenceTransformer`).
pub struct BiEncoder {
    folder: ModelFolder,
    encoder: Encoder,
    tokenizer: TextTokenizer,
    prompts: Prompts,
    batch_size: usize,
    precision: Precision,
    /// Name and fingerprint, set by the caller or worked out on first use
    /// (see [`crate::Embedder::identity`]).
    pub(crate) identity: OnceLock<ModelIdentity>,
}

impl BiEncoder {
    /// Loads a sentence-transformers or Hugging Face model folder.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self, ModelError> {
        Self::from_folder(ModelFolder::open(dir)?)
    }

    pub fn from_folder(folder: ModelFolder) -> Result<Self, ModelError> {
        let encoder = Encoder::load(&folder)?;
        let tokenizer = TextTokenizer::from_file(
            &folder.tokenizer_path,
            folder.max_seq_length,
            folder.do_lower_case,
        )?;
        // A tokenizer from another model would produce ids past the
        // embedding table (or, worse, valid ids meaning other words).
        let reason = match encoder.tokenizer_vocab() {
            Some(made_for) if made_for != tokenizer.vocab_size() => Some(format!(
                "the tokenizer has {} tokens, the weights were made for a tokenizer of {made_for}",
                tokenizer.vocab_size()
            )),
            _ if tokenizer.id_bound() > encoder.vocab_size() => Some(format!(
                "its token ids go up to {} but the weights' embedding table has only {} rows \
                 (config.json vocab_size): tokenizer and weights do not belong together",
                tokenizer.id_bound() - 1,
                encoder.vocab_size()
            )),
            _ => None,
        };
        if let Some(reason) = reason {
            return Err(ModelError::VocabMismatch {
                tokenizer: folder.tokenizer_path.clone(),
                weights: folder.weights_path.clone(),
                reason,
            });
        }
        Ok(BiEncoder {
            prompts: folder.prompts.clone(),
            folder,
            encoder,
            tokenizer,
            batch_size: DEFAULT_BATCH_SIZE,
            precision: Precision::F32,
            identity: OnceLock::new(),
        })
    }

    /// Overrides the prefixes from the model's config (`query: ` / `passage: `).
    pub fn set_prompts(&mut self, prompts: Prompts) {
        self.prompts = prompts;
    }

    pub fn set_batch_size(&mut self, batch_size: usize) {
        self.batch_size = batch_size.max(1);
    }

    /// Runs the layer projections at `precision` from now on. Going to
    /// int8 quantizes the weights (and drops the f32 ones, so there is no
    /// way back short of loading again); asking for the precision the
    /// model has is a no-op.
    pub fn set_precision(&mut self, precision: Precision) -> Result<(), ModelError> {
        match (self.precision, precision) {
            (Precision::F32, Precision::Int8) => {
                self.encoder.quantize_int8();
                self.precision = Precision::Int8;
                // A fingerprint worked out before no longer describes
                // these vectors.
                self.identity = OnceLock::new();
            }
            (Precision::Int8, Precision::F32) => {
                return Err(ModelError::Unsupported {
                    path: self.folder.root.clone(),
                    what: "going back to f32 from int8 weights (load the model again)".into(),
                })
            }
            (Precision::F32, Precision::F32) | (Precision::Int8, Precision::Int8) => {}
        }
        Ok(())
    }

    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Bytes of the encoder's weights as held in memory.
    pub fn encoder_weight_bytes(&self) -> usize {
        self.encoder.weight_bytes()
    }

    pub fn folder(&self) -> &ModelFolder {
        &self.folder
    }

    pub fn prompts(&self) -> &Prompts {
        &self.prompts
    }

    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.tokenizer
    }

    pub fn dim(&self) -> usize {
        self.folder.dim()
    }

    pub fn max_seq_length(&self) -> usize {
        self.folder.max_seq_length
    }

    /// The prefix put in front of texts of `kind`, if any.
    pub fn prefix(&self, kind: InputKind) -> Option<&str> {
        match kind {
            InputKind::Query => self.prompts.query.as_deref(),
            InputKind::Passage => self.prompts.passage.as_deref(),
        }
    }

    /// Embeds texts; see [`BiEncoder::embed_with_progress`].
    pub fn embed(&self, texts: &[&str], kind: InputKind) -> Result<Vec<Vec<f32>>, ModelError> {
        self.embed_with_progress(texts, kind, &|_| {})
    }

    /// Embeds texts in the order given. Texts longer than the window are
    /// truncated at `max_seq_length` tokens, like sentence-transformers
    /// does; chunk them first ([`crate::Chunker`]) to keep all of them. An
    /// empty text is embedded as `[CLS] [SEP]`, as sentence-transformers
    /// does; callers that want to refuse it check before.
    ///
    /// Texts are sorted by token count and cut into batches of similar
    /// length (the encoder never pads, but similar lengths balance the
    /// work of parallel batches); batches run in parallel on all cores.
    /// `progress` is called with the number of texts finished by each
    /// batch.
    pub fn embed_with_progress(
        &self,
        texts: &[&str],
        kind: InputKind,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let prefixed: Vec<String>;
        let inputs: Vec<&str> = match self.prefix(kind) {
            Some(p) => {
                prefixed = texts.iter().map(|t| format!("{p}{t}")).collect();
                prefixed.iter().map(String::as_str).collect()
            }
            None => texts.to_vec(),
        };
        let encoded = self.tokenizer.encode_batch(&inputs)?;

        let mut order: Vec<usize> = (0..encoded.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(encoded[i].len()));
        let batches: Vec<&[usize]> = order.chunks(self.batch_size).collect();

        // Enough batches to keep every core busy: one batch per core, each
        // single-threaded (no synchronization inside a forward pass).
        // Otherwise (a handful of queries) one batch at a time on all cores.
        let per_core = batches.len() >= rayon::current_num_threads();
        let run = |batch: &&[usize]| {
            let out = self.run_batch(batch, &encoded, !per_core)?;
            progress(batch.len());
            Ok(out)
        };
        let results: Vec<Vec<(usize, Vec<f32>)>> = if per_core {
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

    fn run_batch(
        &self,
        batch: &[usize],
        encoded: &[Vec<u32>],
        parallel: bool,
    ) -> Result<Vec<(usize, Vec<f32>)>, ModelError> {
        let seqs: Vec<&[u32]> = batch.iter().map(|&i| encoded[i].as_slice()).collect();
        let hidden = self.encoder.hidden_size();
        let states = self.encoder.forward(&seqs, parallel)?;
        let mut start = 0;
        Ok(batch
            .iter()
            .zip(&seqs)
            .map(|(&i, seq)| {
                let rows = &states[start * hidden..(start + seq.len()) * hidden];
                start += seq.len();
                let mut v = Vec::with_capacity(self.dim());
                self.folder.pooling.pool(rows, hidden, &mut v);
                if self.folder.normalize {
                    distance::normalize(&mut v);
                }
                (i, v)
            })
            .collect())
    }
}
