//! `fundus search`: one query against a collection.

use std::time::Instant;

use anyhow::{bail, Result};
use clap::Args;

use std::sync::Arc;

use fundus_core::Filter;
use fundus_index::SearchParams;
use fundus_models::Embedder;
use fundus_search::{Pipeline, Query, Runner};
use fundus_store::SearchOptions;

use crate::context::Context;
use crate::{splade, stages};

#[derive(Args)]
#[command(
    after_help = "Examples:\n  fundus search --collection products \"Ultratiefkühlschrank -86 °C\"\n  \
fundus search -c products --pipeline bm25 \"LABO-288\"\n  \
fundus search -c products --pipeline \"(dense(100) + bm25(100)) -> weighted(0.7, 0.3, norm=zscore)\" --explain \"DIN 13277\"\n\n\
Pipelines: a stage is name(candidates); `->` feeds the candidates to the next stage, which \
re-ranks them (bm25(1000) -> dense(100)); (a + b) -> rrf | weighted(w1, w2, norm=minmax|zscore) | dbsf \
fuses lists. Stages: dense, bm25 (when the collection has a text index), splade (when it \
was created with --splade-model).\n\n\
The query is embedded with the collection's own model. Queries longer than the \
model's window are truncated to it (a warning says so)."
)]
pub struct SearchArgs {
    /// Collection to search.
    #[arg(long, short)]
    pub collection: String,
    /// The query text.
    pub query: String,
    /// Number of documents to return.
    #[arg(long, short, default_value_t = 10)]
    pub k: usize,
    /// Print hits as JSON lines instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Only documents whose metadata match, e.g.
    /// 'manufacturer = "Nordkühl" AND volume_l >= 250' (=, !=, <, <=, >, >=,
    /// IN (..), EXISTS, AND, OR, NOT, parentheses; a.b for nested fields).
    #[arg(long, short)]
    pub filter: Option<String>,
    /// Characters of each hit's text to show.
    #[arg(long, default_value_t = 160)]
    pub snippet: usize,
    /// Embed the query with this model (name or folder) instead of the
    /// collection's; refused unless its weights are the collection's.
    #[arg(long, short)]
    pub model: Option<String>,
    /// HNSW beam width for this query [default: the collection's ef_search].
    #[arg(long, help_heading = "Search tuning")]
    pub ef: Option<usize>,
    /// Scan every vector exactly, even where an HNSW graph exists.
    #[arg(long, help_heading = "Search tuning")]
    pub exact: bool,
    /// Quantized graphs: candidates per hit re-scored with the float vectors
    /// [default: 2 for float16/int8, 4 for binary].
    #[arg(long, help_heading = "Search tuning")]
    pub oversampling: Option<f32>,
    /// Quantized graphs: return the codes' approximate scores, no rescoring.
    #[arg(long, help_heading = "Search tuning")]
    pub no_rescore: bool,
    /// Retrieval pipeline: a name (dense, bm25, splade, hybrid), pipeline text such as
    /// "(dense(100) + bm25(100)) -> rrf" or "bm25(1000) -> dense(100)", or JSON
    /// [default: hybrid when the collection has a text index, else dense].
    #[arg(long, short)]
    pub pipeline: Option<String>,
    /// Show every stage's score and rank for each hit.
    #[arg(long)]
    pub explain: bool,
}

