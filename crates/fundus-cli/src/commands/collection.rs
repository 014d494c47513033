//! `fundus collection`: list, inspect and delete collections; snapshots
//! and aliases.

use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;

use crate::context::Context;
use crate::create_args::CreateArgs;

#[derive(Subcommand)]
pub enum CollectionCommand {
    /// Create an empty collection with its model, chunking and index settings.
    #[command(
        after_help = "`fundus ingest` creates a missing collection with the same \
options; create it first to pick them without ingesting.\n\n\
Example:\n  fundus collection create products --quantization int8 --hnsw-m 32 --ef-search 128\n  \
fundus ingest -c products -i catalogue.jsonl\n\n\
Below --exact-threshold chunks search scans every vector exactly (fast at that size); \
from there on an HNSW graph answers, and --quantization decides what it stores \
(the float vectors stay for rescoring)."
    )]
    Create {
        name: String,
        #[command(flatten)]
        create: Box<CreateArgs>,
    },
    /// List the collections in the data directory.
    List,
    /// Show a collection's model, dimension, counts and sizes.
    Info {
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a document's chunks with their payload, one JSON object per line.
    Get {
        name: String,
        /// Document id.
        id: String,
    },
    /// List document ids, in id order.
    Scroll {
        name: String,
        /// Start after this id.
        #[arg(long)]
        after: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Delete documents (all their chunks) from a collection.
    DeleteDocuments {
        name: String,
        /// Document ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Merge all segments into one and drop deleted rows (waits for it).
    #[command(
        after_help = "Each flush writes the changes since the last one as a small segment; \
a background merge folds them together once several pile up. `optimize` does it now and \
waits: the collection then opens from one segment and one saved graph."
    )]
    Optimize { name: String },
    /// Delete a collection and its files (refused while an alias points to it).
    Delete { name: String },
    /// Write a consistent snapshot of a collection to one file, while writes go on.
    #[command(
        after_help = "The snapshot holds every write acknowledged before it started \
(and perhaps a few later ones); an ingest may keep running meanwhile.\n\n\
Example:\n  fundus collection snapshot products --output products.snapshot.zip\n  \
fundus collection restore products.snapshot.zip --name products_restored"
    )]
    Snapshot {
        /// Collection or alias.
        name: String,
        /// Snapshot file to write (replaced if it exists).
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Restore a snapshot as a new collection (verified before it appears).
    #[command(
        after_help = "Example:\n  fundus collection restore products.snapshot.zip --name products_restored\n  \
fundus collection alias set products products_restored    # serve it"
    )]
    Restore {
        /// Snapshot file written by `fundus collection snapshot`.
        file: PathBuf,
        /// Name of the new collection; may not be taken by a collection or an alias.
        #[arg(long)]
        name: String,
    },
    /// Stable names that point to a collection and switch atomically.
    Alias {
        #[command(subcommand)]
        cmd: AliasCommand,
    },
}

#[derive(Subcommand)]
pub enum AliasCommand {
    /// Point an alias at a collection: create it, or switch it atomically.
    #[command(
        after_help = "Blue-green: build the new version beside the old one, switch, \
roll back if needed. Queries through the alias go to the old collection or the new one, \
never nowhere, and each is embedded with the model of the collection it goes to.\n\n  \
fundus ingest -c products_v1 -i catalogue.jsonl\n  \
fundus collection alias set products products_v1\n  \
fundus search -c products \"ultra-low freezer\"          # searches products_v1\n  \
fundus ingest -c products_v2 -i catalogue.jsonl --model path/to/new-model\n  \
fundus collection alias set products products_v2       # switch\n  \
fundus collection alias set products products_v1       # roll back\n\n\
An alias may not have a collection's name, points to a collection (not to another alias), \
and a collection an alias points to cannot be deleted."
    )]
    Set {
        /// The stable name clients use.
        alias: String,
        /// The collection it should point to.
        collection: String,
    },
    /// List aliases and the collections they point to.
    List,
    /// Remove an alias (the collection stays).
    Remove { alias: String },
}

