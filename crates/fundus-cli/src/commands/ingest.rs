//! `fundus ingest`: documents from JSONL into a collection.

use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use clap::Args;

use fundus_core::corpus::{count_lines, JsonlDocuments};
use fundus_core::Reduction;
use fundus_core::{Chunk, Document};
use fundus_models::{Chunker, Embedder, InputKind};
use fundus_store::{ChunkingInfo, Collection, Point, PointWriter};

use crate::context::{Context, LoadedModel};
use crate::create_args::CreateArgs;
use crate::progress;
use crate::splade::{self, LoadedSplade};

/// Documents embedded and committed per round: a crash loses at most one
/// round, and the progress bar moves smoothly.
const DOCS_PER_COMMIT: usize = 512;

#[derive(Args)]
#[command(
    after_help = "Input: one JSON object per line, either BEIR's corpus.jsonl \
({\"_id\", \"title\", \"text\"}) or {\"id\", \"text\", \"title\"?, \"metadata\"?}. \
\nDocuments longer than the model's window are split into overlapping token windows; \
a search returns each document once, scored by its best chunk.\n\n\
Example:\n  fundus ingest --collection products --input examples/products/corpus.jsonl\n\n\
Model, chunking, metric and index options apply when the collection is created; \
appending to an existing collection uses its own."
)]
pub struct IngestArgs {
    /// Collection to create or append to.
    #[arg(long, short)]
    pub collection: String,
    /// JSONL file with one document per line.
    #[arg(long, short)]
    pub input: PathBuf,
    /// Texts per forward pass.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    #[command(flatten)]
    pub create: CreateArgs,
    /// Skip malformed lines (and ids repeated within the file) instead of stopping;
    /// report how many. Ids already in the collection are replaced.
    #[arg(long)]
    pub skip_invalid: bool,
}

pub fn run(ctx: &Context, args: IngestArgs) -> Result<()> {
    let total = count_lines(&args.input)?;
    if !ctx.data.exists(&args.collection) {
        return create_and_ingest(ctx, &args, total);
    }
    let mut collection = ctx.data.open_for_write(&args.collection)?;
    let built_with = collection.config().model.clone();
    let mut model = ctx.load_model(args.create.model.as_deref().unwrap_or(&built_with.source))?;
    // Appended passages must be embedded exactly like the first ones.
    model.set_prefixes(
        built_with.query_prefix.clone(),
        built_with.passage_prefix.clone(),
    )?;
    if model.info.sha256 != built_with.sha256 {
        bail!(
            "collection {:?} was built with model {} (sha256 {}); {} is a different model",
            args.collection,
            built_with.name,
            built_with.sha256,
            model.info.name
        );
    }
    let chunking = collection.config().chunking;
    let splade = splade::load_for(ctx, &collection, args.create.splade_model.as_deref())?;
    ingest_into(
        ctx,
        &args,
        &mut model,
        splade,
        chunking,
        &mut collection,
        total,
    )
}

fn create_and_ingest(ctx: &Context, args: &IngestArgs, total: usize) -> Result<()> {
    let (mut model, mut config) = args.create.build(ctx, &args.collection)?;
    if let Some(dims) = args.create.reduce.pca_dims() {
        let r = fit_pca(ctx, args, &model, config.chunking, dims)?;
        config = config.with_reduction(r);
    }
    let chunking = config.chunking;
    ctx.say(&format!("creating collection {:?}", args.collection));
    let mut collection = ctx.data.create(config)?;
    let splade = splade::load_for(ctx, &collection, None)?;
    ingest_into(
        ctx,
        args,
        &mut model,
        splade,
        chunking,
        &mut collection,
        total,
    )
}

/// Documents whose vectors a PCA at ingest is fitted on.
const PCA_FIT_DOCS: usize = 2_000;

/// Fits the PCA of a new collection on the chunks of the input's first
/// [`PCA_FIT_DOCS`] documents (embedded here, and again by the ingest:
/// the fit must exist before the first vector is stored). Lines that do
/// not parse are left to the ingest to report.
fn fit_pca(
    ctx: &Context,
    args: &IngestArgs,
    model: &LoadedModel,
    chunking: Option<ChunkingInfo>,
    dims: usize,
) -> Result<Reduction> {
    let chunker = chunker_of(chunking);
    let docs: Vec<Document> = JsonlDocuments::open(&args.input)?
        .flatten()
        .take(PCA_FIT_DOCS)
        .collect();
    let points = document_points(&docs, model.encoder.as_ref(), chunker.as_ref())?;
    let texts: Vec<&str> = points.iter().map(|p| p.text.as_str()).collect();
    let pb = progress::bar(texts.len() as u64, "pca fit", ctx.quiet);
    let vectors = model
        .encoder
        .embed_with_progress(&texts, InputKind::Passage, &|n| pb.inc(n as u64))?;
    pb.finish_and_clear();
    let flat: Vec<f32> = vectors.into_iter().flatten().collect();
    let r = Reduction::fit_pca(&flat, model.encoder.dim(), dims)?;
    if let Reduction::Pca { explained, .. } = &r {
        ctx.say(&format!(
            "PCA {} -> {dims} fitted on {} chunks of {} documents: {:.1}% of the variance kept",
            model.encoder.dim(),
            points.len(),
            docs.len(),
            explained * 100.0
        ));
    }
    Ok(r)
}

