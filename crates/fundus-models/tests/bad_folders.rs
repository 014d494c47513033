//! Model folders that cannot work are refused with errors that name the
//! file and say what was expected: an unknown architecture, missing
//! weights, a tokenizer that does not fit the weights.
//!
//! The folders are tiny synthetic MPNet checkpoints (random-free: every
//! weight a constant), written into a temporary directory.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use candle_core::{Device, Tensor};
use fundus_models::{BiEncoder, InputKind, ModelError};

const HIDDEN: usize = 4;
const HEADS: usize = 2;
const POSITIONS: usize = 16;

fn config(model_type: &str, vocab_size: usize) -> String {
    format!(
        r#"{{"model_type":"{model_type}","vocab_size":{vocab_size},"hidden_size":{HIDDEN},
            "num_hidden_layers":1,"num_attention_heads":{HEADS},"intermediate_size":8,
            "max_position_embeddings":{POSITIONS},"layer_norm_eps":1e-5,"pad_token_id":1,
            "relative_attention_num_buckets":32}}"#
    )
}

/// A word-level tokenizer with `tokens` entries.
fn tokenizer(tokens: usize) -> String {
    let vocab: Vec<String> = (0..tokens)
        .map(|i| match i {
            0 => r#""[UNK]":0"#.to_string(),
            i => format!(r#""w{i}":{i}"#),
        })
        .collect();
    format!(
        r#"{{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],
            "normalizer":null,"pre_tokenizer":{{"type":"Whitespace"}},"post_processor":null,
            "decoder":null,"model":{{"type":"WordLevel","vocab":{{{}}},"unk_token":"[UNK]"}}}}"#,
        vocab.join(",")
    )
}

/// MPNet's tensors, every one filled with a constant.
fn mpnet_weights(path: &Path, vocab_size: usize) {
    let dev = Device::Cpu;
    let t = |shape: &[usize], v: f32| Tensor::full(v, shape, &dev).unwrap();
    let mut w: HashMap<String, Tensor> = HashMap::new();
    w.insert(
        "embeddings.word_embeddings.weight".into(),
        Tensor::arange(0f32, (vocab_size * HIDDEN) as f32, &dev)
            .unwrap()
            .reshape((vocab_size, HIDDEN))
            .unwrap()
            .sin()
            .unwrap(),
    );
    w.insert(
        "embeddings.position_embeddings.weight".into(),
        t(&[POSITIONS, HIDDEN], 0.01),
    );
    for norm in [
        "embeddings.LayerNorm",
        "encoder.layer.0.attention.LayerNorm",
        "encoder.layer.0.output.LayerNorm",
    ] {
        w.insert(format!("{norm}.weight"), t(&[HIDDEN], 1.0));
        w.insert(format!("{norm}.bias"), t(&[HIDDEN], 0.0));
    }
    for (name, out, inp) in [
        ("attention.attn.q", HIDDEN, HIDDEN),
        ("attention.attn.k", HIDDEN, HIDDEN),
        ("attention.attn.v", HIDDEN, HIDDEN),
        ("attention.attn.o", HIDDEN, HIDDEN),
        ("intermediate.dense", 8, HIDDEN),
        ("output.dense", HIDDEN, 8),
    ] {
        w.insert(
            format!("encoder.layer.0.{name}.weight"),
            t(&[out, inp], 0.1),
        );
        w.insert(format!("encoder.layer.0.{name}.bias"), t(&[out], 0.0));
    }
    w.insert(
        "encoder.relative_attention_bias.weight".into(),
        t(&[32, HEADS], 0.5),
    );
    candle_core::safetensors::save(&w, path).unwrap();
}

/// A complete tiny MPNet folder: `vocab_size` rows of weights, a tokenizer
/// of `tokens` entries.
fn tiny_mpnet(dir: &Path, vocab_size: usize, tokens: usize) {
    fs::write(dir.join("config.json"), config("mpnet", vocab_size)).unwrap();
    fs::write(dir.join("tokenizer.json"), tokenizer(tokens)).unwrap();
    mpnet_weights(&dir.join("model.safetensors"), vocab_size);
}

/// The error of loading `dir` as a bi-encoder, and its message.
fn load_error(dir: &Path) -> (ModelError, String) {
    let err = BiEncoder::load(dir)
        .err()
        .expect("the folder must be refused");
    let msg = err.to_string();
    (err, msg)
}

fn assert_mentions(msg: &str, parts: &[&str]) {
    for part in parts {
        assert!(msg.contains(part), "{part:?} not in: {msg}");
    }
}

#[test]
fn a_tiny_mpnet_folder_loads_and_embeds() {
    let dir = tempfile::tempdir().unwrap();
    tiny_mpnet(dir.path(), 20, 20);
    let encoder = BiEncoder::load(dir.path()).unwrap();
    let v = encoder
        .embed(&["w1 w2 w3", "w19", ""], InputKind::Passage)
        .unwrap();
    assert_eq!(v.len(), 3);
    assert!(v.iter().all(|v| v.len() == HIDDEN));
    assert!(v.iter().flatten().all(|x| x.is_finite()));
}

#[test]
fn unknown_model_type_names_the_file_and_the_supported_ones() {
    let dir = tempfile::tempdir().unwrap();
    tiny_mpnet(dir.path(), 20, 20);
    fs::write(dir.path().join("config.json"), config("deberta-v2", 20)).unwrap();
    let (err, msg) = load_error(dir.path());
    assert!(matches!(err, ModelError::InvalidConfig { .. }), "{msg}");
    assert_mentions(
        &msg,
        &["config.json", "\"deberta-v2\"", "supported: bert, mpnet"],
    );
}

#[test]
fn missing_weights_are_named() {
    let dir = tempfile::tempdir().unwrap();
    tiny_mpnet(dir.path(), 20, 20);
    fs::remove_file(dir.path().join("model.safetensors")).unwrap();
    let (err, msg) = load_error(dir.path());
    assert!(matches!(err, ModelError::MissingFile { .. }), "{msg}");
    assert_mentions(&msg, &["model.safetensors"]);
}

#[test]
fn weights_of_another_architecture_are_refused() {
    // An MPNet config over BERT-named tensors: the first missing tensor
    // is named, with the weight file.
    let dir = tempfile::tempdir().unwrap();
    tiny_mpnet(dir.path(), 20, 20);
    let dev = Device::Cpu;
    let mut w = HashMap::new();
    w.insert(
        "embeddings.word_embeddings.weight".to_string(),
        Tensor::zeros((20, HIDDEN), candle_core::DType::F32, &dev).unwrap(),
    );
    candle_core::safetensors::save(&w, dir.path().join("model.safetensors")).unwrap();
    let (_, msg) = load_error(dir.path());
    assert_mentions(&msg, &["model.safetensors", "position_embeddings"]);
}

#[test]
fn a_tokenizer_larger_than_the_vocabulary_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    tiny_mpnet(dir.path(), 20, 30);
    let (err, msg) = load_error(dir.path());
    assert!(matches!(err, ModelError::VocabMismatch { .. }), "{msg}");
    assert_mentions(
        &msg,
        &[
            "tokenizer.json",
            "model.safetensors",
            "up to 29",
            "only 20 rows",
            "vocab_size",
        ],
    );
}
