//! `fundus tune fusion`: pick the fusion of dense and BM25 results on one
//! split, report it on another.
//!
//! Both retrievers run once per split; every candidate fusion is then
//! only arithmetic on those lists, so a grid of dozens costs seconds.
//! Choosing on the training split and reporting the test split keeps the
//! reported number honest: the best fusion *on test* would flatter itself.

use std::fs;
use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};

use fundus_eval::beir::BeirDataset;
use fundus_eval::{evaluate, Qrels, Run};
use fundus_models::registry::DEFAULT_MODEL;
use fundus_search::{fuse, Fusion, Normalization, Pipeline, Query, Runner};

use crate::commands::eval::{eval_collection, CollectionOptions, EvalCollection};
use crate::context::{Context, PrefixArgs};
use crate::create_args::ReduceArgs;

#[derive(Subcommand)]
pub enum TuneCommand {
    /// Grid-search the fusion of dense and BM25 results (RRF k, weights and
    /// normalization, DBSF) on one split and report the best on another.
    #[command(after_help = "Example:\n  \
fundus tune fusion --dataset ../shared/data/scifact --split train --test-split test\n\n\
Prints the grid ranked by the training score with the test score beside it, and \
the pipeline text of the winner to pass to `fundus search --pipeline`.")]
    Fusion(FusionArgs),
}

