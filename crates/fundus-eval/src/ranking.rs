//! The order in which trec_eval reads a ranked list.
//!
//! trec_eval never trusts the rank column of a run: it re-sorts every
//! query's documents itself (`comp_sim_docno` in `form_res_rels.c`), and a
//! metric computed over any other order disagrees with it whenever scores
//! tie — which BM25 does all the time. Two details of that sort matter:
//!
//! - scores are compared as **`f32`** (`TEXT_RESULTS.sim` is a C `float`),
//!   so `1.0` and `1.0 + 1e-12` are a tie;
//! - ties are broken by document id in **descending** byte order
//!   (`strcmp(ptr2->docno, ptr1->docno)`), not ascending.

use std::cmp::Ordering;
use std::collections::HashMap;

/// The score as trec_eval compares it: rounded to `f32`. NaN, which makes
/// trec_eval's comparison inconsistent (its result is then undefined), is
/// put at the very bottom so the order here stays total.
fn trec_key(score: f64) -> f32 {
    let score = score as f32;
    if score.is_nan() {
        f32::NEG_INFINITY
    } else {
        score
    }
}

/// trec_eval's comparison: higher `f32` score first, then higher document
/// id (byte-wise) first.
pub fn trec_cmp(a: (&str, f64), b: (&str, f64)) -> Ordering {
    let (ka, kb) = (trec_key(a.1), trec_key(b.1));
    kb.partial_cmp(&ka)
        .unwrap_or(Ordering::Equal)
        .then_with(|| b.0.as_bytes().cmp(a.0.as_bytes()))
}

/// One query's documents in the order trec_eval evaluates them.
///
/// A document listed twice keeps its **last** score: that is what a Python
/// dict (BEIR's `results[qid][doc_id] = score`, the only thing
/// pytrec_eval accepts) makes of it. trec_eval itself refuses such a run,
/// and [`crate::Run::read`] does too; this rule only covers runs built in
/// memory.
pub fn rank_trec(docs: &[(String, f64)]) -> Vec<(&str, f64)> {
    let mut position: HashMap<&str, usize> = HashMap::with_capacity(docs.len());
    let mut ranked: Vec<(&str, f64)> = Vec::with_capacity(docs.len());
    for (doc, score) in docs {
        match position.get(doc.as_str()) {
            Some(&i) => ranked[i].1 = *score,
            None => {
                position.insert(doc, ranked.len());
                ranked.push((doc, *score));
            }
        }
    }
    ranked.sort_by(|a, b| trec_cmp(*a, *b));
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs(list: &[(&str, f64)]) -> Vec<(String, f64)> {
        list.iter().map(|(d, s)| (d.to_string(), *s)).collect()
    }

    fn ids<'a>(ranked: &[(&'a str, f64)]) -> Vec<&'a str> {
        ranked.iter().map(|(d, _)| *d).collect()
    }

    #[test]
    fn sorts_by_score_descending() {
        let d = docs(&[("a", 0.1), ("b", 0.9), ("c", 0.5)]);
        assert_eq!(ids(&rank_trec(&d)), vec!["b", "c", "a"]);
    }

    #[test]
    fn ties_break_by_doc_id_descending() {
        let d = docs(&[("a", 1.0), ("c", 1.0), ("b", 1.0), ("10", 1.0), ("9", 1.0)]);
        // Byte order, not numeric: "9" > "10".
        assert_eq!(ids(&rank_trec(&d)), vec!["c", "b", "a", "9", "10"]);
    }

    #[test]
    fn scores_equal_in_f32_are_ties() {
        let d = docs(&[("a", 1.0 + 1e-12), ("b", 1.0)]);
        assert_eq!(ids(&rank_trec(&d)), vec!["b", "a"]);
        let d = docs(&[("a", 1.0 + 1e-6), ("b", 1.0)]);
        assert_eq!(ids(&rank_trec(&d)), vec!["a", "b"]);
    }

    #[test]
    fn duplicate_keeps_last_score() {
        let d = docs(&[("a", 0.9), ("b", 0.5), ("a", 0.1)]);
        let r = rank_trec(&d);
        assert_eq!(r, vec![("b", 0.5), ("a", 0.1)]);
    }

    #[test]
    fn nan_goes_last() {
        let d = docs(&[("a", f64::NAN), ("b", -1.0), ("c", f64::NEG_INFINITY)]);
        assert_eq!(ids(&rank_trec(&d)), vec!["b", "c", "a"]);
    }
}
