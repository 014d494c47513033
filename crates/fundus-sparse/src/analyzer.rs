//! Turning text into index terms.
//!
//! BM25 only ever compares terms, so what counts as "the same word" is
//! decided here, once, for documents and queries alike. The pipeline
//! (Lucene's vocabulary: tokenizer, then filters):
//!
//! 1. **Word segmentation** by Unicode's rules (UAX #29), so "naïve",
//!    "Straße", "3.5" and "1,000" are one word each and punctuation never is.
//! 2. **Product codes and numbers stay intact.** UAX #29 already keeps
//!    "280L", "13277" and "3.5" whole but cuts "LABO-288" into "LABO" and
//!    "288". Words glued by a single `-`, `/` or `.` (no space) where at
//!    least one word holds a digit are joined again into one term
//!    ("labo-288", "hmfvh-4001", "covid-19"), and the parts are emitted as
//!    well. Both: the whole code is rare, so an exact "LABO-288" query ranks
//!    the exact product first, while "LABO 288" or "288" still find it
//!    through the parts. Hyphen look-alikes (U+2010, U+2011) read as `-`.
//!    Words glued without a digit ("state-of-the-art", "and/or") stay
//!    separate words, as in the other analyzers people compare with.
//! 3. **Lower-casing** (full Unicode; the typographic apostrophe U+2019
//!    reads as `'`).
//! 4. **Stop words** are dropped (English: the 33 words bm25s and Lucene's
//!    classic `EnglishAnalyzer` use, so comparisons with them are like for
//!    like; German: the Snowball list). The English analyzer first strips a
//!    possessive `'s` (Lucene's `EnglishPossessiveFilter`).
//! 5. **Snowball stemming** (rust-stemmers: Porter2 for English, Snowball
//!    German, which also folds umlauts and ß). Terms with a digit are never
//!    stemmed: "280l" or "covid-19" are names, not inflected words.
//!
//! Terms longer than [`MAX_TERM_BYTES`] are dropped (base64 blobs, long
//! URLs); single characters are kept ("vitamin C", "type 2").
//!
//! German compounds: `german` keeps "Medikamentenkühlschrank" one term;
//! `german-compounds` analyzes the same way and its index also adds the
//! compound's known parts ("medikament", "kuhlschrank") beside the whole
//! term, Lucene style. The parts come from the collection's own vocabulary,
//! which only the index knows, so the splitting happens in the index
//! (`compound.rs`, `decompound.rs`), for documents and queries alike; the
//! analyzer on its own ([`Analyzer::analyze`]) gives the unsplit terms.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use rust_stemmers::{Algorithm, Stemmer};

use crate::segment::{is_word, word_bounds};
use crate::stem_cache::StemCache;
use crate::SparseError;

/// Longest term kept, in bytes of UTF-8 (Lucene's `StandardTokenizer`
/// default); longer tokens are dropped rather than cut.
pub const MAX_TERM_BYTES: usize = 255;

/// A text analysis pipeline, chosen by language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Analyzer {
    /// Segmentation, product codes and lower-casing only: no stop words, no
    /// stemming. For identifiers, mixed languages, or as a baseline.
    Standard,
    /// English stop words and the Porter2 (Snowball English) stemmer.
    English,
    /// German stop words and the Snowball German stemmer.
    German,
    /// [`Analyzer::German`], and the index splits compounds into the known
    /// words of its collection (see [`Analyzer::splits_compounds`]).
    GermanCompounds,
}

impl Analyzer {
    /// Every analyzer, in the order names are listed in errors.
    pub const ALL: [Analyzer; 4] = [
        Analyzer::Standard,
        Analyzer::English,
        Analyzer::German,
        Analyzer::GermanCompounds,
    ];

