//! [`Bm25Index`]: documents by key, analyzed, searchable with BM25.
//!
//! The store identifies documents by key, so this is the interface:
//! upsert a key's text, delete a key, search for keys. Ordinals stay
//! inside; they change when tombstones are compacted away.

use std::path::Path;

use crate::analyzer::Analyzer;
use crate::bm25::Bm25Params;
use crate::compound::Lexicon;
use crate::decompound::Compounds;
use crate::inverted_index::{FastMap, InvertedIndex, MAX_DOC_TERMS};
use crate::search::{top_k, QueryTerm};
use crate::SparseError;

/// One search result.
#[derive(Debug, Clone, PartialEq)]
pub struct Bm25Hit {
    /// The document's key.
    pub key: String,
    /// Its BM25 score, higher is better.
    pub score: f32,
}

/// Counts that describe an index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bm25Stats {
    /// Live documents.
    pub documents: usize,
    /// Deleted documents still taking space until the next compaction.
    pub deleted: usize,
    /// Distinct terms in the dictionary (some may have no live document
    /// until the next compaction).
    pub terms: usize,
    /// Postings stored, tombstones included.
    pub postings: usize,
    /// Mean length of the live documents, in terms.
    pub avgdl: f32,
}

/// A BM25 index over documents identified by string keys.
///
/// ```
/// use fundus_sparse::{Analyzer, Bm25Index, Bm25Params};
///
/// let mut index = Bm25Index::new(Analyzer::English, Bm25Params::default())?;
/// index.upsert("fridge", "Laboratory fridge LABO-288, 280 L, DIN 13277")?;
/// index.upsert("freezer", "Upright freezer HMFvh-4001 for vaccines")?;
/// let hits = index.search("labo 288 refrigerators", 10)?;
/// assert_eq!(hits[0].key, "fridge");
///
/// index.delete("fridge");
/// assert!(index.search("labo 288", 10)?.is_empty());
/// // Only stop words: an error that says so, not an empty list.
/// assert!(index.search("the and of", 10).is_err());
/// # Ok::<(), fundus_sparse::SparseError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Bm25Index {
    pub(crate) analyzer: Analyzer,
    pub(crate) params: Bm25Params,
    pub(crate) inverted: InvertedIndex,
    /// Key by ordinal (tombstones keep theirs until compaction).
    pub(crate) keys: Vec<String>,
    /// Ordinal of each live key.
    pub(crate) ordinals: FastMap<String, u32>,
    /// Known words and splits, when the analyzer splits compounds.
    pub(crate) compounds: Option<Compounds>,
    /// Reused buffer of term ids for indexing.
    scratch: Vec<u32>,
}

impl Bm25Index {
    /// An empty index. Fails if `params` are out of range.
    pub fn new(analyzer: Analyzer, params: Bm25Params) -> Result<Self, SparseError> {
        params.validate()?;
        Ok(Bm25Index {
            analyzer,
            params,
            inverted: InvertedIndex::new(),
            keys: Vec::new(),
            ordinals: FastMap::default(),
            compounds: analyzer.splits_compounds().then(Compounds::default),
            scratch: Vec::new(),
        })
    }

    /// An index of `(key, text)` pairs; a repeated key keeps its last text.
    /// Compounds (when the analyzer splits them) are split against the
    /// vocabulary of all of them.
    pub fn build<I, K, T>(
        analyzer: Analyzer,
        params: Bm25Params,
        docs: I,
    ) -> Result<Self, SparseError>
    where
        I: IntoIterator<Item = (K, T)>,
        K: Into<String>,
        T: AsRef<str>,
    {
        let mut index = Bm25Index::new(analyzer, params)?;
        for (key, text) in docs {
            index.upsert(key, text.as_ref())?;
        }
        index.refresh_compounds()?;
        Ok(index)
    }

