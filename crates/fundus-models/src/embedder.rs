//! What ingest, search and evaluation need from a model that turns texts
//! into vectors: the [`Embedder`] trait. A [`BiEncoder`] is one; an
//! [`crate::Ensemble`] of several is another.

use std::sync::OnceLock;

use crate::bi_encoder::{BiEncoder, InputKind};
use crate::encoder::Precision;
use crate::error::ModelError;
use crate::folder::Prompts;
use crate::registry;
use crate::tokenize::TextTokenizer;

/// Which model produced a vector. Two embedders with the same fingerprint
/// produce comparable vectors; the store refuses a query embedded by a
/// model with another fingerprint (`Collection::check_query_model`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelIdentity {
    /// For people: a registry name, a folder name, or an ensemble's
    /// members joined with `+`.
    pub name: String,
    /// For machines: a single model's weight-file sha256 (what collections
    /// have always recorded), an ensemble's sha256 over its members.
    pub fingerprint: String,
}

/// Texts in, one unit-length vector per text out.
pub trait Embedder: Send + Sync {
    /// Embeds texts in the order given; `progress` is called with the
    /// number of texts finished as work completes.
    fn embed_with_progress(
        &self,
        texts: &[&str],
        kind: InputKind,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<Vec<Vec<f32>>, ModelError>;

    fn embed(&self, texts: &[&str], kind: InputKind) -> Result<Vec<Vec<f32>>, ModelError> {
        self.embed_with_progress(texts, kind, &|_| {})
    }

    /// Length of the vectors.
    fn dim(&self) -> usize;

    /// Tokens of a text that reach the model; the rest is cut off.
    fn max_seq_length(&self) -> usize;

    fn identity(&self) -> Result<ModelIdentity, ModelError>;

    /// Everything besides the weights that changes the vectors (pooling,
    /// normalization, window, prefixes), for cache keys.
    fn settings(&self) -> String;

    /// The tokenizer that chunking and query-length warnings count with.
    fn tokenizer(&self) -> &TextTokenizer;

    /// The prefix put in front of texts of `kind`, if any.
    fn prefix(&self, kind: InputKind) -> Option<&str>;

    /// Replaces the prefixes from the model's config.
    fn set_prompts(&mut self, prompts: Prompts) -> Result<(), ModelError>;

    /// Texts per forward pass.
    fn set_batch_size(&mut self, batch_size: usize);

    /// Bytes of model weights held in memory: what the loaded model
    /// occupies, not the size of its file (a 4-bit file is dequantized on
    /// load; an int8 variant holds a quarter of its f32 file).
    fn weights_bytes(&self) -> u64;
}

impl BiEncoder {
    /// Names the model and gives its fingerprint when the caller knows it
    /// (a pulled model's pinned sha256); otherwise [`Embedder::identity`]
    /// names it after its folder and hashes the weight file on first use.
    pub fn set_identity(&mut self, identity: ModelIdentity) {
        self.identity = OnceLock::from(identity);
    }
}

impl Embedder for BiEncoder {
    fn embed_with_progress(
        &self,
        texts: &[&str],
        kind: InputKind,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        BiEncoder::embed_with_progress(self, texts, kind, progress)
    }

    fn dim(&self) -> usize {
        BiEncoder::dim(self)
    }

    fn max_seq_length(&self) -> usize {
        BiEncoder::max_seq_length(self)
    }

    fn identity(&self) -> Result<ModelIdentity, ModelError> {
        if let Some(id) = self.identity.get() {
            return Ok(id.clone());
        }
        let folder = self.folder();
        let name = folder
            .root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| folder.root.display().to_string());
        let precision = self.precision();
        let id = ModelIdentity {
            name: match precision {
                Precision::F32 => name,
                p => format!("{name}-{}", p.as_str()),
            },
            fingerprint: precision.fingerprint(&registry::sha256_file(&folder.weights_path)?),
        };
        Ok(self.identity.get_or_init(|| id).clone())
    }

    fn settings(&self) -> String {
        let f = self.folder();
        let mut s = format!(
            "{:?}|normalize={}|max_seq_length={}|{:?}",
            f.pooling,
            f.normalize,
            f.max_seq_length,
            self.prompts()
        );
        // f32 keeps the string it always had (existing cache keys).
        if self.precision() != Precision::F32 {
            s.push_str("|precision=");
            s.push_str(self.precision().as_str());
        }
        s
    }

    fn tokenizer(&self) -> &TextTokenizer {
        BiEncoder::tokenizer(self)
    }

    fn prefix(&self, kind: InputKind) -> Option<&str> {
        BiEncoder::prefix(self, kind)
    }

    fn set_prompts(&mut self, prompts: Prompts) -> Result<(), ModelError> {
        BiEncoder::set_prompts(self, prompts);
        Ok(())
    }

    fn set_batch_size(&mut self, batch_size: usize) {
        BiEncoder::set_batch_size(self, batch_size);
    }

    /// The size of the weight file: the f32 parameters the forward pass
    /// keeps in memory.
    fn weights_bytes(&self) -> u64 {
        self.encoder_weight_bytes() as u64
    }
}
