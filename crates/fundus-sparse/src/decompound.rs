//! The index side of compound splitting: which terms are known words, and
//! keeping the documents split against them.
//!
//! The lexicon is the collection's own vocabulary: every term that occurs
//! on its own (not only as a part the index added) in at least
//! [`MIN_DF`] live documents and can be a part at all
//! ([`Lexicon::can_be_part`]). One document is not enough: a typo or a
//! rare word would split unrelated compounds.
//!
//! A document is split when it is indexed, against the lexicon of that
//! moment: the whole term stays (an exact compound query still matches
//! it, and scores higher than the parts alone), and each known part is
//! added as a term of its own, once per occurrence of the compound, Lucene
//! style. Queries split against the same lexicon, which is saved with the
//! index, so a query analyzes exactly as the documents did.
//!
//! The vocabulary grows with the collection, so the lexicon is derived
//! again ([`Bm25Index::refresh_compounds`]) whenever the number of live
//! documents has changed by a quarter since the last time (on its own,
//! during upserts): a document indexed before "Kühlschrank" was a known
//! word gets its "Medikamentenkühlschrank" split then. Re-deriving needs no
//! text: a document's standalone terms are its terms minus the parts its
//! compounds added (compounds are longer than their parts, so the longest
//! terms are settled first), and splitting works on terms. If the lexicon
//! changed, every document is indexed again from those terms (relative
//! order kept). The amortized cost is a few full rebuilds (the document
//! count grows geometrically between them); the result after a refresh
//! depends only on the live documents, not on the order of upserts.

use std::cmp::Reverse;

use crate::compound::Lexicon;
use crate::index::Bm25Index;
use crate::inverted_index::{FastMap, InvertedIndex, MAX_DOC_TERMS};
use crate::SparseError;

/// Live documents a term must occur in on its own to be a known word.
pub const MIN_DF: u32 = 2;

/// The compound state of an index whose analyzer splits compounds.
#[derive(Debug, Clone, Default)]
pub(crate) struct Compounds {
    /// The known words documents and queries are split against.
    pub lexicon: Lexicon,
    /// Parts (term ids) of each term id under `lexicon`, computed on first
    /// use; `None`: not yet.
    splits: Vec<Option<Box<[u32]>>>,
    /// Live documents when the lexicon was last derived.
    pub docs_at_refresh: usize,
}

impl Compounds {
    pub fn new(lexicon: Lexicon, docs_at_refresh: usize) -> Self {
        Compounds {
            lexicon,
            splits: Vec::new(),
            docs_at_refresh,
        }
    }

    /// Appends to `ids` the parts of each term id already in it (term ids
    /// of `inverted`, which gains the parts it lacks).
    pub fn expand(&mut self, ids: &mut Vec<u32>, inverted: &mut InvertedIndex) {
        let raw = ids.len();
        for i in 0..raw {
            let parts = self.parts(ids[i], inverted);
            if !parts.is_empty() {
                let parts = parts.to_vec();
                ids.extend_from_slice(&parts);
            }
        }
    }

    /// The part ids of term `id`, computed and remembered on first use.
    fn parts(&mut self, id: u32, inverted: &mut InvertedIndex) -> &[u32] {
        let slot = id as usize;
        if self.splits.len() <= slot {
            self.splits.resize(inverted.terms.len().max(slot + 1), None);
        }
        if self.splits[slot].is_none() {
            let term = inverted.terms[slot].clone();
            let mut parts = Vec::new();
            self.lexicon.split(&term, &mut parts);
            self.splits[slot] = Some(parts.into_iter().map(|p| inverted.intern(p)).collect());
        }
        self.splits[slot].as_deref().unwrap_or(&[])
    }

    /// Forgets the remembered splits (term ids were renumbered).
    pub fn clear_splits(&mut self) {
        self.splits.clear();
    }

    /// Whether the lexicon is due to be derived again, with `live`
    /// documents now: their number moved by a quarter (and by two).
    pub fn refresh_due(&self, live: usize) -> bool {
        let last = self.docs_at_refresh;
        live.abs_diff(last) * 4 > last.max(4)
    }
}