    /// The analyzer's name, as accepted by [`Analyzer::from_name`] and
    /// stored in index files.
    pub fn name(self) -> &'static str {
        match self {
            Analyzer::Standard => "standard",
            Analyzer::English => "english",
            Analyzer::German => "german",
            Analyzer::GermanCompounds => "german-compounds",
        }
    }

    /// Whether an index with this analyzer splits compounds into the known
    /// words of its collection (documents and queries). The analyzer's own
    /// terms are those of [`Analyzer::German`].
    pub fn splits_compounds(self) -> bool {
        self == Analyzer::GermanCompounds
    }

    /// The analyzer called `name`: `standard`, `english` (or `en`),
    /// `german` (or `de`), `german-compounds` (or `de-compounds`), in any
    /// case. Anything else is an error that
    /// lists the known names, so a typo in a configuration file is
    /// obvious.
    pub fn from_name(name: &str) -> Result<Self, SparseError> {
        let lower = name.trim().to_lowercase();
        match lower.as_str() {
            "standard" => Ok(Analyzer::Standard),
            "english" | "en" => Ok(Analyzer::English),
            "german" | "de" | "deutsch" => Ok(Analyzer::German),
            "german-compounds" | "de-compounds" => Ok(Analyzer::GermanCompounds),
            _ => Err(SparseError::UnknownAnalyzer {
                name: name.to_string(),
                known: Analyzer::ALL.map(Analyzer::name).join(", "),
            }),
        }
    }

    /// The terms of `text`, in order, with repeats.
    pub fn analyze(self, text: &str) -> Vec<String> {
        let mut terms = Vec::new();
        self.for_each_term(text, |t| terms.push(t.to_string()));
        terms
    }

    /// Calls `f` with each term of `text`, in order, with repeats. The
    /// terms are lent from a reused buffer, so indexing allocates only for
    /// terms it has not seen before.
    pub fn for_each_term(self, text: &str, mut f: impl FnMut(&str)) {
        if self == Analyzer::Standard {
            return self.run(text, None, &mut f);
        }
        StemCache::with(self, |cache| self.run(text, cache, &mut f));
    }

    /// The pipeline over `text`, with a cache of stemmed words if the
    /// thread has one to lend.
    fn run(self, text: &str, cache: Option<&mut StemCache>, f: &mut impl FnMut(&str)) {
        let mut pipeline = Pipeline::new(self, cache);
        let mut parts: Vec<(usize, usize)> = Vec::new();
        let mut joiners: Vec<char> = Vec::new();
        // A joiner seen right after the last part, waiting for the next word.
        let mut pending: Option<char> = None;
        for (start, piece) in word_bounds(text) {
            if is_word(piece) {
                if pending.is_none() && !parts.is_empty() {
                    // Two words with nothing between them (e.g. Latin then
                    // Han script): separate words.
                    pipeline.flush(text, &mut parts, &mut joiners, f);
                }
                if let Some(j) = pending.take() {
                    joiners.push(j);
                }
                parts.push((start, start + piece.len()));
            } else if let (Some(j), None, false) = (joiner(piece), pending, parts.is_empty()) {
                pending = Some(j);
            } else {
                pending = None;
                pipeline.flush(text, &mut parts, &mut joiners, f);
            }
        }
        pipeline.flush(text, &mut parts, &mut joiners, f);
    }
}

impl fmt::Display for Analyzer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Analyzer {
    type Err = SparseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Analyzer::from_name(s)
    }
}

/// The joiner a one-character piece stands for, if it glues product codes.
fn joiner(piece: &str) -> Option<char> {
    let mut chars = piece.chars();
    let c = chars.next()?;
    if chars.next().is_some() {
        return None;
    }
    match c {
        '-' | '\u{2010}' | '\u{2011}' => Some('-'),
        '/' | '.' => Some(c),
        _ => None,
    }
}

/// The per-call state of an analyzer: its filters and reused buffers.
struct Pipeline<'c> {
    stop: Option<&'static HashSet<&'static str>>,
    stemmer: Option<Stemmer>,
    cache: Option<&'c mut StemCache>,
    possessive: bool,
    buf: String,
    code: String,
}

