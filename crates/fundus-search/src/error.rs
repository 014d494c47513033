//! The errors of this crate, one enum per concern.
//!
//! A pipeline is text a user typed on a command line or wrote into a
//! config file, so every error about it says where: the character position
//! (0-based, counted in characters, as in [`fundus_core::filter`]) and the
//! text itself with a caret under the spot. Errors of a running search name
//! the stage that failed, because "the search failed" is useless when five
//! stages took part.

use std::fmt;

use thiserror::Error;

/// Why a pipeline could not be read, or cannot run with the stages at hand.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum PipelineError {
    /// The text does not follow the grammar.
    #[error(
        "invalid pipeline at position {position}: expected {expected}, found {found}{snippet}"
    )]
    Syntax {
        /// Where, in characters from the start of the text.
        position: usize,
        /// What the grammar allows at that point.
        expected: String,
        /// What is there instead.
        found: String,
        /// The text with a caret under `position` (empty when there is no text).
        snippet: String,
    },

    /// A stage name that no registered stage answers to.
    #[error("unknown stage `{name}`{}: {}{snippet}", at(*.position), known_list(.known))]
    UnknownStage {
        /// The name as written.
        name: String,
        /// Where it was written; `None` for pipelines read from JSON or built in code.
        position: Option<usize>,
        /// The names of the registered stages, sorted.
        known: Vec<String>,
        /// The text with a caret under `position` (empty when there is none).
        snippet: String,
    },

    /// A registered stage used in a role it does not play: a re-ranker as
    /// the first stage of a pipeline, or a retriever asked to re-score.
    #[error("stage `{name}`{} cannot {needed}{snippet}", at(*.position))]
    WrongRole {
        /// The name as written.
        name: String,
        /// Where it was written; `None` for pipelines read from JSON or built in code.
        position: Option<usize>,
        /// The role the pipeline asks of it.
        needed: StageRole,
        /// The text with a caret under `position` (empty when there is none).
        snippet: String,
    },

    /// A word after a `( … + … )` group that is not a fusion.
    #[error(
        "unknown fusion `{name}` at position {position}: a `( … + … )` group must be fused by one of {}{snippet}",
        .known.join(", ")
    )]
    UnknownFusion {
        /// The word as written.
        name: String,
        /// Where it was written.
        position: usize,
        /// The fusions there are, with their syntax.
        known: Vec<String>,
        /// The text with a caret under `position`.
        snippet: String,
    },

    /// A `( … + … )` group not followed by `->` and a fusion: the runner
    /// would not know how to turn several lists into one.
    #[error(
        "a `( … + … )` group must be followed by `->` and a fusion (rrf, weighted(…), dbsf); \
         none at position {position}{snippet}"
    )]
    MissingFusion {
        /// Where the fusion should be.
        position: usize,
        /// The text with a caret under `position`.
        snippet: String,
    },

    /// A fusion after a single list: there is nothing to fuse it with.
    #[error(
        "fusion `{name}` at position {position} needs several lists to fuse: \
         write `(a(100) + b(100)) -> {name}`{snippet}"
    )]
    MisplacedFusion {
        /// The fusion as written.
        name: String,
        /// Where it was written.
        position: usize,
        /// The text with a caret under `position`.
        snippet: String,
    },

    /// Well-formed but meaningless: a count of 0, a count too large, one
    /// weight too many, groups nested too deep.
    #[error("invalid pipeline{}: {message}{snippet}", at(*.position))]
    Invalid {
        /// Where, when the pipeline came from text.
        position: Option<usize>,
        /// What is wrong.
        message: String,
        /// The text with a caret under `position` (empty when there is none).
        snippet: String,
    },

    /// The JSON form could not be read (the message names line and column).
    #[error("invalid pipeline JSON: {message}")]
    Json {
        /// serde_json's message, with line and column.
        message: String,
    },

    /// A bare word that is not one of the named pipelines.
    #[error(
        "unknown pipeline `{name}`: the named pipelines are {}; \
         or write stages, e.g. `{name}(100)`",
        .known.join(", ")
    )]
    UnknownPipeline {
        /// The name as given.
        name: String,
        /// The named pipelines there are.
        known: Vec<String>,
    },
}

/// The two things a stage can be asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageRole {
    /// Find candidates from the whole collection: the first stage of a
    /// pipeline or of a `( … + … )` branch.
    Retrieve,
    /// Score candidates it is given: a stage after `->`.
    Rescore,
}

impl fmt::Display for StageRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StageRole::Retrieve => {
                "retrieve candidates (it only re-scores candidates it is given, \
                 so it must come after `->`)"
            }
            StageRole::Rescore => {
                "re-score candidates (it only retrieves, so it must start \
                 the pipeline or a `( … + … )` branch)"
            }
        })
    }
}

