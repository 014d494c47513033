//! Pipelines: which stages run, in what order, and how their lists combine.
//!
//! A pipeline is written as text — on the command line
//! (`fundus search --pipeline …`), in a config file — or as JSON. The text
//! form:
//!
//! ```text
//! pipeline := source ("->" step)*
//! source   := stage
//!           | "(" pipeline ("+" pipeline)+ ")" "->" fusion
//! step     := stage | INT                       -- INT: keep the best INT hits
//! stage    := NAME "(" INT ")"                  -- bm25(1000), dense(100), rerank(10)
//! fusion   := "rrf" [ "(" "k" "=" NUM ")" ]
//!           | "weighted" "(" NUM ("," NUM)* [ "," "norm" "=" NORM ] ")"
//!           | "dbsf"
//! NORM     := "minmax" | "zscore" | "none"      -- default minmax
//! NAME     := [A-Za-z_] [A-Za-z0-9_]* with inner "-" allowed (cross-encoder)
//! ```
//!
//! Whitespace (line breaks included) is free. Fusion names and their
//! parameters ignore ASCII case; stage names are matched exactly.
//!
//! What it means:
//!
//! - The first stage of a pipeline *retrieves*: `bm25(1000)` is BM25's best
//!   1000 documents of the collection.
//! - A stage after `->` *re-scores* the candidates it receives and keeps its
//!   best `k`: `bm25(1000) -> dense(100)` is BM25's 1000 candidates ranked by
//!   dense similarity, best 100 kept. Every candidate keeps the scores and
//!   ranks of all stages it went through.
//! - A count after `->` cuts: `… -> 10` keeps the best 10.
//! - A group runs each pipeline inside it and must be fused right after the
//!   `)`, because nothing else can take several lists:
//!   `(dense(100) + bm25(100)) -> rrf`. The branches are whole pipelines:
//!   `(dense(100) + bm25(1000) -> dense(100)) -> rrf(k=20) -> 10`.
//!   Weighted fusion takes one weight per branch, in order:
//!   `(dense(100) + bm25(100)) -> weighted(0.7, 0.3)` (min-max normalized),
//!   `(dense(100) + bm25(100)) -> weighted(0.7, 0.3, norm=zscore)`.
//!   See [`crate::fusion`] for the formulas.
//!
//! Errors name the character position (0-based) and show the text with a
//! caret under it. Stage names are checked against the registered stages
//! when a [`Runner`](crate::Runner) is built, not while parsing: the text
//! alone does not know which stages this binary has.
//!
//! The JSON form mirrors this structure (`steps` may be left out, `k` of
//! `rrf` defaults to 60, `normalization` to `"minmax"`):
//!
//! ```json
//! {"source": {"group": {
//!      "branches": [{"source": {"stage": {"name": "dense", "k": 100}}},
//!                   {"source": {"stage": {"name": "bm25", "k": 100}}}],
//!      "fusion": {"weighted": {"weights": [0.7, 0.3], "normalization": "zscore"}}}},
//!  "steps": [{"stage": {"name": "rerank", "k": 20}}, {"cut": 10}]}
//! ```
//!
//! TOML has no form of its own (it would need a TOML parser, a dependency
//! this crate does not take): a TOML file holds the text form as a string,
//! `pipeline = "(dense(100) + bm25(100)) -> rrf"`.

mod parse;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{snippet_opt, PipelineError};
use crate::fusion::Fusion;

pub(crate) use parse::is_stage_name;

/// How deeply groups may nest. Real pipelines nest once or twice; the limit
/// keeps a pathological input from overflowing the stack of the recursive
/// parser and runner.
pub const MAX_DEPTH: usize = 32;

/// The built-in pipelines by name, as text.
///
/// They have no final cut, so that `fundus eval` sees 100 hits per query
/// (Recall@100) while `fundus search` cuts to what it shows (see
/// [`Pipeline::cut`]). `hybrid` is the default a user gets: the fusion
/// that `fundus tune fusion` chose on SciFact's training split (z-scored
/// scores, BM25 weighted 0.6). It also beat RRF (k = 60) on XQuAD-de, where
/// the English MiniLM is weak and RRF's rank-only view lets it drag BM25
/// down; see bench/RESULTS.md for the numbers.
pub const NAMED: [(&str, &str); 4] = [
    ("dense", "dense(100)"),
    ("bm25", "bm25(100)"),
    ("splade", "splade(100)"),
    (
        "hybrid",
        "(dense(100) + bm25(100)) -> weighted(0.4, 0.6, norm=zscore)",
    ),
];