pub fn run(ctx: &Context, cmd: CollectionCommand) -> Result<()> {
    match cmd {
        CollectionCommand::Create { name, create } => {
            if create.reduce.pca_dims().is_some() {
                anyhow::bail!(
                    "--reduction pca is fitted on the corpus: create the collection with \
                     `fundus ingest --dims N`, or use --reduction truncate"
                );
            }
            let (_, config) = create.build(ctx, &name)?;
            let c = ctx.data.create(config)?;
            let cfg = c.config();
            println!(
                "created collection {name:?}: model {}, {} dimensions, {}, {}",
                cfg.model.name,
                cfg.dim,
                cfg.metric,
                index_summary(cfg)
            );
            for (vector, sparse) in &cfg.sparse_vectors {
                println!("sparse vector {vector:?}: {}", sparse.model.name);
            }
        }
        CollectionCommand::List => {
            let names = ctx.data.list()?;
            if names.is_empty() {
                println!("no collections in {}", ctx.data.root().display());
            }
            for n in names {
                println!("{n}");
            }
        }
        CollectionCommand::Info { name, json } => {
            let c = ctx.data.open(&name)?;
            let cfg = c.config();
            let stats = c.stats();
            let aliases = ctx.data.aliases_of(&ctx.data.resolve(&name)?)?;
            if json {
                let v = serde_json::json!({
                    "config": cfg, "stats": stats, "path": c.dir(), "aliases": aliases
                });
                println!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(());
            }
            println!("collection   {}", cfg.name);
            if !aliases.is_empty() {
                println!("aliases      {}", aliases.join(", "));
            }
            println!("path         {}", c.dir().display());
            println!("model        {} ({})", cfg.model.name, cfg.model.source);
            println!("  sha256     {}", cfg.model.sha256);
            match &cfg.reduction {
                Some(r) => println!(
                    "dimension    {} ({} of the model's {})",
                    cfg.dim,
                    r.label(),
                    cfg.model.dim
                ),
                None => println!("dimension    {}", cfg.dim),
            }
            println!("metric       {}", cfg.metric);
            println!("max tokens   {}", cfg.model.max_seq_length);
            match cfg.chunking {
                Some(ch) => println!("chunking     {} tokens, overlap {}", ch.size, ch.overlap),
                None => println!("chunking     off (documents truncated)"),
            }
            println!("index        {}", index_summary(cfg));
            println!("  in use     {}", stats.index);
            match (&cfg.text_index, stats.text_index_documents) {
                (Some(t), Some(docs)) => println!(
                    "text index   BM25 ({} analyzer, k1 {}, b {}, {}) over {docs} documents | disk {}",
                    t.analyzer,
                    t.k1,
                    t.b,
                    t.variant,
                    human(stats.text_index_bytes_on_disk)
                ),
                _ => println!("text index   none (no BM25)"),
            }
            for (vector, sparse) in &cfg.sparse_vectors {
                let st = stats
                    .sparse_vectors
                    .get(vector)
                    .copied()
                    .unwrap_or_default();
                println!(
                    "sparse       {vector:?}: {} ({} terms) over {} chunks, {} distinct terms",
                    sparse.model.name, sparse.model.vocab_size, st.chunks, st.terms
                );
                println!("  sha256     {}", sparse.model.sha256);
            }
            println!("documents    {}", stats.documents);
            println!("chunks       {}", stats.points);
            if stats.tombstones > 0 {
                println!(
                    "tombstones   {} (dropped by the next merge; `fundus collection optimize`)",
                    stats.tombstones
                );
            }
            if let Some(e) = &stats.merge_error {
                println!("merge        last attempt failed: {e}");
            }
            println!(
                "disk         segments {} ({} files) | graph {} | WAL {}",
                human(stats.segment_bytes_on_disk),
                stats.segments,
                human(stats.graph_bytes_on_disk),
                human(stats.wal_bytes_on_disk)
            );
            println!(
                "memory       vectors {} | graph {} | texts and payloads {}",
                human(stats.memory.vectors as u64),
                human(stats.memory.graph as u64),
                human(stats.payload_bytes_in_memory as u64)
            );
        }
        CollectionCommand::Get { name, id } => {
            let c = ctx.data.open(&name)?;
            let chunks = c.get(&id);
            if chunks.is_empty() {
                anyhow::bail!("collection {name:?} has no document {id:?}");
            }
            for p in chunks {
                println!("{}", serde_json::to_string(p)?);
            }
        }
        CollectionCommand::Scroll { name, after, limit } => {
            let c = ctx.data.open(&name)?;
            for id in c.scroll(after.as_deref(), limit) {
                println!("{id}");
            }
        }
        CollectionCommand::DeleteDocuments { name, ids } => {
            let mut c = ctx.data.open_for_write(&name)?;
            let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
            let n = c.delete(&refs)?;
            println!("deleted {n} of {} documents from {name:?}", ids.len());
        }
        CollectionCommand::Optimize { name } => {
            let mut c = ctx.data.open_for_write(&name)?;
            let before = c.stats();
            c.optimize()?;
            let after = c.stats();
            println!(
                "optimized {name:?}: {} segments -> {}, {} deleted rows dropped",
                before.segments, after.segments, before.tombstones
            );
        }
        CollectionCommand::Delete { name } => {
            ctx.data.delete(&name)?;
            println!("deleted {name}");
        }
        CollectionCommand::Snapshot { name, output } => {
            let info = ctx.data.snapshot(&name, &output)?;
            println!(
                "snapshot of {:?}: {} documents, {} chunks, {} in {}",
                info.collection,
                info.documents,
                info.points,
                human(info.bytes),
                output.display()
            );
        }
        CollectionCommand::Restore { file, name } => {
            let info = ctx.data.restore(&file, &name)?;
            println!(
                "restored {:?} from {}: {} documents, {} chunks",
                info.collection,
                file.display(),
                info.documents,
                info.points
            );
        }
        CollectionCommand::Alias { cmd } => alias(ctx, cmd)?,
    }
    Ok(())
}

