//! Reading a dataset in the BEIR layout.
//!
//! BEIR is how retrieval quality is reported today, and its layout is what
//! most public test collections are distributed in:
//!
//! ```text
//! <dir>/corpus.jsonl      {"_id": ..., "title": ..., "text": ..., "metadata": {...}}
//! <dir>/queries.jsonl     {"_id": ..., "text": ..., "metadata": {...}}
//! <dir>/qrels/<split>.tsv query-id <TAB> corpus-id <TAB> score
//! ```
//!
//! Ids are sometimes JSON numbers (Cranfield, some exports of SciFact); they
//! are turned into their decimal text so they match the qrels, which are
//! text. Only `_id` is required; a missing or `null` title or text reads as
//! empty (Cranfield has empty documents).

use std::collections::{HashMap, HashSet};
use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::lines::{for_each_line, open};
use crate::{EvalError, Qrels};

/// One document of `corpus.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CorpusDoc {
    /// `_id`, as text.
    pub id: String,
    /// `title` (empty when absent).
    pub title: String,
    /// `text` (empty when absent).
    pub text: String,
    /// `metadata`, kept as JSON since its shape differs per dataset.
    pub metadata: Option<Value>,
}

/// One query of `queries.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Query {
    /// `_id`, as text.
    pub id: String,
    /// `text`.
    pub text: String,
    /// `metadata`, kept as JSON.
    pub metadata: Option<Value>,
}

/// A BEIR dataset loaded for one split.
#[derive(Debug, Clone, PartialEq)]
pub struct BeirDataset {
    /// All documents, in file order.
    pub corpus: Vec<CorpusDoc>,
    /// The queries judged in the split, in file order.
    pub queries: Vec<Query>,
    /// The split's judgements.
    pub qrels: Qrels,
}

impl BeirDataset {
    /// Loads `dir` with the qrels of `split` (`test`, `train`, `dev`, or any
    /// other name under `qrels/`, e.g. Cranfield's `test_graded_inverted`).
    ///
    /// Like BEIR's `GenericDataLoader`, only the queries that have
    /// judgements in the split are kept, so a dataset whose `queries.jsonl`
    /// holds train and test queries yields just the split's. A judged query
    /// missing from `queries.jsonl` is an error: it could not be run.
    pub fn load(dir: impl AsRef<Path>, split: &str) -> Result<Self, EvalError> {
        let dir = dir.as_ref();
        let (queries, qrels, _) = judged_queries(dir, split)?;
        Ok(BeirDataset {
            corpus: read_corpus(dir.join("corpus.jsonl"))?,
            queries,
            qrels,
        })
    }

    /// Like [`BeirDataset::load`], with the documents read from `corpus`
    /// instead of `dir`'s own: the queries and judgements of one language
    /// against the translated corpus of another whose document ids are the
    /// same (XQuAD's languages share them) is a cross-lingual test. Every
    /// judged document must be in `corpus`, else the ids do not align and
    /// the scores would mean nothing. (A dataset's own corpus is not held
    /// to that: pytrec_eval tolerates judgements of missing documents, and
    /// some published sets have them.)
    pub fn load_with_corpus(dir: &Path, split: &str, corpus: &Path) -> Result<Self, EvalError> {
        let (queries, qrels, qrels_path) = judged_queries(dir, split)?;
        let docs = read_corpus(corpus)?;
        let ids: HashSet<&str> = docs.iter().map(|d| d.id.as_str()).collect();
        let missing = qrels
            .iter()
            .flat_map(|(_, judged)| judged.keys())
            .find(|d| !ids.contains(d.as_str()));
        if let Some(doc_id) = missing {
            return Err(EvalError::UnknownDocument {
                qrels: qrels_path,
                corpus: corpus.to_path_buf(),
                doc_id: doc_id.clone(),
            });
        }
        Ok(BeirDataset {
            corpus: docs,
            queries,
            qrels,
        })
    }
}

/// The qrels of `split` and the queries they judge (see
/// [`BeirDataset::load`]), with the qrels' path for error messages.
fn judged_queries(dir: &Path, split: &str) -> Result<(Vec<Query>, Qrels, PathBuf), EvalError> {
    let queries_path = dir.join("queries.jsonl");
    let qrels_path = dir.join("qrels").join(format!("{split}.tsv"));
    let qrels = Qrels::read(&qrels_path)?;
    let mut queries = read_queries(&queries_path)?;
    queries.retain(|q| qrels.contains_query(&q.id));
    let known: HashSet<&str> = queries.iter().map(|q| q.id.as_str()).collect();
    if let Some(missing) = qrels.query_ids().find(|q| !known.contains(q)) {
        return Err(EvalError::UnknownQuery {
            qrels: qrels_path,
            queries: queries_path,
            query_id: missing.to_string(),
        });
    }
    Ok((queries, qrels, qrels_path))
}

