//! Embeddings equal sentence-transformers' for all-MiniLM-L6-v2.
//!
//! The reference vectors were produced by sentence-transformers itself
//! (`scripts/reference/st_embeddings.py`); the fixture holds English and
//! German texts, short ones and ones longer than the 256-token window.

mod common;

use common::Reference;
use fundus_models::BiEncoder;

fn reference() -> Reference {
    Reference::load("minilm_reference.json")
}

#[test]
fn embeddings_match_sentence_transformers() {
    let encoder = BiEncoder::load(common::minilm_dir()).unwrap();
    reference().assert_embeddings_match(&encoder, 384);
}

#[test]
fn token_counts_match_sentence_transformers() {
    let encoder = BiEncoder::load(common::minilm_dir()).unwrap();
    reference().assert_token_counts_match(&encoder);
}

#[test]
fn batching_and_order_do_not_change_vectors() {
    let mut encoder = BiEncoder::load(common::minilm_dir()).unwrap();
    reference().assert_batching_invariant(&mut encoder);
}
