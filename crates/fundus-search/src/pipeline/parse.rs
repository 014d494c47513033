//! The text form of a pipeline: a lexer and a recursive-descent parser.
//!
//! The lexer never fails (a character it does not know becomes a token of
//! its own), so that every error is reported by the parser, which knows
//! what it expected at that point.

use super::{Pipeline, Source, StageCall, Step, MAX_DEPTH};
use crate::error::{snippet, PipelineError};
use crate::fusion::{Fusion, Normalization, DEFAULT_RRF_K, FUSION_NAMES};

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Number(String),
    LParen,
    RParen,
    Plus,
    Arrow,
    Comma,
    Equals,
    Other(char),
    End,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    /// Character position of the token's first character.
    pos: usize,
}

fn word_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn lex(chars: &[char]) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut i = 0;
    let at = |i: usize| chars.get(i).copied();
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let tok = if word_start(c) {
            i += 1;
            // `-` inside a name (`cross-encoder`), but not the `-` of `->`
            // right after one (`rrf->10`).
            while at(i).is_some_and(word_char)
                || (at(i) == Some('-') && at(i + 1).is_some_and(word_char))
            {
                i += 1;
            }
            Tok::Word(chars[start..i].iter().collect())
        } else if c.is_ascii_digit() || (c == '-' && at(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            // Signs and fractions are lexed so that `-3` and `2.5` are
            // reported as what they are, not as stray characters.
            i += 1;
            let digits = |i: &mut usize| {
                while at(*i).is_some_and(|d| d.is_ascii_digit()) {
                    *i += 1;
                }
            };
            digits(&mut i);
            if at(i) == Some('.') && at(i + 1).is_some_and(|d| d.is_ascii_digit()) {
                i += 1;
                digits(&mut i);
            }
            if matches!(at(i), Some('e' | 'E')) {
                let sign = usize::from(matches!(at(i + 1), Some('+' | '-')));
                if at(i + 1 + sign).is_some_and(|d| d.is_ascii_digit()) {
                    i += 1 + sign;
                    digits(&mut i);
                }
            }
            Tok::Number(chars[start..i].iter().collect())
        } else {
            i += 1;
            match c {
                '(' => Tok::LParen,
                ')' => Tok::RParen,
                '+' => Tok::Plus,
                ',' => Tok::Comma,
                '=' => Tok::Equals,
                '-' if at(i) == Some('>') => {
                    i += 1;
                    Tok::Arrow
                }
                other => Tok::Other(other),
            }
        };
        tokens.push(Token { tok, pos: start });
    }
    tokens.push(Token {
        tok: Tok::End,
        pos: chars.len(),
    });
    tokens
}

/// Whether `text` is one name of the language (a pipeline name, a stage
/// name or a keyword).
pub(crate) fn is_word(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    matches!(
        lex(&chars).as_slice(),
        [Token { tok: Tok::Word(w), .. }, Token { tok: Tok::End, .. }] if w == text
    )
}

fn is_fusion(word: &str) -> bool {
    FUSION_NAMES.iter().any(|f| f.eq_ignore_ascii_case(word))
}

/// Whether a pipeline could name a stage called `name`.
pub(crate) fn is_stage_name(name: &str) -> bool {
    is_word(name) && !is_fusion(name)
}

pub(super) fn parse(input: &str) -> Result<Pipeline, PipelineError> {
    let chars: Vec<char> = input.chars().collect();
    let mut parser = Parser {
        input,
        tokens: lex(&chars),
        next: 0,
    };
    if parser.peek().tok == Tok::End {
        let end = parser.peek().clone();
        return Err(parser.syntax_found(&end, EXPECT_SOURCE, "an empty pipeline"));
    }
    let mut pipeline = parser.pipeline(0, None)?;
    let t = parser.bump();
    if t.tok != Tok::End {
        return Err(parser.syntax(&t, "`->` or the end of the pipeline"));
    }
    pipeline.text = Some(input.to_string());
    Ok(pipeline)
}

const EXPECT_SOURCE: &str = "a stage such as `bm25(100)` or a `(` group";

