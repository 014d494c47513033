//! Embeds the first N documents of a BEIR corpus and reports the speed as
//! JSON; the Fundus side of `bench/embed`.
//!
//! ```text
//! cargo run --release -p fundus-models --example embed_corpus -- \
//!     MODEL_DIR CORPUS.jsonl [--limit N] [--batch-size 32] [--dump FILE.f32] [--int8]
//! ```
//!
//! `--int8` quantizes the layer projections at load (the model that
//! `all-minilm-l6-v2-int8` names); the JSON says which precision ran.
//!
//! Passages are `title + " " + text`, stripped, as sentence-transformers'
//! BEIR wrapper builds them. Timing covers tokenization and inference, not
//! model loading.

use std::io::{BufRead, Write};
use std::time::Instant;

use fundus_models::{BiEncoder, InputKind, Precision};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: embed_corpus MODEL_DIR CORPUS.jsonl [--limit N] [--batch-size B] [--dump FILE.f32] [--int8]");
        std::process::exit(2);
    }
    let limit: usize = arg(&args, "--limit").map_or(Ok(usize::MAX), |s| s.parse())?;
    let batch: usize = arg(&args, "--batch-size").map_or(Ok(32), |s| s.parse())?;
    let file = std::io::BufReader::new(std::fs::File::open(&args[2])?);
    let mut texts = Vec::new();
    for line in file.lines().take(limit) {
        let v: serde_json::Value = serde_json::from_str(&line?)?;
        let title = v["title"].as_str().unwrap_or("");
        let text = v["text"].as_str().unwrap_or("");
        texts.push(format!("{title} {text}").trim().to_string());
    }
    let precision = if args.iter().any(|a| a == "--int8") {
        Precision::Int8
    } else {
        Precision::F32
    };
    let mut enc = BiEncoder::load(&args[1])?;
    enc.set_precision(precision)?;
    enc.set_batch_size(batch);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    // Warm-up on one batch, as the Python peers do.
    enc.embed(&refs[..batch.min(refs.len())], InputKind::Passage)?;
    let t = Instant::now();
    let vectors = enc.embed(&refs, InputKind::Passage)?;
    let secs = t.elapsed().as_secs_f64();
    if let Some(path) = arg(&args, "--dump") {
        let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
        for x in vectors.iter().flatten() {
            f.write_all(&x.to_le_bytes())?;
        }
    }
    println!(
        "{}",
        serde_json::json!({
            "engine": "fundus",
            "precision": precision.as_str(),
            "n_docs": vectors.len(),
            "seconds": secs,
            "docs_per_s": vectors.len() as f64 / secs,
            "batch_size": batch,
            "max_seq_length": enc.max_seq_length(),
            "threads": rayon::current_num_threads(),
        })
    );
    Ok(())
}
