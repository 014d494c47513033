//! Splitting German compounds into known words ("longest known parts").
//!
//! German writes compounds as one word: a sheet says
//! "Medikamentenkühlschrank" where the query says "Kühlschrank für
//! Medikamente", and "Laborkühlschrank" shares nothing with "Kühlschrank"
//! as a term. Lucene's `DictionaryCompoundWordTokenFilter` answers this
//! with a dictionary of parts; no package we can depend on ships a German
//! lexicon, so the dictionary here is the collection's own vocabulary:
//! the index decides which terms are known words (see `decompound.rs`) and
//! this file only splits one term against such a [`Lexicon`].
//!
//! A split works on the *stemmed* term (umlauts folded, inflection cut),
//! so it is a function of the term alone and can be redone from the index
//! without the text. A part is a lexicon word followed by an optional
//! linking element (Fugenelement: "Arbeit|s|platz", "Medikament|en|kühl-
//! schrank", "Kind|er|garten"); since the lexicon holds stems, the linking
//! element also absorbs what the stemmer cut from the standalone word
//! ("Sonne" → "sonn", "Sonn|en|schein"). The whole term must be covered,
//! by at least two parts of at least [`MIN_PART_CHARS`] characters each;
//! among the covers the one with the fewest parts wins (known compounds
//! stay whole: "Labor|kühlschrank", not "Labor|kühl|schrank"), then the one
//! with the fewest linking letters, then the one whose first part is the
//! longest. Requiring a full cover is the precise choice: emitting the
//! known head of a word with an unknown modifier ("Xyz|kühlschrank") also
//! splits "Ursprung" into "sprung"; measured, it gained 0.003 nDCG@10 on
//! XQuAD-de and lost 0.009 on the sample catalogue (`bench/RESULTS.md`). Terms with a digit or any non-letter (product codes, numbers)
//! are never split, and a term with no cover is left alone.

use std::collections::HashSet;

/// Shortest part, in characters: shorter known words ("tag", "art", "ei")
/// match inside too many unrelated words.
pub const MIN_PART_CHARS: usize = 4;

/// What may follow a part inside a compound: the linking elements of
/// German word formation, which also absorb the endings the stemmer cut
/// from a standalone word. Longest first is not needed: every choice is
/// tried.
const LINKS: [&str; 9] = ["", "s", "es", "n", "en", "e", "er", "ens", "ns"];

/// The known words compounds are split into: stemmed terms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lexicon {
    words: HashSet<String, foldhash::fast::RandomState>,
}

impl Lexicon {
    /// An empty lexicon (splits nothing).
    pub fn new() -> Self {
        Lexicon::default()
    }

    /// Adds `word` if it can be a part at all (see [`Lexicon::can_be_part`]);
    /// returns whether it was added.
    pub fn insert(&mut self, word: &str) -> bool {
        Self::can_be_part(word) && self.words.insert(word.to_string())
    }

    /// Whether `word` is a known word.
    pub fn contains(&self, word: &str) -> bool {
        self.words.contains(word)
    }

    /// Number of words.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether there are no words.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The words, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        self.words.iter().map(String::as_str)
    }

    /// Whether `word` may be a part: long enough and letters only.
    pub fn can_be_part(word: &str) -> bool {
        letters_only(word) && word.chars().count() >= MIN_PART_CHARS
    }

    /// Appends the parts of `term` to `out` (slices of `term`, in order)
    /// and returns how many; 0 when `term` is not a compound of known
    /// words. Parts are not split again.
    pub fn split<'t>(&self, term: &'t str, out: &mut Vec<&'t str>) -> usize {
        if self.words.is_empty() || !letters_only(term) || term.chars().count() < 2 * MIN_PART_CHARS
        {
            return 0;
        }
        // Char boundaries, so slicing never cuts a character.
        let bounds: Vec<usize> = term
            .char_indices()
            .map(|(i, _)| i)
            .chain([term.len()])
            .collect();
        let n = bounds.len() - 1;
        // best[i]: the best cover of term[bounds[i]..] as
        // (parts, linking letters, next boundary index, part end index).
        let mut best: Vec<Option<Cover>> = vec![None; n + 1];
        for i in (0..n).rev() {
            let start = bounds[i];
            // Longest part first, so ties keep the longer first part.
            for j in (i + MIN_PART_CHARS..=n).rev() {
                let end = bounds[j];
                if !self.words.contains(&term[start..end]) {
                    continue;
                }
                let rest = &term[end..];
                for link in LINKS {
                    if !rest.starts_with(link) {
                        continue;
                    }
                    let next = end + link.len();
                    // `link` is ASCII, so `next` is a boundary.
                    let k = j + link.len();
                    let tail = if next == term.len() {
                        if i == 0 {
                            // The whole term as one part is no split.
                            continue;
                        }
                        Some((0, 0))
                    } else {
                        best[k].map(|c| (c.parts, c.linking))
                    };
                    let Some((parts, linking)) = tail else {
                        continue;
                    };
                    let cand = Cover {
                        parts: parts + 1,
                        linking: linking + link.len(),
                        next: k,
                        end: j,
                    };
                    if best[i].is_none_or(|b| (cand.parts, cand.linking) < (b.parts, b.linking)) {
                        best[i] = Some(cand);
                    }
                }
            }
        }
        let Some(first) = best[0] else {
            return 0;
        };
        let mut i = 0;
        let mut cover = first;
        loop {
            out.push(&term[bounds[i]..bounds[cover.end]]);
            if cover.next == n {
                break;
            }
            i = cover.next;
            match best[i] {
                Some(c) => cover = c,
                None => unreachable!("a cover continues where it says"),
            }
        }
        first.parts
    }
}

