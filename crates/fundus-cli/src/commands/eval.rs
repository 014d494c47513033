//! `fundus eval`: retrieval quality on a BEIR dataset, or STS correlation.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context as _, Result};
use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use fundus_core::Metric;
use fundus_eval::beir::BeirDataset;
use fundus_eval::{evaluate, Run};
use fundus_index::FlatIndex;
use fundus_models::registry::DEFAULT_MODEL;
use fundus_models::{Chunker, InputKind};

use crate::context::{Context, LoadedModel, PrefixArgs};
use crate::progress;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Task {
    /// Rank the corpus for each query; nDCG, MAP, MRR, Recall, Precision.
    Retrieval,
    /// Semantic textual similarity: Spearman and Pearson of cosine vs gold.
    Sts,
}

#[derive(Args)]
#[command(after_help = "Examples:\n  \
fundus eval --dataset ../shared/data/scifact\n  \
fundus eval --dataset ../shared/data/cranfield --split test_graded_inverted --k 10,100\n  \
fundus eval --task sts --dataset ../shared/data/stsb\n\n\
Metrics follow pytrec_eval (as BEIR and MTEB use it): graded nDCG, ties broken by \
document id, judged queries absent from the run not averaged. Corpus vectors are \
cached per model and dataset, so a second run only embeds the queries.")]
pub struct EvalArgs {
    /// Dataset folder: BEIR layout (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv),
    /// or for --task sts a folder with SPLIT.tsv.
    #[arg(long, short)]
    pub dataset: PathBuf,
    /// Which qrels (or STS file) to evaluate.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Cutoffs for the metrics, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1,3,5,10,100")]
    pub k: Vec<usize>,
    /// Model name (pulled on first use) or path to a sentence-transformers folder.
    #[arg(long, short, default_value = DEFAULT_MODEL)]
    pub model: String,
    #[arg(long, value_enum, default_value_t = Task::Retrieval)]
    pub task: Task,
    /// Folder for run.trec and report.json [default: <data-dir>/eval/<dataset>-<model>-<split>].
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Texts per forward pass.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Split documents into chunks of this many tokens instead of truncating
    /// them (a document scores with its best chunk).
    #[arg(long)]
    pub chunk_size: Option<usize>,
    #[arg(long, default_value_t = 32)]
    pub chunk_overlap: usize,
    #[command(flatten)]
    pub prefixes: PrefixArgs,
    /// Embed the corpus even if cached vectors exist.
    #[arg(long)]
    pub no_cache: bool,
}

pub fn run(ctx: &Context, args: EvalArgs) -> Result<()> {
    if args.k.is_empty() || args.k.contains(&0) {
        bail!("--k needs positive cutoffs, e.g. --k 10,100");
    }
    let mut model = ctx.load_model(&args.model)?;
    model.encoder.set_batch_size(args.batch_size);
    model.apply_prefixes(&args.prefixes);
    match args.task {
        Task::Retrieval => retrieval(ctx, &args, &model),
        Task::Sts => sts(ctx, &args, &model),
    }
}

fn dataset_name(dir: &Path) -> String {
    fs::canonicalize(dir)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "dataset".into())
}

