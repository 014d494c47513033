//! Retrieval metrics with trec_eval's exact definitions.
//!
//! Published BEIR numbers come from pytrec_eval, a wrapper around
//! trec_eval 9, so "nDCG@10 = 0.67" only compares with a paper if every
//! detail below is the same. Each was checked against pytrec_eval on a
//! fixture (`tests/pytrec_parity.rs`):
//!
//! - **Order**: a query's documents are re-sorted by score as `f32`,
//!   descending, ties broken by document id descending; the run's own
//!   ranks are ignored (see [`crate::ranking`]).
//! - **Which queries**: only queries that are both in the run and in the
//!   qrels are evaluated and averaged. A run query without judgements is
//!   ignored; a judged query missing from the run is *not* counted as zero
//!   (pytrec_eval does not return it and BEIR averages over what it
//!   returns). A run query with an empty result list is evaluated, to 0.
//! - **Relevant** means grade >= 1 (trec_eval's default `-l 1`) for P,
//!   recall, MAP and reciprocal rank; nDCG uses the grade itself as gain.
//! - **Negative grades** are treated as unjudged: no gain, not relevant, and
//!   not counted among the relevant documents.
//! - **P@k** divides by k even if fewer than k documents were retrieved.
//! - **Recall@k** and **MAP@k** divide by the number of relevant documents
//!   in the qrels (not by min(k, relevant)); both are 0 when there is none.
//! - **nDCG@k**: DCG = Σ gain / log2(rank + 1) over the top k; the ideal
//!   DCG ranks the positive grades of the qrels, highest first. With no
//!   positive grade the value is 0.
//! - **MRR@k** (BEIR's `custom_metrics.mrr`): 1 / rank of the first
//!   relevant document if it is within the top k, else 0. Here it uses the
//!   same trec_eval order and query set as the other measures; BEIR's own
//!   code breaks ties by insertion order and divides by the number of
//!   judged queries, which differs only when scores tie at the first
//!   relevant document or judged queries are missing from the run.
//! - **Duplicates**: a document listed twice keeps its last score (what a
//!   Python dict, the only run format pytrec_eval takes, makes of it).
//!
//! trec_eval misbehaves for a query whose judgements are all negative (it
//! reads stale state from the previous query); here such a query scores 0.

use std::collections::BTreeMap;

use crate::ranking::rank_trec;
use crate::{Measure, Qrels, Report, Run, Scores};

/// trec_eval's default relevance threshold (`-l 1`): grade >= 1 counts as
/// relevant for the binary measures.
pub const RELEVANCE_LEVEL: i32 = 1;

/// One query's ranking reduced to what the metrics need: the grade found
/// at each rank and the ideal gains from the qrels.
#[derive(Debug, Clone, PartialEq)]
pub struct JudgedRanking {
    /// Grade at each rank (index 0 = rank 1); `None` when unjudged or
    /// judged with a negative grade.
    grades: Vec<Option<i32>>,
    /// Positive grades of the qrels, highest first (the ideal ranking).
    ideal: Vec<i32>,
    /// Number of judged documents with grade >= [`RELEVANCE_LEVEL`].
    num_relevant: usize,
}