/// One step of the best cover of a suffix of the term.
#[derive(Debug, Clone, Copy)]
struct Cover {
    parts: usize,
    linking: usize,
    /// Boundary index where the next part starts (the end: done).
    next: usize,
    /// Boundary index where this part ends.
    end: usize,
}

fn letters_only(s: &str) -> bool {
    !s.is_empty() && s.chars().all(char::is_alphabetic)
}

impl FromIterator<String> for Lexicon {
    fn from_iter<I: IntoIterator<Item = String>>(iter: I) -> Self {
        let mut lexicon = Lexicon::new();
        for w in iter {
            lexicon.insert(&w);
        }
        lexicon
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Analyzer;

    /// A lexicon of the German analyzer's terms for `words` (as the index
    /// would know them from standalone occurrences).
    fn lexicon(words: &str) -> Lexicon {
        Analyzer::German.analyze(words).into_iter().collect()
    }

    /// The parts of the German analyzer's term for `word`.
    fn parts(lex: &Lexicon, word: &str) -> Vec<String> {
        let terms = Analyzer::German.analyze(word);
        assert_eq!(terms.len(), 1, "{word}: {terms:?}");
        let mut out = Vec::new();
        lex.split(&terms[0], &mut out);
        out.into_iter().map(str::to_string).collect()
    }

    #[test]
    fn splits_with_linking_elements() {
        let lex = lexicon("Medikamente Kühlschrank Arbeit Platz Kinder Garten Sonne Schein");
        assert_eq!(
            parts(&lex, "Medikamentenkühlschrank"),
            vec!["medikament", "kuhlschrank"]
        );
        assert_eq!(
            parts(&lex, "Medikamentenkühlschränke"),
            vec!["medikament", "kuhlschrank"]
        );
        assert_eq!(parts(&lex, "Arbeitsplätze"), vec!["arbeit", "platz"]);
        assert_eq!(parts(&lex, "Kindergarten"), vec!["kind", "gart"]);
        assert_eq!(parts(&lex, "Sonnenschein"), vec!["sonn", "schein"]);
    }

    #[test]
    fn known_compounds_stay_whole_as_parts() {
        let lex = lexicon("Labor Kühlschrank kühl Schrank");
        // Fewest parts: "kuhlschrank" is known, so it is one part.
        assert_eq!(
            parts(&lex, "Laborkühlschrank"),
            vec!["labor", "kuhlschrank"]
        );
        // A known word that is itself a compound of known words splits too
        // (the index keeps the whole term beside the parts).
        assert_eq!(parts(&lex, "Kühlschrank"), vec!["kuhl", "schrank"]);
    }

    #[test]
    fn short_parts_and_partial_covers_do_not_split() {
        // "tag" is shorter than MIN_PART_CHARS.
        let lex = lexicon("Bundes Tag Geburt");
        assert!(parts(&lex, "Bundestag").is_empty());
        assert!(parts(&lex, "Geburtstag").is_empty());
        // Every letter must be covered.
        let lex = lexicon("Labor Schrank");
        assert!(parts(&lex, "Laborkühlschrank").is_empty());
        assert!(!lex.contains("tag"));
    }

    #[test]
    fn leaves_non_compounds_codes_and_numbers_alone() {
        let lex = lexicon("Labor Kühlschrank Temperatur Gerät");
        for word in ["Temperatur", "Kühlschrank", "Laborgeräte"] {
            let p = parts(&lex, word);
            // Idempotent on non-compounds: nothing; on the compound, the
            // parts are themselves not split further.
            for part in &p {
                assert!(parts(&lex, part).is_empty(), "{word}: {part}");
            }
        }
        assert_eq!(parts(&lex, "Laborgeräte"), vec!["labor", "gerat"]);
        assert!(parts(&lex, "Temperatur").is_empty());
        let mut out = Vec::new();
        for code in ["labo-288", "280l", "laborkuhlschrank2", "13277"] {
            assert_eq!(lex.split(code, &mut out), 0, "{code}");
        }
        assert!(!Lexicon::can_be_part("labo2"));
        assert!(!Lexicon::can_be_part("kuh"));
        assert!(Lexicon::new().split("medikamentenkuhlschrank", &mut out) == 0);
        assert!(out.is_empty());
    }

    #[test]
    fn non_ascii_letters_are_sliced_on_char_boundaries() {
        let mut lex = Lexicon::new();
        lex.insert("café");
        lex.insert("tisch");
        let mut out = Vec::new();
        assert_eq!(lex.split("cafétisch", &mut out), 2);
        assert_eq!(out, vec!["café", "tisch"]);
    }
}