/// Reads a whole `corpus.jsonl`.
pub fn read_corpus(path: impl AsRef<Path>) -> Result<Vec<CorpusDoc>, EvalError> {
    let path = path.as_ref();
    corpus_from_reader(open(path)?, path)
}

/// Calls `f` for each document of a `corpus.jsonl` without holding the
/// corpus in memory, for ingesting collections larger than RAM.
///
/// A repeated `_id` is an error naming both lines: which copy BEIR keeps
/// depends on its dict, and an index would hold both.
pub fn stream_corpus<F>(path: impl AsRef<Path>, f: F) -> Result<(), EvalError>
where
    F: FnMut(CorpusDoc) -> Result<(), EvalError>,
{
    let path = path.as_ref();
    each_doc(open(path)?, path, f)
}

/// Reads a `queries.jsonl` (all queries, in file order).
pub fn read_queries(path: impl AsRef<Path>) -> Result<Vec<Query>, EvalError> {
    let path = path.as_ref();
    queries_from_reader(open(path)?, path)
}

/// Reads queries from `reader`; `source` names it in errors.
pub fn queries_from_reader<R: BufRead>(reader: R, source: &Path) -> Result<Vec<Query>, EvalError> {
    let mut queries = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    read_records(reader, source, |number, raw| {
        check_unique(&mut seen, &raw.id, number, source)?;
        queries.push(Query {
            id: raw.id,
            text: raw.text.unwrap_or_default(),
            metadata: raw.metadata,
        });
        Ok(())
    })?;
    Ok(queries)
}

/// Reads corpus documents from `reader`; `source` names it in errors.
pub fn corpus_from_reader<R: BufRead>(
    reader: R,
    source: &Path,
) -> Result<Vec<CorpusDoc>, EvalError> {
    let mut docs = Vec::new();
    each_doc(reader, source, |doc| {
        docs.push(doc);
        Ok(())
    })?;
    Ok(docs)
}

/// Parses corpus lines into documents, refusing repeated ids.
fn each_doc<R, F>(reader: R, source: &Path, mut f: F) -> Result<(), EvalError>
where
    R: BufRead,
    F: FnMut(CorpusDoc) -> Result<(), EvalError>,
{
    let mut seen: HashMap<String, usize> = HashMap::new();
    read_records(reader, source, |number, raw| {
        check_unique(&mut seen, &raw.id, number, source)?;
        f(CorpusDoc {
            id: raw.id,
            title: raw.title.unwrap_or_default(),
            text: raw.text.unwrap_or_default(),
            metadata: raw.metadata,
        })
    })
}

/// A JSONL line as written by BEIR, before defaults are applied.
#[derive(Deserialize)]
struct RawRecord {
    #[serde(rename = "_id", deserialize_with = "id_text")]
    id: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    metadata: Option<Value>,
}

/// Accepts an id written as a JSON string or number.
fn id_text<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "`_id` must be a string or a number, found {other}"
        ))),
    }
}

/// Parses every non-blank line of a JSONL file into a [`RawRecord`].
fn read_records<R, F>(reader: R, source: &Path, mut f: F) -> Result<(), EvalError>
where
    R: BufRead,
    F: FnMut(usize, RawRecord) -> Result<(), EvalError>,
{
    for_each_line(reader, source, |number, line| {
        if line.trim().is_empty() {
            return Ok(());
        }
        let raw: RawRecord = serde_json::from_str(line)
            .map_err(|e| EvalError::malformed(source, number, json_reason(&e)))?;
        f(number, raw)
    })
}

/// serde_json's message without its "at line 1 column N" suffix (the line
/// is always 1 within a JSONL line; the real line is in the error).
fn json_reason(e: &serde_json::Error) -> String {
    let message = e.to_string();
    let message = match message.rfind(" at line ") {
        Some(i) => &message[..i],
        None => &message,
    };
    format!("invalid JSON: {message} (column {})", e.column())
}

