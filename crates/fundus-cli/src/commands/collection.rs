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
                "disk         vectors {} | payload {}",
                human(stats.vector_bytes_on_disk),
                human(stats.payload_bytes_on_disk)
            );
            println!(
                "memory       vectors {}",
                human(stats.vector_bytes_in_memory as u64)
            );
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
