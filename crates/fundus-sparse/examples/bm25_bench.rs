//! BM25 index build time and single-thread query throughput on a BEIR
//! dataset, with nDCG@10, as JSON on stdout (bench/bm25/run.sh compares it
//! with bm25s and tantivy).
//!
//! ```text
//! cargo run --release -p fundus-sparse --example bm25_bench -- DATASET_DIR \
//!     [--k1 1.5] [--b 0.75] [--analyzer english] [--min-seconds 2] [--split test]
//! ```
//!
//! Documents are `title + " " + text` (as BEIR gives them to lexical
//! retrievers), prepared before the clock starts; the build time covers
//! analysis and indexing. Queries: the split's judged queries, searched
//! one by one for the top 10 on one thread, analysis and key lookup
//! included; the whole set is repeated (after one warm-up pass) until at
//! least `--min-seconds` have passed. nDCG@10 is computed on the top 10
//! with fundus-eval (trec_eval definitions). Times are reported as wall
//! clock and as this thread's CPU time (the fair measure on a shared
//! machine).

use std::process::ExitCode;
use std::time::Instant;

use fundus_eval::{evaluate, BeirDataset, Run};
use fundus_sparse::{Analyzer, Bm25Index, Bm25Params};

struct Args {
    dataset: String,
    split: String,
    k1: f64,
    b: f64,
    analyzer: Analyzer,
    min_seconds: f64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        dataset: String::new(),
        split: "test".into(),
        k1: 1.5,
        b: 0.75,
        analyzer: Analyzer::English,
        min_seconds: 2.0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--k1" => args.k1 = value("--k1")?.parse().map_err(|e| format!("--k1: {e}"))?,
            "--b" => args.b = value("--b")?.parse().map_err(|e| format!("--b: {e}"))?,
            "--split" => args.split = value("--split")?,
            "--min-seconds" => {
                args.min_seconds = value("--min-seconds")?
                    .parse()
                    .map_err(|e| format!("--min-seconds: {e}"))?
            }
            "--analyzer" => {
                args.analyzer =
                    Analyzer::from_name(&value("--analyzer")?).map_err(|e| e.to_string())?
            }
            a if a.starts_with("--") => return Err(format!("unknown option {a}")),
            a => args.dataset = a.to_string(),
        }
    }
    if args.dataset.is_empty() {
        return Err("usage: bm25_bench DATASET_DIR [--k1 F] [--b F] [--analyzer NAME] [--min-seconds S] [--split NAME]".into());
    }
    Ok(args)
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bm25_bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// CPU time of this thread so far (Linux: `/proc/thread-self/schedstat`),
/// so that a busy machine, which stretches wall-clock time, does not
/// distort the comparison. `None` elsewhere.
fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let data = BeirDataset::load(&args.dataset, &args.split).map_err(|e| e.to_string())?;
    let docs: Vec<(String, String)> = data
        .corpus
        .iter()
        .map(|d| (d.id.clone(), format!("{} {}", d.title, d.text)))
        .collect();
    let params = Bm25Params::lucene(args.k1 as f32, args.b as f32);

    let start = Instant::now();
    let cpu_start = thread_cpu_seconds();
    let mut index = Bm25Index::new(args.analyzer, params).map_err(|e| e.to_string())?;
    for (key, text) in &docs {
        index
            .upsert(key.as_str(), text)
            .map_err(|e| e.to_string())?;
    }
    let build_s = start.elapsed().as_secs_f64();
    let build_cpu_s = thread_cpu_seconds()
        .zip(cpu_start)
        .map(|(end, start)| end - start);

    // Quality pass (also the warm-up).
    let mut run = Run::new();
    for q in &data.queries {
        let hits = index.search(&q.text, 10).map_err(|e| e.to_string())?;
        run.insert_query(&q.id, hits.into_iter().map(|h| (h.key, f64::from(h.score))));
    }
    let ndcg = evaluate(&data.qrels, &run, &[10])
        .mean("NDCG@10")
        .unwrap_or(0.0);

    let mut passes = 0usize;
    let mut checksum = 0usize;
    let start = Instant::now();
    let cpu_start = thread_cpu_seconds();
    while passes < 3 || start.elapsed().as_secs_f64() < args.min_seconds {
        for q in &data.queries {
            let hits = index.search(&q.text, 10).map_err(|e| e.to_string())?;
            checksum += hits.len();
        }
        passes += 1;
    }
    let query_s = start.elapsed().as_secs_f64();
    let query_cpu_s = thread_cpu_seconds()
        .zip(cpu_start)
        .map(|(end, start)| end - start);
    let queries = passes * data.queries.len();
    let stats = index.stats();

    let out = serde_json::json!({
        "engine": "fundus",
        "analyzer": args.analyzer.name(),
        "variant": params.variant.name(),
        "k1": args.k1,
        "b": args.b,
        "n_docs": docs.len(),
        "n_terms": stats.terms,
        "n_postings": stats.postings,
        "n_queries": data.queries.len(),
        "index_build_s": build_s,
        "docs_per_s": docs.len() as f64 / build_s,
        "index_build_cpu_s": build_cpu_s,
        "query_passes": passes,
        "queries_per_s": queries as f64 / query_s,
        "queries_per_cpu_s": query_cpu_s.map(|s| queries as f64 / s),
        "us_per_query": query_s * 1e6 / queries as f64,
        "ndcg_at_10": ndcg,
        "hits_returned": checksum,
    });
    println!("{out}");
    Ok(())
}
