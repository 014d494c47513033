//! Embeds every text of the shared data sets with a real model and writes
//! the vectors as `.npy` files: the real-data input of `bench/ann`.
//!
//! ```text
//! cargo run --release -p fundus-models --example embed_ann_data -- \
//!     MODEL DATA_DIR OUT_DIR [--batch-size 32] [--chunk-overlap 32]
//! ```
//!
//! `MODEL` is a model folder or a registry name (`all-minilm-l6-v2`), taken
//! from the model cache (`$FUNDUS_HOME`) and pulled first if missing.
//!
//! Base set (`OUT_DIR/base.npy`, `[n, dim]` float32, unit length):
//! the SciFact, Cranfield and XQuAD-de corpora (`title + " " + text`, as
//! `Document::embedding_text` builds it; truncated at the model's window),
//! SciFact chunks (token windows cut by [`Chunker`] exactly as `fundus
//! ingest` does by default: the model's window minus special tokens and
//! passage prefix, overlap 32; only documents that need more than one
//! window, since a one-window document's chunk is the document itself),
//! and every sentence of STS-B and STS-B-de (`train`/`dev`/`test.tsv`,
//! columns 6 and 7, split on tabs: the files must be read with quoting
//! disabled).
//!
//! Query set (`OUT_DIR/queries.npy`): the queries of SciFact, Cranfield and
//! XQuAD-de, embedded as queries. Exact duplicate texts are embedded once,
//! and a base text equal to a query text is left out of the base (held
//! out). `OUT_DIR/meta.json` counts the rows per source.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::time::Instant;

use fundus_models::registry::{default_home, ModelCache};
use fundus_models::{BiEncoder, Chunker, InputKind};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// `(id, title + " " + text)` of a BEIR-style JSONL file, in file order.
fn read_jsonl(path: &Path) -> Res<Vec<(String, String)>> {
    let file =
        BufReader::new(std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?);
    let mut out = Vec::new();
    for (n, line) in file.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(&line)
            .map_err(|e| format!("{}:{}: {e}", path.display(), n + 1))?;
        let id = match &v["_id"] {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let title = v["title"].as_str().unwrap_or("").trim();
        let text = v["text"].as_str().unwrap_or("");
        let joined = if title.is_empty() {
            text.to_string()
        } else {
            format!("{title} {text}")
        };
        out.push((id, joined));
    }
    Ok(out)
}

/// Sentences 1 and 2 (columns 6 and 7) of an STS-B TSV with a header,
/// split on tabs with no quote handling.
fn read_sts(path: &Path) -> Res<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 7 {
            return Err(format!("{}:{}: fewer than 7 columns", path.display(), n + 1).into());
        }
        out.push(cols[5].to_string());
        out.push(cols[6].to_string());
    }
    Ok(out)
}

/// Writes a little-endian float32 `.npy` file of shape `[rows, dim]`.
fn write_npy(path: &Path, rows: &[Vec<f32>], dim: usize) -> Res<()> {
    let mut header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {dim}), }}",
        rows.len()
    );
    // magic (6) + version (2) + header length (2) + header, padded with
    // spaces to a multiple of 64 and ended by a newline.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    f.write_all(b"\x93NUMPY\x01\x00")?;
    f.write_all(&(header.len() as u16).to_le_bytes())?;
    f.write_all(header.as_bytes())?;
    for row in rows {
        if row.len() != dim {
            return Err(format!("row of {} floats, expected {dim}", row.len()).into());
        }
        for x in row {
            f.write_all(&x.to_le_bytes())?;
        }
    }
    f.flush()?;
    Ok(())
}

