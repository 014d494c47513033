//! Pipelines end to end, over in-memory stages that stand in for the
//! indexes and models the binary plugs in.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use fundus_core::Filter;
use fundus_search::{
    Candidate, Pipeline, PipelineError, Query, Rescorer, Retriever, Runner, SearchError, Stage,
    StageError, StageRegistry, StageRole,
};

/// A stage with a fixed score per document. As a retriever it returns its
/// whole table (nothing for the query "nothing"); as a rescorer it scores
/// the candidates it knows, drops the others, and also "scores" a document
/// that is no candidate, which the runner must ignore.
struct Table {
    name: &'static str,
    scores: HashMap<&'static str, f32>,
    batch_calls: AtomicUsize,
}

impl Table {
    fn new(name: &'static str, scores: &[(&'static str, f32)]) -> Arc<Table> {
        Arc::new(Table {
            name,
            scores: scores.iter().copied().collect(),
            batch_calls: AtomicUsize::new(0),
        })
    }
}

impl Stage for Table {
    fn name(&self) -> &str {
        self.name
    }
}

impl Retriever for Table {
    fn retrieve(&self, query: &Query, _k: usize) -> Result<Vec<(String, f32)>, StageError> {
        if query.text == "nothing" {
            return Ok(Vec::new());
        }
        // Unsorted on purpose: ordering is the runner's job.
        Ok(self
            .scores
            .iter()
            .map(|(id, s)| (id.to_string(), *s))
            .collect())
    }

    fn retrieve_batch(
        &self,
        queries: &[Query],
        k: usize,
    ) -> Result<Vec<Vec<(String, f32)>>, StageError> {
        self.batch_calls.fetch_add(1, Ordering::Relaxed);
        queries.iter().map(|q| self.retrieve(q, k)).collect()
    }
}

impl Rescorer for Table {
    fn rescore(
        &self,
        _query: &Query,
        candidates: &[String],
    ) -> Result<Vec<(String, f32)>, StageError> {
        let mut out: Vec<(String, f32)> = candidates
            .iter()
            .filter_map(|id| self.scores.get(id.as_str()).map(|s| (id.clone(), *s)))
            .collect();
        out.push(("intruder".to_string(), 100.0));
        Ok(out)
    }
}

/// Retrievers that break their contract in different ways.
enum Faulty {
    Fails,
    Nan,
    NoLists,
}

impl Stage for Faulty {
    fn name(&self) -> &str {
        match self {
            Faulty::Fails => "broken",
            Faulty::Nan => "nan",
            Faulty::NoLists => "nolists",
        }
    }
}

impl Retriever for Faulty {
    fn retrieve(&self, _query: &Query, _k: usize) -> Result<Vec<(String, f32)>, StageError> {
        match self {
            Faulty::Fails => Err(StageError::with_source(
                "index unreadable",
                std::io::Error::other("segment 3: checksum mismatch"),
            )),
            Faulty::Nan => Ok(vec![("d1".into(), 1.0), ("d2".into(), f32::NAN)]),
            Faulty::NoLists => Ok(Vec::new()),
        }
    }

    fn retrieve_batch(
        &self,
        queries: &[Query],
        k: usize,
    ) -> Result<Vec<Vec<(String, f32)>>, StageError> {
        match self {
            Faulty::NoLists => Ok(Vec::new()),
            _ => queries.iter().map(|q| self.retrieve(q, k)).collect(),
        }
    }
}

/// dense (both roles), bm25 (retrieves only), rerank (re-scores only).
fn registry() -> (StageRegistry, Arc<Table>) {
    let dense = Table::new(
        "dense",
        &[
            ("d1", 0.9),
            ("d2", 0.8),
            ("d3", 0.5),
            ("d4", 0.3),
            ("d5", 0.1),
        ],
    );
    let bm25 = Table::new(
        "bm25",
        &[("d3", 12.0), ("d6", 9.0), ("d1", 7.0), ("d5", 2.0)],
    );
    let rerank = Table::new(
        "rerank",
        &[
            ("d1", 0.2),
            ("d3", 0.95),
            ("d5", 0.6),
            ("d2", 0.4),
            ("d6", 0.7),
        ],
    );
    let mut r = StageRegistry::new();
    r.add(dense.clone()).unwrap();
    r.add_retriever(bm25).unwrap();
    r.add_rescorer(rerank).unwrap();
    r.add_retriever(Arc::new(Faulty::Fails)).unwrap();
    r.add_retriever(Arc::new(Faulty::Nan)).unwrap();
    r.add_retriever(Arc::new(Faulty::NoLists)).unwrap();
    (r, dense)
}

fn run(text: &str, query: &str) -> Vec<Candidate> {
    let (registry, _) = registry();
    let runner = Runner::new(&registry, Pipeline::parse(text).unwrap()).unwrap();
    runner.run(&Query::new(query)).unwrap().candidates
}

