//! Running a pipeline: stages called in order, lists fused, every score kept.
//!
//! A [`Runner`] is built once per pipeline: building it looks every stage
//! name up in the [`StageRegistry`] and checks its role, so a typo fails
//! before the first query and a running search never meets an unknown
//! name. It then runs any number of queries, from any number of threads
//! (it is `Send + Sync`).
//!
//! Batches run stage by stage, not query by query: each stage gets all
//! queries at once ([`Retriever::retrieve_batch`],
//! [`Rescorer::rescore_batch`]), which lets a model-backed stage encode
//! them in one batch. Branches of a group run one after the other; the
//! stages themselves use all cores.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::candidate::{rank_list, Candidate, StageScore};
use crate::error::{snippet_opt, PipelineError, SearchError, StageError, StageRole};
use crate::fusion::Fusion;
use crate::pipeline::{Pipeline, Source, StageCall, Step};
use crate::registry::StageRegistry;
use crate::stage::{Query, Rescorer, Retriever};

/// How long one stage took, for the latency split of a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageTiming {
    /// The stage's (or fusion's) name.
    pub stage: String,
    /// Wall-clock time of the call, for all queries of the batch.
    pub elapsed: Duration,
}

/// The result of one query.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchOutput {
    /// Best first, each with its per-stage scores and ranks.
    pub candidates: Vec<Candidate>,
    /// One entry per stage call and fusion, in the order they ran.
    pub timings: Vec<StageTiming>,
}

/// The result of a batch of queries.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchOutput {
    /// One list per query, in the order of the queries.
    pub candidates: Vec<Vec<Candidate>>,
    /// One entry per stage call and fusion, each for the whole batch.
    pub timings: Vec<StageTiming>,
}

/// A pipeline bound to the stages that run it.
#[derive(Clone)]
pub struct Runner {
    pipeline: Pipeline,
    plan: Plan,
}

/// The pipeline with every name resolved to its stage.
#[derive(Clone)]
struct Plan {
    source: PlanSource,
    steps: Vec<PlanStep>,
}

#[derive(Clone)]
enum PlanSource {
    Retrieve {
        name: String,
        k: usize,
        stage: Arc<dyn Retriever>,
    },
    Fuse {
        branches: Vec<Plan>,
        fusion: Fusion,
    },
}

#[derive(Clone)]
enum PlanStep {
    Rescore {
        name: String,
        k: usize,
        stage: Arc<dyn Rescorer>,
    },
    Cut(usize),
}

impl Runner {
    /// Binds `pipeline` to the stages of `registry`. Fails on names the
    /// registry does not have, on stages used in a role they do not play,
    /// and on anything [`Pipeline::validate`] rejects.
    pub fn new(registry: &StageRegistry, pipeline: Pipeline) -> Result<Runner, PipelineError> {
        let text = pipeline.text();
        pipeline.validate_at(0, text)?;
        let plan = compile(registry, &pipeline, text)?;
        Ok(Runner { pipeline, plan })
    }

    /// The pipeline this runner runs.
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// Runs one query.
    pub fn run(&self, query: &Query) -> Result<SearchOutput, SearchError> {
        let BatchOutput {
            candidates,
            timings,
        } = self.run_batch(std::slice::from_ref(query))?;
        Ok(SearchOutput {
            candidates: candidates.into_iter().next().unwrap_or_default(),
            timings,
        })
    }

    /// Runs many queries, each stage once for all of them. The first
    /// failing stage fails the batch.
    pub fn run_batch(&self, queries: &[Query]) -> Result<BatchOutput, SearchError> {
        let mut timings = Vec::new();
        let candidates = execute(&self.plan, queries, &mut timings)?;
        Ok(BatchOutput {
            candidates,
            timings,
        })
    }
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("pipeline", &self.pipeline.to_string())
            .finish()
    }
}