fn embed(enc: &BiEncoder, texts: &[String], kind: InputKind, what: &str) -> Res<Vec<Vec<f32>>> {
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let step = (texts.len() / 20).max(1);
    let t = Instant::now();
    let progress = |n: usize| {
        let before = done.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        if (before + n) / step != before / step {
            eprintln!(
                "  {what}: {}/{} ({:.0} s)",
                before + n,
                texts.len(),
                t.elapsed().as_secs_f64()
            );
        }
    };
    Ok(enc.embed_with_progress(&refs, kind, &progress)?)
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!(
            "usage: embed_ann_data MODEL DATA_DIR OUT_DIR [--batch-size 32] [--chunk-overlap 32]"
        );
        std::process::exit(2);
    }
    let model = ModelCache::new(default_home()).resolve(&args[1], &|m| eprintln!("{m}"))?;
    let (data, out) = (Path::new(&args[2]), Path::new(&args[3]));
    let batch: usize = arg(&args, "--batch-size").map_or(Ok(32), |s| s.parse())?;
    let overlap: usize = arg(&args, "--chunk-overlap").map_or(Ok(32), |s| s.parse())?;
    std::fs::create_dir_all(out)?;

    let mut enc = BiEncoder::load(&model)?;
    enc.set_batch_size(batch);
    // The window `fundus ingest` chunks with by default.
    let prefix_tokens = enc
        .prefix(InputKind::Passage)
        .and_then(|p| enc.tokenizer().token_offsets(p).ok())
        .map_or(0, |t| t.len());
    let window = enc
        .max_seq_length()
        .saturating_sub(enc.tokenizer().special_tokens() + prefix_tokens)
        .max(1);
    let chunker = Chunker::new(window, overlap)?;

    // Queries first: base texts equal to a query are held out.
    let mut queries: Vec<String> = Vec::new();
    let mut query_sources = serde_json::Map::new();
    let mut seen_queries = HashSet::new();
    for set in ["scifact", "cranfield", "xquad_de"] {
        let mut n = 0;
        for (_, text) in read_jsonl(&data.join(set).join("queries.jsonl"))? {
            if seen_queries.insert(text.clone()) {
                queries.push(text);
                n += 1;
            }
        }
        query_sources.insert(set.to_string(), n.into());
    }

    let mut base: Vec<String> = Vec::new();
    let mut base_sources = serde_json::Map::new();
    let mut seen = HashSet::new();
    let (mut duplicates, mut held_out) = (0usize, 0usize);
    let mut push = |text: String, base: &mut Vec<String>| -> bool {
        if seen_queries.contains(&text) {
            held_out += 1;
            false
        } else if !seen.insert(text.clone()) {
            duplicates += 1;
            false
        } else {
            base.push(text);
            true
        }
    };
    for set in ["scifact", "cranfield", "xquad_de"] {
        let docs = read_jsonl(&data.join(set).join("corpus.jsonl"))?;
        let n = docs
            .iter()
            .filter(|(_, t)| push(t.clone(), &mut base))
            .count();
        base_sources.insert(format!("{set}/corpus"), n.into());
        if set == "scifact" {
            let mut n = 0;
            for (id, text) in &docs {
                let chunks = chunker.split(enc.tokenizer(), id, text)?;
                if chunks.len() > 1 {
                    n += chunks
                        .into_iter()
                        .filter(|c| push(c.text.clone(), &mut base))
                        .count();
                }
            }
            base_sources.insert("scifact/chunks".into(), n.into());
        }
    }
    for set in ["stsb", "stsb_de"] {
        let mut n = 0;
        for split in ["train", "dev", "test"] {
            for s in read_sts(&data.join(set).join(format!("{split}.tsv")))? {
                n += push(s, &mut base) as usize;
            }
        }
        base_sources.insert(format!("{set}/sentences"), n.into());
    }
    eprintln!(
        "{} base texts ({duplicates} duplicates, {held_out} equal to a query left out), {} queries",
        base.len(),
        queries.len()
    );

    let t = Instant::now();
    let q = embed(&enc, &queries, InputKind::Query, "queries")?;
    let b = embed(&enc, &base, InputKind::Passage, "base")?;
    let secs = t.elapsed().as_secs_f64();
    let dim = enc.dim();
    write_npy(&out.join("queries.npy"), &q, dim)?;
    write_npy(&out.join("base.npy"), &b, dim)?;
    let meta = serde_json::json!({
        "model": enc.folder().root.file_name().map(|s| s.to_string_lossy().to_string()),
        "dim": dim,
        "max_seq_length": enc.max_seq_length(),
        "chunk_window_tokens": window,
        "chunk_overlap_tokens": overlap,
        "base": base.len(),
        "queries": queries.len(),
        "base_sources": base_sources,
        "query_sources": query_sources,
        "duplicates_skipped": duplicates,
        "held_out_equal_to_query": held_out,
        "embed_seconds": secs,
        "threads": rayon::current_num_threads(),
    });
    std::fs::write(
        out.join("meta.json"),
        serde_json::to_string_pretty(&meta)? + "\n",
    )?;
    println!("{meta}");
    Ok(())
}
