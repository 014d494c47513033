//! Sparse retrieval for Fundus: BM25 over its own inverted index.
//!
//! Dense embeddings miss exact words: product codes ("LABO-288"), norms
//! ("DIN 13277"), rare names. BM25 finds them, and fused with dense
//! retrieval it is the strongest cheap baseline there is. This crate holds
//! the lexical side:
//!
//! - [`Analyzer`]: text to terms (Unicode words, product codes kept whole,
//!   lower-casing, stop words, Snowball stemming) for English and German;
//!   `german-compounds` also splits compounds into the known words of the
//!   collection ([`compound`]).
//! - [`Bm25Params`]: k1, b and the formula ([`Bm25Variant`]: Lucene,
//!   Robertson, BM25+), with bm25s' exact definitions.
//! - [`Bm25Index`]: documents by key; upsert and delete take effect at once
//!   (statistics included), search returns the best `k` keys, and the
//!   index saves to and loads from one checksummed file.
//! - [`SparseVectorIndex`]: learned sparse vectors (SPLADE) by key, exact
//!   dot-product search over an inverted index of term-id postings, same
//!   upsert/delete/save/load contract.
//!
//! Why not tantivy: it fixes k1 = 1.2 and b = 0.75 and stores document
//! lengths quantized to a byte. Here lengths are exact and parameters are
//! chosen per search; `bench/bm25` measures both against bm25s.
//!
//! ```
//! use fundus_sparse::{Analyzer, Bm25Index, Bm25Params};
//!
//! let analyzer = Analyzer::from_name("english")?;
//! let index = Bm25Index::build(
//!     analyzer,
//!     Bm25Params::default(),
//!     [
//!         ("d1", "Vitamin D deficiency and bone density"),
//!         ("d2", "Bones of the inner ear"),
//!     ],
//! )?;
//! let hits = index.search("vitamin D and bones", 10)?;
//! assert_eq!(hits[0].key, "d1");
//! # Ok::<(), fundus_sparse::SparseError>(())
//! ```

mod decompound;
mod error;
mod file;
mod inverted_index;
mod leaders;
mod search;
mod segment;
mod stem_cache;
#[cfg(test)]
mod test_rng;

pub mod analyzer;
pub mod bm25;
pub mod compound;
pub mod index;
pub mod sparse_index;

pub use analyzer::Analyzer;
pub use bm25::{Bm25Params, Bm25Variant};
pub use compound::Lexicon;
pub use decompound::MIN_DF as COMPOUND_MIN_DF;
pub use error::SparseError;
pub use index::{Bm25Hit, Bm25Index, Bm25Stats};
pub use sparse_index::{SparseIndexStats, SparseVectorIndex};