/// The named pipeline used when none is given.
pub const DEFAULT_PIPELINE: &str = "hybrid";

/// A parsed pipeline: a source of candidates, then steps applied in order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "RawPipeline")]
pub struct Pipeline {
    /// Where the candidates come from.
    pub source: Source,
    /// What is done to them, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
    /// The text it was parsed from, for error messages with a caret.
    #[serde(skip)]
    text: Option<String>,
}

/// Where a pipeline's candidates come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Source {
    /// One retriever.
    Stage(StageCall),
    /// Several pipelines, their lists fused into one.
    Group {
        /// The pipelines, two or more.
        branches: Vec<Pipeline>,
        /// How their lists are fused.
        fusion: Fusion,
    },
}

/// One step after the source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Re-score the candidates with a stage, keep its best `k`.
    Stage(StageCall),
    /// Keep the best N candidates.
    Cut(usize),
}

/// A stage as named in a pipeline: `dense(100)`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageCall {
    /// The registered stage's name.
    pub name: String,
    /// How many hits it returns (as a retriever) or keeps (as a rescorer).
    pub k: usize,
    /// Where it was written, for error messages.
    #[serde(skip)]
    position: Option<usize>,
}

impl StageCall {
    /// A stage call not written anywhere (built in code).
    pub fn new(name: impl Into<String>, k: usize) -> Self {
        StageCall {
            name: name.into(),
            k,
            position: None,
        }
    }

    /// The character position it was written at, if it came from text.
    pub fn position(&self) -> Option<usize> {
        self.position
    }
}

/// Equality is about meaning: where a stage was written does not matter.
impl PartialEq for StageCall {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.k == other.k
    }
}

/// Equality is about meaning: the text a pipeline was parsed from does not
/// matter, so `parse(p.to_string()) == p`.
impl PartialEq for Pipeline {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source && self.steps == other.steps
    }
}

/// What the JSON form deserializes into before it is checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPipeline {
    source: Source,
    #[serde(default)]
    steps: Vec<Step>,
}

impl TryFrom<RawPipeline> for Pipeline {
    type Error = PipelineError;

    /// Checks one level: the branches were checked when they were read.
    fn try_from(raw: RawPipeline) -> Result<Self, Self::Error> {
        let pipeline = Pipeline::new(raw.source, raw.steps);
        pipeline.check_level(None)?;
        Ok(pipeline)
    }
}

impl Pipeline {
    /// A pipeline built in code. It is checked when a runner is built from
    /// it, or by [`Pipeline::validate`].
    pub fn new(source: Source, steps: Vec<Step>) -> Self {
        Pipeline {
            source,
            steps,
            text: None,
        }
    }

    /// Parses the text form (see the module documentation).
    pub fn parse(text: &str) -> Result<Pipeline, PipelineError> {
        parse::parse(text)
    }

    /// Reads the JSON form and checks it.
    pub fn from_json(json: &str) -> Result<Pipeline, PipelineError> {
        serde_json::from_str(json).map_err(|e| PipelineError::Json {
            message: e.to_string(),
        })
    }

