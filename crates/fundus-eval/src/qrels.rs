//! Relevance judgements: which documents are relevant to which query, and
//! how much.
//!
//! Grades are kept as the integers the file holds, negative ones included,
//! because the metrics need to tell "judged not relevant" (0), "judged but
//! to be ignored" (negative, trec_eval treats them as unjudged) and "never
//! judged" (absent) apart.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;

use crate::lines::{for_each_line, open};
use crate::EvalError;

/// Query id -> document id -> relevance grade.
///
/// Ordered maps keep iteration (and therefore reports and files written
/// from them) deterministic. A query is only present with at least one
/// judgement, so every query in here can be evaluated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Qrels {
    queries: BTreeMap<String, BTreeMap<String, i32>>,
}

impl Qrels {
    /// Empty judgements.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `doc_id` has grade `relevance` for `query_id`. A second
    /// judgement of the same pair replaces the first, as BEIR's loader does
    /// (it fills a Python dict).
    pub fn insert(
        &mut self,
        query_id: impl Into<String>,
        doc_id: impl Into<String>,
        relevance: i32,
    ) {
        self.queries
            .entry(query_id.into())
            .or_default()
            .insert(doc_id.into(), relevance);
    }

    /// The judgements of one query, if it has any.
    pub fn get(&self, query_id: &str) -> Option<&BTreeMap<String, i32>> {
        self.queries.get(query_id)
    }

    /// The grade of one (query, document) pair, if judged.
    pub fn relevance(&self, query_id: &str, doc_id: &str) -> Option<i32> {
        self.queries.get(query_id)?.get(doc_id).copied()
    }

    /// Whether the query has at least one judgement.
    pub fn contains_query(&self, query_id: &str) -> bool {
        self.queries.contains_key(query_id)
    }

    /// Judged queries in id order.
    pub fn query_ids(&self) -> impl Iterator<Item = &str> {
        self.queries.keys().map(String::as_str)
    }

    /// `(query id, judgements)` in query id order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &BTreeMap<String, i32>)> {
        self.queries.iter().map(|(q, d)| (q.as_str(), d))
    }

    /// Number of judged queries.
    pub fn len(&self) -> usize {
        self.queries.len()
    }

    /// Whether there are no judgements at all.
    pub fn is_empty(&self) -> bool {
        self.queries.is_empty()
    }

    /// Number of (query, document) judgements.
    pub fn num_judgements(&self) -> usize {
        self.queries.values().map(BTreeMap::len).sum()
    }

    /// Reads a qrels file; see [`Qrels::from_reader`] for the format.
    pub fn read(path: impl AsRef<Path>) -> Result<Self, EvalError> {
        let path = path.as_ref();
        Self::from_reader(open(path)?, path)
    }

    /// Reads qrels from `reader`; `source` names it in error messages.
    ///
    /// Accepted lines, so that BEIR's and TREC's files both load:
    /// - BEIR: `query-id <TAB> corpus-id <TAB> score`; the header line is
    ///   optional (BEIR itself always skips line 1, which silently drops a
    ///   judgement when a file has no header — here line 1 is skipped only
    ///   when its score is not an integer);
    /// - the same three fields separated by spaces;
    /// - TREC: `query-id iteration doc-id relevance` (four fields).
    ///
    /// Blank lines are skipped; anything else that does not parse is an
    /// error naming the line.
    pub fn from_reader<R: BufRead>(reader: R, source: &Path) -> Result<Self, EvalError> {
        let mut qrels = Qrels::new();
        for_each_line(reader, source, |number, line| {
            if line.trim().is_empty() {
                return Ok(());
            }
            let (query, doc, grade) = split_qrels_line(line)
                .ok_or_else(|| {
                    let reason = format!(
                        "expected `query-id<TAB>corpus-id<TAB>score` or TREC `qid iter docid rel`, found {line:?}"
                    );
                    EvalError::malformed(source, number, reason)
                })?;
            match grade.trim().parse::<i32>() {
                Ok(grade) => {
                    qrels.insert(query, doc, grade);
                    Ok(())
                }
                // A header names the columns; it can only be line 1.
                Err(_) if number == 1 => Ok(()),
                Err(_) => Err(EvalError::malformed(
                    source,
                    number,
                    format!("relevance {grade:?} is not an integer"),
                )),
            }
        })?;
        Ok(qrels)
    }
}

/// Splits a qrels line into (query id, doc id, grade text).
fn split_qrels_line(line: &str) -> Option<(&str, &str, &str)> {
    let tabbed: Vec<&str> = line.split('\t').collect();
    if let [query, doc, grade] = tabbed[..] {
        let (query, doc) = (query.trim(), doc.trim());
        if !query.is_empty() && !doc.is_empty() {
            return Some((query, doc, grade));
        }
        return None;
    }
    match line.split_whitespace().collect::<Vec<_>>()[..] {
        [query, doc, grade] => Some((query, doc, grade)),
        [query, _iteration, doc, grade] => Some((query, doc, grade)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Qrels, EvalError> {
        Qrels::from_reader(text.as_bytes(), Path::new("qrels/test.tsv"))
    }

    #[test]
    fn reads_beir_tsv_with_header() {
        let q = parse("query-id\tcorpus-id\tscore\n1\td1\t2\n1\td2\t0\n2\td1\t-1\n").unwrap();
        assert_eq!(q.len(), 2);
        assert_eq!(q.num_judgements(), 3);
        assert_eq!(q.relevance("1", "d1"), Some(2));
        assert_eq!(q.relevance("2", "d1"), Some(-1));
        assert_eq!(q.relevance("2", "d2"), None);
    }

    #[test]
    fn header_is_optional() {
        let q = parse("1\td1\t1\n").unwrap();
        assert_eq!(q.relevance("1", "d1"), Some(1));
    }

    #[test]
    fn reads_trec_four_column_format() {
        let q = parse("301 0 FT911-3 1\n301 0 FT911-4 0\n").unwrap();
        assert_eq!(q.relevance("301", "FT911-3"), Some(1));
        assert_eq!(q.relevance("301", "FT911-4"), Some(0));
    }

    #[test]
    fn later_judgement_of_same_pair_wins() {
        let q = parse("1\td\t1\n1\td\t3\n").unwrap();
        assert_eq!(q.relevance("1", "d"), Some(3));
    }

    #[test]
    fn bad_grade_names_the_line() {
        let err = parse("query-id\tcorpus-id\tscore\n1\td1\t1\n1\td2\thigh\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "qrels/test.tsv:3: relevance \"high\" is not an integer"
        );
    }

    #[test]
    fn wrong_column_count_names_the_line() {
        let err = parse("1\td1\t1\n1\td2\n").unwrap_err();
        assert!(
            err.to_string().starts_with("qrels/test.tsv:2: expected"),
            "{err}"
        );
    }

    #[test]
    fn crlf_and_blank_lines_are_tolerated() {
        let q = parse("query-id\tcorpus-id\tscore\r\n1\td1\t1\r\n\r\n").unwrap();
        assert_eq!(q.relevance("1", "d1"), Some(1));
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = Qrels::read("no/such/qrels.tsv").unwrap_err();
        assert!(err.to_string().starts_with("no/such/qrels.tsv: "), "{err}");
    }
}