#[derive(Args)]
pub struct FusionArgs {
    /// BEIR dataset folder (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv).
    #[arg(long, short)]
    pub dataset: PathBuf,
    /// Split the fusion is chosen on.
    #[arg(long, default_value = "train")]
    pub split: String,
    /// Split the chosen fusion is reported on.
    #[arg(long, default_value = "test")]
    pub test_split: String,
    /// Model name or sentence-transformers folder for the dense side.
    #[arg(long, short, default_value = DEFAULT_MODEL)]
    pub model: String,
    #[command(flatten)]
    pub prefixes: PrefixArgs,
    /// Analyzer of the BM25 side: english, german, german-compounds or standard.
    #[arg(long, default_value = "english")]
    pub analyzer: String,
    /// Candidates each retriever contributes.
    #[arg(long, default_value_t = 100)]
    pub depth: usize,
    /// The measure to maximize.
    #[arg(long, default_value = "NDCG@10")]
    pub measure: String,
    /// Where to write tune.json [default: <data-dir>/eval/tune-<dataset>].
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

pub fn run(ctx: &Context, cmd: TuneCommand) -> Result<()> {
    match cmd {
        TuneCommand::Fusion(args) => fusion(ctx, &args),
    }
}

/// The candidates: RRF over a range of k, weighted sums over a range of
/// dense weights with both normalizations, and DBSF.
fn grid() -> Vec<Fusion> {
    let mut g: Vec<Fusion> = [1.0, 5.0, 10.0, 20.0, 40.0, 60.0, 100.0]
        .into_iter()
        .map(|k| Fusion::Rrf { k })
        .collect();
    for normalization in [Normalization::MinMax, Normalization::ZScore] {
        for tenths in 1..=9u8 {
            g.push(Fusion::Weighted {
                weights: vec![f32::from(tenths) / 10.0, f32::from(10 - tenths) / 10.0],
                normalization,
            });
        }
    }
    g.push(Fusion::Dbsf);
    g
}

/// Dense and BM25 lists for every query of `data`.
type Lists = Vec<[(String, Vec<(String, f32)>); 2]>;

fn retrieve(ec: &EvalCollection, data: &BeirDataset, depth: usize) -> Result<Lists> {
    let (registry, _) = ec.registry()?;
    let queries: Vec<Query> = data
        .queries
        .iter()
        .map(|q| Query::new(q.text.as_str()))
        .collect();
    let mut out = Vec::new();
    let mut per_stage = Vec::new();
    for stage in ["dense", "bm25"] {
        let runner = Runner::new(&registry, Pipeline::parse(&format!("{stage}({depth})"))?)?;
        per_stage.push(runner.run_batch(&queries)?.candidates);
    }
    let (dense, bm25) = (&per_stage[0], &per_stage[1]);
    for (d, b) in dense.iter().zip(bm25) {
        let list = |c: &Vec<fundus_search::Candidate>| -> Vec<(String, f32)> {
            c.iter().map(|c| (c.id.clone(), c.score)).collect()
        };
        out.push([("dense".into(), list(d)), ("bm25".into(), list(b))]);
    }
    Ok(out)
}

fn score(
    data: &BeirDataset,
    lists: &Lists,
    fusion: &Fusion,
    qrels: &Qrels,
    measure: &str,
    k: usize,
) -> Result<f64> {
    let mut run = Run::new();
    for (q, l) in data.queries.iter().zip(lists) {
        let fused = fuse(l, fusion)?;
        run.insert_query(
            q.id.clone(),
            fused.iter().map(|c| (c.id.clone(), c.score as f64)),
        );
    }
    let report = evaluate(qrels, &run, &[k]);
    report.mean(measure).ok_or_else(|| {
        anyhow::anyhow!("unknown measure {measure:?} (e.g. NDCG@10, MAP@100, Recall@100, MRR@10)")
    })
}

fn fusion(ctx: &Context, args: &FusionArgs) -> Result<()> {
    let k: usize = match args.measure.rsplit_once('@') {
        Some((_, k)) => k.parse().ok().filter(|&k| k > 0),
        None => None,
    }
    .ok_or_else(|| anyhow::anyhow!("--measure needs a cutoff, e.g. NDCG@10"))?;
    let qrels_file = |split: &str| args.dataset.join("qrels").join(format!("{split}.tsv"));
    for split in [&args.split, &args.test_split] {
        if !qrels_file(split).is_file() {
            bail!(
                "{} does not exist: the dataset has no {split:?} split (tuning and reporting on the same split would flatter the result)",
                qrels_file(split).display()
            );
        }
    }
    let train = BeirDataset::load(&args.dataset, &args.split)?;
    let test = BeirDataset::load(&args.dataset, &args.test_split)?;
    let mut model = ctx.load_model(&args.model)?;
    model.apply_prefixes(&args.prefixes)?;
    let info = model.info.clone();
    let ec = eval_collection(
        ctx,
        &train,
        &args.dataset,
        model,
        CollectionOptions {
            chunker: None,
            analyzer: &args.analyzer,
            splade: None,
            no_cache: false,
            reduce: &ReduceArgs::default(),
        },
    )?;
    ctx.say(&format!(
        "retrieving {} + {} queries with dense({d}) and bm25({d})",
        train.queries.len(),
        test.queries.len(),
        d = args.depth
    ));
    let train_lists = retrieve(&ec, &train, args.depth)?;
    let test_lists = retrieve(&ec, &test, args.depth)?;

    let single = |lists: &Lists, data: &BeirDataset, i: usize| -> Result<f64> {
        let mut run = Run::new();
        for (q, l) in data.queries.iter().zip(lists) {
            run.insert_query(
                q.id.clone(),
                l[i].1.iter().map(|(d, s)| (d.clone(), *s as f64)),
            );
        }
        evaluate(&data.qrels, &run, &[k])
            .mean(&args.measure)
            .ok_or_else(|| anyhow::anyhow!("unknown measure {:?}", args.measure))
    };
    let mut rows = Vec::new();
    for f in grid() {
        let tr = score(&train, &train_lists, &f, &train.qrels, &args.measure, k)?;
        let te = score(&test, &test_lists, &f, &test.qrels, &args.measure, k)?;
        rows.push((f, tr, te));
    }
    rows.sort_by(|a, b| {
        b.1.total_cmp(&a.1)
            .then_with(|| a.0.to_string().cmp(&b.0.to_string()))
    });

    println!(
        "{} | {} | {} chosen on {:?} ({} queries), reported on {:?} ({} queries)",
        args.dataset.display(),
        info.name,
        args.measure,
        args.split,
        train.queries.len(),
        args.test_split,
        test.queries.len()
    );
    println!(
        "{:<44} {:>10} {:>10}",
        "fusion", args.split, args.test_split
    );
    for (i, name) in ["dense", "bm25"].iter().enumerate() {
        println!(
            "{:<44} {:>10.4} {:>10.4}",
            format!("{name} alone"),
            single(&train_lists, &train, i)?,
            single(&test_lists, &test, i)?
        );
    }
    for (f, tr, te) in rows.iter().take(12) {
        println!("{:<44} {tr:>10.4} {te:>10.4}", f.to_string());
    }
    let (best, tr, te) = &rows[0];
    let pipeline = format!("(dense({d}) + bm25({d})) -> {best}", d = args.depth);
    println!(
        "\nbest on {:?}: {best} ({tr:.4}); on {:?}: {te:.4}",
        args.split, args.test_split
    );
    println!("use it: fundus search --pipeline \"{pipeline}\"");

    let out = args.output.clone().unwrap_or_else(|| {
        ctx.data.root().join("eval").join(format!(
            "tune-{}",
            args.dataset
                .file_name()
                .map_or("dataset".into(), |n| n.to_string_lossy().into_owned())
        ))
    });
    fs::create_dir_all(&out)?;
    let json = serde_json::json!({
        "dataset": args.dataset,
        "model": info,
        "analyzer": args.analyzer,
        "measure": args.measure,
        "split": args.split,
        "test_split": args.test_split,
        "best": {"fusion": best.to_string(), "pipeline": pipeline, "train": tr, "test": te},
        "grid": rows.iter().map(|(f, tr, te)| serde_json::json!({"fusion": f.to_string(), "train": tr, "test": te})).collect::<Vec<_>>(),
    });
    fs::write(out.join("tune.json"), serde_json::to_string_pretty(&json)?)?;
    println!("grid: {}", out.join("tune.json").display());
    Ok(())
}