fn check_unique(
    seen: &mut HashMap<String, usize>,
    id: &str,
    number: usize,
    source: &Path,
) -> Result<(), EvalError> {
    if let Some(first) = seen.insert(id.to_string(), number) {
        let reason = format!("duplicate `_id` {id:?} (first on line {first})");
        return Err(EvalError::malformed(source, number, reason));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn numeric_ids_become_text_and_fields_default() {
        let input = r#"{"_id": 4983, "title": "T", "text": "body", "metadata": {}}
{"_id": "d2", "text": null}

{"_id": 7.5, "title": "x", "text": "y"}
"#;
        let docs = corpus_from_reader(input.as_bytes(), Path::new("corpus.jsonl")).unwrap();
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[0].id, "4983");
        assert_eq!(docs[0].metadata, Some(serde_json::json!({})));
        assert_eq!(docs[1].title, "");
        assert_eq!(docs[1].text, "");
        assert_eq!(docs[2].id, "7.5");
    }

    #[test]
    fn missing_id_names_file_and_line() {
        let input = "{\"_id\": \"a\", \"text\": \"x\"}\n{\"text\": \"no id\"}\n";
        let err = queries_from_reader(input.as_bytes(), Path::new("queries.jsonl")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "queries.jsonl:2: invalid JSON: missing field `_id` (column 17)"
        );
    }

    #[test]
    fn bad_id_type_and_broken_json_are_errors() {
        let err = queries_from_reader(r#"{"_id": [1]}"#.as_bytes(), Path::new("q")).unwrap_err();
        assert!(
            err.to_string().contains("must be a string or a number"),
            "{err}"
        );
        let err = queries_from_reader("{\"_id\": \"a\"\n".as_bytes(), Path::new("q")).unwrap_err();
        assert!(err.to_string().starts_with("q:1: invalid JSON"), "{err}");
    }

    #[test]
    fn duplicate_id_is_an_error() {
        let input = "{\"_id\": 1}\n{\"_id\": \"1\"}\n";
        let err = corpus_from_reader(input.as_bytes(), Path::new("c")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "c:2: duplicate `_id` \"1\" (first on line 1)"
        );
    }

    fn write_dataset(dir: &Path) {
        fs::create_dir_all(dir.join("qrels")).unwrap();
        fs::write(
            dir.join("corpus.jsonl"),
            "{\"_id\": \"d1\", \"title\": \"A\", \"text\": \"alpha\"}\n{\"_id\": \"d2\", \"title\": \"B\", \"text\": \"beta\"}\n",
        )
        .unwrap();
        fs::write(
            dir.join("queries.jsonl"),
            "{\"_id\": \"q1\", \"text\": \"first\"}\n{\"_id\": \"q2\", \"text\": \"train only\"}\n{\"_id\": 3, \"text\": \"third\"}\n",
        )
        .unwrap();
        fs::write(
            dir.join("qrels/test.tsv"),
            "query-id\tcorpus-id\tscore\n3\td2\t1\nq1\td1\t1\n",
        )
        .unwrap();
    }

    #[test]
    fn load_keeps_only_judged_queries_in_file_order() {
        let tmp = tempfile::tempdir().unwrap();
        write_dataset(tmp.path());
        let ds = BeirDataset::load(tmp.path(), "test").unwrap();
        assert_eq!(ds.corpus.len(), 2);
        let ids: Vec<&str> = ds.queries.iter().map(|q| q.id.as_str()).collect();
        assert_eq!(ids, vec!["q1", "3"]);
        assert_eq!(ds.qrels.relevance("3", "d2"), Some(1));
    }

    #[test]
    fn another_corpus_must_hold_every_judged_document() {
        let tmp = tempfile::tempdir().unwrap();
        write_dataset(tmp.path());
        let other = tmp.path().join("en.jsonl");
        fs::write(
            &other,
            "{\"_id\": \"d1\", \"text\": \"one\"}\n{\"_id\": \"d2\", \"text\": \"two\"}\n",
        )
        .unwrap();
        let ds = BeirDataset::load_with_corpus(tmp.path(), "test", &other).unwrap();
        assert_eq!(ds.corpus[1].text, "two");
        assert_eq!(ds.queries.len(), 2);

        fs::write(&other, "{\"_id\": \"d1\", \"text\": \"one\"}\n").unwrap();
        let err = BeirDataset::load_with_corpus(tmp.path(), "test", &other).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("`d2`") && msg.contains("en.jsonl") && msg.contains("test.tsv"),
            "{msg}"
        );
    }

    #[test]
    fn load_reports_judged_query_missing_from_queries() {
        let tmp = tempfile::tempdir().unwrap();
        write_dataset(tmp.path());
        fs::write(tmp.path().join("qrels/dev.tsv"), "q9\td1\t1\n").unwrap();
        let err = BeirDataset::load(tmp.path(), "dev").unwrap_err();
        assert!(
            matches!(&err, EvalError::UnknownQuery { query_id, .. } if query_id == "q9"),
            "{err}"
        );
    }

    #[test]
    fn load_names_missing_split_file() {
        let tmp = tempfile::tempdir().unwrap();
        write_dataset(tmp.path());
        let err = BeirDataset::load(tmp.path(), "nope").unwrap_err();
        assert!(err.to_string().contains("nope.tsv"), "{err}");
    }
}