fn ids(candidates: &[Candidate]) -> Vec<&str> {
    candidates.iter().map(|c| c.id.as_str()).collect()
}

/// (stage, rank, score) of every history entry.
fn history(c: &Candidate) -> Vec<(&str, usize, f32)> {
    c.stages
        .iter()
        .map(|s| (s.stage.as_str(), s.rank, s.score))
        .collect()
}

#[test]
fn two_lists_are_fused_and_each_hit_shows_where_it_came_from() {
    let (registry, _) = registry();
    let runner = Runner::new(
        &registry,
        Pipeline::parse("(dense(10) + bm25(10)) -> rrf").unwrap(),
    )
    .unwrap();
    let out = runner.run(&Query::new("fridge")).unwrap();
    // dense ranks d1..d5 1..5; bm25 ranks d3 d6 d1 d5 1..4.
    // d1 and d3: 1/61 + 1/63 (a tie, broken by id); d5: 1/65 + 1/64;
    // d2 and d6: 1/62 (tie); d4: 1/64.
    assert_eq!(ids(&out.candidates), ["d1", "d3", "d5", "d2", "d6", "d4"]);
    let expected = 1.0 / 61.0 + 1.0 / 63.0;
    assert!((f64::from(out.candidates[0].score) - expected).abs() < 1e-6);
    assert_eq!(
        history(&out.candidates[1]),
        [
            ("dense", 3, 0.5),
            ("bm25", 1, 12.0),
            ("rrf", 2, out.candidates[1].score)
        ]
    );
    // d6 only came from bm25.
    assert_eq!(
        history(&out.candidates[4])[..1],
        [("bm25", 2, 9.0)],
        "{:?}",
        out.candidates[4]
    );
    let stages: Vec<&str> = out.timings.iter().map(|t| t.stage.as_str()).collect();
    assert_eq!(stages, ["dense", "bm25", "rrf"]);

    // Weighted 0.7 / 0.3, min-max: dense d1 1, d2 .875, d3 .5, d4 .25, d5 0;
    // bm25 d3 1, d6 .7, d1 .5, d5 0.
    let c = run("(dense(10) + bm25(10)) -> weighted(0.7, 0.3)", "fridge");
    // d1 .7 + .15, d3 .35 + .3, d2 .6125, d6 .21, d4 .175, d5 0.
    assert_eq!(ids(&c), ["d1", "d3", "d2", "d6", "d4", "d5"]);
    assert!((c[0].score - 0.85).abs() < 1e-6, "{:?}", c[0]);
    assert!((c[1].score - 0.65).abs() < 1e-6, "{:?}", c[1]);
}

#[test]
fn a_rescoring_chain_keeps_every_stage_score() {
    let c = run("bm25(4) -> dense(3) -> rerank(2)", "fridge");
    // bm25: d3 d6 d1 d5. dense knows d1 .9, d3 .5, d5 .1 (d6 dropped).
    // rerank: d3 .95, d5 .6, d1 .2; "intruder" is no candidate.
    assert_eq!(ids(&c), ["d3", "d5"]);
    assert_eq!(c[0].score, 0.95);
    assert_eq!(
        history(&c[0]),
        [("bm25", 1, 12.0), ("dense", 2, 0.5), ("rerank", 1, 0.95)]
    );
    assert_eq!(
        history(&c[1]),
        [("bm25", 4, 2.0), ("dense", 3, 0.1), ("rerank", 2, 0.6)]
    );
    assert_eq!(
        c[0].explain(),
        "bm25 #1 12.0000 | dense #2 0.5000 | rerank #1 0.9500"
    );

    // A fused list can be re-scored too; the fusion's entry stays.
    let c = run("(dense(10) + bm25(10)) -> rrf -> rerank(2)", "fridge");
    assert_eq!(ids(&c), ["d3", "d6"]);
    let stages: Vec<&str> = c[0].stages.iter().map(|s| s.stage.as_str()).collect();
    assert_eq!(stages, ["dense", "bm25", "rrf", "rerank"]);
}

#[test]
fn a_count_cuts_the_list() {
    assert_eq!(ids(&run("bm25(100) -> 2", "fridge")), ["d3", "d6"]);
    assert_eq!(ids(&run("bm25(2)", "fridge")), ["d3", "d6"]);
    assert_eq!(
        ids(&run("(dense(10) + bm25(10)) -> rrf -> 3", "fridge")),
        ["d1", "d3", "d5"]
    );
    // A larger cut after a smaller one changes nothing.
    assert_eq!(ids(&run("bm25(100) -> 1 -> 50", "fridge")), ["d3"]);
}

