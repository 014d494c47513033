//! The storage API: what a search or an ingest needs from a collection,
//! whichever backend holds it.
//!
//! [`Collection`] (embedded: WAL, segments, HNSW) implements it today; a
//! PostgreSQL + pgvector backend will implement the same traits for users
//! who outgrow one machine, and the CLI, server and pipelines are written
//! against the traits. Reading and writing are split (as in qdrant's
//! segment) because most holders only read: a searcher never needs the
//! writer's lock, and a read-only replica can be a `PointReader` alone.
//!
//! Methods return owned values and `Result` everywhere: a remote backend
//! can fail on any call and cannot lend references into its memory.

use fundus_core::{Filter, Hit};

use crate::collection::Collection;
use crate::error::StoreError;
use crate::manifest::CollectionConfig;
use crate::point::Point;
use crate::vector_index::SearchOptions;

/// Read access to one collection's points.
pub trait PointReader {
    /// What the collection is: dimension, metric, model, index.
    fn config(&self) -> &CollectionConfig;

    /// Live points (chunks).
    fn count(&self) -> Result<usize, StoreError>;

    /// Live documents.
    fn count_documents(&self) -> Result<usize, StoreError>;

    /// The chunks of one document, in chunk order (empty if unknown).
    fn get(&self, doc_id: &str) -> Result<Vec<Point>, StoreError>;

    /// Up to `limit` document ids after `after`, in id order.
    fn scroll(&self, after: Option<&str>, limit: usize) -> Result<Vec<String>, StoreError>;

    /// The `k` best documents for a query vector (a document scores with
    /// its best chunk) among the points whose payload satisfies `filter`.
    fn search(
        &self,
        query: &[f32],
        k: usize,
        filter: Option<&Filter>,
        options: &SearchOptions,
    ) -> Result<Vec<Hit>, StoreError>;
}

/// Write access; an acknowledged write (`Ok`) survives a crash.
pub trait PointWriter: PointReader {
    /// Inserts points, replacing every existing point of the documents
    /// they belong to; returns how many documents were replaced.
    fn upsert(&mut self, points: &[Point], vectors: &[Vec<f32>]) -> Result<usize, StoreError>;

    /// Deletes documents (all their chunks); returns how many existed.
    fn delete(&mut self, doc_ids: &[&str]) -> Result<usize, StoreError>;

    /// Makes the collection quick to open: folds logged writes into its
    /// long-term form. Durability does not depend on it.
    fn flush(&mut self) -> Result<(), StoreError>;
}

impl PointReader for Collection {
    fn config(&self) -> &CollectionConfig {
        Collection::config(self)
    }

    fn count(&self) -> Result<usize, StoreError> {
        Ok(self.len())
    }

    fn count_documents(&self) -> Result<usize, StoreError> {
        Ok(self.documents())
    }

    fn get(&self, doc_id: &str) -> Result<Vec<Point>, StoreError> {
        Ok(Collection::get(self, doc_id).into_iter().cloned().collect())
    }

    fn scroll(&self, after: Option<&str>, limit: usize) -> Result<Vec<String>, StoreError> {
        Ok(Collection::scroll(self, after, limit)
            .into_iter()
            .map(str::to_string)
            .collect())
    }

    fn search(
        &self,
        query: &[f32],
        k: usize,
        filter: Option<&Filter>,
        options: &SearchOptions,
    ) -> Result<Vec<Hit>, StoreError> {
        self.search_with(query, k, filter, options)
    }
}

impl PointWriter for Collection {
    fn upsert(&mut self, points: &[Point], vectors: &[Vec<f32>]) -> Result<usize, StoreError> {
        Collection::upsert(self, points, vectors)
    }

    fn delete(&mut self, doc_ids: &[&str]) -> Result<usize, StoreError> {
        Collection::delete(self, doc_ids)
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        Collection::flush(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DataDir, ModelInfo};
    use fundus_core::Metric;

    /// Written against the traits only, as a backend-agnostic caller is.
    fn round_trip(store: &mut dyn PointWriter) -> Result<(), StoreError> {
        let mut p = Point::whole("a", "first");
        p.metadata = Some(serde_json::json!({ "lang": "de" }));
        store.upsert(
            &[p, Point::whole("b", "second")],
            &[vec![1.0, 0.0], vec![0.0, 1.0]],
        )?;
        assert_eq!((store.count()?, store.count_documents()?), (2, 2));
        let f = Filter::parse(r#"lang = "de""#).unwrap();
        let hits = store.search(&[0.0, 1.0], 5, Some(&f), &SearchOptions::default())?;
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].id, "a");
        assert_eq!(store.delete(&["a"])?, 1);
        assert!(store.get("a")?.is_empty());
        assert_eq!(store.scroll(None, 10)?, vec!["b".to_string()]);
        store.flush()
    }

    #[test]
    fn a_collection_serves_through_the_traits() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path());
        let mut c = data
            .create(CollectionConfig::new(
                "t",
                ModelInfo::toy(2),
                Metric::Cosine,
            ))
            .unwrap();
        round_trip(&mut c).unwrap();
        assert_eq!(PointReader::config(&c).dim, 2);
    }
}