impl JudgedRanking {
    /// Judges `ranked` (document ids best first, already in the order to
    /// evaluate) against one query's `judgements`.
    pub fn new<'a>(
        judgements: &BTreeMap<String, i32>,
        ranked: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let grades = ranked
            .into_iter()
            .map(|doc| judgements.get(doc).copied().filter(|&g| g >= 0))
            .collect();
        let mut ideal: Vec<i32> = judgements.values().copied().filter(|&g| g > 0).collect();
        ideal.sort_unstable_by(|a, b| b.cmp(a));
        let num_relevant = judgements
            .values()
            .filter(|&&g| g >= RELEVANCE_LEVEL)
            .count();
        JudgedRanking {
            grades,
            ideal,
            num_relevant,
        }
    }

    /// Judges one run query the way trec_eval reads it: re-ranked by
    /// [`rank_trec`] (f32 scores, ties by doc id descending, duplicates
    /// keep their last score).
    pub fn from_run(judgements: &BTreeMap<String, i32>, hits: &[(String, f64)]) -> Self {
        let ranked = rank_trec(hits);
        Self::new(judgements, ranked.iter().map(|(doc, _)| *doc))
    }

    /// Number of relevant documents in the qrels (grade >= 1).
    pub fn num_relevant(&self) -> usize {
        self.num_relevant
    }

    /// Number of ranked documents.
    pub fn num_retrieved(&self) -> usize {
        self.grades.len()
    }

    fn is_relevant(grade: Option<i32>) -> bool {
        grade.is_some_and(|g| g >= RELEVANCE_LEVEL)
    }

    fn relevant_in_top(&self, k: usize) -> usize {
        self.grades
            .iter()
            .take(k)
            .filter(|&&g| Self::is_relevant(g))
            .count()
    }

    /// trec_eval `ndcg_cut.k`.
    pub fn ndcg(&self, k: usize) -> f64 {
        let dcg = discounted(self.grades.iter().take(k).map(|g| g.unwrap_or(0)));
        let ideal = discounted(self.ideal.iter().take(k).copied());
        if ideal > 0.0 {
            dcg / ideal
        } else {
            dcg
        }
    }

    /// trec_eval `map_cut.k`: precision at each relevant document in the
    /// top k, summed, divided by the number of relevant documents.
    pub fn average_precision(&self, k: usize) -> f64 {
        if self.num_relevant == 0 {
            return 0.0;
        }
        let mut found = 0usize;
        let mut sum = 0.0;
        for (i, &grade) in self.grades.iter().take(k).enumerate() {
            if Self::is_relevant(grade) {
                found += 1;
                sum += found as f64 / (i + 1) as f64;
            }
        }
        sum / self.num_relevant as f64
    }

    /// trec_eval `recall.k`.
    pub fn recall(&self, k: usize) -> f64 {
        if self.num_relevant == 0 {
            return 0.0;
        }
        self.relevant_in_top(k) as f64 / self.num_relevant as f64
    }

    /// trec_eval `P.k` (divides by k, also when fewer were retrieved).
    pub fn precision(&self, k: usize) -> f64 {
        if k == 0 {
            return 0.0;
        }
        self.relevant_in_top(k) as f64 / k as f64
    }

    /// 1-based rank of the first relevant document.
    pub fn first_relevant_rank(&self) -> Option<usize> {
        self.grades
            .iter()
            .position(|&g| Self::is_relevant(g))
            .map(|i| i + 1)
    }

    /// trec_eval `recip_rank`.
    pub fn reciprocal_rank(&self) -> f64 {
        self.first_relevant_rank().map_or(0.0, |r| 1.0 / r as f64)
    }

    /// BEIR `MRR@k`: reciprocal rank if the first relevant document is in
    /// the top k, else 0.
    pub fn mrr(&self, k: usize) -> f64 {
        match self.first_relevant_rank() {
            Some(r) if r <= k => 1.0 / r as f64,
            _ => 0.0,
        }
    }

    /// The value of any [`Measure`].
    pub fn measure(&self, measure: Measure) -> f64 {
        match measure {
            Measure::Ndcg(k) => self.ndcg(k),
            Measure::Map(k) => self.average_precision(k),
            Measure::Recall(k) => self.recall(k),
            Measure::Precision(k) => self.precision(k),
            Measure::Mrr(k) => self.mrr(k),
            Measure::RecipRank => self.reciprocal_rank(),
        }
    }
}

/// Σ gain / log2(i + 2) over positive gains, summed in rank order as
/// trec_eval does so that rounding matches too.
fn discounted(gains: impl Iterator<Item = i32>) -> f64 {
    gains
        .enumerate()
        .filter(|&(_, g)| g > 0)
        .map(|(i, g)| f64::from(g) / ((i + 2) as f64).log2())
        // Not `sum()`: an empty f64 sum is -0.0, which would show as
        // "-0.0" in reports.
        .fold(0.0, |acc, x| acc + x)
}

