//! Reading documents from JSONL, one per line.
//!
//! Accepts BEIR's `corpus.jsonl` (`_id`, `title`, `text`) and Fundus' own
//! layout (`id`, `text`, optional `title` and `metadata`). Every problem is
//! reported with the file and the 1-based line, so a user can open the file
//! at the right place; a caller that wants to go on past bad lines collects
//! the errors and counts them.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde_json::Value;
use thiserror::Error;

use crate::document::Document;

#[derive(Debug, Error)]
pub enum CorpusError {
    #[error("{path}:{line}: {reason}")]
    Malformed {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl CorpusError {
    /// True for a bad line (which `--skip-invalid` may step over), false for
    /// an I/O failure (which ends the read).
    pub fn is_malformed(&self) -> bool {
        matches!(self, CorpusError::Malformed { .. })
    }
}

/// Streams documents from a JSONL file.
pub struct JsonlDocuments {
    reader: BufReader<File>,
    path: PathBuf,
    line: usize,
    buf: Vec<u8>,
    failed: bool,
}

impl JsonlDocuments {
    pub fn open(path: impl AsRef<Path>) -> Result<Self, CorpusError> {
        let path = path.as_ref().to_path_buf();
        let file = File::open(&path).map_err(|source| CorpusError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(JsonlDocuments {
            reader: BufReader::with_capacity(1 << 20, file),
            path,
            line: 0,
            buf: Vec::new(),
            failed: false,
        })
    }

    /// The 1-based number of the line read last.
    pub fn line(&self) -> usize {
        self.line
    }

    fn malformed(&self, reason: impl Into<String>) -> CorpusError {
        CorpusError::Malformed {
            path: self.path.clone(),
            line: self.line,
            reason: reason.into(),
        }
    }

    fn parse(&self, bytes: &[u8]) -> Result<Document, CorpusError> {
        let text = std::str::from_utf8(bytes).map_err(|e| {
            self.malformed(format!(
                "invalid UTF-8 at byte {} of the line",
                e.valid_up_to()
            ))
        })?;
        let value: Value =
            serde_json::from_str(text).map_err(|e| self.malformed(format!("invalid JSON: {e}")))?;
        let Value::Object(mut obj) = value else {
            return Err(self.malformed("expected a JSON object"));
        };
        let id = match obj.remove("id").or_else(|| obj.remove("_id")) {
            Some(Value::String(s)) if !s.trim().is_empty() => s,
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(_)) => return Err(self.malformed("field \"id\" is empty")),
            Some(other) => {
                return Err(self.malformed(format!(
                    "field \"id\" must be a string or number, got {}",
                    kind(&other)
                )))
            }
            None => return Err(self.malformed("missing field \"id\" (or \"_id\")")),
        };
        let text = match obj.remove("text") {
            Some(Value::String(s)) => s,
            Some(other) => {
                return Err(self.malformed(format!(
                    "field \"text\" must be a string, got {}",
                    kind(&other)
                )))
            }
            None => return Err(self.malformed(format!("document {id:?}: missing field \"text\""))),
        };
        let title = match obj.remove("title") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(other) => {
                return Err(self.malformed(format!(
                    "field \"title\" must be a string, got {}",
                    kind(&other)
                )))
            }
        };
        if text.trim().is_empty() && title.as_deref().is_none_or(|t| t.trim().is_empty()) {
            return Err(self.malformed(format!(
                "document {id:?} has empty text: there is nothing to embed"
            )));
        }
        let metadata = match obj.remove("metadata") {
            None | Some(Value::Null) => None,
            Some(m @ Value::Object(_)) => Some(m),
            Some(other) => {
                return Err(self.malformed(format!(
                    "field \"metadata\" must be a JSON object, got {}",
                    kind(&other)
                )))
            }
        };
        Ok(Document {
            id,
            title,
            text,
            metadata,
        })
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Iterator for JsonlDocuments {
    type Item = Result<Document, CorpusError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            self.buf.clear();
            match self.reader.read_until(b'\n', &mut self.buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(source) => {
                    self.failed = true;
                    return Some(Err(CorpusError::Io {
                        path: self.path.clone(),
                        source,
                    }));
                }
            }
            self.line += 1;
            let bytes = std::mem::take(&mut self.buf);
            let trimmed = bytes.trim_ascii();
            if trimmed.is_empty() {
                self.buf = bytes;
                continue;
            }
            let doc = self.parse(trimmed);
            self.buf = bytes;
            return Some(doc);
        }
    }
}

/// Counts the non-blank lines of a file, for progress bars.
pub fn count_lines(path: &Path) -> Result<usize, CorpusError> {
    let file = File::open(path).map_err(|source| CorpusError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut n = 0;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) => return Ok(n),
            Ok(_) => n += usize::from(!buf.trim_ascii().is_empty()),
            Err(source) => {
                return Err(CorpusError::Io {
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn read(content: &[u8]) -> Vec<Result<Document, String>> {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(content).unwrap();
        JsonlDocuments::open(f.path())
            .unwrap()
            .map(|r| r.map_err(|e| e.to_string()))
            .collect()
    }

    #[test]
    fn reads_beir_and_fundus_layouts() {
        let docs = read(
            b"{\"_id\": \"d1\", \"title\": \"T\", \"text\": \"x\"}\n\n\
              {\"id\": 7, \"text\": \"y\", \"metadata\": {\"a\": 1}}\n",
        );
        let d1 = docs[0].as_ref().unwrap();
        assert_eq!((d1.id.as_str(), d1.title.as_deref()), ("d1", Some("T")));
        let d2 = docs[1].as_ref().unwrap();
        assert_eq!(d2.id, "7");
        assert_eq!(d2.metadata.as_ref().unwrap()["a"], 1);
    }

    #[test]
    fn errors_name_file_and_line() {
        let docs = read(
            b"{\"id\": \"a\", \"text\": \"ok\"}\n\
              {\"id\": \"b\", \"text\": \n\
              [1, 2]\n\
              {\"id\": \"c\"}\n\
              {\"id\": \"d\", \"text\": \"  \"}\n\
              {\"id\": \"e\", \"text\": \"x\", \"metadata\": [1]}\n\
              {\"id\": \"f\", \"text\": \"\xff\xfe\"}\n\
              {\"id\": \"g\", \"text\": \"fine\"}\n",
        );
        assert!(docs[0].is_ok());
        let errs: Vec<&String> = docs[1..7].iter().map(|d| d.as_ref().unwrap_err()).collect();
        assert!(errs[0].contains(":2: invalid JSON"), "{}", errs[0]);
        assert!(
            errs[1].contains(":3: expected a JSON object"),
            "{}",
            errs[1]
        );
        assert!(
            errs[2].contains(":4: document \"c\": missing field \"text\""),
            "{}",
            errs[2]
        );
        assert!(
            errs[3].contains(":5: document \"d\" has empty text"),
            "{}",
            errs[3]
        );
        assert!(
            errs[4].contains(":6: field \"metadata\" must be a JSON object"),
            "{}",
            errs[4]
        );
        assert!(errs[5].contains(":7: invalid UTF-8"), "{}", errs[5]);
        assert_eq!(
            docs[7].as_ref().unwrap().id,
            "g",
            "reading goes on after a bad line"
        );
    }

    #[test]
    fn counts_non_blank_lines() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(b"a\n\n b\nc").unwrap();
        assert_eq!(count_lines(f.path()).unwrap(), 3);
    }
}