struct Parser<'a> {
    input: &'a str,
    tokens: Vec<Token>,
    next: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        // `lex` always ends with `End` and `bump` never moves past it.
        &self.tokens[self.next.min(self.tokens.len() - 1)]
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if t.tok != Tok::End {
            self.next += 1;
        }
        t
    }

    fn describe(t: &Token) -> String {
        match &t.tok {
            Tok::Word(w) => format!("`{w}`"),
            Tok::Number(n) => format!("`{n}`"),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::Plus => "`+`".into(),
            Tok::Arrow => "`->`".into(),
            Tok::Comma => "`,`".into(),
            Tok::Equals => "`=`".into(),
            Tok::Other(c) => format!("`{c}`"),
            Tok::End => "the end of the pipeline".into(),
        }
    }

    fn syntax(&self, t: &Token, expected: impl Into<String>) -> PipelineError {
        self.syntax_found(t, expected, Self::describe(t))
    }

    fn syntax_found(
        &self,
        t: &Token,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> PipelineError {
        PipelineError::Syntax {
            position: t.pos,
            expected: expected.into(),
            found: found.into(),
            snippet: snippet(self.input, t.pos),
        }
    }

    fn invalid(&self, position: usize, message: String) -> PipelineError {
        PipelineError::Invalid {
            position: Some(position),
            message,
            snippet: snippet(self.input, position),
        }
    }

    fn expect(&mut self, tok: Tok, expected: &str) -> Result<Token, PipelineError> {
        let t = self.bump();
        if t.tok == tok {
            Ok(t)
        } else {
            Err(self.syntax(&t, expected))
        }
    }

    /// `pipeline := source ("->" step)*`. `group` is the position of the
    /// `(` this pipeline is a branch of, if any.
    fn pipeline(&mut self, depth: usize, group: Option<usize>) -> Result<Pipeline, PipelineError> {
        let source = self.source(depth)?;
        let mut steps = Vec::new();
        while self.peek().tok == Tok::Arrow {
            self.bump();
            steps.push(self.step(group)?);
        }
        Ok(Pipeline {
            source,
            steps,
            text: None,
        })
    }

    fn source(&mut self, depth: usize) -> Result<Source, PipelineError> {
        let t = self.bump();
        match t.tok {
            Tok::LParen => self.group(t.pos, depth),
            Tok::Word(ref name) if is_fusion(name) => Err(self.misplaced_fusion(name, t.pos)),
            Tok::Word(name) => Ok(Source::Stage(self.stage_call(name, t.pos)?)),
            _ => Err(self.syntax(&t, EXPECT_SOURCE)),
        }
    }

    /// After `(`: branches, `)`, `->` and the fusion.
    fn group(&mut self, open: usize, depth: usize) -> Result<Source, PipelineError> {
        if depth >= MAX_DEPTH {
            return Err(self.invalid(open, format!("groups are nested deeper than {MAX_DEPTH}")));
        }
        let mut branches = vec![self.pipeline(depth + 1, Some(open))?];
        let close = loop {
            let t = self.bump();
            match t.tok {
                Tok::Plus => branches.push(self.pipeline(depth + 1, Some(open))?),
                Tok::RParen => break t,
                _ => {
                    return Err(self.syntax(
                        &t,
                        format!("`+` or `)` to close the `(` at position {open}"),
                    ))
                }
            }
        };
        if branches.len() < 2 {
            return Err(self.syntax(
                &close,
                "`+` and another pipeline: a `( … )` group fuses two or more",
            ));
        }
        let arrow = self.peek().clone();
        if arrow.tok != Tok::Arrow {
            return Err(PipelineError::MissingFusion {
                position: arrow.pos,
                snippet: snippet(self.input, arrow.pos),
            });
        }
        self.bump();
        let t = self.bump();
        let fusion = match &t.tok {
            Tok::Word(w) if is_fusion(w) => self.fusion(w, t.pos, branches.len())?,
            Tok::Word(w) => {
                return Err(PipelineError::UnknownFusion {
                    name: w.clone(),
                    position: t.pos,
                    known: ["rrf", "rrf(k=60)", "weighted(0.7, 0.3)", "dbsf"]
                        .map(String::from)
                        .to_vec(),
                    snippet: snippet(self.input, t.pos),
                })
            }
            _ => {
                return Err(PipelineError::MissingFusion {
                    position: t.pos,
                    snippet: snippet(self.input, t.pos),
                })
            }
        };
        Ok(Source::Group { branches, fusion })
    }

    fn step(&mut self, group: Option<usize>) -> Result<Step, PipelineError> {
        let t = self.bump();
        match t.tok {
            // Inside a group, a fusion most likely means a missing `)`:
            // `(dense(100) + bm25(100) -> rrf`.
            Tok::Word(ref name) if is_fusion(name) => Err(match group {
                Some(open) => self.syntax(
                    &t,
                    format!("`)` to close the `(` at position {open} before the fusion"),
                ),
                None => self.misplaced_fusion(name, t.pos),
            }),
            Tok::Word(name) => Ok(Step::Stage(self.stage_call(name, t.pos)?)),
            Tok::Number(ref n) => Ok(Step::Cut(self.count(n, &t, "a cut")?)),
            _ => Err(self.syntax(
                &t,
                "a stage such as `dense(100)` or a count such as `10` after `->`",
            )),
        }
    }

    fn misplaced_fusion(&self, name: &str, position: usize) -> PipelineError {
        PipelineError::MisplacedFusion {
            name: name.to_string(),
            position,
            snippet: snippet(self.input, position),
        }
    }

    /// After a stage's name: `(INT)`.
    fn stage_call(&mut self, name: String, position: usize) -> Result<StageCall, PipelineError> {
        self.expect(
            Tok::LParen,
            &format!("`(` and the number of hits after stage `{name}`, e.g. `{name}(100)`"),
        )?;
        let t = self.bump();
        let Tok::Number(ref n) = t.tok else {
            return Err(self.syntax(
                &t,
                format!("the number of hits of stage `{name}`, e.g. `{name}(100)`"),
            ));
        };
        let k = self.count(n, &t, &format!("stage `{name}`"))?;
        self.expect(Tok::RParen, "`)`")?;
        Ok(StageCall {
            name,
            k,
            position: Some(position),
        })
    }

    /// A number of hits: a whole number of at least 1.
    fn count(&self, text: &str, t: &Token, what: &str) -> Result<usize, PipelineError> {
        if !text.chars().all(|c| c.is_ascii_digit()) {
            return Err(self.syntax(t, "a whole number of hits"));
        }
        match text.parse::<usize>() {
            Ok(0) => Err(self.invalid(t.pos, format!("{what} must keep at least 1 hit, not 0"))),
            Ok(n) => Ok(n),
            Err(_) => Err(self.invalid(t.pos, format!("{text} hits is more than can be counted"))),
        }
    }

    fn number(&mut self, expected: &str) -> Result<(f32, usize), PipelineError> {
        let t = self.bump();
        match &t.tok {
            Tok::Number(n) => match n.parse::<f32>() {
                Ok(v) => Ok((v, t.pos)),
                Err(_) => Err(self.syntax(&t, expected)),
            },
            _ => Err(self.syntax(&t, expected)),
        }
    }

    /// A keyword, ignoring ASCII case.
    fn keyword(&mut self, kw: &str, expected: &str) -> Result<Token, PipelineError> {
        let t = self.bump();
        match &t.tok {
            Tok::Word(w) if w.eq_ignore_ascii_case(kw) => Ok(t),
            _ => Err(self.syntax(&t, expected)),
        }
    }

    /// After a fusion's name, which is at `position`; `lists` is the number
    /// of branches it fuses.
    fn fusion(
        &mut self,
        name: &str,
        position: usize,
        lists: usize,
    ) -> Result<Fusion, PipelineError> {
        let name = name.to_ascii_lowercase();
        let fusion = match name.as_str() {
            "rrf" => {
                let mut k = DEFAULT_RRF_K;
                if self.peek().tok == Tok::LParen {
                    self.bump();
                    let expected = "`k=` and a number, e.g. `rrf(k=60)`";
                    self.keyword("k", expected)?;
                    self.expect(Tok::Equals, expected)?;
                    k = self.number("a number, e.g. `rrf(k=60)`")?.0;
                    self.expect(Tok::RParen, "`)`")?;
                }
                Fusion::Rrf { k }
            }
            "weighted" => self.weighted()?,
            _ => Fusion::Dbsf,
        };
        fusion
            .check(lists)
            .map_err(|e| self.invalid(position, e.to_string()))?;
        Ok(fusion)
    }

    /// After `weighted`: `(w, w, …[, norm=NORM])`.
    fn weighted(&mut self) -> Result<Fusion, PipelineError> {
        self.expect(
            Tok::LParen,
            "`(` and one weight per list, e.g. `weighted(0.7, 0.3)`",
        )?;
        let mut weights = Vec::new();
        loop {
            let t = self.peek().clone();
            match &t.tok {
                Tok::Number(_) => weights.push(self.number("a weight")?.0),
                Tok::Word(w) if w.eq_ignore_ascii_case("norm") => {
                    self.bump();
                    self.expect(Tok::Equals, "`=` and a normalization, e.g. `norm=zscore`")?;
                    let v = self.bump();
                    let normalization = match &v.tok {
                        Tok::Word(w) => Normalization::from_name(w),
                        _ => None,
                    };
                    let Some(normalization) = normalization else {
                        return Err(self.syntax(&v, "`minmax`, `zscore` or `none`"));
                    };
                    self.expect(Tok::RParen, "`)`: `norm=` comes last")?;
                    return Ok(Fusion::Weighted {
                        weights,
                        normalization,
                    });
                }
                _ => {
                    let expected = if weights.is_empty() {
                        "a weight, e.g. `weighted(0.7, 0.3)`"
                    } else {
                        "a weight or `norm=`"
                    };
                    return Err(self.syntax(&t, expected));
                }
            }
            let t = self.bump();
            match t.tok {
                Tok::Comma => {}
                Tok::RParen => {
                    return Ok(Fusion::Weighted {
                        weights,
                        normalization: Normalization::default(),
                    })
                }
                _ => return Err(self.syntax(&t, "`,` or `)`")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Pipeline {
        match Pipeline::parse(text) {
            Ok(p) => p,
            Err(e) => panic!("{text:?}: {e}"),
        }
    }

    fn err(text: &str) -> PipelineError {
        match Pipeline::parse(text) {
            Ok(p) => panic!("{text:?} parsed as {p}"),
            Err(e) => e,
        }
    }

    fn position(e: &PipelineError) -> Option<usize> {
        match e {
            PipelineError::Syntax { position, .. }
            | PipelineError::UnknownFusion { position, .. }
            | PipelineError::MissingFusion { position, .. }
            | PipelineError::MisplacedFusion { position, .. } => Some(*position),
            PipelineError::Invalid { position, .. }
            | PipelineError::UnknownStage { position, .. } => *position,
            _ => None,
        }
    }

    #[test]
    fn the_examples_of_the_issue_parse() {
        let p = ok("bm25(1000) -> dense(100) -> rerank(10)");
        assert_eq!(
            p,
            Pipeline::new(
                Source::Stage(StageCall::new("bm25", 1000)),
                vec![
                    Step::Stage(StageCall::new("dense", 100)),
                    Step::Stage(StageCall::new("rerank", 10)),
                ],
            )
        );
        let p = ok("(dense(100) + bm25(100)) -> rrf -> 10");
        let Source::Group { branches, fusion } = &p.source else {
            panic!("{p:?}")
        };
        assert_eq!(branches.len(), 2);
        assert_eq!(*fusion, Fusion::default());
        assert_eq!(p.steps, vec![Step::Cut(10)]);
        let Source::Stage(call) = &branches[1].source else {
            panic!()
        };
        assert_eq!(call.position(), Some(14));
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "dense(100)",
            "bm25(1000) -> dense(100) -> rerank(10) -> 5",
            "(dense(100) + bm25(100)) -> rrf -> 10",
            "(dense(100) + bm25(1000) -> dense(100) + splade(50)) -> rrf(k=20) -> 10",
            "(dense(100) + bm25(100)) -> weighted(0.7, 0.3)",
            "(dense(100) + bm25(100)) -> weighted(0.5, 0.5, norm=zscore) -> rerank(20)",
            "((a(10) + b(10)) -> dbsf + c(10)) -> weighted(1, 2.5, norm=none)",
            "(cross-encoder(5) + x_y(5)) -> rrf(k=0)",
        ] {
            let p = ok(text);
            assert_eq!(p.to_string(), text);
            assert_eq!(ok(&p.to_string()), p);
            assert_eq!(p.text(), Some(text));
        }
    }

    #[test]
    fn spacing_and_case_are_free_where_harmless() {
        let p = ok("(dense(100)+bm25(100))->RRF( K = 40 )->10");
        assert_eq!(p.to_string(), "(dense(100) + bm25(100)) -> rrf(k=40) -> 10");
        let p = ok("(\n  dense(100)\n  + bm25(100)\n) -> Weighted(0.7,0.3,NORM=ZScore)");
        assert_eq!(
            p.to_string(),
            "(dense(100) + bm25(100)) -> weighted(0.7, 0.3, norm=zscore)"
        );
        let p = ok("(a(1) + b(1)) -> weighted(1e0, 5E-1)");
        assert_eq!(p.to_string(), "(a(1) + b(1)) -> weighted(1, 0.5)");
    }

    #[test]
    fn errors_point_at_the_position() {
        let cases: &[(&str, usize, &str)] = &[
            // unclosed parenthesis
            (
                "(dense(100) + bm25(100)",
                23,
                "`)` to close the `(` at position 0",
            ),
            (
                "(dense(100) + bm25(100) -> rrf",
                27,
                "`)` to close the `(` at position 0 before the fusion",
            ),
            // missing count
            ("dense() -> 10", 6, "the number of hits of stage `dense`"),
            (
                "dense -> 10",
                6,
                "`(` and the number of hits after stage `dense`",
            ),
            ("dense(ten)", 6, "the number of hits"),
            ("dense(2.5)", 6, "a whole number of hits"),
            ("dense(-3)", 6, "a whole number of hits"),
            ("dense(100", 9, "`)`"),
            // `->` at the end
            (
                "bm25(1000) -> dense(100) ->",
                27,
                "a stage such as `dense(100)` or a count",
            ),
            ("bm25(1000) -> ", 14, "after `->`"),
            (
                "bm25(1000) dense(100)",
                11,
                "`->` or the end of the pipeline",
            ),
            ("bm25(1000) - dense(100)", 11, "`->` or the end"),
            ("", 0, "a stage such as `bm25(100)`"),
            ("   ", 3, "a stage such as `bm25(100)`"),
            ("-> dense(10)", 0, "a stage"),
            ("(dense(10))", 10, "`+` and another pipeline"),
            ("(dense(10) dense(10))", 11, "`+` or `)`"),
            ("(a(1) + b(1)) -> rrf(60)", 21, "`k=`"),
            ("(a(1) + b(1)) -> rrf(k=)", 23, "a number"),
            (
                "(a(1) + b(1)) -> weighted",
                25,
                "`(` and one weight per list",
            ),
            ("(a(1) + b(1)) -> weighted()", 26, "a weight"),
            ("(a(1) + b(1)) -> weighted(0.5; 0.5)", 29, "`,` or `)`"),
            (
                "(a(1) + b(1)) -> weighted(0.5, 0.5, norm=l2)",
                41,
                "`minmax`, `zscore` or `none`",
            ),
            (
                "(a(1) + b(1)) -> weighted(0.5, norm=none, 0.5)",
                40,
                "`norm=` comes last",
            ),
            ("(a(1) + b(1)) -> dbsf(3)", 21, "`->` or the end"),
            ("dense(100) $ 10", 11, "`->` or the end"),
        ];
        for (text, pos, expected) in cases {
            let e = err(text);
            assert!(matches!(e, PipelineError::Syntax { .. }), "{text:?}: {e}");
            assert_eq!(position(&e), Some(*pos), "{text:?}: {e}");
            assert!(e.to_string().contains(expected), "{text:?}: {e}");
            // The caret line points at the position.
            let caret = e.to_string().lines().last().map(|l| l.chars().count() - 3);
            assert_eq!(caret, Some(*pos), "{text:?}: {e}");
        }
        let e = err("dense() -> 10");
        assert_eq!(
            e.to_string(),
            "invalid pipeline at position 6: expected the number of hits of stage `dense`, \
             e.g. `dense(100)`, found `)`\n  dense() -> 10\n        ^"
        );
    }

    #[test]
    fn fusion_errors() {
        let e = err("(dense(100) + bm25(100)) -> combsum -> 10");
        assert!(
            matches!(&e, PipelineError::UnknownFusion { name, position: 28, known, .. }
                if name == "combsum" && known.len() == 4),
            "{e}"
        );
        assert!(
            e.to_string()
                .contains("rrf, rrf(k=60), weighted(0.7, 0.3), dbsf"),
            "{e}"
        );
        // A stage where the fusion belongs is not a fusion either.
        assert!(matches!(
            err("(dense(100) + bm25(100)) -> dense(10)"),
            PipelineError::UnknownFusion { position: 28, .. }
        ));
        for (text, pos) in [
            ("(dense(100) + bm25(100))", 24),
            ("(dense(100) + bm25(100)) -> 10", 28),
            ("(dense(100) + bm25(100)) ->", 27),
        ] {
            let e = err(text);
            assert!(
                matches!(e, PipelineError::MissingFusion { .. }),
                "{text:?}: {e}"
            );
            assert_eq!(position(&e), Some(pos), "{text:?}: {e}");
        }
        let e = err("bm25(100) -> rrf -> 10");
        assert!(
            matches!(&e, PipelineError::MisplacedFusion { name, position: 13, .. } if name == "rrf"),
            "{e}"
        );
        assert!(matches!(
            err("dbsf(10)"),
            PipelineError::MisplacedFusion { position: 0, .. }
        ));
    }

    #[test]
    fn meaningless_values_are_invalid_with_a_position() {
        for (text, pos, message) in [
            ("dense(0)", 6, "at least 1 hit"),
            ("dense(10) -> 0", 13, "at least 1 hit"),
            (
                "dense(99999999999999999999999)",
                6,
                "more than can be counted",
            ),
            (
                "(a(1) + b(1)) -> weighted(0.7, 0.2, 0.1)",
                17,
                "3 weights for 2 lists",
            ),
            (
                "(a(1) + b(1)) -> weighted(norm=zscore)",
                17,
                "0 weights for 2 lists",
            ),
            ("(a(1) + b(1)) -> weighted(1, 1e39)", 17, "weight 1"),
            ("(a(1) + b(1)) -> rrf(k=-1)", 17, "rrf k is -1"),
        ] {
            let e = err(text);
            assert!(matches!(e, PipelineError::Invalid { .. }), "{text:?}: {e}");
            assert_eq!(position(&e), Some(pos), "{text:?}: {e}");
            assert!(e.to_string().contains(message), "{text:?}: {e}");
        }
    }

    #[test]
    fn nesting_is_limited_and_long_chains_are_fine() {
        let mut text = "a(1)".to_string();
        for _ in 0..MAX_DEPTH {
            text = format!("({text} + b(1)) -> rrf");
        }
        assert!(Pipeline::parse(&text).is_ok());
        let deeper = format!("({text} + b(1)) -> rrf");
        let e = err(&deeper);
        assert!(e.to_string().contains("nested deeper"), "{e}");
        assert_eq!(position(&e), Some(MAX_DEPTH));

        // Thousands of '(' fail fast instead of overflowing the stack.
        let e = err(&"(".repeat(100_000));
        assert!(e.to_string().contains("nested deeper"), "{e}");

        let chain = format!("a(10){}", " -> b(10)".repeat(10_000));
        assert_eq!(ok(&chain).steps.len(), 10_000);
    }

    #[test]
    fn words() {
        for w in ["dense", "bm25", "cross-encoder", "_x", "a-b-c", "RRF"] {
            assert!(is_word(w), "{w}");
        }
        for w in ["", "9a", "a-", "a--b", "a b", "ä", "a(1)", "-a"] {
            assert!(!is_word(w), "{w}");
        }
        assert!(!is_stage_name("Weighted"));
        assert!(is_stage_name("rerank"));
    }
}