impl<'c> Pipeline<'c> {
    fn new(analyzer: Analyzer, cache: Option<&'c mut StemCache>) -> Self {
        let (stop, stemmer, possessive) = match analyzer {
            Analyzer::Standard => (None, None, false),
            Analyzer::English => (
                Some(english_stop_words()),
                Some(Stemmer::create(Algorithm::English)),
                true,
            ),
            Analyzer::German | Analyzer::GermanCompounds => (
                Some(german_stop_words()),
                Some(Stemmer::create(Algorithm::German)),
                false,
            ),
        };
        Pipeline {
            stop,
            stemmer,
            cache,
            possessive,
            buf: String::new(),
            code: String::new(),
        }
    }

    /// Emits the words collected in `parts` (byte ranges of `text`, glued
    /// by `joiners`): the joined code first if it is one, then each word.
    fn flush(
        &mut self,
        text: &str,
        parts: &mut Vec<(usize, usize)>,
        joiners: &mut Vec<char>,
        f: &mut impl FnMut(&str),
    ) {
        if parts.len() > 1 && parts.iter().any(|&(s, e)| has_digit(&text[s..e])) {
            self.code.clear();
            for (i, &(s, e)) in parts.iter().enumerate() {
                if i > 0 {
                    self.code.push(joiners[i - 1]);
                }
                push_lowercase(&mut self.code, &text[s..e]);
            }
            if self.code.len() <= MAX_TERM_BYTES {
                f(&self.code);
            }
        }
        for &(s, e) in parts.iter() {
            self.word(&text[s..e], f);
        }
        parts.clear();
        joiners.clear();
    }

    /// Lower-cases, filters and stems one word.
    fn word(&mut self, word: &str, f: &mut impl FnMut(&str)) {
        self.buf.clear();
        push_lowercase(&mut self.buf, word);
        if self.possessive {
            if let Some(stripped) = self.buf.strip_suffix("'s") {
                let len = stripped.len();
                self.buf.truncate(len);
            } else if self.buf.ends_with('\'') {
                self.buf.pop();
            }
        }
        if self.buf.is_empty() || self.buf.len() > MAX_TERM_BYTES {
            return;
        }
        if self.stop.is_none() && self.stemmer.is_none() {
            return f(&self.buf);
        }
        if let Some(cache) = self.cache.as_deref_mut() {
            if let Some(term) = cache.get(&self.buf) {
                // `None`: a stop word.
                if let Some(term) = term {
                    f(term);
                }
                return;
            }
        }
        let term = if self
            .stop
            .is_some_and(|stop| stop.contains(self.buf.as_str()))
        {
            None
        } else {
            match &self.stemmer {
                Some(stemmer) if !has_digit(&self.buf) => {
                    Some(stemmer.stem(&self.buf).into_owned())
                }
                _ => Some(self.buf.clone()),
            }
        };
        if let Some(term) = &term {
            f(term);
        }
        if let Some(cache) = self.cache.as_deref_mut() {
            cache.insert(&self.buf, term);
        }
    }
}

fn has_digit(s: &str) -> bool {
    s.chars().any(char::is_numeric)
}

/// Appends `word` lower-cased; U+2019 becomes an ASCII apostrophe so
/// "patient’s" and "patient's" are the same word.
fn push_lowercase(out: &mut String, word: &str) {
    if word.is_ascii() {
        out.extend(word.bytes().map(|b| b.to_ascii_lowercase() as char));
        return;
    }
    for c in word.chars() {
        match c {
            '\u{2019}' => out.push('\''),
            c => out.extend(c.to_lowercase()),
        }
    }
}

/// Reads a stop word list: one word a line, `#` starts a comment line.
fn parse_stop_words(list: &'static str) -> HashSet<&'static str> {
    list.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

fn english_stop_words() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| parse_stop_words(include_str!("stopwords/english.txt")))
}