    /// Indexes `text` under `key`, replacing the key's previous text. The
    /// statistics of every other document's score change at once (as they
    /// would in a freshly built index).
    pub fn upsert(&mut self, key: impl Into<String>, text: &str) -> Result<(), SparseError> {
        let key = key.into();
        let mut ids = std::mem::take(&mut self.scratch);
        ids.clear();
        let inverted = &mut self.inverted;
        self.analyzer
            .for_each_term(text, |term| ids.push(inverted.intern(term)));
        if let Some(compounds) = &mut self.compounds {
            compounds.expand(&mut ids, inverted);
        }
        if ids.len() > MAX_DOC_TERMS {
            let tokens = ids.len() as u64;
            self.scratch = ids;
            return Err(SparseError::DocumentTooLong {
                key,
                tokens,
                max: MAX_DOC_TERMS as u64,
            });
        }
        let added = self.inverted.add_ids(&mut ids);
        self.scratch = ids;
        let ord = added?;
        if let Some(old) = self.ordinals.insert(key.clone(), ord) {
            self.inverted.delete(old);
        }
        self.keys.push(key);
        self.maybe_compact();
        self.maybe_refresh_compounds()
    }

    /// Removes `key`; `false` if it was not there. Its document leaves
    /// results and statistics at once.
    pub fn delete(&mut self, key: &str) -> bool {
        let Some(ord) = self.ordinals.remove(key) else {
            return false;
        };
        self.inverted.delete(ord);
        self.maybe_compact();
        true
    }

    /// Whether `key` is indexed.
    pub fn contains(&self, key: &str) -> bool {
        self.ordinals.contains_key(key)
    }

    /// Number of live documents.
    pub fn len(&self) -> usize {
        self.ordinals.len()
    }

    /// Whether no document is indexed.
    pub fn is_empty(&self) -> bool {
        self.ordinals.is_empty()
    }

    /// The analyzer documents and queries go through.
    pub fn analyzer(&self) -> Analyzer {
        self.analyzer
    }

    /// The BM25 parameters searches use.
    pub fn params(&self) -> Bm25Params {
        self.params
    }

    /// Changes k1, b or the variant. Lengths are stored exactly and
    /// scores computed at query time, so this needs no re-indexing.
    pub fn set_params(&mut self, params: Bm25Params) -> Result<(), SparseError> {
        params.validate()?;
        self.params = params;
        Ok(())
    }

    /// Sizes and averages of the index.
    pub fn stats(&self) -> Bm25Stats {
        Bm25Stats {
            documents: self.len(),
            deleted: self.inverted.num_deleted(),
            terms: self.inverted.terms.len(),
            postings: self.inverted.postings.iter().map(|l| l.len()).sum(),
            avgdl: self.inverted.avgdl(),
        }
    }

    /// The `k` documents with the highest BM25 score for `query`, best
    /// first (ties: the earlier indexed first). Only documents that
    /// contain at least one query term are returned, so there may be fewer
    /// than `k`; `k = 0` returns nothing.
    ///
    /// A query that analyzes to no term at all (empty, only punctuation,
    /// only stop words) is [`SparseError::EmptyQuery`]: an empty list
    /// would look like "nothing relevant", which is not what happened. A
    /// query whose terms are simply not in the index returns an empty
    /// list.
    ///
    /// Queries of any length are accepted: repeated terms are merged (and
    /// weighted by their count, as bm25s does), so the cost grows with the
    /// number of distinct terms, each postings list being read once.
    pub fn search(&self, query: &str, k: usize) -> Result<Vec<Bm25Hit>, SparseError> {
        let hits = self.search_ordinals(query, k)?;
        Ok(hits
            .into_iter()
            .map(|(ord, score)| Bm25Hit {
                key: self.keys[ord as usize].clone(),
                score,
            })
            .collect())
    }