/// Evaluates `run` against `qrels` with BEIR's measures at every cutoff
/// (see [`Measure::standard`]), per query and averaged.
///
/// Cutoffs are sorted, de-duplicated, and 0 is dropped (trec_eval requires
/// positive cutoffs). See the module docs for which queries count.
pub fn evaluate(qrels: &Qrels, run: &Run, cutoffs: &[usize]) -> Report {
    let mut cutoffs: Vec<usize> = cutoffs.iter().copied().filter(|&k| k > 0).collect();
    cutoffs.sort_unstable();
    cutoffs.dedup();
    evaluate_measures(qrels, run, &Measure::standard(&cutoffs))
}

/// Like [`evaluate`] for an explicit list of measures (kept in the given
/// order in the report).
pub fn evaluate_measures(qrels: &Qrels, run: &Run, measures: &[Measure]) -> Report {
    let mut cutoffs: Vec<usize> = measures.iter().filter_map(Measure::cutoff).collect();
    cutoffs.sort_unstable();
    cutoffs.dedup();
    let mut per_query = BTreeMap::new();
    let mut unjudged_queries = 0;
    for (query, hits) in run.iter() {
        let Some(judgements) = qrels.get(query) else {
            unjudged_queries += 1;
            continue;
        };
        let judged = JudgedRanking::from_run(judgements, hits);
        let scores: Scores = measures.iter().map(|&m| (m, judged.measure(m))).collect();
        per_query.insert(query.to_string(), scores);
    }
    let unanswered_queries = qrels.query_ids().filter(|q| run.get(q).is_none()).count();

    let n = per_query.len();
    // Summed from 0.0 (an empty f64 `sum()` is -0.0), in query id order.
    let mut sums = vec![0.0; measures.len()];
    for scores in per_query.values() {
        for (sum, (_, value)) in sums.iter_mut().zip(scores.iter()) {
            *sum += value;
        }
    }
    let mean: Scores = measures
        .iter()
        .zip(sums)
        .map(|(&m, sum)| (m, if n == 0 { 0.0 } else { sum / n as f64 }))
        .collect();

    Report {
        num_queries: n,
        unjudged_queries,
        unanswered_queries,
        cutoffs,
        mean,
        per_query,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judgements(list: &[(&str, i32)]) -> BTreeMap<String, i32> {
        list.iter().map(|(d, g)| (d.to_string(), *g)).collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn ndcg_uses_grade_as_gain_and_log2_rank_plus_one() {
        let j = judgements(&[("a", 1), ("b", 1)]);
        let r = JudgedRanking::new(&j, ["x", "a"]);
        // Values taken from pytrec_eval (ndcg_cut_2 = 0.38685280723454163).
        assert!(close(r.ndcg(2), 0.386_852_807_234_541_63));
        assert_eq!(r.ndcg(1), 0.0);

        let j = judgements(&[("a", 3), ("b", 1), ("c", 0)]);
        let r = JudgedRanking::new(&j, ["b", "a"]);
        let dcg = 1.0 + 3.0 / 3f64.log2();
        let ideal = 3.0 + 1.0 / 3f64.log2();
        assert!(close(r.ndcg(10), dcg / ideal));
    }

    #[test]
    fn negative_grades_count_as_unjudged() {
        // pytrec_eval: ndcg_cut_2 = 0.6309..., P_1 = 0, recip_rank = 0.5.
        let j = judgements(&[("a", -1), ("b", 2), ("c", 0)]);
        let r = JudgedRanking::new(&j, ["a", "b"]);
        assert!(close(r.ndcg(2), 0.630_929_753_571_457_5));
        assert_eq!(r.precision(1), 0.0);
        assert_eq!(r.reciprocal_rank(), 0.5);
        assert_eq!(r.num_relevant(), 1);
    }

    #[test]
    fn no_relevant_documents_scores_zero_everywhere() {
        let j = judgements(&[("a", 0), ("b", 0)]);
        let r = JudgedRanking::new(&j, ["a", "b"]);
        for m in Measure::standard(&[1, 5]) {
            assert_eq!(r.measure(m), 0.0, "{m}");
            // Positive zero: "-0.0" in a report looks like a bug.
            assert!(r.measure(m).is_sign_positive(), "{m}");
        }
    }

    #[test]
    fn precision_divides_by_k_even_when_fewer_retrieved() {
        let j = judgements(&[("a", 1)]);
        let r = JudgedRanking::new(&j, ["a"]);
        assert_eq!(r.precision(10), 0.1);
    }

    #[test]
    fn recall_and_map_divide_by_all_relevant() {
        let j = judgements(&[("a", 1), ("b", 1), ("c", 1), ("d", 1)]);
        let r = JudgedRanking::new(&j, ["a", "x", "b"]);
        assert_eq!(r.recall(1), 0.25);
        assert_eq!(r.recall(10), 0.5);
        assert!(close(r.average_precision(10), (1.0 + 2.0 / 3.0) / 4.0));
        assert!(close(r.average_precision(2), 1.0 / 4.0));
    }

    #[test]
    fn mrr_is_cut_reciprocal_rank() {
        let j = judgements(&[("a", 1)]);
        let r = JudgedRanking::new(&j, ["x", "y", "a"]);
        assert_eq!(r.reciprocal_rank(), 1.0 / 3.0);
        assert_eq!(r.mrr(2), 0.0);
        assert_eq!(r.mrr(3), 1.0 / 3.0);
    }

    #[test]
    fn evaluate_averages_only_queries_in_both() {
        let mut qrels = Qrels::new();
        qrels.insert("q1", "a", 1);
        qrels.insert("q2", "b", 1); // judged, not in run: not averaged
        let mut run = Run::new();
        run.insert("q1", "a", 1.0);
        run.insert("q3", "a", 1.0); // in run, not judged: ignored
        let report = evaluate(&qrels, &run, &[10, 1, 10, 0]);
        assert_eq!(report.cutoffs, vec![1, 10]);
        assert_eq!(report.num_queries, 1);
        assert_eq!(report.unjudged_queries, 1);
        assert_eq!(report.unanswered_queries, 1);
        assert_eq!(report.mean.get_name("NDCG@10"), Some(1.0));
        assert_eq!(report.mean.get(Measure::Precision(10)), Some(0.1));
        assert!(report.per_query.contains_key("q1"));
    }

    #[test]
    fn empty_result_list_is_evaluated_to_zero() {
        let mut qrels = Qrels::new();
        qrels.insert("q1", "a", 1);
        qrels.insert("q2", "a", 1);
        let mut run = Run::new();
        run.insert("q1", "a", 1.0);
        run.insert_query("q2", Vec::<(String, f64)>::new());
        let report = evaluate(&qrels, &run, &[10]);
        assert_eq!(report.num_queries, 2);
        assert_eq!(report.mean.get(Measure::Ndcg(10)), Some(0.5));
    }

    #[test]
    fn ties_are_ranked_like_trec_eval() {
        let mut qrels = Qrels::new();
        qrels.insert("q", "a", 1);
        let mut run = Run::new();
        // Equal scores: "b" > "a", so "b" is rank 1 and P@1 is 0.
        run.insert_query("q", [("a", 0.5), ("b", 0.5)]);
        let report = evaluate(&qrels, &run, &[1]);
        assert_eq!(report.mean.get(Measure::Precision(1)), Some(0.0));
    }

    #[test]
    fn no_evaluable_query_gives_zero_means() {
        let report = evaluate(&Qrels::new(), &Run::new(), &[10]);
        assert_eq!(report.num_queries, 0);
        assert_eq!(report.mean.get(Measure::Ndcg(10)), Some(0.0));
    }
}
