//! Collections on disk.
//!
//! A *data directory* holds collections; a [`Collection`] holds points (one
//! chunk of one document each, with its payload) and their vectors, and
//! remembers the model that produced them so a query embedded with another
//! model can be refused.
//!
//! Durability comes from a write-ahead log ([`wal`]) that is fsynced before
//! a write is acknowledged, immutable checksummed segments ([`segment`])
//! the log is folded into, and a manifest replaced atomically that names
//! the segments and how far into the log they reach.
//!
//! Callers that should work with any backend (the embedded collection,
//! PostgreSQL + pgvector later) use the [`PointReader`] and [`PointWriter`]
//! traits ([`store`]).
//!
//! Aliases ([`alias`]) give a collection a stable name that switches
//! atomically (blue-green re-embedding, roll back); snapshots
//! ([`snapshot`]) copy a collection into one file while writes go on, and
//! restore it under a new name.
//!
//! ```
//! use fundus_core::Metric;
//! use fundus_store::{CollectionConfig, DataDir, ModelInfo, Point};
//!
//! let tmp = tempfile::tempdir().unwrap();
//! let data = DataDir::new(tmp.path());
//! let model = ModelInfo { name: "toy".into(), source: "toy".into(), sha256: "0".into(), dim: 2, max_seq_length: 8,
//!     query_prefix: None, passage_prefix: None };
//! let mut c = data.create(CollectionConfig::new("docs", model, Metric::Cosine)).unwrap();
//! c.upsert(&[Point::whole("a", "first")], &[vec![1.0, 0.0]]).unwrap();
//! let hits = c.search(&[1.0, 0.1], 1).unwrap();
//! assert_eq!(hits[0].id, "a");
//! ```

pub mod alias;
pub mod collection;
pub mod data_dir;
pub mod error;
pub mod manifest;
mod merge;
pub mod point;
pub mod segment;
pub mod snapshot;
pub mod sparse_vectors;
pub mod store;
pub mod text_index;
pub mod vector_index;
pub mod wal;

pub use collection::Collection;
pub use data_dir::DataDir;
pub use error::StoreError;
pub use manifest::{ChunkingInfo, CollectionConfig, IndexFile, ModelInfo};
pub use point::{Point, SparseVector};
pub use snapshot::SnapshotInfo;
pub use sparse_vectors::{SparseModelInfo, SparseVectorConfig, SparseVectorStats};
pub use store::{PointReader, PointWriter};
pub use text_index::TextIndexConfig;
pub use vector_index::{IndexConfig, SearchOptions, VectorMemory};
