//! `fundus eval`: retrieval quality on a BEIR dataset, or STS correlation.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context as _, Result};
use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use std::collections::HashMap;
use std::sync::Arc;

use fundus_core::{Chunk, Metric, Reduction};
use fundus_eval::beir::BeirDataset;
use fundus_eval::{evaluate, Run};
use fundus_models::registry::DEFAULT_MODEL;
use fundus_models::{Chunker, Embedder, InputKind, SpladeEncoder};
use fundus_search::{Pipeline, Query, Runner, StageRegistry};
use fundus_store::{
    Collection, CollectionConfig, DataDir, IndexConfig, ModelInfo, Point, SearchOptions,
    TextIndexConfig,
};

use crate::context::{Context, LoadedModel, PrefixArgs};
use crate::create_args::ReduceArgs;
use crate::progress;
use crate::splade::{self, LoadedSplade};
use crate::stages::{self, DenseStage, FullVectorStage};

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
fundus eval --task sts --dataset ../shared/data/stsb\n  \
fundus eval --task sts --dataset ../shared/data/stsb_de --pair-with ../shared/data/stsb \
--model multilingual-e5-small\n\n\
  fundus eval --dataset ../shared/data/scifact --pipeline bm25\n  \
fundus eval --dataset ../shared/data/xquad_de --pipeline hybrid --analyzer german\n  \
fundus eval --dataset ../shared/data/scifact --dims 128 --reduction pca\n  \
fundus eval --dataset ../shared/data/scifact --dims 128 --pipeline \"dense(100) -> full(10)\"\n\n\
With --dims the collection stores reduced vectors; the `full` stage re-ranks candidates \
with the corpus' full vectors, which the evaluation keeps in memory (two-stage search).\n\n\
Metrics follow pytrec_eval (as BEIR and MTEB use it): graded nDCG, ties broken by \
document id, judged queries absent from the run not averaged. Corpus vectors are \
cached per model and dataset, so a second run only embeds the queries. The corpus \
goes into a temporary collection (exact vector search, BM25 index, SPLADE vectors \
when the pipeline has a splade stage), which the pipeline then searches like \
`fundus search` does.")]
pub struct EvalArgs {
    /// Dataset folder: BEIR layout (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv),
    /// or for --task sts a folder with SPLIT.tsv.
    #[arg(long, short)]
    pub dataset: PathBuf,
    /// Cross-lingual retrieval: read the documents from this BEIR folder's
    /// corpus.jsonl instead (queries and judgements stay --dataset's), e.g.
    /// German questions against the English corpus of the same set; the
    /// document ids must align.
    #[arg(long, value_name = "DIR")]
    pub corpus_from: Option<PathBuf>,
    /// Cross-lingual STS (--task sts): take sentence2 of every pair from
    /// this folder's SPLIT.tsv, a row-aligned translation of --dataset's
    /// (STS-B-de sentence1 against STS-B's English sentence2).
    #[arg(long, value_name = "DIR")]
    pub pair_with: Option<PathBuf>,
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
    /// Retrieval pipeline: dense, bm25, hybrid, or pipeline text such as
    /// "(dense(100) + bm25(100)) -> rrf" (see `fundus search --help`).
    #[arg(long, short, default_value = "dense")]
    pub pipeline: String,
    /// Analyzer of the BM25 index: english, german, german-compounds or standard.
    #[arg(long, default_value = "english")]
    pub analyzer: String,
    /// SPLADE model for pipelines with a `splade` stage (the temporary
    /// collection gets its sparse vectors, as `--splade-model` at ingest gives).
    #[arg(long, default_value = "splade-tiny")]
    pub splade_model: String,
    /// Keep hits whose document id equals the query id (BEIR drops them,
    /// which matters where query and document ids share a range, as in
    /// Cranfield).
    #[arg(long)]
    pub keep_identical_ids: bool,
    #[command(flatten)]
    pub reduce: ReduceArgs,
}

