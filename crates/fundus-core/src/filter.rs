//! Payload filters: `manufacturer = "Nordkühl" AND volume_l >= 250`.
//!
//! A small boolean language over a point's JSON payload, parsed once per
//! query and evaluated inside the index scan (a filtered search never ranks
//! points that fail the filter, so it does not return fewer than `k` hits
//! the way post-filtering a short list does).
//!
//! ```text
//! filter    := or
//! or        := and ("OR" and)*
//! and       := unary ("AND" unary)*
//! unary     := "NOT" unary | "(" filter ")" | condition
//! condition := field op value | field "IN" "(" value ("," value)* ")" | field "EXISTS"
//! op        := "=" | "!=" | "<" | "<=" | ">" | ">="
//! field     := name ("." name)*          -- a path into nested objects
//! value     := "string" | 'string' | number | true | false | null
//! ```
//!
//! Keywords are case-insensitive. A condition on an array field matches when
//! any element matches (`norms = "DIN 13277"`), as in Qdrant; `!=` is the
//! negation of `=`, so it also matches points without the field. Ordering
//! comparisons apply to numbers only; comparing a number with a string is
//! false, not an error, because payloads of real corpora are not uniform.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

/// A parse error with the character position where it was found.
#[derive(Debug, Error, PartialEq)]
#[error("invalid filter at position {position}: {message}\n  {input}\n  {caret}")]
pub struct FilterError {
    pub position: usize,
    pub message: String,
    input: String,
    caret: String,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Compare { field: String, op: Op, value: Value },
    In { field: String, values: Vec<Value> },
    Exists { field: String },
}

impl Filter {
    /// Parses the text form.
    pub fn parse(input: &str) -> Result<Filter, FilterError> {
        let mut p = Parser {
            input,
            chars: input.chars().collect(),
            pos: 0,
        };
        p.skip_ws();
        if p.pos == p.chars.len() {
            return Err(p.error("the filter is empty"));
        }
        let f = p.or()?;
        p.skip_ws();
        if p.pos < p.chars.len() {
            return Err(p.error("expected AND, OR or the end of the filter"));
        }
        Ok(f)
    }

    /// Whether a payload satisfies the filter. A missing payload matches
    /// nothing but `NOT`.
    pub fn matches(&self, payload: Option<&Value>) -> bool {
        match self {
            Filter::And(fs) => fs.iter().all(|f| f.matches(payload)),
            Filter::Or(fs) => fs.iter().any(|f| f.matches(payload)),
            Filter::Not(f) => !f.matches(payload),
            Filter::Exists { field } => lookup(payload, field).is_some_and(|v| !v.is_null()),
            // `!=` is the negation of `=`: a point without the field, or
            // an array without the value, matches (Qdrant's must_not).
            Filter::Compare {
                field,
                op: Op::Ne,
                value,
            } => !any_element(lookup(payload, field), |v| compare(v, Op::Eq, value)),
            Filter::Compare { field, op, value } => {
                any_element(lookup(payload, field), |v| compare(v, *op, value))
            }
            Filter::In { field, values } => any_element(lookup(payload, field), |v| {
                values.iter().any(|x| compare(v, Op::Eq, x))
            }),
        }
    }
}

fn lookup<'a>(payload: Option<&'a Value>, path: &str) -> Option<&'a Value> {
    let mut v = payload?;
    for part in path.split('.') {
        v = v.as_object()?.get(part)?;
    }
    Some(v)
}

fn any_element(v: Option<&Value>, f: impl Fn(&Value) -> bool) -> bool {
    match v {
        None => false,
        Some(Value::Array(items)) => items.iter().any(f),
        Some(v) => f(v),
    }
}

fn compare(actual: &Value, op: Op, expected: &Value) -> bool {
    let ord = match (actual, expected) {
        (Value::Number(a), Value::Number(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => a.partial_cmp(&b),
            _ => None,
        },
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        _ => None,
    };
    match (op, ord) {
        (Op::Eq, Some(o)) => o == Ordering::Equal,
        (Op::Ne, Some(o)) => o != Ordering::Equal,
        (Op::Ne, None) => true,
        // Ordering only between numbers: "a" < "b" on product names is
        // almost always a mistake, so strings compare for (in)equality only.
        (_, Some(o)) if actual.is_number() => match op {
            Op::Lt => o == Ordering::Less,
            Op::Le => o != Ordering::Greater,
            Op::Gt => o == Ordering::Greater,
            Op::Ge => o != Ordering::Less,
            Op::Eq | Op::Ne => unreachable!("handled above"),
        },
        _ => false,
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        })
    }
}