#[test]
fn unknown_stages_are_named_with_position_and_the_known_stages() {
    let (registry, _) = registry();
    let text = "(dense(100) + colbert(100)) -> rrf";
    let e = Runner::new(&registry, Pipeline::parse(text).unwrap()).unwrap_err();
    match &e {
        PipelineError::UnknownStage {
            name,
            position,
            known,
            ..
        } => {
            assert_eq!(name, "colbert");
            assert_eq!(*position, Some(14));
            assert_eq!(
                known,
                &["bm25", "broken", "dense", "nan", "nolists", "rerank"]
            );
        }
        other => panic!("{other}"),
    }
    assert_eq!(
        e.to_string(),
        "unknown stage `colbert` at position 14: the registered stages are \
         bm25, broken, dense, nan, nolists, rerank\n  \
         (dense(100) + colbert(100)) -> rrf\n                ^"
    );

    // Known, but in the wrong place.
    let e = Runner::new(&registry, Pipeline::parse("rerank(10)").unwrap()).unwrap_err();
    assert!(
        matches!(&e, PipelineError::WrongRole { name, position: Some(0), needed: StageRole::Retrieve, .. } if name == "rerank"),
        "{e}"
    );
    let e = Runner::new(&registry, Pipeline::parse("dense(10) -> bm25(5)").unwrap()).unwrap_err();
    assert!(
        matches!(
            &e,
            PipelineError::WrongRole {
                position: Some(13),
                needed: StageRole::Rescore,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("cannot re-score"), "{e}");

    // From JSON there is no position, but still the name and the list.
    let json = r#"{"source": {"stage": {"name": "splade", "k": 10}}}"#;
    let e = Runner::new(&registry, Pipeline::from_json(json).unwrap()).unwrap_err();
    assert!(
        matches!(&e, PipelineError::UnknownStage { position: None, .. }),
        "{e}"
    );
    assert!(
        e.to_string()
            .starts_with("unknown stage `splade`: the registered stages are bm25"),
        "{e}"
    );
}

#[test]
fn malformed_text_errors_name_the_position() {
    fn syntax_at(text: &str) -> (usize, String) {
        match Pipeline::resolve(text) {
            Err(PipelineError::Syntax {
                position, expected, ..
            }) => (position, expected),
            other => panic!("{text:?}: {other:?}"),
        }
    }
    // Unclosed parenthesis.
    let (pos, expected) = syntax_at("(dense(100) + bm25(100)");
    assert_eq!(pos, 23);
    assert!(
        expected.contains("`)` to close the `(` at position 0"),
        "{expected}"
    );
    // Missing count.
    let (pos, expected) = syntax_at("bm25() -> dense(100)");
    assert_eq!(pos, 5);
    assert!(expected.contains("number of hits"), "{expected}");
    let (pos, _) = syntax_at("bm25 -> dense(100)");
    assert_eq!(pos, 5);
    // `->` at the end.
    let (pos, expected) = syntax_at("bm25(1000) -> dense(100) ->");
    assert_eq!(pos, 27);
    assert!(expected.contains("after `->`"), "{expected}");
    // Unknown fusion.
    let e = Pipeline::resolve("(dense(100) + bm25(100)) -> borda -> 10").unwrap_err();
    assert!(
        matches!(&e, PipelineError::UnknownFusion { name, position: 28, .. } if name == "borda"),
        "{e}"
    );
    let message = e.to_string();
    assert!(
        message.contains("rrf, rrf(k=60), weighted(0.7, 0.3), dbsf"),
        "{message}"
    );
    assert!(
        message.ends_with(
            "\n  (dense(100) + bm25(100)) -> borda -> 10\n                              ^"
        ),
        "{message}"
    );
    // A group without a fusion.
    assert!(matches!(
        Pipeline::resolve("(dense(100) + bm25(100)) -> 10"),
        Err(PipelineError::MissingFusion { position: 28, .. })
    ));
}

#[test]
fn a_query_without_candidates_gives_an_empty_list() {
    for text in [
        "bm25(10)",
        "bm25(10) -> dense(5) -> rerank(2) -> 1",
        "(dense(10) + bm25(10)) -> rrf -> rerank(3)",
        "(dense(10) + bm25(10)) -> weighted(0.5, 0.5, norm=zscore)",
        "(dense(10) + bm25(10)) -> dbsf",
    ] {
        assert!(run(text, "nothing").is_empty(), "{text}");
    }
}

#[test]
fn failing_stages_are_named() {
    let (registry, _) = registry();
    let runner = Runner::new(
        &registry,
        Pipeline::parse("(dense(10) + broken(10)) -> rrf").unwrap(),
    )
    .unwrap();
    let e = runner.run(&Query::new("fridge")).unwrap_err();
    assert!(matches!(&e, SearchError::Stage { stage, .. } if stage == "broken"));
    assert_eq!(e.to_string(), "stage `broken` failed: index unreadable");
    let cause = std::error::Error::source(&e)
        .and_then(std::error::Error::source)
        .map(ToString::to_string);
    assert_eq!(cause.as_deref(), Some("segment 3: checksum mismatch"));

    let runner = Runner::new(&registry, Pipeline::parse("nan(10)").unwrap()).unwrap();
    let e = runner.run(&Query::new("fridge")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "stage `nan` failed: returned a NaN score for `d2`"
    );

    // A stage that returns no list per query breaks its contract: an
    // error, not an empty result.
    let runner = Runner::new(
        &registry,
        Pipeline::parse("(bm25(10) + nolists(10)) -> rrf").unwrap(),
    )
    .unwrap();
    let e = runner.run(&Query::new("fridge")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "stage `nolists` failed: returned 0 lists for 1 queries"
    );
}

#[test]
fn a_batch_calls_each_stage_once_and_keeps_query_order() {
    let (registry, dense) = registry();
    let runner = Runner::new(
        &registry,
        Pipeline::parse("(dense(3) + bm25(3)) -> rrf -> 2").unwrap(),
    )
    .unwrap();
    let queries = [
        Query::new("fridge"),
        Query::new("nothing"),
        Query::new("freezer").with_filter(Filter::parse("volume_l >= 250").unwrap()),
    ];
    let out = runner.run_batch(&queries).unwrap();
    assert_eq!(dense.batch_calls.load(Ordering::Relaxed), 1);
    assert_eq!(out.candidates.len(), 3);
    assert_eq!(ids(&out.candidates[0]), ["d1", "d3"]);
    assert!(out.candidates[1].is_empty());
    assert_eq!(out.candidates[2], out.candidates[0]);
    assert_eq!(out.timings.len(), 3);
}

#[test]
fn json_and_text_run_alike() {
    let (registry, _) = registry();
    let text = Pipeline::parse("(dense(10) + bm25(10)) -> dbsf -> rerank(3) -> 2").unwrap();
    let json = Pipeline::from_json(&serde_json::to_string(&text).unwrap()).unwrap();
    assert_eq!(json, text);
    let q = Query::new("fridge");
    let a = Runner::new(&registry, text).unwrap().run(&q).unwrap();
    let b = Runner::new(&registry, json).unwrap().run(&q).unwrap();
    assert_eq!(a.candidates, b.candidates);
    assert_eq!(ids(&a.candidates), ["d3", "d6"]);
}

#[test]
fn very_long_pipelines_parse_run_and_report_errors_briefly() {
    let (registry, _) = registry();
    let steps = 2_000;
    let text = format!("dense(5){}", " -> dense(5)".repeat(steps));
    let runner = Runner::new(&registry, Pipeline::parse(&text).unwrap()).unwrap();
    let out = runner.run(&Query::new("fridge")).unwrap();
    assert_eq!(ids(&out.candidates), ["d1", "d2", "d3", "d4", "d5"]);
    assert_eq!(out.candidates[0].stages.len(), steps + 1);
    assert_eq!(out.timings.len(), steps + 1);

    // An error at the far end: the position is exact, the message short.
    let broken = format!("{text} -> dense(");
    let e = Pipeline::parse(&broken).unwrap_err();
    let PipelineError::Syntax { position, .. } = &e else {
        panic!("{e}")
    };
    assert_eq!(*position, broken.chars().count());
    let message = e.to_string();
    assert!(message.len() < 400, "{message}");
    assert!(
        message.lines().all(|l| l.chars().count() < 200),
        "{message}"
    );

    // An unknown stage deep inside.
    let unknown = format!("{text} -> colbert(5)");
    let e = Runner::new(&registry, Pipeline::parse(&unknown).unwrap()).unwrap_err();
    assert!(
        matches!(&e, PipelineError::UnknownStage { position: Some(p), .. } if *p == text.len() + 4),
        "{e}"
    );
    assert!(e.to_string().lines().all(|l| l.chars().count() < 200));
}

#[test]
fn named_pipelines_run_with_the_stages_they_name() {
    let (mut registry, _) = registry();
    registry
        .add_retriever(Table::new("splade", &[("d2", 3.0)]))
        .unwrap();
    for (name, _) in fundus_search::NAMED {
        let pipeline = Pipeline::named(name).unwrap().cut(3);
        let out = Runner::new(&registry, pipeline)
            .unwrap()
            .run(&Query::new("fridge"))
            .unwrap();
        assert!(
            !out.candidates.is_empty() && out.candidates.len() <= 3,
            "{name}"
        );
    }
    let default = Pipeline::named(fundus_search::DEFAULT_PIPELINE).unwrap();
    assert_eq!(default.stage_names(), ["dense", "bm25"]);
}