    /// One of the [`NAMED`] pipelines (ASCII case ignored).
    pub fn named(name: &str) -> Result<Pipeline, PipelineError> {
        match NAMED.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            Some((_, text)) => Pipeline::parse(text),
            None => Err(PipelineError::UnknownPipeline {
                name: name.to_string(),
                known: NAMED.iter().map(|(n, _)| n.to_string()).collect(),
            }),
        }
    }

    /// What a `--pipeline` option holds: a [`NAMED`] pipeline (`hybrid`),
    /// the JSON form (starts with `{`), or the text form.
    pub fn resolve(spec: &str) -> Result<Pipeline, PipelineError> {
        let trimmed = spec.trim();
        if trimmed.starts_with('{') {
            Pipeline::from_json(trimmed)
        } else if parse::is_word(trimmed) {
            Pipeline::named(trimmed)
        } else {
            Pipeline::parse(spec)
        }
    }

    /// The same pipeline followed by a cut to the best `n` hits.
    pub fn cut(mut self, n: usize) -> Pipeline {
        self.steps.push(Step::Cut(n));
        self
    }

    /// The text this pipeline was parsed from, if it was.
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }

    /// The stage names the pipeline uses, each once, in order of first use:
    /// a caller can build only the stages it needs (load the model only
    /// for `dense`).
    pub fn stage_names(&self) -> Vec<&str> {
        let mut names = Vec::new();
        self.collect_names(&mut names);
        names
    }

    fn collect_names<'a>(&'a self, names: &mut Vec<&'a str>) {
        fn add<'a>(names: &mut Vec<&'a str>, name: &'a str) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        match &self.source {
            Source::Stage(call) => add(names, &call.name),
            Source::Group { branches, .. } => {
                for b in branches {
                    b.collect_names(names);
                }
            }
        }
        for step in &self.steps {
            if let Step::Stage(call) = step {
                add(names, &call.name);
            }
        }
    }

    /// Checks what the grammar cannot: counts of at least 1, groups of two
    /// or more branches, weights that fit the branches, nesting within
    /// [`MAX_DEPTH`]. Parsed and JSON pipelines pass by construction; this
    /// is for pipelines built in code.
    pub fn validate(&self) -> Result<(), PipelineError> {
        self.validate_at(0, self.text())
    }

    pub(crate) fn validate_at(
        &self,
        depth: usize,
        text: Option<&str>,
    ) -> Result<(), PipelineError> {
        if depth > MAX_DEPTH {
            return Err(PipelineError::Invalid {
                position: None,
                message: format!("groups are nested deeper than {MAX_DEPTH}"),
                snippet: String::new(),
            });
        }
        self.check_level(text)?;
        if let Source::Group { branches, .. } = &self.source {
            for b in branches {
                b.validate_at(depth + 1, text)?;
            }
        }
        Ok(())
    }

    /// The checks of [`Pipeline::validate`] for this level only.
    fn check_level(&self, text: Option<&str>) -> Result<(), PipelineError> {
        let invalid = |position: Option<usize>, message: String| PipelineError::Invalid {
            position,
            message,
            snippet: snippet_opt(text, position),
        };
        let check_call = |call: &StageCall| {
            if call.k == 0 {
                Err(invalid(
                    call.position,
                    format!(
                        "`{}(0)` keeps nothing; a stage must keep at least 1 hit",
                        call.name
                    ),
                ))
            } else {
                Ok(())
            }
        };
        match &self.source {
            Source::Stage(call) => check_call(call)?,
            Source::Group { branches, fusion } => {
                if branches.len() < 2 {
                    return Err(invalid(
                        None,
                        format!(
                            "a group fuses two or more pipelines, this one has {}",
                            branches.len()
                        ),
                    ));
                }
                fusion
                    .check(branches.len())
                    .map_err(|e| invalid(None, e.to_string()))?;
            }
        }
        for step in &self.steps {
            match step {
                Step::Stage(call) => check_call(call)?,
                Step::Cut(0) => {
                    return Err(invalid(None, "a cut to 0 hits keeps nothing".to_string()));
                }
                Step::Cut(_) => {}
            }
        }
        Ok(())
    }
}

impl FromStr for Pipeline {
    type Err = PipelineError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Pipeline::parse(s)
    }
}

impl fmt::Display for StageCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name, self.k)
    }
}

