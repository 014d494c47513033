//! `fundus compare-models`: the model-selection workflow as one command.
//! Each model embeds the corpus into a temporary collection and is
//! evaluated exactly like `fundus eval` does it; quality, speed and memory
//! land in one table (and one JSON file).

use std::collections::HashSet;
use std::fs;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context as _, Result};
use clap::Args;
use serde::Serialize;

use fundus_eval::beir::BeirDataset;
use fundus_eval::{evaluate, Run};
use fundus_search::{Pipeline, Query, Runner};

use crate::commands::eval::{dataset_name, eval_collection, CollectionOptions};
use crate::context::Context;
use crate::create_args::ReduceArgs;

#[derive(Args)]
#[command(after_help = "Examples:\n  \
fundus compare-models --dataset ../shared/data/scifact --models all-minilm-l6-v2,all-mpnet-base-v2\n  \
fundus compare-models -d ../shared/data/scifact --models all-minilm-l6-v2,all-minilm-l6-v2+all-mpnet-base-v2 --output cmp.json\n  \
fundus compare-models -d ../shared/data/scifact --models all-minilm-l6-v2 --dims 128 --max-docs 1000\n\n\
A model is a known name, a folder, or an ensemble: `a+b` concatenates the members' \
normalized vectors (each weighted by sqrt of its share: the cosine is the weighted mean of \
the members' cosines), `a@0.3+b@0.7` weights them, `avg:a+b` averages them (same dimension only).\n\n\
Columns: nDCG@10, MRR@10 and Recall@100 as `fundus eval` computes them (exact search); \
docs/s is the corpus embedding throughput (always embedded anew, no cache); query ms is \
one query at a time, embedding + search, mean and 95th percentile; model MB is the \
weights in memory, index MB the stored vectors (and graph).")]
pub struct CompareArgs {
    /// Dataset folder in BEIR layout (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv).
    #[arg(long, short)]
    pub dataset: PathBuf,
    /// Models, comma separated: known names, folders, or ensembles (a+b).
    #[arg(long, short, value_delimiter = ',', required = true)]
    pub models: Vec<String>,
    /// Which qrels to evaluate.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// A quick run on at most this many documents: the ones judged for the
    /// split's queries, then the corpus' first others (easier than the
    /// full corpus: compare models with each other, not with published numbers).
    #[arg(long)]
    pub max_docs: Option<usize>,
    /// Retrieval pipeline, as for `fundus eval`.
    #[arg(long, short, default_value = "dense")]
    pub pipeline: String,
    /// Analyzer of the BM25 index (for pipelines with bm25): english, german,
    /// german-compounds or standard.
    #[arg(long, default_value = "english")]
    pub analyzer: String,
    /// Texts per forward pass.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Also write the table as JSON to this file.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub reduce: ReduceArgs,
}

/// One row of the comparison.
#[derive(Debug, Serialize)]
struct Row {
    model: String,
    /// The fingerprint collections record (weights sha256 or ensemble hash).
    sha256: String,
    dim: usize,
    reduction: Option<String>,
    ndcg_at_10: f64,
    mrr_at_10: f64,
    recall_at_100: f64,
    /// Corpus documents embedded per second.
    docs_per_second: f64,
    chunks: usize,
    query_ms_mean: f64,
    query_ms_p95: f64,
    model_bytes: u64,
    index_bytes: usize,
}