fn compile(
    registry: &StageRegistry,
    pipeline: &Pipeline,
    text: Option<&str>,
) -> Result<Plan, PipelineError> {
    let source = match &pipeline.source {
        Source::Stage(call) => PlanSource::Retrieve {
            name: call.name.clone(),
            k: call.k,
            stage: lookup(registry, call, StageRole::Retrieve, text, |r, n| {
                r.retriever(n).cloned()
            })?,
        },
        Source::Group { branches, fusion } => PlanSource::Fuse {
            branches: branches
                .iter()
                .map(|b| compile(registry, b, text))
                .collect::<Result<_, _>>()?,
            fusion: fusion.clone(),
        },
    };
    let steps = pipeline
        .steps
        .iter()
        .map(|step| {
            Ok(match step {
                Step::Stage(call) => PlanStep::Rescore {
                    name: call.name.clone(),
                    k: call.k,
                    stage: lookup(registry, call, StageRole::Rescore, text, |r, n| {
                        r.rescorer(n).cloned()
                    })?,
                },
                Step::Cut(n) => PlanStep::Cut(*n),
            })
        })
        .collect::<Result<_, PipelineError>>()?;
    Ok(Plan { source, steps })
}

/// The stage `call` names, in `role`; an error that says whether the name
/// is unknown or only the role is wrong.
fn lookup<T>(
    registry: &StageRegistry,
    call: &StageCall,
    role: StageRole,
    text: Option<&str>,
    get: impl Fn(&StageRegistry, &str) -> Option<T>,
) -> Result<T, PipelineError> {
    if let Some(stage) = get(registry, &call.name) {
        return Ok(stage);
    }
    let position = call.position();
    let snippet = snippet_opt(text, position);
    let known = registry.names();
    Err(if known.contains(&call.name) {
        PipelineError::WrongRole {
            name: call.name.clone(),
            position,
            needed: role,
            snippet,
        }
    } else {
        PipelineError::UnknownStage {
            name: call.name.clone(),
            position,
            known,
            snippet,
        }
    })
}

/// Runs `plan` for all `queries`, one candidate list per query.
fn execute(
    plan: &Plan,
    queries: &[Query],
    timings: &mut Vec<StageTiming>,
) -> Result<Vec<Vec<Candidate>>, SearchError> {
    let mut lists: Vec<Vec<Candidate>> = match &plan.source {
        PlanSource::Retrieve { name, k, stage } => {
            let started = Instant::now();
            let raw = stage
                .retrieve_batch(queries, *k)
                .map_err(|source| stage_error(name, source))?;
            let lists = check_output(name, raw, queries.len())?
                .into_iter()
                .map(|hits| {
                    let mut hits = rank_list(hits);
                    hits.truncate(*k);
                    hits.into_iter()
                        .enumerate()
                        .map(|(i, (id, score))| Candidate {
                            id,
                            score,
                            stages: vec![StageScore {
                                stage: name.clone(),
                                score,
                                rank: i + 1,
                            }],
                        })
                        .collect()
                })
                .collect();
            timings.push(timing(name, started));
            lists
        }
        PlanSource::Fuse { branches, fusion } => {
            let branch_lists = branches
                .iter()
                .map(|b| execute(b, queries, timings))
                .collect::<Result<Vec<_>, _>>()?;
            let started = Instant::now();
            let labels: Vec<&str> = branches.iter().map(Plan::label).collect();
            let lists = (0..queries.len())
                .map(|q| {
                    let per_branch: Vec<&[Candidate]> =
                        branch_lists.iter().map(|b| b[q].as_slice()).collect();
                    fuse_histories(&labels, &per_branch, fusion)
                })
                .collect::<Result<_, _>>()?;
            timings.push(timing(fusion.name(), started));
            lists
        }
    };
    for step in &plan.steps {
        match step {
            PlanStep::Rescore { name, k, stage } => {
                let started = Instant::now();
                let ids: Vec<Vec<String>> = lists
                    .iter()
                    .map(|l| l.iter().map(|c| c.id.clone()).collect())
                    .collect();
                let raw = stage
                    .rescore_batch(queries, &ids)
                    .map_err(|source| stage_error(name, source))?;
                let raw = check_output(name, raw, queries.len())?;
                lists = lists
                    .into_iter()
                    .zip(raw)
                    .map(|(list, scores)| rescored(name, *k, list, scores))
                    .collect();
                timings.push(timing(name, started));
            }
            PlanStep::Cut(n) => lists.iter_mut().for_each(|l| l.truncate(*n)),
        }
    }
    Ok(lists)
}