impl Bm25Index {
    /// Derives the lexicon of known words again from the documents now
    /// indexed and, if it changed, splits every document again against
    /// it. Upserts do this on their own as the collection grows (see
    /// `decompound.rs`); calling it makes the index independent of the
    /// order documents came in. Does nothing for analyzers that do not
    /// split compounds.
    pub fn refresh_compounds(&mut self) -> Result<(), SparseError> {
        let Some(compounds) = &self.compounds else {
            return Ok(());
        };
        let inv = &self.inverted;
        let old = &compounds.lexicon;
        // Parts of each term under the lexicon the documents were split
        // with (read-only: they are in the dictionary already).
        let mut scratch = Vec::new();
        let old_parts: Vec<Box<[u32]>> = inv
            .terms
            .iter()
            .map(|term| {
                scratch.clear();
                old.split(term, &mut scratch);
                scratch.iter().filter_map(|p| inv.term_id(p)).collect()
            })
            .collect();
        // Each live document's (term, tf), from the postings.
        let mut bags: Vec<Vec<(u32, u32)>> = vec![Vec::new(); inv.num_ordinals()];
        for (t, list) in inv.postings.iter().enumerate() {
            if inv.df[t] == 0 {
                continue;
            }
            for (doc, tf) in list.iter() {
                if inv.live[doc as usize] {
                    bags[doc as usize].push((t as u32, tf));
                }
            }
        }
        // Standalone counts: minus what compounds added, longest first.
        let mut added: FastMap<u32, u32> = FastMap::default();
        let mut raw_df = vec![0u32; inv.terms.len()];
        for bag in &mut bags {
            bag.sort_unstable_by_key(|&(t, _)| (Reverse(inv.terms[t as usize].len()), t));
            added.clear();
            for (t, tf) in bag.iter_mut() {
                let raw = tf.saturating_sub(added.get(t).copied().unwrap_or(0));
                *tf = raw;
                if raw > 0 {
                    raw_df[*t as usize] += 1;
                    for &p in old_parts[*t as usize].iter() {
                        *added.entry(p).or_insert(0) += raw;
                    }
                }
            }
            bag.retain(|&(_, tf)| tf > 0);
        }
        let lexicon: Lexicon = inv
            .terms
            .iter()
            .zip(&raw_df)
            .filter(|&(t, &df)| df >= MIN_DF && Lexicon::can_be_part(t))
            .map(|(t, _)| t.clone())
            .collect();
        let live = self.len();
        if lexicon == *old {
            if let Some(c) = &mut self.compounds {
                c.docs_at_refresh = live;
            }
            return Ok(());
        }
        // Index every live document again, in order, from its standalone
        // terms; the old index stays until the new one is complete.
        let mut fresh = InvertedIndex::new();
        let mut next = Compounds::new(lexicon, live);
        let mut keys = Vec::with_capacity(live);
        let mut ids = Vec::new();
        for (d, bag) in bags.iter().enumerate() {
            if !inv.live[d] {
                continue;
            }
            ids.clear();
            for &(t, tf) in bag {
                let id = fresh.intern(&inv.terms[t as usize]);
                ids.extend(std::iter::repeat_n(id, tf as usize));
            }
            next.expand(&mut ids, &mut fresh);
            if ids.len() > MAX_DOC_TERMS {
                return Err(SparseError::DocumentTooLong {
                    key: self.keys[d].clone(),
                    tokens: ids.len() as u64,
                    max: MAX_DOC_TERMS as u64,
                });
            }
            fresh.add_ids(&mut ids)?;
            keys.push(self.keys[d].clone());
        }
        self.ordinals = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.clone(), i as u32))
            .collect();
        self.keys = keys;
        self.inverted = fresh;
        self.compounds = Some(next);
        Ok(())
    }

    /// Runs [`Bm25Index::refresh_compounds`] when it is due.
    pub(crate) fn maybe_refresh_compounds(&mut self) -> Result<(), SparseError> {
        match &self.compounds {
            Some(c) if c.refresh_due(self.len()) => self.refresh_compounds(),
            _ => Ok(()),
        }
    }

    /// The number of known words compounds are split into; `None` when
    /// the analyzer does not split compounds.
    pub fn known_words(&self) -> Option<usize> {
        self.compounds.as_ref().map(|c| c.lexicon.len())
    }
}

#[cfg(test)]
mod tests {
    use crate::{Analyzer, Bm25Index, Bm25Params};

    fn docs() -> Vec<(&'static str, &'static str)> {
        vec![
            (
                "medi",
                "Medikamentenkühlschrank nach DIN 13277 für Apotheken",
            ),
            ("labor", "Laborkühlschrank LABO-288 mit 280L Nutzinhalt"),
            ("kuehl", "Kühlschrank mit Glastür"),
            ("kuehl2", "Der Kühlschrank hält die Temperatur"),
            ("medikamente", "Lagerung von Medikamenten bei +5 °C"),
            ("arznei", "Medikamente und Impfstoffe sicher lagern"),
            ("gefrier", "Gefrierschrank bis -40 °C"),
            ("labore", "Geräte für das Labor"),
            ("labor2", "Im Labor gemessen"),
        ]
    }

    fn build(analyzer: Analyzer, docs: &[(&str, &str)]) -> Bm25Index {
        Bm25Index::build(analyzer, Bm25Params::default(), docs.iter().copied()).unwrap()
    }

    fn keys(index: &Bm25Index, query: &str) -> Vec<String> {
        index
            .search(query, 10)
            .unwrap()
            .into_iter()
            .map(|h| h.key)
            .collect()
    }