    /// [`Bm25Index::search`] returning `(ordinal, score)`, for callers
    /// (benchmarks) that look keys up later with [`Bm25Index::key`].
    pub fn search_ordinals(&self, query: &str, k: usize) -> Result<Vec<(u32, f32)>, SparseError> {
        let mut ids = Vec::new();
        let mut analyzed = 0usize;
        let lexicon = self.compounds.as_ref().map(|c| &c.lexicon);
        self.analyzer.for_each_term(query, |term| {
            analyzed += 1;
            if let Some(id) = self.inverted.term_id(term) {
                ids.push(id);
            }
            // Split as the documents were: the whole term and its parts.
            if let Some(lexicon) = lexicon {
                let mut parts = Vec::new();
                lexicon.split(term, &mut parts);
                ids.extend(parts.iter().filter_map(|p| self.inverted.term_id(p)));
            }
        });
        if analyzed == 0 {
            return Err(SparseError::EmptyQuery {
                query: query.chars().take(200).collect(),
                analyzer: self.analyzer.name(),
            });
        }
        let n = self.inverted.num_live;
        ids.sort_unstable();
        let mut terms = Vec::new();
        let mut floor = 0.0f32;
        let tf_factor = self.params.tf_factor();
        for run in ids.chunk_by(|a, b| a == b) {
            let id = run[0];
            let df = self.inverted.df[id as usize];
            if df == 0 {
                continue;
            }
            let qtf = run.len() as f32;
            let idf = self.params.idf(df, n);
            floor += qtf * self.params.floor(idf);
            terms.push(QueryTerm {
                id,
                weight: qtf * idf * tf_factor,
            });
        }
        let norm = self.params.length_norm(self.inverted.avgdl());
        let mut hits = top_k(&self.inverted, norm, &terms, k);
        if floor != 0.0 {
            for hit in &mut hits {
                hit.1 += floor;
            }
        }
        Ok(hits)
    }

    /// The key of an ordinal from [`Bm25Index::search_ordinals`] (valid
    /// until the next upsert or delete).
    pub fn key(&self, ordinal: u32) -> Option<&str> {
        self.keys.get(ordinal as usize).map(String::as_str)
    }

    /// Drops deleted documents and unused terms now. Happens on its own
    /// once tombstones outnumber live documents; call it before a
    /// benchmark or after a large delete.
    pub fn compact(&mut self) {
        if self.inverted.num_deleted() == 0 {
            return;
        }
        let remap = self.inverted.compact();
        if let Some(c) = &mut self.compounds {
            c.clear_splits();
        }
        let old_keys = std::mem::take(&mut self.keys);
        for (key, new) in old_keys.into_iter().zip(remap) {
            if new != u32::MAX {
                self.ordinals.insert(key.clone(), new);
                self.keys.push(key);
            }
        }
    }

    /// Compacts once tombstones outnumber live documents (and are more
    /// than a few), so the cost is amortized over the deletes that caused
    /// it.
    fn maybe_compact(&mut self) {
        let deleted = self.inverted.num_deleted();
        if deleted > 1024 && deleted > self.len() {
            self.compact();
        }
    }