/// Why a stage could not be added to a [`StageRegistry`](crate::StageRegistry).
///
/// A name the pipeline language cannot spell, or one already taken, would
/// make a stage unreachable or ambiguous; saying so at registration is
/// cheaper than a puzzling "unknown stage" later.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("cannot register stage `{name}`: {reason}")]
pub struct RegistryError {
    /// The stage's name.
    pub name: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Why lists could not be fused.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum FusionError {
    /// Weighted fusion needs exactly one weight per list.
    #[error("weighted fusion has {weights} weights for {lists} lists; give one weight per list")]
    WeightCount {
        /// Weights given.
        weights: usize,
        /// Lists to fuse.
        lists: usize,
    },

    /// A weight that is negative, infinite or NaN.
    #[error(
        "weight {index} of weighted fusion is {weight}; weights must be finite and not negative"
    )]
    InvalidWeight {
        /// 0-based index of the weight.
        index: usize,
        /// The weight.
        weight: f32,
    },

    /// An RRF constant that is negative, infinite or NaN (`k + rank` must
    /// stay positive).
    #[error("rrf k is {k}; it must be finite and not negative")]
    InvalidK {
        /// The constant.
        k: f32,
    },

    /// A NaN score cannot be ranked.
    #[error("list `{list}` gives `{id}` a NaN score")]
    NanScore {
        /// The list's stage name.
        list: String,
        /// The document.
        id: String,
    },
}

/// What a stage implementation reports when it fails: a message, and the
/// underlying error when there is one (an index file, a model).
#[derive(Debug, Error)]
#[error("{message}")]
pub struct StageError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl StageError {
    /// A failure described by a message alone.
    pub fn new(message: impl Into<String>) -> Self {
        StageError {
            message: message.into(),
            source: None,
        }
    }

    /// A failure caused by another error, kept as the source so that the
    /// whole chain is printed.
    pub fn with_source(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StageError {
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }

    /// The message, without the source.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Why a search did not produce a result.
#[derive(Debug, Error)]
pub enum SearchError {
    /// The pipeline is invalid or does not fit the registered stages.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),

    /// A stage failed or broke its contract (a NaN score, a list per query missing).
    #[error("stage `{stage}` failed: {source}")]
    Stage {
        /// The stage's name.
        stage: String,
        /// What went wrong.
        #[source]
        source: StageError,
    },

    /// The lists of a group could not be fused.
    #[error("fusion failed: {0}")]
    Fusion(#[from] FusionError),
}

/// " at position N", or nothing for pipelines without text.
fn at(position: Option<usize>) -> String {
    position.map_or_else(String::new, |p| format!(" at position {p}"))
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() {
        "no stages are registered".to_string()
    } else {
        format!("the registered stages are {}", known.join(", "))
    }
}

/// The input with a caret under `position`, as two indented lines after a
/// line break, ready to be appended to a message.
///
/// Long inputs are cut to a window around the position (a generated
/// pipeline may be thousands of characters long, and a terminal line is
/// not), and line breaks and tabs are shown as spaces so the caret stays
/// under the right character.
pub(crate) fn snippet(input: &str, position: usize) -> String {
    const WIDTH: usize = 72;
    let chars: Vec<char> = input
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let position = position.min(chars.len());
    let (start, end) = if chars.len() <= WIDTH {
        (0, chars.len())
    } else {
        let start = position.saturating_sub(WIDTH / 2).min(chars.len() - WIDTH);
        (start, start + WIDTH)
    };
    let mut line = String::new();
    let mut caret = position - start;
    if start > 0 {
        line.push('…');
        caret += 1;
    }
    line.extend(&chars[start..end]);
    if end < chars.len() {
        line.push('…');
    }
    format!("\n  {line}\n  {}^", " ".repeat(caret))
}

/// [`snippet`] when both the text and the position are known.
pub(crate) fn snippet_opt(input: Option<&str>, position: Option<usize>) -> String {
    match (input, position) {
        (Some(input), Some(position)) => snippet(input, position),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_puts_the_caret_under_the_position() {
        assert_eq!(snippet("a(1) -> ", 8), "\n  a(1) -> \n          ^");
        assert_eq!(snippet("a(1)\n-> x", 5), "\n  a(1) -> x\n       ^");
    }

    #[test]
    fn snippet_of_a_long_input_is_a_window() {
        let input = format!("{}X{}", "a".repeat(1000), "b".repeat(1000));
        let s = snippet(&input, 1000);
        let lines: Vec<&str> = s.lines().collect();
        assert!(lines[1].chars().count() < 80, "{s}");
        let caret = lines[2].chars().count() - 1;
        assert_eq!(lines[1].chars().nth(caret), Some('X'), "{s}");
        // At the very end, the caret sits one past the last character.
        let s = snippet(&input, input.chars().count());
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(
            lines[2].chars().count() - 1,
            lines[1].chars().count(),
            "{s}"
        );
    }

    #[test]
    fn messages_name_the_position_and_the_alternatives() {
        let e = PipelineError::UnknownStage {
            name: "colbert".into(),
            position: Some(3),
            known: vec!["bm25".into(), "dense".into()],
            snippet: String::new(),
        };
        assert_eq!(
            e.to_string(),
            "unknown stage `colbert` at position 3: the registered stages are bm25, dense"
        );
        let e = StageError::with_source("index unreadable", std::io::Error::other("disk"));
        assert_eq!(e.to_string(), "index unreadable");
        assert!(std::error::Error::source(&e).is_some());
    }
}
