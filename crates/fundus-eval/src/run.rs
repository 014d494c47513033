//! A run: what a retrieval system returned for each query, with scores.
//!
//! Runs are written and read in the TREC format (`qid Q0 docid rank score
//! tag`) because every other IR tool speaks it, so Fundus' results can be
//! checked with trec_eval or pytrec_eval and other systems' runs can be
//! scored here.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufRead, BufWriter, Write};
use std::path::Path;

use crate::lines::{for_each_line, open};
use crate::ranking::rank_trec;
use crate::EvalError;

/// Query id -> retrieved `(doc id, score)` pairs, higher score = better.
///
/// The per-query lists are kept in insertion order and are not required to
/// be sorted: every consumer re-ranks them the way trec_eval does (see
/// [`crate::ranking`]), so a caller can push hits in any order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Run {
    queries: BTreeMap<String, Vec<(String, f64)>>,
}

impl Run {
    /// An empty run.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one retrieved document for a query.
    pub fn insert(&mut self, query_id: impl Into<String>, doc_id: impl Into<String>, score: f64) {
        self.queries
            .entry(query_id.into())
            .or_default()
            .push((doc_id.into(), score));
    }

    /// Adds a query's results in one go. A query with an empty list is
    /// still part of the run: it is evaluated (to zero) rather than skipped.
    pub fn insert_query<I, D>(&mut self, query_id: impl Into<String>, hits: I)
    where
        I: IntoIterator<Item = (D, f64)>,
        D: Into<String>,
    {
        let list = self.queries.entry(query_id.into()).or_default();
        list.extend(hits.into_iter().map(|(d, s)| (d.into(), s)));
    }

    /// One query's results in insertion order.
    pub fn get(&self, query_id: &str) -> Option<&[(String, f64)]> {
        self.queries.get(query_id).map(Vec::as_slice)
    }

    /// `(query id, results)` in query id order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[(String, f64)])> {
        self.queries.iter().map(|(q, d)| (q.as_str(), d.as_slice()))
    }

    /// Query ids in order.
    pub fn query_ids(&self) -> impl Iterator<Item = &str> {
        self.queries.keys().map(String::as_str)
    }

    /// Number of queries.
    pub fn len(&self) -> usize {
        self.queries.len()
    }

    /// Whether the run holds no query.
    pub fn is_empty(&self) -> bool {
        self.queries.is_empty()
    }

    /// Removes every hit whose doc id equals its query id and returns how
    /// many went.
    ///
    /// BEIR's `EvaluateRetrieval.evaluate` does this by default
    /// (`ignore_identical_ids=True`) because in ArguAna and Quora the query
    /// is itself a corpus document. Numeric ids collide by accident in other
    /// sets (Cranfield query `5` vs document `5`), so it is not applied
    /// implicitly: call it when reproducing BEIR on such a dataset.
    pub fn remove_identical_ids(&mut self) -> usize {
        let mut removed = 0;
        for (query, hits) in &mut self.queries {
            let before = hits.len();
            hits.retain(|(doc, _)| doc != query);
            removed += before - hits.len();
        }
        removed
    }

    /// Keeps only the best `k` documents of every query (in trec_eval's
    /// order), e.g. to write a top-100 run file.
    pub fn truncate(&mut self, k: usize) {
        for hits in self.queries.values_mut() {
            let kept: Vec<(String, f64)> = rank_trec(hits)
                .into_iter()
                .take(k)
                .map(|(d, s)| (d.to_string(), s))
                .collect();
            *hits = kept;
        }
    }

    /// Reads a TREC run file; see [`Run::from_reader`].
    pub fn read(path: impl AsRef<Path>) -> Result<Self, EvalError> {
        let path = path.as_ref();
        Self::from_reader(open(path)?, path)
    }

    /// Reads TREC run lines `qid Q0 docid rank score tag` (whitespace
    /// separated, exactly six fields) from `reader`; `source` names it in
    /// errors.
    ///
    /// The rank column is ignored, as trec_eval ignores it. A document
    /// listed twice for one query is an error, as in trec_eval ("duplicate
    /// docs") and pytrec_eval's `parse_run`.
    pub fn from_reader<R: BufRead>(reader: R, source: &Path) -> Result<Self, EvalError> {
        let mut run = Run::new();
        // (query, doc) -> line, to point at both lines of a duplicate.
        let mut seen: HashMap<(String, String), usize> = HashMap::new();
        for_each_line(reader, source, |number, line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.is_empty() {
                return Ok(());
            }
            let [query, _q0, doc, _rank, score, _tag] = fields[..] else {
                let reason = format!(
                    "expected 6 fields `qid Q0 docid rank score tag`, found {}",
                    fields.len()
                );
                return Err(EvalError::malformed(source, number, reason));
            };
            let score: f64 = score.parse().map_err(|_| {
                EvalError::malformed(source, number, format!("score {score:?} is not a number"))
            })?;
            if let Some(first) = seen.insert((query.to_string(), doc.to_string()), number) {
                let reason =
                    format!("document {doc:?} already listed for query {query:?} on line {first}");
                return Err(EvalError::malformed(source, number, reason));
            }
            run.insert(query, doc, score);
            Ok(())
        })?;
        Ok(run)
    }

    /// Writes the run as a TREC run file; see [`Run::write_to`].
    pub fn write(&self, path: impl AsRef<Path>, tag: &str) -> Result<(), EvalError> {
        let path = path.as_ref();
        let file = File::create(path).map_err(|e| EvalError::io(path, e))?;
        let mut out = BufWriter::new(file);
        self.write_to(&mut out, tag)
            .and_then(|()| out.flush())
            .map_err(|e| EvalError::io(path, e))
    }

    /// Writes `qid Q0 docid rank score tag` lines, queries in id order and
    /// documents in trec_eval's order, so the rank column agrees with the
    /// order trec_eval will re-derive. Scores are written in Rust's
    /// shortest round-trip form, so reading the file back gives the same
    /// `f64` values.
    ///
    /// Ids or a tag containing whitespace could not be read back, and are
    /// refused with [`std::io::ErrorKind::InvalidInput`].
    pub fn write_to<W: Write>(&self, out: &mut W, tag: &str) -> std::io::Result<()> {
        check_token("run tag", tag)?;
        for (query, hits) in &self.queries {
            check_token("query id", query)?;
            for (rank, (doc, score)) in rank_trec(hits).into_iter().enumerate() {
                check_token("document id", doc)?;
                let score = format_score(score);
                writeln!(out, "{query} Q0 {doc} {} {score} {tag}", rank + 1)?;
            }
        }
        Ok(())
    }

    /// Merges another run into this one (e.g. runs written per shard).
    pub fn extend(&mut self, other: Run) {
        for (query, hits) in other.queries {
            match self.queries.entry(query) {
                Entry::Vacant(slot) => {
                    slot.insert(hits);
                }
                Entry::Occupied(mut slot) => slot.get_mut().extend(hits),
            }
        }
    }
}

