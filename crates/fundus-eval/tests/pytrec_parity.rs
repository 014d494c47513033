//! fundus-eval against the real pytrec_eval (trec_eval 9).
//!
//! The fixture in `tests/fixtures/pytrec/` is 40 Cranfield queries with
//! graded judgements plus synthetic ones (all grades 0, negative grades,
//! byte-order ties), and a run full of score ties, f32-equal scores,
//! misleading rank columns, judged queries missing from the run and run
//! queries missing from the qrels. `reference.json` holds pytrec_eval's
//! values for it; rebuild all three with
//!
//! ```text
//! python3 scripts/reference/pytrec_make_fixture.py \
//!     <cranfield>/qrels/test_graded_inverted.tsv crates/fundus-eval/tests/fixtures/pytrec
//! python3 scripts/reference/pytrec_reference.py \
//!     crates/fundus-eval/tests/fixtures/pytrec/{qrels.tsv,run.trec,reference.json}
//! ```
//! (the second needs `pip install pytrec-eval-terrier numpy`).

use std::collections::BTreeSet;
use std::path::PathBuf;

use fundus_eval::{evaluate, Measure, Qrels, Report, Run};
use serde_json::Value;

const TOLERANCE: f64 = 1e-6;
const CUTOFFS: [usize; 5] = [1, 3, 5, 10, 100];

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pytrec")
        .join(name)
}

fn load() -> (Qrels, Run, Report, Value) {
    let qrels = Qrels::read(fixture("qrels.tsv")).expect("fixture qrels");
    let run = Run::read(fixture("run.trec")).expect("fixture run");
    let report = evaluate(&qrels, &run, &CUTOFFS);
    let text = std::fs::read_to_string(fixture("reference.json")).expect("reference.json");
    let reference: Value = serde_json::from_str(&text).expect("reference.json is JSON");
    (qrels, run, report, reference)
}

/// Compares every `name -> value` of a reference object with `ours`,
/// collecting mismatches instead of stopping at the first.
fn compare(
    scope: &str,
    expected: &serde_json::Map<String, Value>,
    ours: &fundus_eval::Scores,
    mismatches: &mut Vec<String>,
    max_diff: &mut f64,
) -> usize {
    let mut compared = 0;
    for (name, value) in expected {
        let expected = value.as_f64().expect("reference values are numbers");
        let measure = Measure::parse(name).unwrap_or_else(|| panic!("unknown measure {name}"));
        match ours.get(measure) {
            Some(actual) => {
                let diff = (actual - expected).abs();
                *max_diff = max_diff.max(diff);
                if diff > TOLERANCE {
                    mismatches.push(format!(
                        "{scope} {name}: ours {actual}, pytrec_eval {expected}"
                    ));
                }
            }
            None => mismatches.push(format!("{scope} {name}: not computed")),
        }
        compared += 1;
    }
    compared
}

#[test]
fn every_value_matches_pytrec_eval() {
    let (_, _, report, reference) = load();
    let expected_queries = reference["per_query"].as_object().expect("per_query");

    let ours: BTreeSet<&str> = report.per_query.keys().map(String::as_str).collect();
    let theirs: BTreeSet<&str> = expected_queries.keys().map(String::as_str).collect();
    assert_eq!(ours, theirs, "evaluated query sets differ");
    assert_eq!(
        report.num_queries as u64,
        reference["num_queries"].as_u64().expect("num_queries")
    );

    let mut mismatches = Vec::new();
    let mut max_diff = 0.0_f64;
    let mut compared = 0;
    for (query, values) in expected_queries {
        let values = values.as_object().expect("per-query object");
        compared += compare(
            &format!("query {query}"),
            values,
            &report.per_query[query],
            &mut mismatches,
            &mut max_diff,
        );
    }
    let mean = reference["mean"].as_object().expect("mean");
    compared += compare("mean", mean, &report.mean, &mut mismatches, &mut max_diff);

    assert!(
        mismatches.is_empty(),
        "{} of {compared} values differ from pytrec_eval:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    // 39 queries x 17 measures + 17 means; guards against an empty fixture.
    assert!(compared >= 600, "only {compared} values compared");
    println!("{compared} values match pytrec_eval, largest difference {max_diff:e}");
}

#[test]
fn fixture_exercises_the_edge_cases() {
    let (qrels, run, report, reference) = load();
    // Run queries without judgements are ignored ...
    assert_eq!(report.unjudged_queries, 2);
    assert!(run.get("ghost").is_some() && !qrels.contains_query("ghost"));
    // ... and judged queries missing from the run are not averaged.
    assert!(report.unanswered_queries >= 3);
    assert_eq!(
        report.num_queries + report.unanswered_queries,
        reference["qrels_queries"].as_u64().expect("qrels_queries") as usize
    );
    // The synthetic queries are evaluated.
    for query in ["syn-zero", "syn-neg", "syn-one"] {
        assert!(report.per_query.contains_key(query), "{query}");
    }
    // syn-one: four tied documents, the relevant "1400" is third in byte
    // order ("999" > "98" > "1400" > "1000").
    assert_eq!(
        report.per_query["syn-one"].get(Measure::RecipRank),
        Some(1.0 / 3.0)
    );
    // Ties abound in the run.
    let tied = run
        .iter()
        .filter(|(_, hits)| {
            let scores: BTreeSet<u32> = hits.iter().map(|(_, s)| (*s as f32).to_bits()).collect();
            scores.len() < hits.len()
        })
        .count();
    assert!(tied >= 20, "only {tied} queries with tied scores");
}
