//! Times the bi-encoder on the first N documents of a BEIR corpus.
//!
//! `cargo run --release -p fundus-models --example embed_timing -- MODEL_DIR CORPUS.jsonl [N] [BATCH]`

use std::io::BufRead;
use std::time::Instant;

use fundus_models::{BiEncoder, InputKind};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: embed_timing MODEL_DIR CORPUS.jsonl [N] [BATCH]");
        std::process::exit(2);
    }
    let n: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(256);
    let batch: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(32);
    let file = std::io::BufReader::new(std::fs::File::open(&args[2]).expect("corpus"));
    let texts: Vec<String> = file
        .lines()
        .take(n)
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(&l.expect("line")).expect("json");
            format!("{} {}", v["title"].as_str().unwrap_or(""), v["text"].as_str().unwrap_or(""))
                .trim()
                .to_string()
        })
        .collect();
    let mut enc = BiEncoder::load(&args[1]).expect("model");
    enc.set_batch_size(batch);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let t = Instant::now();
    let v = enc.embed(&refs, InputKind::Passage).expect("embed");
    let s = t.elapsed().as_secs_f64();
    println!("{} docs in {s:.2} s = {:.1} docs/s (dim {})", v.len(), v.len() as f64 / s, v[0].len());
}
