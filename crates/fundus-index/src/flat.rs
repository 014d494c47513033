//! Exact search: score the query against every vector.

use rayon::prelude::*;

use fundus_core::metric::validate_vector;
use fundus_core::{distance, Metric};

use crate::error::IndexError;
use fundus_core::TopK;

/// Vectors are scored in blocks of this many rows per task: large enough
/// that rayon's overhead vanishes, small enough to balance two to sixty
/// cores.
const BLOCK_ROWS: usize = 4096;

/// Exact (brute-force) index over row-major `f32` vectors.
///
/// Vectors are stored prepared for the metric (unit length for cosine), so a
/// query costs one kernel call per row and nothing else.
#[derive(Debug, Clone)]
pub struct FlatIndex {
    dim: usize,
    metric: Metric,
    data: Vec<f32>,
}

impl FlatIndex {
    pub fn new(dim: usize, metric: Metric) -> Self {
        FlatIndex {
            dim,
            metric,
            data: Vec::new(),
        }
    }

    /// Wraps vectors that are already prepared for `metric` (for example
    /// read back from disk).
    pub fn from_prepared(dim: usize, metric: Metric, data: Vec<f32>) -> Result<Self, IndexError> {
        if dim == 0 || !data.len().is_multiple_of(dim) {
            return Err(IndexError::RaggedData {
                len: data.len(),
                dim,
            });
        }
        Ok(FlatIndex { dim, metric, data })
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn metric(&self) -> Metric {
        self.metric
    }

    pub fn len(&self) -> usize {
        self.data.len() / self.dim.max(1)
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The stored (prepared) vector of row `i`.
    pub fn vector(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// All rows, row-major.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    /// Drops every row from `len` on (undoes appends that were not committed).
    pub fn truncate(&mut self, len: usize) {
        self.data.truncate(len * self.dim);
    }

    /// Appends a vector that is already prepared for the metric (read back
    /// from storage) and returns its row number.
    pub fn add_prepared(&mut self, v: &[f32]) -> Result<u32, IndexError> {
        validate_vector(v, self.dim)?;
        let row = self.len() as u32;
        self.data.extend_from_slice(v);
        Ok(row)
    }

    /// Appends a vector and returns its row number.
    pub fn add(&mut self, v: &[f32]) -> Result<u32, IndexError> {
        validate_vector(v, self.dim)?;
        let row = self.len() as u32;
        let start = self.data.len();
        self.data.extend_from_slice(v);
        self.metric.prepare(&mut self.data[start..]);
        Ok(row)
    }

    /// The `k` best rows for `query`, best first, as `(row, score)`.
    pub fn search(&self, query: &[f32], k: usize) -> Result<Vec<(u32, f32)>, IndexError> {
        self.search_filtered(query, k, &|_| true)
    }

    /// The `k` best rows among those `allow` accepts. The predicate is
    /// checked inside the scan, before scoring, so a selective filter makes
    /// the search cheaper and never returns fewer than `k` matching rows
    /// when they exist.
    pub fn search_filtered(
        &self,
        query: &[f32],
        k: usize,
        allow: &(dyn Fn(u32) -> bool + Sync),
    ) -> Result<Vec<(u32, f32)>, IndexError> {
        validate_vector(query, self.dim)?;
        let mut q = query.to_vec();
        self.metric.prepare(&mut q);
        let dim = self.dim;
        let metric = self.metric;
        let dot = distance::dot_kernel();
        let l2 = distance::l2_squared_kernel();
        let top = self
            .data
            .par_chunks(BLOCK_ROWS * dim)
            .enumerate()
            .map(|(block, rows)| {
                let mut top = TopK::new(k);
                let base = (block * BLOCK_ROWS) as u32;
                for (i, row) in rows.chunks_exact(dim).enumerate() {
                    if !allow(base + i as u32) {
                        continue;
                    }
                    let score = match metric {
                        Metric::Cosine | Metric::Dot => dot(&q, row),
                        // Rank by squared distance; the root is taken only
                        // for the k survivors below.
                        Metric::Euclidean => -l2(&q, row),
                    };
                    if score > top.threshold() {
                        top.push(base + i as u32, score);
                    }
                }
                top
            })
            .reduce(
                || TopK::new(k),
                |mut a, b| {
                    a.merge(b);
                    a
                },
            );
        let mut hits = top.into_sorted();
        if metric == Metric::Euclidean {
            hits.iter_mut().for_each(|(_, s)| *s = -(-*s).sqrt());
        }
        Ok(hits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fundus_core::CoreError;

    fn index(metric: Metric) -> FlatIndex {
        let mut idx = FlatIndex::new(3, metric);
        for v in [
            [1.0, 0.0, 0.0],
            [0.0, 2.0, 0.0],
            [0.0, 0.0, 3.0],
            [1.0, 1.0, 0.0],
        ] {
            idx.add(&v).unwrap();
        }
        idx
    }

    #[test]
    fn cosine_ignores_length() {
        let hits = index(Metric::Cosine).search(&[0.0, 5.0, 0.0], 2).unwrap();
        assert_eq!(hits[0].0, 1);
        assert!((hits[0].1 - 1.0).abs() < 1e-6);
        assert_eq!(hits[1].0, 3);
    }

    #[test]
    fn dot_prefers_long_vectors() {
        let hits = index(Metric::Dot).search(&[1.0, 1.0, 1.0], 1).unwrap();
        assert_eq!(hits[0], (2, 3.0));
    }

    #[test]
    fn euclidean_returns_negated_distance() {
        let hits = index(Metric::Euclidean)
            .search(&[0.0, 0.0, 2.0], 1)
            .unwrap();
        assert_eq!(hits[0].0, 2);
        assert!((hits[0].1 + 1.0).abs() < 1e-6);
    }

    #[test]
    fn matches_a_sort_on_many_blocks() {
        let dim = 8;
        let n = BLOCK_ROWS * 2 + 17;
        let mut idx = FlatIndex::new(dim, Metric::Dot);
        let mut all = Vec::new();
        for i in 0..n {
            let v: Vec<f32> = (0..dim)
                .map(|j| ((i * 31 + j * 7) % 97) as f32 / 97.0)
                .collect();
            idx.add(&v).unwrap();
            all.push(v);
        }
        let q = vec![0.3; dim];
        let mut expected: Vec<(u32, f32)> = all
            .iter()
            .enumerate()
            .map(|(i, v)| (i as u32, distance::dot(&q, v)))
            .collect();
        expected.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        expected.truncate(10);
        assert_eq!(idx.search(&q, 10).unwrap(), expected);
    }

    #[test]
    fn filtered_search_only_returns_allowed_rows() {
        let idx = index(Metric::Cosine);
        let hits = idx
            .search_filtered(&[0.0, 5.0, 0.0], 3, &|row| row % 2 == 0)
            .unwrap();
        let rows: Vec<u32> = hits.iter().map(|h| h.0).collect();
        assert_eq!(rows, vec![0, 2]);
    }

    #[test]
    fn wrong_dimension_and_nan_are_refused() {
        let mut idx = index(Metric::Cosine);
        assert_eq!(
            idx.search(&[1.0], 1),
            Err(IndexError::Core(CoreError::WrongVectorDimension {
                expected: 3,
                received: 1
            }))
        );
        assert!(idx.add(&[f32::NAN, 0.0, 0.0]).is_err());
        assert_eq!(idx.len(), 4);
    }
}