    #[test]
    fn parts_find_the_compound_and_the_compound_finds_the_parts() {
        let plain = build(Analyzer::German, &docs());
        let split = build(Analyzer::GermanCompounds, &docs());
        // Without splitting the compound sheet shares no term with the query.
        assert!(!keys(&plain, "Kühlschrank für Medikamente").contains(&"medi".into()));
        let hits = keys(&split, "Kühlschrank für Medikamente");
        assert_eq!(hits[0], "medi", "{hits:?}");
        // "Laborkühlschrank" shares "kuhlschrank" with "Kühlschrank".
        assert!(keys(&split, "Kühlschrank").contains(&"labor".into()));
        // The compound query finds sheets with the parts, the exact
        // compound first.
        let hits = keys(&split, "Medikamentenkühlschrank");
        assert_eq!(hits[0], "medi", "{hits:?}");
        assert!(hits.contains(&"kuehl".into()) && hits.contains(&"arznei".into()));
        assert_eq!(keys(&plain, "Medikamentenkühlschrank"), vec!["medi"]);
        // Codes still work as before.
        assert_eq!(keys(&split, "LABO-288")[0], "labor");
        assert!(split.known_words().is_some_and(|n| n > 0));
        assert_eq!(plain.known_words(), None);
    }

    #[test]
    fn documents_indexed_before_their_parts_were_known_are_split_later() {
        // The compound sheet first: no known words yet when it is indexed.
        let mut index = Bm25Index::new(Analyzer::GermanCompounds, Bm25Params::default()).unwrap();
        for (k, t) in docs() {
            index.upsert(k, t).unwrap();
        }
        index.refresh_compounds().unwrap();
        assert_eq!(keys(&index, "Kühlschrank für Medikamente")[0], "medi");
        // After a refresh, the order of upserts does not matter.
        let mut reversed = docs();
        reversed.reverse();
        let mut other = Bm25Index::new(Analyzer::GermanCompounds, Bm25Params::default()).unwrap();
        for (k, t) in reversed {
            other.upsert(k, t).unwrap();
        }
        other.refresh_compounds().unwrap();
        for q in ["Kühlschrank für Medikamente", "Laborkühlschrank", "Schrank"] {
            let mut a = index.search(q, 10).unwrap();
            let mut b = other.search(q, 10).unwrap();
            a.sort_by(|x, y| x.key.cmp(&y.key));
            b.sort_by(|x, y| x.key.cmp(&y.key));
            assert_eq!(a, b, "{q}");
        }
        assert_eq!(index.stats().terms, other.stats().terms);
    }

    #[test]
    fn refresh_equals_a_fresh_build_after_deletes_and_replacements() {
        let mut index = build(Analyzer::GermanCompounds, &docs());
        index.delete("kuehl2");
        index.upsert("kuehl", "Ein Kühlschrank für Labore").unwrap();
        index.upsert("neu", "Kühlschränke im Labor").unwrap();
        index.refresh_compounds().unwrap();
        let mut now = docs();
        now.retain(|(k, _)| *k != "kuehl2" && *k != "kuehl");
        now.push(("kuehl", "Ein Kühlschrank für Labore"));
        now.push(("neu", "Kühlschränke im Labor"));
        let mut fresh = build(Analyzer::GermanCompounds, &now);
        fresh.refresh_compounds().unwrap();
        assert_eq!(index.known_words(), fresh.known_words());
        for q in ["Laborkühlschrank", "Kühlschrank Medikamente", "Labor"] {
            assert_eq!(
                index.search(q, 10).unwrap(),
                fresh.search(q, 10).unwrap(),
                "{q}"
            );
        }
        // Refreshing twice changes nothing.
        let before = index.search("Laborkühlschrank", 10).unwrap();
        index.refresh_compounds().unwrap();
        assert_eq!(index.search("Laborkühlschrank", 10).unwrap(), before);
    }

    #[test]
    fn the_lexicon_is_saved_and_queries_split_the_same_after_loading() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("de.bm25");
        let index = build(Analyzer::GermanCompounds, &docs());
        index.save(&path).unwrap();
        let loaded = Bm25Index::load(&path).unwrap();
        assert_eq!(loaded.analyzer(), Analyzer::GermanCompounds);
        assert_eq!(loaded.known_words(), index.known_words());
        for q in [
            "Kühlschrank für Medikamente",
            "Medikamentenkühlschrank",
            "LABO 288",
        ] {
            assert_eq!(
                loaded.search(q, 10).unwrap(),
                index.search(q, 10).unwrap(),
                "{q}"
            );
        }
        // Indexes that split nothing keep the version 1 file of old.
        let plain_path = dir.path().join("plain.bm25");
        build(Analyzer::German, &docs()).save(&plain_path).unwrap();
        let bytes = std::fs::read(&plain_path).unwrap();
        assert_eq!(&bytes[8..12], &1u32.to_le_bytes());
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[8..12], &2u32.to_le_bytes());
    }
}
