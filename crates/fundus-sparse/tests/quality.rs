//! BM25 retrieval quality on real test collections, against published
//! figures.
//!
//! Reads `../shared/data` beside the repository (or `FUNDUS_SHARED_DATA`);
//! a missing dataset skips its test with a message, so the crate's tests
//! pass on a machine without the data. Each test prints its numbers.

use std::path::PathBuf;

use fundus_eval::{evaluate, BeirDataset, Run};
use fundus_sparse::{Analyzer, Bm25Index, Bm25Params};

/// The dataset folder, or `None` (with a message) when it is absent.
fn shared_data(name: &str) -> Option<PathBuf> {
    let root = std::env::var_os("FUNDUS_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    let dir = root.join(name);
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: {} not found (put the shared data beside the repository or set FUNDUS_SHARED_DATA)",
            dir.display()
        );
        None
    }
}

/// nDCG@10 of BM25 with `analyzer` and `params` on `dataset`'s `split`,
/// documents as BEIR feeds them to lexical retrievers (title + " " + text),
/// top 100 per query.
fn ndcg_at_10(dataset: &BeirDataset, analyzer: Analyzer, params: Bm25Params) -> f64 {
    let index = Bm25Index::build(
        analyzer,
        params,
        dataset
            .corpus
            .iter()
            .map(|d| (d.id.as_str(), format!("{} {}", d.title, d.text))),
    )
    .unwrap();
    let mut run = Run::new();
    for q in &dataset.queries {
        let hits = index.search(&q.text, 100).unwrap();
        run.insert_query(&q.id, hits.into_iter().map(|h| (h.key, f64::from(h.score))));
    }
    evaluate(&dataset.qrels, &run, &[10])
        .mean("NDCG@10")
        .unwrap()
}

#[test]
fn scifact_ndcg_at_10_reaches_bm25s() {
    let Some(dir) = shared_data("scifact") else {
        return;
    };
    let data = BeirDataset::load(dir, "test").unwrap();
    assert_eq!(data.queries.len(), 300);
    let english = ndcg_at_10(&data, Analyzer::English, Bm25Params::default());
    let k1_12 = ndcg_at_10(&data, Analyzer::English, Bm25Params::lucene(1.2, 0.75));
    let standard = ndcg_at_10(&data, Analyzer::Standard, Bm25Params::default());
    eprintln!(
        "SciFact test nDCG@10: english {english:.4} (k1 1.2: {k1_12:.4}), standard {standard:.4} \
         (bm25s 0.687, Pyserini flat 0.679)"
    );
    assert!(
        english >= 0.687,
        "SciFact nDCG@10 {english:.4} < 0.687 (bm25s)"
    );
    assert!(english > standard, "stemming should help on SciFact");
}

#[test]
fn cranfield_ndcg_at_10() {
    let Some(dir) = shared_data("cranfield") else {
        return;
    };
    // Graded with higher = more relevant (see the dataset's SOURCE.md).
    let split = if dir.join("qrels/test_graded_inverted.tsv").is_file() {
        "test_graded_inverted"
    } else {
        "test"
    };
    let data = BeirDataset::load(dir, split).unwrap();
    let english = ndcg_at_10(&data, Analyzer::English, Bm25Params::default());
    let standard = ndcg_at_10(&data, Analyzer::Standard, Bm25Params::default());
    eprintln!("Cranfield ({split}) nDCG@10: english {english:.4}, standard {standard:.4} (SOURCE.md's BM25: 0.311)");
    assert!(
        english > 0.28 && english < 0.5,
        "Cranfield nDCG@10 {english:.4}"
    );
}

#[test]
fn xquad_de_german_analyzer_beats_english() {
    let Some(dir) = shared_data("xquad_de") else {
        return;
    };
    let data = BeirDataset::load(dir, "test").unwrap();
    let german = ndcg_at_10(&data, Analyzer::German, Bm25Params::default());
    let english = ndcg_at_10(&data, Analyzer::English, Bm25Params::default());
    let standard = ndcg_at_10(&data, Analyzer::Standard, Bm25Params::default());
    eprintln!(
        "XQuAD-de nDCG@10: german {german:.4}, english {english:.4}, standard {standard:.4} \
         (SOURCE.md's BM25: 0.916)"
    );
    assert!(
        german > english,
        "german {german:.4} <= english {english:.4}"
    );
    assert!(german > 0.88, "XQuAD-de nDCG@10 {german:.4}");
}

/// The sample catalogue in `examples/products` (German and English sheets,
/// graded qrels), which ships with the repository.
fn products() -> BeirDataset {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/products");
    BeirDataset::load(dir, "test").unwrap()
}

/// nDCG@10 over the queries whose `metadata.lang` is `lang` only.
fn ndcg_at_10_lang(dataset: &BeirDataset, analyzer: Analyzer, lang: &str) -> f64 {
    let mut only = dataset.clone();
    only.queries.retain(|q| {
        q.metadata
            .as_ref()
            .and_then(|m| m.get("lang"))
            .and_then(|l| l.as_str())
            == Some(lang)
    });
    ndcg_at_10(&only, analyzer, Bm25Params::default())
}

#[test]
fn compound_splitting_on_the_products_catalogue() {
    let data = products();
    let german = ndcg_at_10(&data, Analyzer::German, Bm25Params::default());
    let compounds = ndcg_at_10(&data, Analyzer::GermanCompounds, Bm25Params::default());
    let german_de = ndcg_at_10_lang(&data, Analyzer::German, "de");
    let compounds_de = ndcg_at_10_lang(&data, Analyzer::GermanCompounds, "de");
    eprintln!(
        "products nDCG@10 (40 queries): german {german:.4}, german-compounds {compounds:.4}; \
         German queries only: german {german_de:.4}, german-compounds {compounds_de:.4}"
    );
    assert!(
        compounds > german,
        "compound splitting should help on the catalogue: {compounds:.4} <= {german:.4}"
    );
}

#[test]
fn compound_splitting_on_xquad_de() {
    let Some(dir) = shared_data("xquad_de") else {
        return;
    };
    let data = BeirDataset::load(dir, "test").unwrap();
    let german = ndcg_at_10(&data, Analyzer::German, Bm25Params::default());
    let compounds = ndcg_at_10(&data, Analyzer::GermanCompounds, Bm25Params::default());
    eprintln!("XQuAD-de nDCG@10: german {german:.4}, german-compounds {compounds:.4}");
    assert!(compounds > 0.88, "XQuAD-de nDCG@10 {compounds:.4}");
}
