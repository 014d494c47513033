//! `fundus search`: one query against a collection.

use std::time::Instant;

use anyhow::{bail, Result};
use clap::Args;

use fundus_core::Filter;
use fundus_index::SearchParams;
use fundus_models::InputKind;
use fundus_store::SearchOptions;

use crate::context::Context;

#[derive(Args)]
#[command(
    after_help = "Example:\n  fundus search --collection products \"Ultratiefkühlschrank -86 °C\"\n\n\
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
    );
    let encoder = &model.encoder;
    let tokens = encoder.tokenizer().count_tokens(&args.query)?;
    if tokens > encoder.max_seq_length() {
        eprintln!(
            "warning: the query has {tokens} tokens; only the first {} are used",
            encoder.max_seq_length()
        );
    }

    let t0 = Instant::now();
    let qv = encoder.embed(&[args.query.as_str()], InputKind::Query)?;
    let embed_ms = t0.elapsed().as_secs_f64() * 1e3;
    let t1 = Instant::now();
    let options = SearchOptions {
        ef_search: args.ef,
        exact: args.exact,
        quantization: SearchParams {
            oversampling: args.oversampling,
            rescore: !args.no_rescore,
        },
    };
    let hits = collection.search_with(&qv[0], args.k, filter.as_ref(), &options)?;
    let search_ms = t1.elapsed().as_secs_f64() * 1e3;

    if args.json {
        for (rank, h) in hits.iter().enumerate() {
            let mut v = serde_json::to_value(h)?;
            v["rank"] = (rank + 1).into();
            println!("{v}");
        }
        eprintln!("{{\"embedding_ms\": {embed_ms:.2}, \"search_ms\": {search_ms:.2}}}");
        return Ok(());
    }
    println!(
        "{:>4}  {:>6}  {:<16} title / snippet",
        "rank", "score", "id"
    );
    for (rank, h) in hits.iter().enumerate() {
        println!(
            "{:>4}  {:>6.4}  {:<16} {}",
            rank + 1,
            h.score,
            h.id,
            h.title.as_deref().unwrap_or("")
        );
        if let Some(text) = &h.text {
            println!("{:>30}{}", "", snippet(text, args.snippet));
        }
    }
    println!(
        "\n{} hits from {} chunks of {} documents | embedding {embed_ms:.1} ms | search {search_ms:.1} ms",
        hits.len(),
        collection.len(),
        collection.documents()
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
