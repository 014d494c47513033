//! SPLADE retrieval on SciFact: encodes the corpus and the test queries,
//! searches a [`SparseVectorIndex`] and prints nDCG@10 and recall@100 with
//! fundus-eval, plus encoding speed.
//!
//! ```text
//! cargo run --release -p fundus-models --example splade_scifact -- \
//!     [MODEL] [DATA_DIR] [--batch-size 32]
//! ```
//!
//! `MODEL` is a model folder or a registry name (default `splade-tiny`,
//! pulled into `$FUNDUS_HOME` if missing); `DATA_DIR` a BEIR folder
//! (default `../shared/data/scifact` beside the repository). Documents are
//! `title + " " + text`, truncated at the model's 512 tokens, as BEIR feeds
//! them to SPLADE.

use std::path::PathBuf;
use std::time::Instant;

use fundus_eval::{evaluate, BeirDataset, Run};
use fundus_models::registry::{default_home, ModelCache};
use fundus_models::SpladeEncoder;
use fundus_sparse::SparseVectorIndex;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut positional = Vec::new();
    let mut batch_size = 32usize;
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--batch-size" {
            let v = args.get(i + 1).ok_or("--batch-size needs a number")?;
            batch_size = v
                .parse()
                .map_err(|_| format!("--batch-size {v:?} is not a number"))?;
            i += 2;
        } else {
            positional.push(args[i].clone());
            i += 1;
        }
    }
    let model = positional
        .first()
        .cloned()
        .unwrap_or_else(|| "splade-tiny".into());
    let data_dir = positional.get(1).map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/scifact")
    });

    let dir = ModelCache::new(default_home()).resolve(&model, &|m| eprintln!("{m}"))?;
    let mut encoder = SpladeEncoder::load(&dir)?;
    encoder.set_batch_size(batch_size);
    let data =
        BeirDataset::load(&data_dir, "test").map_err(|e| format!("{}: {e}", data_dir.display()))?;

    let docs: Vec<String> = data
        .corpus
        .iter()
        .map(|d| format!("{} {}", d.title, d.text))
        .collect();
    let doc_refs: Vec<&str> = docs.iter().map(String::as_str).collect();
    let started = Instant::now();
    let doc_vectors = encoder.encode(&doc_refs)?;
    let doc_secs = started.elapsed().as_secs_f64();
    let tokens: usize = encoder
        .tokenizer()
        .encode_batch(&doc_refs)?
        .iter()
        .map(Vec::len)
        .sum();

    let started = Instant::now();
    let index = SparseVectorIndex::build(
        data.corpus
            .iter()
            .zip(&doc_vectors)
            .map(|(d, v)| (d.id.as_str(), v.as_slice())),
    )?;
    let index_secs = started.elapsed().as_secs_f64();

    let query_texts: Vec<&str> = data.queries.iter().map(|q| q.text.as_str()).collect();
    let started = Instant::now();
    let query_vectors = encoder.encode(&query_texts)?;
    let query_secs = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let mut run = Run::new();
    for (q, v) in data.queries.iter().zip(&query_vectors) {
        let hits = index.search(v, 100)?;
        run.insert_query(&q.id, hits.into_iter().map(|(k, s)| (k, f64::from(s))));
    }
    let search_secs = started.elapsed().as_secs_f64();
    let report = evaluate(&data.qrels, &run, &[10, 100]);

    let nnz = |vs: &[Vec<(u32, f32)>]| {
        vs.iter().map(Vec::len).sum::<usize>() as f64 / vs.len().max(1) as f64
    };
    let stats = index.stats();
    println!("model        {}", dir.display());
    println!(
        "corpus       {} documents, {} tokens, encoded in {:.1} s: {:.0} docs/s, {:.0} tokens/s ({} threads, batch {})",
        docs.len(),
        tokens,
        doc_secs,
        docs.len() as f64 / doc_secs,
        tokens as f64 / doc_secs,
        rayon::current_num_threads(),
        batch_size
    );
    println!(
        "queries      {} encoded in {:.2} s ({:.0} queries/s)",
        query_texts.len(),
        query_secs,
        query_texts.len() as f64 / query_secs
    );
    println!(
        "index        {} terms, {} postings, built in {:.2} s; nonzeros per doc {:.0}, per query {:.0}",
        stats.terms,
        stats.postings,
        index_secs,
        nnz(&doc_vectors),
        nnz(&query_vectors)
    );
    println!(
        "search       {:.2} ms per query",
        search_secs * 1000.0 / query_texts.len().max(1) as f64
    );
    println!(
        "SciFact test nDCG@10 {:.4}  recall@100 {:.4}",
        report.mean("NDCG@10").unwrap_or(f64::NAN),
        report.mean("Recall@100").unwrap_or(f64::NAN)
    );
    Ok(())
}