    /// Writes the index to `path` atomically (temporary file, fsync,
    /// rename). The format (magic, version, postings, CRC32) is described
    /// in this crate's `src/file.rs`.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), SparseError> {
        crate::file::write(self, path.as_ref())
    }

    /// Reads an index written by [`Bm25Index::save`], checking its
    /// checksum and structure; a damaged file is an error naming it.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, SparseError> {
        crate::file::read(path.as_ref())
    }

    /// Assembles an index read from a file (all documents live), with the
    /// lexicon its documents were split against.
    pub(crate) fn from_parts(
        analyzer: Analyzer,
        params: Bm25Params,
        mut inverted: InvertedIndex,
        keys: Vec<String>,
        lexicon: Option<Lexicon>,
    ) -> Self {
        inverted.rebuild_from_postings();
        let ordinals = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.clone(), i as u32))
            .collect();
        Bm25Index {
            analyzer,
            params,
            inverted,
            // Without a stored lexicon the next upsert derives one.
            compounds: analyzer.splits_compounds().then(|| match lexicon {
                Some(lexicon) => Compounds::new(lexicon, keys.len()),
                None => Compounds::default(),
            }),
            keys,
            ordinals,
            scratch: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bm25::Bm25Variant;

    fn docs() -> Vec<(&'static str, &'static str)> {
        vec![
            ("d1", "The cat sat on the mat"),
            ("d2", "Dogs and cats living together"),
            ("d3", "A quick brown fox jumps over the lazy dog"),
            (
                "d4",
                "Laboratory fridge LABO-288 with 280L volume, DIN 13277",
            ),
            ("d5", "cat cat cat cat cat"),
        ]
    }

    fn index(params: Bm25Params) -> Bm25Index {
        Bm25Index::build(Analyzer::English, params, docs()).unwrap()
    }

    fn keys(hits: &[Bm25Hit]) -> Vec<&str> {
        hits.iter().map(|h| h.key.as_str()).collect()
    }

    /// BM25 by the formula, over the analyzed documents, for comparison.
    fn reference(params: Bm25Params, docs: &[(&str, &str)], query: &str) -> Vec<(String, f32)> {
        let a = Analyzer::English;
        let analyzed: Vec<Vec<String>> = docs.iter().map(|(_, t)| a.analyze(t)).collect();
        let n = docs.len() as u32;
        let avgdl = analyzed.iter().map(Vec::len).sum::<usize>() as f32 / analyzed.len() as f32;
        let mut out = Vec::new();
        for (i, terms) in analyzed.iter().enumerate() {
            let mut score = 0.0;
            let mut matched_part = 0.0;
            for q in a.analyze(query) {
                let df = analyzed.iter().filter(|d| d.contains(&q)).count() as u32;
                if df == 0 {
                    continue;
                }
                let idf = params.idf(df, n);
                let tf = terms.iter().filter(|t| **t == q).count() as u32;
                if tf > 0 {
                    let s = params.term_score(tf, terms.len() as u32, avgdl, idf);
                    matched_part += s - params.floor(idf);
                    score += s;
                } else {
                    score += params.floor(idf);
                }
            }
            // Robertson's idf is 0 for terms in more than half the
            // documents: a document matching only those scores 0 and, like
            // an unmatched one, is not returned.
            if matched_part > 0.0 {
                out.push((docs[i].0.to_string(), score));
            }
        }
        out.sort_by(|a, b| b.1.total_cmp(&a.1));
        out
    }

    #[test]
    fn scores_match_the_formula_for_every_variant() {
        for variant in [
            Bm25Variant::Lucene,
            Bm25Variant::Robertson,
            Bm25Variant::Bm25Plus { delta: 0.5 },
        ] {
            let params = Bm25Params {
                k1: 1.2,
                b: 0.6,
                variant,
            };
            let index = index(params);
            for query in [
                "cats on mats",
                "dog fox",
                "LABO-288 fridge cat",
                "cat cat dog",
            ] {
                let hits = index.search(query, 10).unwrap();
                let want = reference(params, &docs(), query);
                assert_eq!(hits.len(), want.len(), "{variant:?} {query}");
                for (h, (key, score)) in hits.iter().zip(&want) {
                    assert!(
                        (h.score - score).abs() < 1e-5,
                        "{variant:?} {query}: {h:?} vs {key} {score}"
                    );
                }
            }
        }
    }

    #[test]
    fn product_code_queries_find_the_product() {
        let index = index(Bm25Params::default());
        for query in ["LABO-288", "labo 288", "DIN 13277", "280L"] {
            let hits = index.search(query, 3).unwrap();
            assert_eq!(hits[0].key, "d4", "{query}: {hits:?}");
        }
    }

    #[test]
    fn upsert_replaces_and_delete_removes_at_once() {
        let mut index = index(Bm25Params::default());
        assert_eq!(index.len(), 5);
        index.upsert("d1", "nothing about felines").unwrap();
        assert_eq!(index.len(), 5);
        let hits = index.search("cat", 10).unwrap();
        assert_eq!(keys(&hits), vec!["d5", "d2"]);
        assert!(index.delete("d5"));
        assert!(!index.delete("d5"));
        assert!(!index.contains("d5"));
        // Same scores as an index built without d5 and with d1's new text.
        let mut fresh_docs = docs();
        fresh_docs.retain(|(k, _)| *k != "d5" && *k != "d1");
        fresh_docs.push(("d1", "nothing about felines"));
        let fresh = Bm25Index::build(Analyzer::English, Bm25Params::default(), fresh_docs).unwrap();
        for query in ["cat", "felines dog", "fox mat"] {
            let a = index.search(query, 10).unwrap();
            let b = fresh.search(query, 10).unwrap();
            assert_eq!(keys(&a), keys(&b), "{query}");
            for (x, y) in a.iter().zip(&b) {
                assert!((x.score - y.score).abs() < 1e-6, "{query}");
            }
        }
        index.compact();
        assert_eq!(index.stats().deleted, 0);
        let after = index.search("cat", 10).unwrap();
        assert_eq!(keys(&after), vec!["d2"]);
    }

    #[test]
    fn many_deletes_compact_on_their_own() {
        let mut index = Bm25Index::new(Analyzer::Standard, Bm25Params::default()).unwrap();
        for i in 0..3000 {
            index
                .upsert(format!("k{i}"), &format!("word{} common", i % 7))
                .unwrap();
        }
        for i in 0..2500 {
            assert!(index.delete(&format!("k{i}")));
        }
        let stats = index.stats();
        assert_eq!(stats.documents, 500);
        assert!(stats.deleted < 1100, "{stats:?}");
        let hits = index.search("word3", 1000).unwrap();
        assert_eq!(hits.len(), (2500..3000).filter(|i| i % 7 == 3).count());
        assert!(hits.iter().all(|h| index.contains(&h.key)));
    }

    #[test]
    fn query_of_only_stop_words_or_punctuation_is_an_error() {
        let index = index(Bm25Params::default());
        for query in ["", "   ", "the and of", "?!... --", "It is, as it was."] {
            let err = index.search(query, 10).unwrap_err();
            assert!(
                matches!(err, SparseError::EmptyQuery { .. }),
                "{query}: {err}"
            );
        }
        let err = index.search("to be or not to be", 10).unwrap_err();
        assert_eq!(
            err.to_string(),
            "query \"to be or not to be\" has no searchable terms after the english analyzer \
             (empty, only punctuation or only stop words)"
        );
        // Terms that exist nowhere: a valid query with no results.
        assert!(index.search("zebra quantum", 10).unwrap().is_empty());
    }

    #[test]
    fn very_long_query_is_merged_and_works() {
        let index = index(Bm25Params::default());
        let mut long = String::new();
        for i in 0..50_000 {
            long.push_str(&format!("cat filler{i} "));
        }
        let hits = index.search(&long, 3).unwrap();
        assert_eq!(hits[0].key, "d5");
        // Weighted by count: same ranking as a single "cat".
        let one = index.search("cat", 3).unwrap();
        assert_eq!(keys(&hits), keys(&one));
        assert!((hits[0].score / one[0].score - 50_000.0).abs() < 1.0);
    }

    #[test]
    fn shared_between_threads_for_concurrent_searches() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Bm25Index>();
        let index = index(Bm25Params::default());
        let want = index.search("cat dog fox", 10).unwrap();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..200 {
                        assert_eq!(index.search("cat dog fox", 10).unwrap(), want);
                    }
                });
            }
        });
    }

    #[test]
    fn k_zero_and_empty_index() {
        let index = index(Bm25Params::default());
        assert!(index.search("cat", 0).unwrap().is_empty());
        let empty = Bm25Index::new(Analyzer::German, Bm25Params::default()).unwrap();
        assert!(empty.is_empty());
        assert!(empty.search("Katze", 10).unwrap().is_empty());
    }

    #[test]
    fn parameters_are_validated_and_changeable_without_reindexing() {
        assert!(Bm25Index::new(Analyzer::English, Bm25Params::lucene(1.2, 2.0)).is_err());
        let mut index = index(Bm25Params::default());
        let before = index.search("cat", 10).unwrap();
        index.set_params(Bm25Params::lucene(1.2, 0.75)).unwrap();
        let after = index.search("cat", 10).unwrap();
        let fresh = self::index(Bm25Params::lucene(1.2, 0.75));
        assert_eq!(after, fresh.search("cat", 10).unwrap());
        assert_ne!(before, after);
        assert!(index.set_params(Bm25Params::lucene(-1.0, 0.5)).is_err());
        assert_eq!(index.params(), Bm25Params::lucene(1.2, 0.75));
    }

    #[test]
    fn empty_documents_are_indexed_but_never_match() {
        let mut index = Bm25Index::new(Analyzer::English, Bm25Params::default()).unwrap();
        index.upsert("empty", "").unwrap();
        index.upsert("stop", "the and of").unwrap();
        index.upsert("cat", "cat").unwrap();
        assert_eq!(index.len(), 3);
        assert_eq!(keys(&index.search("cat", 10).unwrap()), vec!["cat"]);
    }
}
