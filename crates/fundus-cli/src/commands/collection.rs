//! `fundus collection`: list, inspect and delete collections.

use anyhow::Result;
use clap::Subcommand;

use crate::context::Context;

#[derive(Subcommand)]
pub enum CollectionCommand {
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
    /// Delete a collection and its files.
    Delete { name: String },
}

pub fn run(ctx: &Context, cmd: CollectionCommand) -> Result<()> {
    match cmd {
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
            if json {
                let v = serde_json::json!({ "config": cfg, "stats": stats, "path": c.dir() });
                println!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(());
            }
            println!("collection   {}", cfg.name);
            println!("path         {}", c.dir().display());
            println!("model        {} ({})", cfg.model.name, cfg.model.source);
            println!("  sha256     {}", cfg.model.sha256);
            println!("dimension    {}", cfg.dim);
            println!("metric       {}", cfg.metric);
            println!("max tokens   {}", cfg.model.max_seq_length);
            match cfg.chunking {
                Some(ch) => println!("chunking     {} tokens, overlap {}", ch.size, ch.overlap),
                None => println!("chunking     off (documents truncated)"),
            }
            println!("documents    {}", stats.documents);
            println!("chunks       {}", stats.points);
            println!(
                "segments     {} ({}) | WAL {}",
                stats.segments,
                human(stats.segment_bytes_on_disk),
                human(stats.wal_bytes_on_disk)
            );
            if stats.tombstones > 0 {
                println!(
                    "tombstones   {} (dropped at the next flush)",
                    stats.tombstones
                );
            }
            println!(
                "memory       vectors {}",
                human(stats.vector_bytes_in_memory as u64)
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
        CollectionCommand::Delete { name } => {
            ctx.data.delete(&name)?;
            println!("deleted {name}");
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