pub fn run(ctx: &Context, args: EvalArgs) -> Result<()> {
    if args.k.is_empty() || args.k.contains(&0) {
        bail!("--k needs positive cutoffs, e.g. --k 10,100");
    }
    let mut model = ctx.load_model(&args.model)?;
    model.encoder.set_batch_size(args.batch_size);
    model.apply_prefixes(&args.prefixes)?;
    match args.task {
        Task::Retrieval if args.pair_with.is_some() => {
            bail!("--pair-with is for --task sts; cross-lingual retrieval takes --corpus-from")
        }
        Task::Sts if args.corpus_from.is_some() => {
            bail!("--corpus-from is for retrieval; cross-lingual STS takes --pair-with")
        }
        Task::Retrieval => retrieval(ctx, &args, model),
        Task::Sts => sts(ctx, &args, &model),
    }
}

pub(crate) fn dataset_name(dir: &Path) -> String {
    fs::canonicalize(dir)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "dataset".into())
}

fn output_dir(ctx: &Context, args: &EvalArgs, model: &ModelInfo) -> Result<PathBuf> {
    // Runs of different pipelines get different folders: a named pipeline
    // by its name, any other by a short hash of its text.
    let pipeline = args.pipeline.trim();
    let tag = if pipeline
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        pipeline.to_string()
    } else {
        let h = Sha256::digest(pipeline.as_bytes());
        format!("pipeline-{:x}", h).chars().take(17).collect()
    };
    // So do cross-lingual runs (the corpus of another folder).
    let tag = match &args.corpus_from {
        Some(dir) => format!("{tag}-corpus-{}", dataset_name(dir)),
        None => tag,
    };
    // Reduced runs get their own folder too.
    let tag = match args.reduce.dims {
        Some(d) => format!("{tag}-{:?}{d}", args.reduce.reduction).to_lowercase(),
        None => tag,
    };
    let dir = args.output.clone().unwrap_or_else(|| {
        ctx.data.root().join("eval").join(format!(
            "{}-{}-{}-{tag}",
            dataset_name(&args.dataset),
            model.name,
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

/// A BEIR corpus in a temporary collection: chunks, cached vectors, BM25,
/// SPLADE vectors when asked for.
pub(crate) struct EvalCollection {
    pub collection: Arc<Collection>,
    pub encoder: Arc<dyn Embedder>,
    /// Seconds spent embedding the corpus (`None`: read from the cache).
    pub embed_seconds: Option<f64>,
    /// Chunks embedded.
    pub chunks: usize,
    /// With a reduction: every document's full chunk vectors, for the
    /// `full` stage.
    full_vectors: Option<HashMap<String, Vec<Vec<f32>>>>,
    /// The model of the collection's SPLADE vectors, if it has them.
    pub splade: Option<Arc<SpladeEncoder>>,
    /// Holds the collection's files until the evaluation ends.
    _dir: tempfile::TempDir,
}

impl EvalCollection {
    /// Stages over the collection; vector search is exact, as BEIR's is.
    /// A collection of reduced vectors also gets the `full` stage.
    pub(crate) fn registry(&self) -> Result<(StageRegistry, Arc<DenseStage>)> {
        let exact = SearchOptions {
            exact: true,
            ..SearchOptions::default()
        };
        let (mut registry, dense) = stages::registry(&self.collection, &self.encoder, exact)?;
        if let Some(full) = &self.full_vectors {
            registry.add_rescorer(Arc::new(FullVectorStage::new(
                Arc::clone(&dense),
                full.clone(),
            )))?;
        }
        Ok((registry, dense))
    }
}

/// How [`eval_collection`] builds the collection.
pub(crate) struct CollectionOptions<'a> {
    /// Chunks instead of whole (truncated) documents.
    pub chunker: Option<Chunker>,
    /// Analyzer of the BM25 index.
    pub analyzer: &'a str,
    /// SPLADE model whose vectors every chunk gets.
    pub splade: Option<LoadedSplade>,
    /// Embed the corpus even when cached vectors exist.
    pub no_cache: bool,
    pub reduce: &'a ReduceArgs,
}

/// Loads the corpus into a temporary collection: chunks (or whole
/// documents), their vectors (embedded, or from the cache, reduced when
/// asked), a BM25 index and SPLADE vectors as `options` ask.
pub(crate) fn eval_collection(
    ctx: &Context,
    data: &BeirDataset,
    dataset: &Path,
    model: LoadedModel,
    options: CollectionOptions,
) -> Result<EvalCollection> {
    let CollectionOptions {
        chunker,
        analyzer,
        splade,
        no_cache,
        reduce,
    } = options;
    // BEIR / sentence-transformers build the passage as title + " " + text.
    let texts: Vec<String> = data
        .corpus
        .iter()
        .map(|d| format!("{} {}", d.title, d.text).trim().to_string())
        .collect();
    let mut points = Vec::new();
    for (d, t) in data.corpus.iter().zip(&texts) {
        let pieces = match &chunker {
            Some(c) => c.split(model.encoder.tokenizer(), &d.id, t)?,
            None => vec![Chunk {
                doc_id: d.id.clone(),
                index: 0,
                char_start: 0,
                char_end: t.chars().count() as u32,
                text: t.clone(),
            }],
        };
        for c in pieces {
            points.push(Point {
                doc_id: c.doc_id,
                chunk: c.index,
                char_start: c.char_start,
                char_end: c.char_end,
                title: (!d.title.is_empty()).then(|| d.title.clone()),
                text: c.text,
                metadata: d.metadata.clone().filter(|m| m.is_object()),
                sparse: Default::default(),
            });
        }
    }
    let embedded = corpus_vectors(ctx, &model, data, &texts, chunker, &points, no_cache)?;
    let dim = model.encoder.dim();
    let reduction = match (reduce.fixed(dim)?, reduce.pca_dims()) {
        (Some(r), _) => Some(r),
        (None, Some(dims)) => {
            let r = Reduction::fit_pca(&embedded.vectors, dim, dims)?;
            if let Reduction::Pca { explained, .. } = &r {
                ctx.say(&format!(
                    "PCA {dim} -> {dims} fitted on {} chunks: {:.1}% of the variance kept",
                    points.len(),
                    explained * 100.0
                ));
            }
            Some(r)
        }
        (None, None) => None,
    };
    let mut full_vectors = None;
    let vectors: Vec<Vec<f32>> = match &reduction {
        None => embedded
            .vectors
            .chunks_exact(dim)
            .map(<[f32]>::to_vec)
            .collect(),
        Some(r) => {
            let mut full: HashMap<String, Vec<Vec<f32>>> = HashMap::new();
            for (p, v) in points.iter().zip(embedded.vectors.chunks_exact(dim)) {
                full.entry(p.doc_id.clone()).or_default().push(v.to_vec());
            }
            full_vectors = Some(full);
            embedded
                .vectors
                .chunks_exact(dim)
                .map(|v| r.apply(v))
                .collect::<Result<_, _>>()?
        }
    };
    let text_index = TextIndexConfig {
        analyzer: analyzer.to_string(),
        ..TextIndexConfig::default()
    };
    text_index.validate()?;
    let mut config =
        CollectionConfig::new(&dataset_name(dataset), model.info.clone(), Metric::Cosine)
            .with_index(IndexConfig {
                exact_threshold: usize::MAX,
                ..IndexConfig::default()
            })
            .with_text_index(text_index);
    if let Some(r) = reduction {
        config = config.with_reduction(r);
    }
    if let Some(s) = &splade {
        attach_splade_vectors(ctx, s, &mut points, no_cache)?;
        config = config.with_sparse_vector(splade::SPLADE_VECTOR, s.vector_config());
    }
    let dir = tempfile::Builder::new()
        .prefix("fundus-eval-")
        .tempdir_in(std::env::temp_dir())?;
    let mut collection = DataDir::new(dir.path()).create(config)?;
    for (ps, vs) in points.chunks(1024).zip(vectors.chunks(1024)) {
        collection.upsert(ps, vs)?;
    }
    // As `fundus ingest` ends: the flush also splits compounds
    // (german-compounds) against the whole corpus' vocabulary, so the
    // result does not depend on the order documents were applied in.
    collection.flush()?;
    Ok(EvalCollection {
        collection: Arc::new(collection),
        encoder: Arc::from(model.encoder),
        embed_seconds: embedded.seconds,
        chunks: points.len(),
        full_vectors,
        splade: splade.map(|s| Arc::new(s.encoder)),
        _dir: dir,
    })
}

fn retrieval(ctx: &Context, args: &EvalArgs, model: LoadedModel) -> Result<()> {
    let data = match &args.corpus_from {
        Some(dir) => {
            BeirDataset::load_with_corpus(&args.dataset, &args.split, &dir.join("corpus.jsonl"))?
        }
        None => BeirDataset::load(&args.dataset, &args.split)?,
    };
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
    let pipeline = Pipeline::resolve(&args.pipeline)?;
    let chunker = match args.chunk_size {
        Some(size) => Some(Chunker::new(size, args.chunk_overlap).map_err(anyhow::Error::msg)?),
        None => None,
    };
    let info = model.info.clone();
    let splade = if pipeline.stage_names().contains(&splade::SPLADE_VECTOR) {
        let mut s = splade::load(ctx, &args.splade_model)?;
        s.encoder.set_batch_size(args.batch_size);
        Some(s)
    } else {
        None
    };
    let ec = eval_collection(
        ctx,
        &data,
        args.corpus_from.as_ref().unwrap_or(&args.dataset),
        model,
        CollectionOptions {
            chunker,
            analyzer: &args.analyzer,
            splade,
            no_cache: args.no_cache,
            reduce: &args.reduce,
        },
    )?;
    let (mut registry, dense) = ec.registry()?;
    let splade = splade::add_stage(
        ctx,
        &mut registry,
        &pipeline,
        &ec.collection,
        ec.splade.clone(),
    )?;
    let runner = Runner::new(&registry, pipeline)?;
    let queries: Vec<Query> = data
        .queries
        .iter()
        .map(|q| Query::new(q.text.as_str()))
        .collect();
    let t0 = Instant::now();
    let out = runner.run_batch(&queries)?;
    let total_s = t0.elapsed().as_secs_f64();
    let embed_s = dense.embedding_time().as_secs_f64()
        + splade.map_or(0.0, |s| s.encoding_time().as_secs_f64());
    let search_s = (total_s - embed_s).max(0.0);
    let mut run = Run::new();
    for (q, hits) in data.queries.iter().zip(&out.candidates) {
        run.insert_query(
            q.id.clone(),
            hits.iter()
                .filter(|c| args.keep_identical_ids || c.id != q.id)
                .map(|c| (c.id.clone(), c.score as f64)),
        );
    }

    let report = evaluate(&data.qrels, &run, &args.k);
    let pipeline_text = runner.pipeline().to_string();
    let out_dir = output_dir(ctx, args, &info)?;
    run.write(out_dir.join("run.trec"), "fundus")?;
    let json = serde_json::json!({
        "dataset": dataset_name(&args.dataset),
        "corpus_from": args.corpus_from.as_deref().map(dataset_name),
        "split": args.split,
        "model": info,
        "reduction": ec.collection.config().reduction.as_ref().map(|r| r.label()),
        "pipeline": pipeline_text,
        "analyzer": args.analyzer,
        "chunking": chunker.map(|c| serde_json::json!({"size": c.size, "overlap": c.overlap})),
        "documents": data.corpus.len(),
        "queries": data.queries.len(),
        "query_embedding_seconds": embed_s,
        "search_seconds": search_s,
        "report": report,
    });
    fs::write(
        out_dir.join("report.json"),
        serde_json::to_string_pretty(&json)?,
    )?;

    println!(
        "{} | {} | {} | split {} | {} queries",
        dataset_name(&args.dataset),
        info.name,
        pipeline_text,
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
    let n = queries.len() as f64;
    println!(
        "query embedding {:.1} ms/query | search {:.2} ms/query",
        embed_s * 1e3 / n,
        search_s * 1e3 / n
    );
    println!(
        "run file: {}\nreport:   {}",
        out_dir.join("run.trec").display(),
        out_dir.join("report.json").display()
    );
    Ok(())
}

/// Gives every point its SPLADE vector (its text truncated at the model's
/// window), read from the cache when the same chunks were encoded by the
/// same weights before.
fn attach_splade_vectors(
    ctx: &Context,
    splade: &LoadedSplade,
    points: &mut [Point],
    no_cache: bool,
) -> Result<()> {
    let mut h = Sha256::new();
    for p in points.iter() {
        h.update(format!("{}|{}|", p.doc_id, p.chunk).as_bytes());
        h.update(p.text.as_bytes());
        h.update([0]);
    }
    let encoder = &splade.encoder;
    h.update(format!("splade|{}|{}", splade.info.sha256, encoder.max_seq_length()).as_bytes());
    let path = ctx
        .data
        .root()
        .join("eval-cache")
        .join(format!("{:x}.splade.json", h.finalize()));
    if !no_cache {
        let cached = fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Vec<fundus_store::SparseVector>>(&b).ok());
        if let Some(vectors) = cached.filter(|v| v.len() == points.len()) {
            ctx.say(&format!("using cached SPLADE vectors {}", path.display()));
            for (p, v) in points.iter_mut().zip(vectors) {
                p.sparse.insert(splade::SPLADE_VECTOR.to_string(), v);
            }
            return Ok(());
        }
    }
    let pb = progress::bar(points.len() as u64, "splade", ctx.quiet);
    let t0 = Instant::now();
    splade.encode_points(points, &|n| pb.inc(n as u64))?;
    pb.finish_and_clear();
    ctx.say(&format!(
        "SPLADE-encoded {} passages in {:.1} s",
        points.len(),
        t0.elapsed().as_secs_f64()
    ));
    let vectors: Vec<&fundus_store::SparseVector> = points
        .iter()
        .filter_map(|p| p.sparse.get(splade::SPLADE_VECTOR))
        .collect();
    fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))?;
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, serde_json::to_vec(&vectors)?)?;
    fs::rename(&tmp, &path)?;
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

/// Corpus vectors, flat, and the seconds embedding them took.
struct Embedded {
    vectors: Vec<f32>,
    /// `None` when they came from the cache.
    seconds: Option<f64>,
}

/// Embeds the corpus, or reads the vectors from the cache when the same
/// corpus was embedded by the same model with the same settings before.
fn corpus_vectors(
    ctx: &Context,
    model: &LoadedModel,
    data: &BeirDataset,
    texts: &[String],
    chunker: Option<Chunker>,
    points: &[Point],
    no_cache: bool,
) -> Result<Embedded> {
    let encoder = model.encoder.as_ref();
    let mut h = Sha256::new();
    for (d, t) in data.corpus.iter().zip(texts) {
        h.update(d.id.as_bytes());
        h.update([0]);
        h.update(t.as_bytes());
        h.update([0]);
    }
    h.update(model.info.sha256.as_bytes());
    h.update(format!("|{chunker:?}|{}", encoder.settings()));
    let key = format!("{:x}", h.finalize());
    let cache = ctx.data.root().join("eval-cache");
    let meta_path = cache.join(format!("{key}.json"));
    let vec_path = cache.join(format!("{key}.f32"));

    if !no_cache {
        if let (Ok(meta), Ok(bytes)) = (fs::read(&meta_path), fs::read(&vec_path)) {
            if let Ok(meta) = serde_json::from_slice::<CachedCorpus>(&meta) {
                let same_points = meta.doc_ids.len() == points.len()
                    && meta.doc_ids.iter().zip(points).all(|(a, p)| *a == p.doc_id);
                if same_points
                    && meta.dim == encoder.dim()
                    && bytes.len() == meta.doc_ids.len() * meta.dim * 4
                {
                    ctx.say(&format!(
                        "using cached corpus vectors {}",
                        vec_path.display()
                    ));
                    let vectors = bytes
                        .chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .collect();
                    return Ok(Embedded {
                        vectors,
                        seconds: None,
                    });
                }
            }
        }
    }

    let doc_ids: Vec<String> = points.iter().map(|p| p.doc_id.clone()).collect();
    let inputs: Vec<&str> = points.iter().map(|p| p.text.as_str()).collect();
    let refs = inputs;
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
            doc_ids,
        })?,
    )?;
    Ok(Embedded {
        vectors: flat,
        seconds: Some(secs),
    })
}

fn sts(ctx: &Context, args: &EvalArgs, model: &LoadedModel) -> Result<()> {
    let path = args.dataset.join(format!("{}.tsv", args.split));
    let mut pairs = fundus_eval::sts::read_sts(&path)?;
    let mut label = path.display().to_string();
    if let Some(dir) = &args.pair_with {
        let other = dir.join(format!("{}.tsv", args.split));
        let second = fundus_eval::sts::read_sts(&other)?;
        pairs = fundus_eval::sts::cross_lingual(&pairs, &path, &second, &other)?;
        label = format!("{label} x {}", other.display());
    }
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
        "{label} | {} | {} pairs | Spearman {spearman:.4} | Pearson {pearson:.4}",
        model.info.name,
        pairs.len()
    );
    Ok(())
}