fn german_stop_words() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| parse_stop_words(include_str!("stopwords/german.txt")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(a: Analyzer, text: &str) -> Vec<String> {
        a.analyze(text)
    }

    #[test]
    fn english_lowercases_drops_stop_words_and_stems() {
        assert_eq!(
            terms(Analyzer::English, "The Running of the Bulls, and cats!"),
            vec!["run", "bull", "cat"]
        );
    }

    #[test]
    fn product_codes_stay_whole_and_also_give_their_parts() {
        assert_eq!(
            terms(Analyzer::English, "LABO-288 fridge"),
            vec!["labo-288", "labo", "288", "fridg"]
        );
        assert_eq!(
            terms(Analyzer::English, "HMFvh-4001 and HMFvh 4001"),
            vec!["hmfvh-4001", "hmfvh", "4001", "hmfvh", "4001"]
        );
        // UAX #29 keeps these whole already; digits block stemming.
        assert_eq!(
            terms(Analyzer::English, "DIN 13277, 280L, 3.5 kg"),
            vec!["din", "13277", "280l", "3.5", "kg"]
        );
        assert_eq!(
            terms(Analyzer::German, "Kühlschrank LABO‐288/2"),
            vec!["kuhlschrank", "labo-288/2", "labo", "288", "2"]
        );
    }

    #[test]
    fn words_glued_without_digits_stay_separate() {
        assert_eq!(
            terms(Analyzer::English, "state-of-the-art and/or"),
            vec!["state", "art"]
        );
    }

    #[test]
    fn a_trailing_joiner_is_punctuation() {
        assert_eq!(
            terms(Analyzer::Standard, "see COVID-19. Then -5 and 7-"),
            vec!["see", "covid-19", "covid", "19", "then", "5", "and", "7"]
        );
        // Two joiners in a row end the code.
        assert_eq!(terms(Analyzer::Standard, "A--1"), vec!["a", "1"]);
    }

    #[test]
    fn english_possessives_and_curly_apostrophes() {
        assert_eq!(
            terms(Analyzer::English, "the patient’s data; it's theirs"),
            vec!["patient", "data", "their"]
        );
    }

    #[test]
    fn german_stems_folds_umlauts_and_drops_stop_words() {
        assert_eq!(
            terms(Analyzer::German, "Die Häuser und die Straßen sind groß"),
            vec!["haus", "strass", "gross"]
        );
    }

    #[test]
    fn standard_neither_stems_nor_drops_stop_words() {
        assert_eq!(
            terms(Analyzer::Standard, "The Running"),
            vec!["the", "running"]
        );
    }

    #[test]
    fn only_stop_words_or_punctuation_give_no_terms() {
        assert!(terms(Analyzer::English, "the and of, it is.").is_empty());
        assert!(terms(Analyzer::English, "?!… -- ///").is_empty());
        assert!(terms(Analyzer::German, "und der die das").is_empty());
        assert!(terms(Analyzer::English, "").is_empty());
    }

    #[test]
    fn overlong_terms_are_dropped() {
        let blob = "x".repeat(MAX_TERM_BYTES + 1);
        let ok = "y".repeat(MAX_TERM_BYTES);
        assert_eq!(
            terms(Analyzer::Standard, &format!("a {blob} {ok} b")),
            vec!["a".to_string(), ok, "b".to_string()]
        );
    }

    #[test]
    fn from_name_accepts_known_names_and_lists_them_otherwise() {
        assert_eq!(Analyzer::from_name("English").unwrap(), Analyzer::English);
        assert_eq!(Analyzer::from_name(" de ").unwrap(), Analyzer::German);
        assert_eq!("standard".parse::<Analyzer>().unwrap(), Analyzer::Standard);
        for a in Analyzer::ALL {
            assert_eq!(Analyzer::from_name(a.name()).unwrap(), a);
        }
        let err = Analyzer::from_name("klingon").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown analyzer \"klingon\": expected one of standard, english, german, \
             german-compounds"
        );
    }

    #[test]
    fn stop_lists_match_their_sources() {
        assert_eq!(english_stop_words().len(), 33);
        assert_eq!(german_stop_words().len(), 232);
        assert!(german_stop_words().contains("über"));
    }
}