fn alias(ctx: &Context, cmd: AliasCommand) -> Result<()> {
    match cmd {
        AliasCommand::Set { alias, collection } => {
            match ctx.data.set_alias(&alias, &collection)? {
                Some(before) if before != collection => {
                    println!("alias {alias}: {before} -> {collection}");
                    // A switch across models is the point of blue-green; say so.
                    let model = |n: &str| ctx.data.config(n).map(|c| c.model);
                    if let (Ok(old), Ok(new)) = (model(&before), model(&collection)) {
                        if old.sha256 != new.sha256 {
                            println!(
                                "queries through {alias} are now embedded with {} (was {})",
                                new.name, old.name
                            );
                        }
                    }
                }
                Some(_) => println!("alias {alias} already points to {collection}"),
                None => println!("alias {alias} -> {collection}"),
            }
        }
        AliasCommand::List => {
            let aliases = ctx.data.aliases()?;
            if aliases.is_empty() {
                println!("no aliases in {}", ctx.data.root().display());
            }
            for (alias, collection) in aliases {
                println!("{alias} -> {collection}");
            }
        }
        AliasCommand::Remove { alias } => {
            let collection = ctx.data.remove_alias(&alias)?;
            println!("removed alias {alias} (pointed to {collection}; the collection stays)");
        }
    }
    Ok(())
}

fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// One line on how a collection indexes its vectors.
fn index_summary(cfg: &fundus_store::CollectionConfig) -> String {
    let i = &cfg.index;
    format!(
        "exact below {} chunks, then HNSW (m {}, ef_construct {}, ef_search {}, quantization {})",
        i.exact_threshold,
        i.hnsw.m,
        i.hnsw.ef_construct,
        i.hnsw.ef_search,
        i.quantization.name()
    )
}
