//! `fundus`: ingest documents with a real transformer model, search them,
//! and measure retrieval quality.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod commands;
mod context;
mod create_args;
mod progress;
mod splade;
mod stages;

use context::Context;

/// Fundus — a retrieval engine for RAG.
///
/// Turn documents into embeddings with a transformer model, search them,
/// and measure how good the search is.
///
/// Try it:
///
///   fundus models pull all-minilm-l6-v2
///   fundus ingest --collection products --input examples/products/corpus.jsonl
///   fundus search --collection products "Medikamentenkühlschrank nach DIN 13277"
///   fundus eval --dataset path/to/scifact
#[derive(Parser)]
#[command(name = "fundus", version, verbatim_doc_comment, max_term_width = 100)]
struct Cli {
    /// Where collections live.
    #[arg(long, global = true, env = "FUNDUS_DATA", value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// Where pulled models are cached.
    #[arg(long, global = true, env = "FUNDUS_HOME", value_name = "DIR")]
    model_home: Option<PathBuf>,

    /// Print less: no progress bars.
    #[arg(long, short, global = true)]
    quiet: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List and pull embedding models.
    #[command(subcommand)]
    Models(commands::models::ModelsCommand),
    /// Embed documents from a JSONL file into a collection.
    Ingest(commands::ingest::IngestArgs),
    /// Search a collection with a natural-language query.
    Search(commands::search::SearchArgs),
    /// Inspect and manage collections.
    #[command(subcommand)]
    Collection(commands::collection::CollectionCommand),
    /// Measure retrieval quality on a BEIR dataset (or STS correlation).
    Eval(commands::eval::EvalArgs),
    /// Compare embedding models on a BEIR dataset: quality, speed, memory.
    CompareModels(commands::compare::CompareArgs),
    /// Tune retrieval settings on a dataset's training split.
    #[command(subcommand)]
    Tune(commands::tune::TuneCommand),
    /// Diagnostics on the vectors of a collection.
    #[command(subcommand)]
    Analyze(commands::analyze::AnalyzeCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let ctx = Context::new(cli.data_dir, cli.model_home, cli.quiet);
    let result = match cli.command {
        Command::Models(c) => commands::models::run(&ctx, c),
        Command::Ingest(a) => commands::ingest::run(&ctx, a),
        Command::Search(a) => commands::search::run(&ctx, a),
        Command::Collection(c) => commands::collection::run(&ctx, c),
        Command::Eval(a) => commands::eval::run(&ctx, a),
        Command::CompareModels(a) => commands::compare::run(&ctx, a),
        Command::Tune(c) => commands::tune::run(&ctx, c),
        Command::Analyze(c) => commands::analyze::run(&ctx, c),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
