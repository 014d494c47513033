//! Embeddings equal sentence-transformers' for all-MiniLM-L6-v2.
//!
//! The reference vectors were produced by sentence-transformers itself
//! (`scripts/reference/st_embeddings.py`); the fixture holds English and
//! German texts, short ones and ones longer than the 256-token window.

mod common;

use fundus_core::distance::cosine;
use fundus_models::{BiEncoder, InputKind};
use serde::Deserialize;

#[derive(Deserialize)]
struct Reference {
    max_seq_length: usize,
    texts: Vec<String>,
    embeddings: Vec<Vec<f32>>,
    token_counts: Vec<usize>,
}

fn reference() -> Reference {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/minilm_reference.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn embeddings_match_sentence_transformers() {
    let r = reference();
    assert!(r.texts.len() >= 20);
    assert!(
        r.token_counts.contains(&r.max_seq_length),
        "fixture must exercise truncation"
    );
    let encoder = BiEncoder::load(common::minilm_dir()).unwrap();
    assert_eq!(encoder.max_seq_length(), r.max_seq_length);
    let texts: Vec<&str> = r.texts.iter().map(String::as_str).collect();
    let ours = encoder.embed(&texts, InputKind::Passage).unwrap();
    let mut worst = (1.0f32, 0usize);
    for (i, (a, b)) in ours.iter().zip(&r.embeddings).enumerate() {
        assert_eq!(a.len(), 384);
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
}

#[test]
fn token_counts_match_sentence_transformers() {
    let r = reference();
    let encoder = BiEncoder::load(common::minilm_dir()).unwrap();
    let texts: Vec<&str> = r.texts.iter().map(String::as_str).collect();
    let ids = encoder.tokenizer().encode_batch(&texts).unwrap();
    let counts: Vec<usize> = ids.iter().map(Vec::len).collect();
    assert_eq!(counts, r.token_counts);
}

#[test]
fn batching_and_order_do_not_change_vectors() {
    let r = reference();
    let mut encoder = BiEncoder::load(common::minilm_dir()).unwrap();
    let texts: Vec<&str> = r.texts.iter().map(String::as_str).collect();
    encoder.set_batch_size(1);
    let one_by_one = encoder.embed(&texts, InputKind::Passage).unwrap();
    encoder.set_batch_size(7);
    let mut reversed: Vec<&str> = texts.clone();
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