/// The shortest text that parses back to the same `f64`; very small or
/// very large magnitudes in exponent form so a line stays short.
fn format_score(score: f64) -> String {
    let magnitude = score.abs();
    if magnitude != 0.0 && !(1e-5..1e16).contains(&magnitude) {
        format!("{score:e}")
    } else {
        format!("{score}")
    }
}

/// A field of a whitespace-separated line must be non-empty and have no
/// whitespace, or the file cannot be read back.
fn check_token(what: &str, value: &str) -> std::io::Result<()> {
    if value.is_empty() || value.chars().any(char::is_whitespace) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "{what} {value:?} is empty or contains whitespace; a TREC run file cannot hold it"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Run, EvalError> {
        Run::from_reader(text.as_bytes(), Path::new("run.trec"))
    }

    #[test]
    fn write_then_read_round_trips_scores_exactly() {
        let mut run = Run::new();
        run.insert("q1", "d1", 0.1 + 0.2);
        run.insert("q1", "d2", 1.0 / 3.0);
        run.insert("q2", "d9", -7.25e-9);
        let mut bytes = Vec::new();
        run.write_to(&mut bytes, "fundus").unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(
            text,
            "q1 Q0 d2 1 0.3333333333333333 fundus\n\
             q1 Q0 d1 2 0.30000000000000004 fundus\n\
             q2 Q0 d9 1 -7.25e-9 fundus\n"
        );
        let back = parse(&text).unwrap();
        assert_eq!(back.get("q1").unwrap()[1], ("d1".to_string(), 0.1 + 0.2));
        assert_eq!(back.get("q2").unwrap()[0].1, -7.25e-9);
    }

    #[test]
    fn writer_ranks_ties_like_trec_eval() {
        let mut run = Run::new();
        run.insert_query("q", [("a", 1.0), ("b", 1.0), ("c", 2.0)]);
        let mut bytes = Vec::new();
        run.write_to(&mut bytes, "t").unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "q Q0 c 1 2 t\nq Q0 b 2 1 t\nq Q0 a 3 1 t\n"
        );
    }

    #[test]
    fn reader_ignores_rank_column_and_keeps_all_lines() {
        let run = parse("1 Q0 d1 7 0.5 x\n1 Q0 d2 1 0.25 x\n\n2 Q0 d1 1 3 x\n").unwrap();
        assert_eq!(run.len(), 2);
        assert_eq!(run.get("1").unwrap().len(), 2);
    }

    #[test]
    fn duplicate_document_is_an_error_naming_both_lines() {
        let err = parse("1 Q0 d1 1 0.5 x\n1 Q0 d2 2 0.4 x\n1 Q0 d1 3 0.3 x\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "run.trec:3: document \"d1\" already listed for query \"1\" on line 1"
        );
    }

    #[test]
    fn wrong_field_count_and_bad_score_name_the_line() {
        let err = parse("1 Q0 d1 1 0.5\n").unwrap_err();
        assert!(
            err.to_string().starts_with("run.trec:1: expected 6 fields"),
            "{err}"
        );
        let err = parse("1 Q0 d1 1 0.5 x\n1 Q0 d2 1 high x\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "run.trec:2: score \"high\" is not a number"
        );
    }

    #[test]
    fn whitespace_in_ids_is_refused_by_the_writer() {
        let mut run = Run::new();
        run.insert("q 1", "d", 1.0);
        let err = run.write_to(&mut Vec::new(), "t").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    }

    #[test]
    fn remove_identical_ids_drops_self_hits() {
        let mut run = Run::new();
        run.insert_query("5", [("5", 9.0), ("6", 1.0)]);
        assert_eq!(run.remove_identical_ids(), 1);
        assert_eq!(run.get("5").unwrap(), &[("6".to_string(), 1.0)]);
    }

    #[test]
    fn truncate_keeps_best_k() {
        let mut run = Run::new();
        run.insert_query("q", [("a", 0.1), ("b", 0.9), ("c", 0.5)]);
        run.truncate(2);
        let ids: Vec<&str> = run
            .get("q")
            .unwrap()
            .iter()
            .map(|(d, _)| d.as_str())
            .collect();
        assert_eq!(ids, vec!["b", "c"]);
    }

    #[test]
    fn write_and_read_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.trec");
        let mut run = Run::new();
        run.insert("q", "d", 0.5);
        run.write(&path, "t").unwrap();
        assert_eq!(Run::read(&path).unwrap(), run);
    }
}