impl Plan {
    /// The name of the stage whose scores this plan's list ends with.
    fn label(&self) -> &str {
        let last = self.steps.iter().rev().find_map(|s| match s {
            PlanStep::Rescore { name, .. } => Some(name.as_str()),
            PlanStep::Cut(_) => None,
        });
        last.unwrap_or(match &self.source {
            PlanSource::Retrieve { name, .. } => name,
            PlanSource::Fuse { fusion, .. } => fusion.name(),
        })
    }
}

/// Fuses one query's branch lists; each fused candidate carries the
/// histories of every branch that found it, then the fusion's entry.
fn fuse_histories(
    labels: &[&str],
    branches: &[&[Candidate]],
    fusion: &Fusion,
) -> Result<Vec<Candidate>, SearchError> {
    let lists: Vec<(String, Vec<(String, f32)>)> = labels
        .iter()
        .zip(branches)
        .map(|(label, list)| {
            (
                label.to_string(),
                list.iter().map(|c| (c.id.clone(), c.score)).collect(),
            )
        })
        .collect();
    let by_id: Vec<HashMap<&str, &Candidate>> = branches
        .iter()
        .map(|list| list.iter().map(|c| (c.id.as_str(), c)).collect())
        .collect();
    let fused = fusion.fuse(&lists)?;
    Ok(fused
        .into_iter()
        .enumerate()
        .map(|(i, mut c)| {
            c.stages = by_id
                .iter()
                .filter_map(|m| m.get(c.id.as_str()))
                .flat_map(|found| found.stages.iter().cloned())
                .collect();
            c.stages.push(StageScore {
                stage: fusion.name().to_string(),
                score: c.score,
                rank: i + 1,
            });
            c
        })
        .collect())
}

/// One query's candidates after a rescoring stage: the scored ones, best
/// first, `k` kept, each with the stage's score and rank added to its
/// history.
fn rescored(
    name: &str,
    k: usize,
    list: Vec<Candidate>,
    scores: Vec<(String, f32)>,
) -> Vec<Candidate> {
    let mut by_id: HashMap<String, Candidate> =
        list.into_iter().map(|c| (c.id.clone(), c)).collect();
    rank_list(scores)
        .into_iter()
        .filter_map(|(id, score)| by_id.remove(&id).map(|c| (c, score)))
        .take(k)
        .enumerate()
        .map(|(i, (mut c, score))| {
            c.score = score;
            c.stages.push(StageScore {
                stage: name.to_string(),
                score,
                rank: i + 1,
            });
            c
        })
        .collect()
}

/// A stage's batch output, checked against its contract: one list per
/// query, no NaN scores.
fn check_output(
    name: &str,
    lists: Vec<Vec<(String, f32)>>,
    queries: usize,
) -> Result<Vec<Vec<(String, f32)>>, SearchError> {
    if lists.len() != queries {
        return Err(stage_error(
            name,
            StageError::new(format!(
                "returned {} lists for {queries} queries",
                lists.len()
            )),
        ));
    }
    for list in &lists {
        if let Some((id, _)) = list.iter().find(|(_, s)| s.is_nan()) {
            return Err(stage_error(
                name,
                StageError::new(format!("returned a NaN score for `{id}`")),
            ));
        }
    }
    Ok(lists)
}

fn stage_error(name: &str, source: StageError) -> SearchError {
    SearchError::Stage {
        stage: name.to_string(),
        source,
    }
}

fn timing(stage: &str, started: Instant) -> StageTiming {
    StageTiming {
        stage: stage.to_string(),
        elapsed: started.elapsed(),
    }
}