impl fmt::Display for Pipeline {
    /// The text form, which parses back to an equal pipeline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Source::Stage(call) => write!(f, "{call}")?,
            Source::Group { branches, fusion } => {
                f.write_str("(")?;
                for (i, b) in branches.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" + ")?;
                    }
                    write!(f, "{b}")?;
                }
                write!(f, ") -> {fusion}")?;
            }
        }
        for step in &self.steps {
            match step {
                Step::Stage(call) => write!(f, " -> {call}")?,
                Step::Cut(n) => write!(f, " -> {n}")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fusion::Normalization;

    #[test]
    fn named_pipelines_parse_and_unknown_names_list_the_known() {
        for (name, text) in NAMED {
            let p = Pipeline::named(name).unwrap();
            assert_eq!(p.to_string(), text);
        }
        assert!(NAMED.iter().any(|(n, _)| *n == DEFAULT_PIPELINE));
        let e = Pipeline::named("colbert").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown pipeline `colbert`: the named pipelines are dense, bm25, splade, hybrid; \
             or write stages, e.g. `colbert(100)`"
        );
    }

    #[test]
    fn resolve_takes_names_json_and_text() {
        let hybrid = Pipeline::resolve(" hybrid ").unwrap();
        assert_eq!(hybrid, Pipeline::named("hybrid").unwrap());
        let json = serde_json::to_string(&hybrid).unwrap();
        assert_eq!(Pipeline::resolve(&json).unwrap(), hybrid);
        let text = Pipeline::resolve("bm25(1000) -> dense(100) -> 10").unwrap();
        assert_eq!(text.steps.len(), 2);
        assert!(matches!(
            Pipeline::resolve("nope"),
            Err(PipelineError::UnknownPipeline { .. })
        ));
    }

    #[test]
    fn json_mirrors_the_structure_and_is_checked() {
        let json = r#"{"source": {"group": {
            "branches": [{"source": {"stage": {"name": "dense", "k": 100}}},
                         {"source": {"stage": {"name": "bm25", "k": 100}}}],
            "fusion": {"weighted": {"weights": [0.7, 0.3], "normalization": "zscore"}}}},
            "steps": [{"stage": {"name": "rerank", "k": 20}}, {"cut": 10}]}"#;
        let p = Pipeline::from_json(json).unwrap();
        assert_eq!(
            p.to_string(),
            "(dense(100) + bm25(100)) -> weighted(0.7, 0.3, norm=zscore) -> rerank(20) -> 10"
        );
        assert_eq!(p, Pipeline::parse(&p.to_string()).unwrap());

        let bad_weights = json.replace("[0.7, 0.3]", "[1.0]");
        let e = Pipeline::from_json(&bad_weights).unwrap_err();
        assert!(e.to_string().contains("1 weights for 2 lists"), "{e}");
        assert!(e.to_string().contains("line"), "serde's position: {e}");

        let zero = r#"{"source": {"stage": {"name": "dense", "k": 0}}}"#;
        let e = Pipeline::from_json(zero).unwrap_err();
        assert!(e.to_string().contains("at least 1 hit"), "{e}");

        let one_branch = r#"{"source": {"group": {"branches": [{"source": {"stage": {"name": "a", "k": 1}}}], "fusion": "dbsf"}}}"#;
        let e = Pipeline::from_json(one_branch).unwrap_err();
        assert!(e.to_string().contains("two or more"), "{e}");

        let unknown_field = r#"{"source": {"stage": {"name": "dense", "k": 5, "ef": 3}}}"#;
        assert!(Pipeline::from_json(unknown_field).is_err());
        assert!(matches!(
            Pipeline::from_json("{"),
            Err(PipelineError::Json { .. })
        ));
    }

    #[test]
    fn validate_catches_what_code_can_build() {
        let call = |n: &str, k| Pipeline::new(Source::Stage(StageCall::new(n, k)), vec![]);
        assert!(call("a", 3).validate().is_ok());
        assert!(call("a", 0).validate().is_err());
        let group = Pipeline::new(
            Source::Group {
                branches: vec![call("a", 3), call("b", 3)],
                fusion: Fusion::Weighted {
                    weights: vec![0.5, 0.5],
                    normalization: Normalization::None,
                },
            },
            vec![Step::Cut(0)],
        );
        let e = group.validate().unwrap_err();
        assert!(e.to_string().contains("cut to 0"), "{e}");
        // Nesting past the limit.
        let mut deep = call("a", 1);
        for _ in 0..=MAX_DEPTH {
            deep = Pipeline::new(
                Source::Group {
                    branches: vec![deep, call("b", 1)],
                    fusion: Fusion::default(),
                },
                vec![],
            );
        }
        assert!(deep.validate().unwrap_err().to_string().contains("nested"));
    }

    #[test]
    fn stage_names_in_order_of_use() {
        let p = Pipeline::parse("(dense(100) + bm25(1000) -> dense(100)) -> rrf -> rerank(10)")
            .unwrap();
        assert_eq!(p.stage_names(), ["dense", "bm25", "rerank"]);
        assert_eq!(p.clone().cut(5).to_string(), format!("{p} -> 5"));
    }
}