pub fn run(ctx: &Context, args: SearchArgs) -> Result<()> {
    if args.query.trim().is_empty() {
        bail!("the query is empty");
    }
    let filter = args.filter.as_deref().map(Filter::parse).transpose()?;
    let collection = ctx.data.open(&args.collection)?;
    let built_with = collection.config().model.clone();
    let model = ctx.load_model(args.model.as_deref().unwrap_or(&built_with.source))?;
    if let Err(e) = collection.check_query_model(&model.info) {
        if args.model.is_none() {
            // The collection's own model folder now holds other weights.
            bail!("{e} ({} was changed since the ingest)", built_with.source);
        }
        return Err(e.into());
    }
    let mut model = model;
    model.set_prefixes(
        built_with.query_prefix.clone(),
        built_with.passage_prefix.clone(),
    )?;
    let encoder: Arc<dyn Embedder> = Arc::from(model.encoder);
    let tokens = encoder.tokenizer().count_tokens(&args.query)?;
    if tokens > encoder.max_seq_length() {
        eprintln!(
            "warning: the query has {tokens} tokens; only the first {} are used",
            encoder.max_seq_length()
        );
    }

    let options = SearchOptions {
        ef_search: args.ef,
        exact: args.exact,
        quantization: SearchParams {
            oversampling: args.oversampling,
            rescore: !args.no_rescore,
        },
    };
    let collection = Arc::new(collection);
    let spec = match &args.pipeline {
        Some(p) => p.clone(),
        None if collection.has_text_index() => "hybrid".to_string(),
        None => "dense".to_string(),
    };
    let pipeline = Pipeline::resolve(&spec)?.cut(args.k);
    let (mut registry, dense) = stages::registry(&collection, &encoder, options)?;
    let splade = splade::add_stage(ctx, &mut registry, &pipeline, &collection, None)?;
    let runner = Runner::new(&registry, pipeline)?;
    let mut query = Query::new(args.query.as_str());
    if let Some(f) = filter {
        query = query.with_filter(f);
    }
    let t0 = Instant::now();
    let out = runner.run(&query)?;
    let total_ms = t0.elapsed().as_secs_f64() * 1e3;
    let embed_ms = (dense.embedding_time()
        + splade.map_or(Default::default(), |s| s.encoding_time()))
    .as_secs_f64()
        * 1e3;
    let search_ms = (total_ms - embed_ms).max(0.0);

    if args.json {
        for (rank, c) in out.candidates.iter().enumerate() {
            let chunks = collection.get(&c.id);
            let first = chunks.first();
            let v = serde_json::json!({
                "rank": rank + 1,
                "id": c.id,
                "score": c.score,
                "title": first.and_then(|p| p.title.clone()),
                "text": first.map(|p| p.text.clone()),
                "metadata": first.and_then(|p| p.metadata.clone()),
                "stages": c.stages,
            });
            println!("{v}");
        }
        let stages: Vec<serde_json::Value> = out
            .timings
            .iter()
            .map(|t| serde_json::json!({"stage": t.stage, "ms": t.elapsed.as_secs_f64() * 1e3}))
            .collect();
        eprintln!(
            "{}",
            serde_json::json!({"pipeline": runner.pipeline().to_string(), "embedding_ms": embed_ms, "search_ms": search_ms, "stages": stages})
        );
        return Ok(());
    }
    println!(
        "{:>4}  {:>8}  {:<16} title / snippet",
        "rank", "score", "id"
    );
    for (rank, c) in out.candidates.iter().enumerate() {
        let chunks = collection.get(&c.id);
        let first = chunks.first();
        println!(
            "{:>4}  {:>8.4}  {:<16} {}",
            rank + 1,
            c.score,
            c.id,
            first.and_then(|p| p.title.as_deref()).unwrap_or("")
        );
        if let Some(p) = first {
            println!("{:>32}{}", "", snippet(&p.text, args.snippet));
        }
        if args.explain {
            println!("{:>32}why: {}", "", c.explain());
        }
    }
    println!(
        "\n{} hits from {} chunks of {} documents | pipeline {} | embedding {embed_ms:.1} ms | search {search_ms:.1} ms",
        out.candidates.len(),
        collection.len(),
        collection.documents(),
        runner.pipeline()
    );
    Ok(())
}

/// The first `max` characters on one line, cut at a word where possible.
fn snippet(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        return flat;
    }
    let cut: String = flat.chars().take(max).collect();
    let cut = match cut.rfind(' ') {
        Some(i) if i > max / 2 => &cut[..i],
        _ => &cut[..],
    };
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::snippet;

    #[test]
    fn snippets_are_one_line_and_cut_at_words() {
        assert_eq!(snippet("a\n b", 10), "a b");
        assert_eq!(
            snippet("Kühlschrank mit Glastür und Alarm", 20),
            "Kühlschrank mit…"
        );
    }
}