pub fn run(ctx: &Context, args: CompareArgs) -> Result<()> {
    let mut data = BeirDataset::load(&args.dataset, &args.split)?;
    if data.queries.is_empty() {
        bail!(
            "{}: no judged queries in split {:?}",
            args.dataset.display(),
            args.split
        );
    }
    if let Some(n) = args.max_docs {
        keep_documents(&mut data, n);
    }
    let pipeline = Pipeline::resolve(&args.pipeline)?;
    let pipeline_text = pipeline.to_string();
    ctx.say(&format!(
        "{}: {} documents, {} queries (split {}), pipeline {pipeline_text}",
        args.dataset.display(),
        data.corpus.len(),
        data.queries.len(),
        args.split
    ));
    let mut rows = Vec::new();
    for spec in &args.models {
        ctx.say(&format!("model {spec}"));
        let row = compare_one(ctx, &args, &data, spec, &pipeline)
            .with_context(|| format!("comparing model {spec:?}"))?;
        rows.push(row);
    }
    print_rows(&rows);
    if let Some(path) = &args.output {
        let json = serde_json::json!({
            "dataset": dataset_name(&args.dataset),
            "split": args.split,
            "documents": data.corpus.len(),
            "queries": data.queries.len(),
            "pipeline": pipeline_text,
            "models": rows,
        });
        fs::write(path, serde_json::to_string_pretty(&json)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("written to {}", path.display());
    }
    Ok(())
}

fn compare_one(
    ctx: &Context,
    args: &CompareArgs,
    data: &BeirDataset,
    spec: &str,
    pipeline: &Pipeline,
) -> Result<Row> {
    let mut model = ctx.load_model(spec)?;
    model.encoder.set_batch_size(args.batch_size);
    let info = model.info.clone();
    let model_bytes = model.encoder.weights_bytes();
    let ec = eval_collection(
        ctx,
        data,
        &args.dataset,
        model,
        CollectionOptions {
            chunker: None,
            analyzer: &args.analyzer,
            splade: None,
            no_cache: true,
            reduce: &args.reduce,
        },
    )?;
    let secs = ec
        .embed_seconds
        .context("the corpus was not embedded (cache read)")?;
    let (registry, _) = ec.registry()?;
    let runner = Runner::new(&registry, pipeline.clone())?;
    let mut run = Run::new();
    let mut latencies = Vec::with_capacity(data.queries.len());
    for q in &data.queries {
        let t = Instant::now();
        let out = runner.run(&Query::new(q.text.as_str()))?;
        latencies.push(t.elapsed().as_secs_f64() * 1e3);
        run.insert_query(
            q.id.clone(),
            out.candidates
                .iter()
                .filter(|c| c.id != q.id)
                .map(|c| (c.id.clone(), c.score as f64)),
        );
    }
    let report = evaluate(&data.qrels, &run, &[10, 100]);
    let measure = |name: &str| report.mean(name).unwrap_or(0.0);
    let memory = ec.collection.stats().memory;
    Ok(Row {
        model: info.name,
        sha256: info.sha256,
        dim: ec.collection.config().dim,
        reduction: ec.collection.config().reduction.as_ref().map(|r| r.label()),
        ndcg_at_10: measure("NDCG@10"),
        mrr_at_10: measure("MRR@10"),
        recall_at_100: measure("Recall@100"),
        docs_per_second: data.corpus.len() as f64 / secs,
        chunks: ec.chunks,
        query_ms_mean: latencies.iter().sum::<f64>() / latencies.len().max(1) as f64,
        query_ms_p95: percentile(&mut latencies, 0.95),
        model_bytes,
        index_bytes: memory.vectors + memory.graph,
    })
}

/// The judged documents of the split's queries, then the corpus' first
/// others, up to `n` documents (more when more are judged).
fn keep_documents(data: &mut BeirDataset, n: usize) {
    let judged: HashSet<String> = data
        .qrels
        .iter()
        .flat_map(|(_, docs)| docs.keys().cloned())
        .collect();
    let room = n.saturating_sub(judged.len());
    let mut others = 0;
    data.corpus.retain(|d| {
        if judged.contains(&d.id) {
            return true;
        }
        others += 1;
        others <= room
    });
}

/// The `p` quantile by the nearest-rank method.
fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let rank = (p * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

fn print_rows(rows: &[Row]) {
    let width = rows.iter().map(|r| r.model.len()).max().unwrap_or(5).max(5);
    println!(
        "{:<width$} {:>5} {:>8} {:>7} {:>7} {:>8} {:>14} {:>9} {:>9}",
        "model",
        "dim",
        "nDCG@10",
        "MRR@10",
        "R@100",
        "docs/s",
        "query ms p95",
        "model MB",
        "index MB"
    );
    for r in rows {
        let dim = match &r.reduction {
            Some(_) => format!("{}*", r.dim),
            None => r.dim.to_string(),
        };
        println!(
            "{:<width$} {:>5} {:>8.4} {:>7.4} {:>7.4} {:>8.1} {:>14} {:>9.1} {:>9.1}",
            r.model,
            dim,
            r.ndcg_at_10,
            r.mrr_at_10,
            r.recall_at_100,
            r.docs_per_second,
            format!("{:.1} / {:.1}", r.query_ms_mean, r.query_ms_p95),
            r.model_bytes as f64 / 1e6,
            r.index_bytes as f64 / 1e6
        );
    }
    if rows.iter().any(|r| r.reduction.is_some()) {
        println!("* reduced (--dims)");
    }
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let mut v: Vec<f64> = (1..=20).rev().map(f64::from).collect();
        assert_eq!(percentile(&mut v, 0.95), 19.0);
        assert_eq!(percentile(&mut v, 0.5), 10.0);
        assert_eq!(percentile(&mut [3.0], 0.95), 3.0);
        assert_eq!(percentile(&mut [], 0.95), 0.0);
    }
}