fn output_dir(ctx: &Context, args: &EvalArgs, model: &LoadedModel) -> Result<PathBuf> {
    let dir = args.output.clone().unwrap_or_else(|| {
        ctx.data.root().join("eval").join(format!(
            "{}-{}-{}",
            dataset_name(&args.dataset),
            model.info.name,
            args.split
        ))
    });
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// Corpus vectors of one (dataset, model, chunking) combination.
#[derive(Serialize, Deserialize)]
struct CachedCorpus {
    dim: usize,
    /// Document id of every vector (several per document when chunked).
    doc_ids: Vec<String>,
}

fn retrieval(ctx: &Context, args: &EvalArgs, model: &LoadedModel) -> Result<()> {
    let data = BeirDataset::load(&args.dataset, &args.split)?;
    if data.queries.is_empty() {
        bail!(
            "{}: no judged queries in split {:?}",
            args.dataset.display(),
            args.split
        );
    }
    ctx.say(&format!(
        "{}: {} documents, {} queries, {} judgements (split {})",
        args.dataset.display(),
        data.corpus.len(),
        data.queries.len(),
        data.qrels.num_judgements(),
        args.split
    ));
    let encoder = &model.encoder;
    let chunker = match args.chunk_size {
        Some(size) => Some(Chunker::new(size, args.chunk_overlap).map_err(anyhow::Error::msg)?),
        None => None,
    };

    // BEIR / sentence-transformers build the passage as title + " " + text.
    let texts: Vec<String> = data
        .corpus
        .iter()
        .map(|d| format!("{} {}", d.title, d.text).trim().to_string())
        .collect();
    let (doc_ids, vectors) = corpus_vectors(ctx, args, model, &data, &texts, chunker)?;

    let dim = encoder.dim();
    let mut index = FlatIndex::new(dim, Metric::Cosine);
    for v in vectors.chunks_exact(dim) {
        index.add(v)?;
    }

    let t0 = Instant::now();
    let query_texts: Vec<&str> = data.queries.iter().map(|q| q.text.as_str()).collect();
    let pb = progress::bar(query_texts.len() as u64, "queries", ctx.quiet);
    let qvecs =
        encoder.embed_with_progress(&query_texts, InputKind::Query, &|n| pb.inc(n as u64))?;
    pb.finish_and_clear();
    let embed_s = t0.elapsed().as_secs_f64();

    let depth = args.k.iter().copied().max().unwrap_or(10);
    let t1 = Instant::now();
    let mut run = Run::new();
    for (q, qv) in data.queries.iter().zip(&qvecs) {
        // Fetch enough chunks that `depth` distinct documents survive.
        let fetch = if chunker.is_some() { depth * 8 } else { depth };
        let mut best: HashMap<&str, f32> = HashMap::new();
        for (row, score) in index.search(qv, fetch.min(index.len()))? {
            let id = doc_ids[row as usize].as_str();
            let e = best.entry(id).or_insert(f32::NEG_INFINITY);
            *e = e.max(score);
        }
        let mut hits: Vec<(&str, f32)> = best.into_iter().collect();
        hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
        hits.truncate(depth);
        run.insert_query(
            q.id.clone(),
            hits.into_iter().map(|(d, s)| (d.to_string(), s as f64)),
        );
    }
    let search_s = t1.elapsed().as_secs_f64();

    let report = evaluate(&data.qrels, &run, &args.k);
    let out = output_dir(ctx, args, model)?;
    run.write(out.join("run.trec"), "fundus")?;
    let json = serde_json::json!({
        "dataset": dataset_name(&args.dataset),
        "split": args.split,
        "model": model.info,
        "chunking": chunker.map(|c| serde_json::json!({"size": c.size, "overlap": c.overlap})),
        "documents": data.corpus.len(),
        "queries": data.queries.len(),
        "query_embedding_seconds": embed_s,
        "search_seconds": search_s,
        "report": report,
    });
    fs::write(
        out.join("report.json"),
        serde_json::to_string_pretty(&json)?,
    )?;

    println!(
        "{} | {} | split {} | {} queries",
        dataset_name(&args.dataset),
        model.info.name,
        args.split,
        report.num_queries
    );
    print_table(&report, &args.k);
    if report.unanswered_queries > 0 {
        println!(
            "note: {} judged queries have no results",
            report.unanswered_queries
        );
    }
    println!(
        "query embedding {:.1} ms/query | search {:.2} ms/query",
        embed_s * 1e3 / qvecs.len() as f64,
        search_s * 1e3 / qvecs.len() as f64
    );
    println!(
        "run file: {}\nreport:   {}",
        out.join("run.trec").display(),
        out.join("report.json").display()
    );
    Ok(())
}

fn print_table(report: &fundus_eval::Report, ks: &[usize]) {
    let names = ["NDCG", "MAP", "Recall", "P", "MRR"];
    print!("{:<8}", "");
    for k in ks {
        print!("{:>10}", format!("@{k}"));
    }
    println!();
    for name in names {
        print!("{name:<8}");
        for k in ks {
            match report.mean(&format!("{name}@{k}")) {
                Some(v) => print!("{v:>10.4}"),
                None => print!("{:>10}", "-"),
            }
        }
        println!();
    }
}

/// Embeds the corpus, or reads the vectors from the cache when the same
/// corpus was embedded by the same model with the same settings before.
fn corpus_vectors(
    ctx: &Context,
    args: &EvalArgs,
    model: &LoadedModel,
    data: &BeirDataset,
    texts: &[String],
    chunker: Option<Chunker>,
) -> Result<(Vec<String>, Vec<f32>)> {
    let encoder = &model.encoder;
    let mut h = Sha256::new();
    for (d, t) in data.corpus.iter().zip(texts) {
        h.update(d.id.as_bytes());
        h.update([0]);
        h.update(t.as_bytes());
        h.update([0]);
    }
    h.update(model.info.sha256.as_bytes());
    h.update(format!(
        "|{}|{:?}|{:?}|{:?}",
        encoder.max_seq_length(),
        encoder.prefix(InputKind::Passage),
        chunker,
        encoder.folder().pooling
    ));
    let key = format!("{:x}", h.finalize());
    let cache = ctx.data.root().join("eval-cache");
    let meta_path = cache.join(format!("{key}.json"));
    let vec_path = cache.join(format!("{key}.f32"));

    if !args.no_cache {
        if let (Ok(meta), Ok(bytes)) = (fs::read(&meta_path), fs::read(&vec_path)) {
            if let Ok(meta) = serde_json::from_slice::<CachedCorpus>(&meta) {
                if meta.dim == encoder.dim() && bytes.len() == meta.doc_ids.len() * meta.dim * 4 {
                    ctx.say(&format!(
                        "using cached corpus vectors {}",
                        vec_path.display()
                    ));
                    let v = bytes
                        .chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .collect();
                    return Ok((meta.doc_ids, v));
                }
            }
        }
    }

    let (doc_ids, inputs): (Vec<String>, Vec<String>) = match chunker {
        None => (
            data.corpus.iter().map(|d| d.id.clone()).collect(),
            texts.to_vec(),
        ),
        Some(c) => {
            let mut ids = Vec::new();
            let mut pieces = Vec::new();
            for (d, t) in data.corpus.iter().zip(texts) {
                for ch in c.split(encoder.tokenizer(), &d.id, t)? {
                    ids.push(ch.doc_id);
                    pieces.push(ch.text);
                }
            }
            (ids, pieces)
        }
    };
    let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let pb = progress::bar(refs.len() as u64, "corpus", ctx.quiet);
    let t0 = Instant::now();
    let vectors = encoder.embed_with_progress(&refs, InputKind::Passage, &|n| pb.inc(n as u64))?;
    pb.finish_and_clear();
    let secs = t0.elapsed().as_secs_f64();
    ctx.say(&format!(
        "embedded {} passages in {secs:.1} s ({:.1} passages/s)",
        refs.len(),
        refs.len() as f64 / secs
    ));
    let flat: Vec<f32> = vectors.into_iter().flatten().collect();

    fs::create_dir_all(&cache)?;
    let tmp = cache.join(format!("{key}.f32.tmp"));
    let mut f = fs::File::create(&tmp)?;
    for x in &flat {
        f.write_all(&x.to_le_bytes())?;
    }
    f.sync_all()?;
    fs::rename(&tmp, &vec_path)?;
    fs::write(
        &meta_path,
        serde_json::to_vec(&CachedCorpus {
            dim: encoder.dim(),
            doc_ids: doc_ids.clone(),
        })?,
    )?;
    Ok((doc_ids, flat))
}

fn sts(ctx: &Context, args: &EvalArgs, model: &LoadedModel) -> Result<()> {
    let path = args.dataset.join(format!("{}.tsv", args.split));
    let pairs = fundus_eval::sts::read_sts(&path)?;
    let left: Vec<&str> = pairs.iter().map(|p| p.sentence1.as_str()).collect();
    let right: Vec<&str> = pairs.iter().map(|p| p.sentence2.as_str()).collect();
    let pb = progress::bar(2 * pairs.len() as u64, "sentences", ctx.quiet);
    let tick = |n: usize| pb.inc(n as u64);
    let a = model
        .encoder
        .embed_with_progress(&left, InputKind::Query, &tick)?;
    let b = model
        .encoder
        .embed_with_progress(&right, InputKind::Query, &tick)?;
    pb.finish_and_clear();
    let cos: Vec<f64> = a
        .iter()
        .zip(&b)
        .map(|(x, y)| fundus_core::distance::cosine(x, y) as f64)
        .collect();
    let gold: Vec<f64> = pairs.iter().map(|p| p.score).collect();
    let spearman = fundus_eval::sts::spearman(&cos, &gold)?;
    let pearson = fundus_eval::sts::pearson(&cos, &gold)?;
    println!(
        "{} | {} | {} pairs | Spearman {spearman:.4} | Pearson {pearson:.4}",
        path.display(),
        model.info.name,
        pairs.len()
    );
    Ok(())
}