fn ingest_into(
    ctx: &Context,
    args: &IngestArgs,
    model: &mut LoadedModel,
    mut splade: Option<LoadedSplade>,
    chunking: Option<ChunkingInfo>,
    collection: &mut Collection,
    total: usize,
) -> Result<()> {
    model.encoder.set_batch_size(args.batch_size);
    if let Some(s) = splade.as_mut() {
        s.encoder.set_batch_size(args.batch_size);
    }
    let encoder = model.encoder.as_ref();
    let splade = splade.as_ref();
    let reduction = collection.config().reduction.clone();
    let chunker = chunker_of(chunking);
    let commit_round = |docs: &[Document], collection: &mut Collection| {
        commit(
            docs,
            encoder,
            splade,
            chunker.as_ref(),
            reduction.as_ref(),
            collection,
        )
    };
    let mut reader = JsonlDocuments::open(&args.input)?;
    let pb = progress::bar(total as u64, "ingest", ctx.quiet);
    let mut skipped = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut pending: Vec<Document> = Vec::with_capacity(DOCS_PER_COMMIT);
    let (mut docs, mut chunks, mut replaced) = (0usize, 0usize, 0usize);

    while let Some(item) = reader.next() {
        let doc = match item {
            Ok(doc) => doc,
            Err(e) if e.is_malformed() && args.skip_invalid => {
                pb.inc(1);
                skipped.push(e.to_string());
                continue;
            }
            Err(e) => {
                pb.abandon();
                return Err(e).context(skip_hint(args));
            }
        };
        // An id already in the collection is replaced (upsert); the same id
        // twice in one file is a mistake in the file.
        if !seen.insert(doc.id.clone()) {
            let msg = format!(
                "{}:{}: duplicate document id {:?} in this file",
                args.input.display(),
                reader.line(),
                doc.id
            );
            if args.skip_invalid {
                pb.inc(1);
                skipped.push(msg);
                continue;
            }
            pb.abandon();
            bail!("{msg} ({})", skip_hint(args));
        }
        pending.push(doc);
        if pending.len() == DOCS_PER_COMMIT {
            let (c, r) = commit_round(&pending, collection)?;
            (chunks, replaced) = (chunks + c, replaced + r);
            docs += pending.len();
            pb.inc(pending.len() as u64);
            pending.clear();
        }
    }
    let (c, r) = commit_round(&pending, collection)?;
    (chunks, replaced) = (chunks + c, replaced + r);
    docs += pending.len();
    // Fold the log into a segment so the next open reads one file.
    collection.flush()?;
    pb.finish_and_clear();

    println!(
        "ingested {docs} documents as {chunks} chunks into {:?}, {replaced} of them replaced ({} documents, {} chunks in total; model {}{})",
        args.collection,
        collection.documents(),
        collection.len(),
        collection.config().model.name,
        splade.map_or(String::new(), |s| format!(", SPLADE {}", s.info.name))
    );
    if !skipped.is_empty() {
        println!("skipped {} invalid lines:", skipped.len());
        for s in skipped.iter().take(10) {
            println!("  {s}");
        }
        if skipped.len() > 10 {
            println!("  ... and {} more", skipped.len() - 10);
        }
    }
    Ok(())
}

/// Chunks, embeds (and SPLADE-encodes, when the collection has SPLADE
/// vectors) and upserts one round of documents; returns the number of
/// chunks committed and of documents replaced.
fn commit(
    docs: &[Document],
    encoder: &dyn Embedder,
    splade: Option<&LoadedSplade>,
    chunker: Option<&Chunker>,
    reduction: Option<&Reduction>,
    collection: &mut dyn PointWriter,
) -> Result<(usize, usize)> {
    if docs.is_empty() {
        return Ok((0, 0));
    }
    let mut points = document_points(docs, encoder, chunker)?;
    let texts: Vec<&str> = points.iter().map(|p| p.text.as_str()).collect();
    let mut vectors = encoder.embed(&texts, InputKind::Passage)?;
    if let Some(s) = splade {
        s.encode_points(&mut points, &|_| {})?;
    }
    if let Some(r) = reduction {
        vectors = vectors
            .iter()
            .map(|v| r.apply(v))
            .collect::<Result<_, _>>()?;
    }
    let replaced = collection.upsert(&points, &vectors)?;
    Ok((points.len(), replaced))
}

/// The points (chunks or whole documents) of `docs`, not embedded yet.
fn document_points(
    docs: &[Document],
    encoder: &dyn Embedder,
    chunker: Option<&Chunker>,
) -> Result<Vec<Point>> {
    let mut points = Vec::new();
    for doc in docs {
        let text = doc.embedding_text();
        let pieces = match chunker {
            Some(c) => c.split(encoder.tokenizer(), &doc.id, &text)?,
            None => vec![Chunk {
                doc_id: doc.id.clone(),
                index: 0,
                char_start: 0,
                char_end: text.chars().count() as u32,
                text: text.clone(),
            }],
        };
        points.extend(pieces.into_iter().map(|c| Point {
            doc_id: c.doc_id,
            chunk: c.index,
            char_start: c.char_start,
            char_end: c.char_end,
            title: doc.title.clone(),
            text: c.text,
            metadata: doc.metadata.clone(),
            sparse: Default::default(),
        }));
    }
    Ok(points)
}

fn chunker_of(chunking: Option<ChunkingInfo>) -> Option<Chunker> {
    chunking.map(|c| Chunker {
        size: c.size,
        overlap: c.overlap,
    })
}

fn skip_hint(args: &IngestArgs) -> &'static str {
    if args.skip_invalid {
        "reading stopped"
    } else {
        "nothing after this line was ingested; fix the line or pass --skip-invalid"
    }
}
