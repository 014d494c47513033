//! A per-thread memo of what the stop-word and stemming filters made of a
//! word.
//!
//! Snowball stemming is most of the analysis time (it copies the word and
//! runs a suffix automaton), yet text repeats its words: a SciFact abstract
//! has ~200 words but ~120 distinct ones, and across a corpus the ratio is
//! far lower. Each thread keeps, per analyzer, a map from a lower-cased
//! word to its term (or to "stop word"). The map is cleared when it
//! reaches [`MAX_ENTRIES`], which bounds its memory (a few MiB) whatever
//! the text; a randomly seeded hasher keeps crafted input from degrading
//! it (see `FastMap`).

use std::cell::RefCell;

use crate::inverted_index::FastMap;
use crate::Analyzer;

/// Words remembered per analyzer and thread before the memo starts over.
pub(crate) const MAX_ENTRIES: usize = 1 << 16;

/// Lower-cased word to term; `None` for a stop word.
#[derive(Debug, Default)]
pub(crate) struct StemCache {
    map: FastMap<String, Option<String>>,
}

thread_local! {
    static CACHES: RefCell<[StemCache; 2]> = RefCell::default();
}

impl StemCache {
    /// Runs `f` with this thread's memo for `analyzer`, or with `None` when
    /// there is none to lend: the standard analyzer (nothing to remember),
    /// a call made from inside another's callback, or a thread being torn
    /// down.
    pub fn with<R>(analyzer: Analyzer, f: impl FnOnce(Option<&mut StemCache>) -> R) -> R {
        let slot = match analyzer {
            Analyzer::English => 0,
            // The same words and stems: the split is the index's.
            Analyzer::German | Analyzer::GermanCompounds => 1,
            Analyzer::Standard => return f(None),
        };
        let mut f = Some(f);
        let borrowed = CACHES.try_with(|cell| match cell.try_borrow_mut() {
            Ok(mut caches) => f.take().map(|f| f(Some(&mut caches[slot]))),
            Err(_) => None,
        });
        match (borrowed, f) {
            (Ok(Some(r)), _) => r,
            (_, Some(f)) => f(None),
            // `f` was taken only when it ran and returned.
            (_, None) => unreachable!("the memo's callback ran without a result"),
        }
    }

    /// The remembered term of `word`: `Some(None)` for a stop word, `None`
    /// if the word is not remembered.
    #[inline]
    pub fn get(&self, word: &str) -> Option<Option<&str>> {
        self.map.get(word).map(Option::as_deref)
    }

    /// Remembers `word`'s term, starting over when full.
    pub fn insert(&mut self, word: &str, term: Option<String>) {
        if self.map.len() >= MAX_ENTRIES {
            self.map.clear();
        }
        self.map.insert(word.to_string(), term);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_and_starts_over_when_full() {
        let mut cache = StemCache::default();
        cache.insert("running", Some("run".into()));
        cache.insert("the", None);
        assert_eq!(cache.get("running"), Some(Some("run")));
        assert_eq!(cache.get("the"), Some(None));
        assert_eq!(cache.get("walked"), None);
        for i in 0..MAX_ENTRIES {
            cache.insert(&format!("w{i}"), None);
        }
        assert!(cache.len() <= MAX_ENTRIES);
        assert_eq!(cache.get("running"), None, "cleared on the way");
    }

    #[test]
    fn nested_use_gets_no_cache_instead_of_panicking() {
        let inner = StemCache::with(Analyzer::English, |outer| {
            assert!(outer.is_some());
            StemCache::with(Analyzer::German, |inner| inner.is_none())
        });
        assert!(inner);
        // And the analyzer works from inside its own callback.
        let mut nested = Vec::new();
        Analyzer::English.for_each_term("running dogs", |t| {
            nested.push((t.to_string(), Analyzer::English.analyze("walked cats")));
        });
        assert_eq!(nested[0].0, "run");
        assert_eq!(nested[1].1, vec!["walk", "cat"]);
    }

    #[test]
    fn cached_and_uncached_analysis_agree() {
        let text = "The patients' running dogs ran; it's LABO-288 running again, the dogs";
        let first = Analyzer::English.analyze(text);
        let second = Analyzer::English.analyze(text);
        assert_eq!(first, second);
        let uncached = StemCache::with(Analyzer::English, |_| Analyzer::English.analyze(text));
        assert_eq!(first, uncached);
    }
}
