//! Retrieval and STS quality of all-MiniLM-L6-v2 against published figures.
//!
//! These run the real model on real data (`../shared/data`), so they are
//! the slowest tests (a few minutes for SciFact on two cores).

mod common;

use common::{shared_data, Fundus};

#[test]
fn scifact_ndcg_at_10_matches_mteb() {
    let f = Fundus::new();
    let out_dir = f.data.path().join("out");
    let data = shared_data("scifact");
    f.run(&[
        "eval",
        "--dataset",
        data.to_str().unwrap(),
        "--k",
        "10,100",
        "--output",
        out_dir.to_str().unwrap(),
    ])
    .success();
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("report.json")).unwrap())
            .unwrap();
    let ndcg = report["report"]["mean"]["NDCG@10"].as_f64().unwrap();
    eprintln!("SciFact nDCG@10 = {ndcg:.4} (MTEB: 0.6451)");
    assert!(
        (ndcg - 0.645).abs() <= 0.003,
        "SciFact nDCG@10 {ndcg} is not 0.645 ± 0.003"
    );
    assert_eq!(report["queries"], 300);
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