struct Parser<'a> {
    input: &'a str,
    chars: Vec<char>,
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, message: impl Into<String>) -> FilterError {
        FilterError {
            position: self.pos,
            message: message.into(),
            input: self.input.to_string(),
            caret: format!("{}^", " ".repeat(self.pos)),
        }
    }

    fn skip_ws(&mut self) {
        while self.chars.get(self.pos).is_some_and(|c| c.is_whitespace()) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    /// Consumes `kw` if the next word is that keyword (case-insensitive).
    fn keyword(&mut self, kw: &str) -> bool {
        self.skip_ws();
        let end = self.pos + kw.len();
        if end > self.chars.len() {
            return false;
        }
        let word: String = self.chars[self.pos..end].iter().collect();
        let boundary = self
            .chars
            .get(end)
            .is_none_or(|c| !(c.is_alphanumeric() || *c == '_'));
        if word.eq_ignore_ascii_case(kw) && boundary {
            self.pos = end;
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<Filter, FilterError> {
        let mut parts = vec![self.and()?];
        while self.keyword("OR") {
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Filter::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Filter, FilterError> {
        let mut parts = vec![self.unary()?];
        while self.keyword("AND") {
            parts.push(self.unary()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Filter::And(parts)
        })
    }

    fn unary(&mut self) -> Result<Filter, FilterError> {
        if self.keyword("NOT") {
            return Ok(Filter::Not(Box::new(self.unary()?)));
        }
        self.skip_ws();
        if self.peek() == Some('(') {
            self.pos += 1;
            let f = self.or()?;
            self.skip_ws();
            if self.peek() != Some(')') {
                return Err(self.error("expected ')'"));
            }
            self.pos += 1;
            return Ok(f);
        }
        self.condition()
    }

    fn field(&mut self) -> Result<String, FilterError> {
        self.skip_ws();
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == '-')
        {
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.error("expected a field name"));
        }
        let name: String = self.chars[start..self.pos].iter().collect();
        if name.starts_with('.') || name.ends_with('.') || name.contains("..") {
            self.pos = start;
            return Err(self.error(format!("invalid field path {name:?}")));
        }
        Ok(name)
    }

    fn condition(&mut self) -> Result<Filter, FilterError> {
        let field = self.field()?;
        if self.keyword("IN") {
            self.skip_ws();
            if self.peek() != Some('(') {
                return Err(self.error("expected '(' after IN"));
            }
            self.pos += 1;
            let mut values = vec![self.value()?];
            loop {
                self.skip_ws();
                match self.peek() {
                    Some(',') => {
                        self.pos += 1;
                        values.push(self.value()?);
                    }
                    Some(')') => {
                        self.pos += 1;
                        return Ok(Filter::In { field, values });
                    }
                    _ => return Err(self.error("expected ',' or ')' in the IN list")),
                }
            }
        }
        if self.keyword("EXISTS") {
            return Ok(Filter::Exists { field });
        }
        self.skip_ws();
        let two: String = self.chars[self.pos..(self.pos + 2).min(self.chars.len())]
            .iter()
            .collect();
        let op = match two.as_str() {
            "!=" => Some((Op::Ne, 2)),
            "<=" => Some((Op::Le, 2)),
            ">=" => Some((Op::Ge, 2)),
            "==" => Some((Op::Eq, 2)),
            _ => match self.peek() {
                Some('=') => Some((Op::Eq, 1)),
                Some('<') => Some((Op::Lt, 1)),
                Some('>') => Some((Op::Gt, 1)),
                _ => None,
            },
        };
        let Some((op, len)) = op else {
            return Err(self.error(format!(
                "expected an operator (=, !=, <, <=, >, >=, IN, EXISTS) after {field:?}"
            )));
        };
        self.pos += len;
        let value = self.value()?;
        Ok(Filter::Compare { field, op, value })
    }

    fn value(&mut self) -> Result<Value, FilterError> {
        self.skip_ws();
        match self.peek() {
            Some(q @ ('"' | '\'')) => {
                let start = self.pos;
                self.pos += 1;
                let mut s = String::new();
                loop {
                    match self.peek() {
                        None => {
                            self.pos = start;
                            return Err(self.error("unterminated string"));
                        }
                        Some('\\') if self.chars.get(self.pos + 1).is_some() => {
                            s.push(self.chars[self.pos + 1]);
                            self.pos += 2;
                        }
                        Some(c) if c == q => {
                            self.pos += 1;
                            return Ok(Value::String(s));
                        }
                        Some(c) => {
                            s.push(c);
                            self.pos += 1;
                        }
                    }
                }
            }
            Some(c) if c == '-' || c == '+' || c.is_ascii_digit() => {
                let start = self.pos;
                self.pos += 1;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
                {
                    self.pos += 1;
                }
                let text: String = self.chars[start..self.pos].iter().collect();
                let num = text
                    .parse::<i64>()
                    .map(Value::from)
                    .or_else(|_| text.parse::<f64>().map(Value::from));
                num.map_err(|_| {
                    self.pos = start;
                    self.error(format!("invalid number {text:?}"))
                })
            }
            _ => {
                for (kw, v) in [
                    ("true", Value::Bool(true)),
                    ("false", Value::Bool(false)),
                    ("null", Value::Null),
                ] {
                    if self.keyword(kw) {
                        return Ok(v);
                    }
                }
                Err(self.error("expected a value: \"string\", number, true, false or null"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(filter: &str, payload: Value) -> bool {
        Filter::parse(filter).unwrap().matches(Some(&payload))
    }

    #[test]
    fn comparisons_and_boolean_logic() {
        let p = json!({"manufacturer": "Nordkühl", "volume_l": 360, "lang": "de"});
        assert!(m(
            r#"manufacturer = "Nordkühl" AND volume_l >= 250"#,
            p.clone()
        ));
        assert!(!m(
            r#"manufacturer = "Nordkühl" AND volume_l > 360"#,
            p.clone()
        ));
        assert!(m(r#"volume_l < 100 OR lang = 'de'"#, p.clone()));
        assert!(m(r#"NOT (lang = "en") and volume_l <= 360"#, p.clone()));
        assert!(m(r#"manufacturer != "Frostwerk""#, p.clone()));
        assert!(m(r#"lang IN ("de", "fr")"#, p.clone()));
        assert!(!m(r#"lang IN ("en")"#, p.clone()));
        assert!(m("volume_l EXISTS AND NOT temp_min_c EXISTS", p.clone()));
        assert!(m("volume_l = 360.0", p));
    }

    #[test]
    fn arrays_nested_fields_and_mismatched_types() {
        let p = json!({"norms": ["DIN 13277", "EN 60068"], "spec": {"temp": {"min": -86}}, "code": "286"});
        assert!(m(r#"norms = "DIN 13277""#, p.clone()));
        assert!(!m(r#"norms = "DIN 58345""#, p.clone()));
        assert!(m("spec.temp.min <= -80", p.clone()));
        assert!(
            !m("code > 100", p.clone()),
            "a string is not ordered against a number"
        );
        assert!(!m("missing = 1", p.clone()));
        assert!(m("missing != 1", p));
        assert!(!Filter::parse("a = 1").unwrap().matches(None));
    }

    #[test]
    fn errors_point_at_the_position() {
        let e = Filter::parse(r#"manufacturer = "Nordkühl" AND volume_l >> 250"#).unwrap_err();
        assert_eq!(e.position, 40, "{e}");
        assert!(e.to_string().contains("expected a value"), "{e}");
        let e = Filter::parse(r#"lang = "de"#).unwrap_err();
        assert!(e.message.contains("unterminated string"), "{e}");
        assert_eq!(e.position, 7);
        let e = Filter::parse("(a = 1").unwrap_err();
        assert!(e.message.contains("expected ')'"), "{e}");
        let e = Filter::parse("a = 1 b = 2").unwrap_err();
        assert_eq!(e.position, 6);
        assert!(Filter::parse("  ").unwrap_err().message.contains("empty"));
        let e = Filter::parse("volume_l ~ 3").unwrap_err();
        assert!(e.message.contains("expected an operator"), "{e}");
        assert!(e.to_string().contains("^"));
    }

    #[test]
    fn serializes_as_json() {
        let f = Filter::parse(r#"a = 1 AND b IN ("x")"#).unwrap();
        let j = serde_json::to_string(&f).unwrap();
        assert_eq!(serde_json::from_str::<Filter>(&j).unwrap(), f);
    }
}
