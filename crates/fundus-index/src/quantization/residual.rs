//! Residual codes for re-ranking a binary graph's beam: two bits per
//! dimension of the vector *minus its nearest coarse centroid*, with a
//! per-vector correction.
//!
//! Why: a code of the vector itself spends its bits on what neighbours
//! share. When the data is clustered (1M synthetic vectors in 1,000
//! clusters, bench/ann), every member of a cluster has nearly the same
//! bits, the ones its centre sets, and a query's true top-10 is told apart
//! from the rest of its cluster by the small remainder those bits barely
//! see: two-bit codes of the vectors re-ranked 40 candidates to recall@10
//! 0.899 in a full scan there. Coding `r = x - c` (IVF-style residuals,
//! as RaBitQ and PQ with a coarse quantizer do) spends every bit on what
//! differs between neighbours; with the estimator below the same 40
//! candidates reach 0.987 (`bench/RESULTS.md`).
//!
//! The estimate of `q · x = q · c + q · r` keeps what can be known exactly
//! at index time: `c · r` is stored, and only `(q - c) · r` is read off the
//! code, so its error scales with the query's distance from the centroid,
//! not with the query's length. `(q - c) · r ≈ s · (q - c) · r̂`, where `r̂`
//! is the code's reconstruction (the two-bit levels of
//! [`BinaryQuantizer`]) and `s = |r|² / (r · r̂)` undoes the shrinkage of
//! the reconstruction along `r` (RaBitQ's correction; measured on the 1M
//! set: 0.902 without it, 0.987 with it). Per vector that is a centroid
//! number and two floats beside the code, folded so that a score is one
//! table lookup for the centroid and one asymmetric code score:
//! `q · c[id] + offset + s · A(q, code)`.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use fundus_core::distance::dot;

use super::binary::{AsymmetricQuery, BinaryQuantizer};
use crate::error::IndexError;

/// Most coarse centroids: beyond ~1,000 a query pays more for scoring the
/// centroids than the residuals gain (and k-means takes longer).
const MAX_CENTROIDS: usize = 1024;
/// Training vectors per centroid: fewer and the centroids fit noise.
const ROWS_PER_CENTROID: usize = 32;
/// Lloyd iterations; the assignment barely moves after a few.
const ITERATIONS: usize = 10;
/// Bytes of a payload before the residual code: centroid (u32), scale
/// and offset (f32), little-endian.
const HEADER_BYTES: usize = 12;

/// Coarse centroids and the two-bit quantizer of the residuals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "ResidualCoderParts", into = "ResidualCoderParts")]
pub struct ResidualCoder {
    dim: usize,
    /// Row-major, `dim` floats each.
    centroids: Vec<f32>,
    /// `|c|²` per centroid (derived, not stored).
    norms: Vec<f32>,
    quantizer: BinaryQuantizer,
}

/// The serialized form of a [`ResidualCoder`]: what cannot be derived.
#[derive(Serialize, Deserialize)]
struct ResidualCoderParts {
    dim: usize,
    centroids: Vec<f32>,
    quantizer: BinaryQuantizer,
}

impl From<ResidualCoderParts> for ResidualCoder {
    fn from(p: ResidualCoderParts) -> Self {
        ResidualCoder {
            norms: norms(&p.centroids, p.dim),
            dim: p.dim,
            centroids: p.centroids,
            quantizer: p.quantizer,
        }
    }
}

impl From<ResidualCoder> for ResidualCoderParts {
    fn from(c: ResidualCoder) -> Self {
        ResidualCoderParts {
            dim: c.dim,
            centroids: c.centroids,
            quantizer: c.quantizer,
        }
    }
}

/// A float query prepared for [`ResidualQuery::score`].
#[derive(Debug, Clone)]
pub struct ResidualQuery {
    /// `q · c` for every centroid.
    centroid_scores: Vec<f32>,
    residual: AsymmetricQuery,
}

impl ResidualCoder {
    /// Learns `min(rows / 32, 1024)` (at least one) centroids from
    /// row-major `sample` by k-means, then the two-bit levels of the
    /// sample's residuals.
    pub fn train(sample: &[f32], dim: usize) -> Result<Self, IndexError> {
        super::check_training_set(sample, dim, "binary")?;
        let rows = sample.len() / dim;
        let k = (rows / ROWS_PER_CENTROID).clamp(1, MAX_CENTROIDS);
        let centroids = kmeans(sample, dim, k);
        let norms = norms(&centroids, dim);
        let mut residuals = sample.to_vec();
        residuals
            .par_chunks_exact_mut(dim)
            .for_each(|x| subtract(x, nearest_centroid(&centroids, &norms, x).1));
        let quantizer = BinaryQuantizer::train_bits(&residuals, dim, 2)?;
        Ok(ResidualCoder {
            dim,
            centroids,
            norms,
            quantizer,
        })
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of coarse centroids.
    pub fn centroids(&self) -> usize {
        self.centroids.len() / self.dim.max(1)
    }

    /// Bytes of one vector's payload: the header and the residual code.
    pub fn payload_bytes(&self) -> usize {
        HEADER_BYTES + self.quantizer.code_bytes()
    }

    /// Checks a coder read from a file against the dimension; the message
    /// says what is off.
    pub fn check(&self, dim: usize) -> Result<(), String> {
        if self.dim != dim || dim == 0 {
            return Err(format!(
                "residual codec is for {} dimensions, expected {dim}",
                self.dim
            ));
        }
        if self.centroids.is_empty() || !self.centroids.len().is_multiple_of(dim) {
            return Err(format!(
                "residual codec holds {} centroid floats, not a positive multiple of {dim}",
                self.centroids.len()
            ));
        }
        if self.norms.len() != self.centroids() {
            return Err("residual codec's centroid norms do not match its centroids".into());
        }
        if self.centroids() > u32::MAX as usize {
            return Err("residual codec holds too many centroids".into());
        }
        if self.quantizer.bits() != 2 {
            return Err("residual codec must code two bits per dimension".into());
        }
        self.quantizer.check(dim)
    }

    /// Appends the payload of prepared vector `v` (see the module comment).
    pub fn encode_into(&self, v: &[f32], out: &mut Vec<u8>) {
        let (id, c) = nearest_centroid(&self.centroids, &self.norms, v);
        let mut r = v.to_vec();
        subtract(&mut r, c);
        let mut words = Vec::with_capacity(self.quantizer.words());
        self.quantizer.encode_into(&r, &mut words);
        let approx = self.quantizer.decode(&words);
        // The asymmetric score is `A(q) = q · r̂ + κ` with `κ = t · (t - r̂)`
        // (binary.rs), `t` the residuals' means.
        let t = self.quantizer.thresholds();
        let kappa = dot(t, t) - dot(t, &approx);
        let along = dot(&r, &approx);
        let (rr, aa) = (dot(&r, &r), dot(&approx, &approx));
        // A residual the code barely points along (or none at all: the
        // vector is its centroid) keeps the plain reconstruction.
        let scale = if along > 1e-3 * (rr * aa).sqrt() && rr > 0.0 {
            rr / along
        } else {
            1.0
        };
        let offset = dot(c, &r) - scale * (kappa + dot(c, &approx));
        out.extend_from_slice(&(id as u32).to_le_bytes());
        out.extend_from_slice(&scale.to_le_bytes());
        out.extend_from_slice(&offset.to_le_bytes());
        self.quantizer.append_code_bytes(&words, out);
    }

    /// Prepares a (prepared: normalized for cosine) float query.
    pub fn prepare_query(&self, q: &[f32]) -> ResidualQuery {
        ResidualQuery {
            centroid_scores: self
                .centroids
                .chunks_exact(self.dim)
                .map(|c| dot(q, c))
                .collect(),
            residual: self.quantizer.prepare_query(q),
        }
    }
}

impl ResidualQuery {
    /// The estimated dot product of the query with the vector whose
    /// payload is `payload` (as [`ResidualCoder::encode_into`] wrote it).
    #[inline]
    pub fn score(&self, payload: &[u8]) -> f32 {
        let field = |i: usize| {
            let mut b = [0u8; 4];
            if let Some(src) = payload.get(4 * i..4 * i + 4) {
                b.copy_from_slice(src);
            }
            b
        };
        let id = u32::from_le_bytes(field(0)) as usize;
        let scale = f32::from_le_bytes(field(1));
        let offset = f32::from_le_bytes(field(2));
        // Payloads come from checksummed files, so an unknown centroid
        // cannot occur; if it did, the vector ranks last rather than panic.
        let Some(&base) = self.centroid_scores.get(id) else {
            return f32::NEG_INFINITY;
        };
        let code = payload.get(HEADER_BYTES..).unwrap_or(&[]);
        base + offset + scale * self.residual.score(code)
    }
}

fn subtract(x: &mut [f32], c: &[f32]) {
    x.iter_mut().zip(c).for_each(|(x, &c)| *x -= c);
}

fn norms(centroids: &[f32], dim: usize) -> Vec<f32> {
    centroids
        .chunks_exact(dim.max(1))
        .map(|c| dot(c, c))
        .collect()
}

/// The centroid nearest to `x` by squared distance (`|c|² - 2 x · c`, the
/// `norms` being `|c|²`), and its number.
fn nearest_centroid<'a>(centroids: &'a [f32], norms: &[f32], x: &[f32]) -> (usize, &'a [f32]) {
    let dim = x.len();
    let mut best = (0, f32::INFINITY);
    for (j, (c, &n)) in centroids.chunks_exact(dim).zip(norms).enumerate() {
        let d = n - 2.0 * dot(x, c);
        if d < best.1 {
            best = (j, d);
        }
    }
    (best.0, &centroids[best.0 * dim..(best.0 + 1) * dim])
}

/// Lloyd's k-means from `k` evenly spaced rows of `data`. Deterministic:
/// the assignment runs in parallel, the update in row order.
fn kmeans(data: &[f32], dim: usize, k: usize) -> Vec<f32> {
    let rows = data.len() / dim;
    let step = rows / k;
    let mut centroids: Vec<f32> = (0..k)
        .flat_map(|j| data[j * step * dim..(j * step + 1) * dim].iter().copied())
        .collect();
    let mut assignment = vec![usize::MAX; rows];
    for _ in 0..ITERATIONS {
        let norms = norms(&centroids, dim);
        let next: Vec<usize> = data
            .par_chunks_exact(dim)
            .map(|x| nearest_centroid(&centroids, &norms, x).0)
            .collect();
        if next == assignment {
            break;
        }
        assignment = next;
        let mut sums = vec![0.0f64; k * dim];
        let mut counts = vec![0usize; k];
        for (x, &a) in data.chunks_exact(dim).zip(&assignment) {
            counts[a] += 1;
            sums[a * dim..(a + 1) * dim]
                .iter_mut()
                .zip(x)
                .for_each(|(s, &v)| *s += v as f64);
        }
        // An emptied centroid keeps its place (it was a data row once).
        for (j, &n) in counts.iter().enumerate().filter(|(_, &n)| n > 0) {
            centroids[j * dim..(j + 1) * dim]
                .iter_mut()
                .zip(&sums[j * dim..(j + 1) * dim])
                .for_each(|(c, &s)| *c = (s / n as f64) as f32);
        }
    }
    centroids
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata;

    /// Exact dot products of the query with `data`'s rows.
    fn exact(data: &[f32], dim: usize, q: &[f32]) -> Vec<f32> {
        data.chunks_exact(dim).map(|x| dot(q, x)).collect()
    }

    #[test]
    fn a_vector_equal_to_its_centroid_scores_exactly() {
        // Two far-apart points, 64 rows: k = 2, each point its own centroid.
        let dim = 4;
        let a = [1.0, 0.0, 0.0, 0.0];
        let b = [0.0, 0.0, 1.0, 0.0];
        let data: Vec<f32> = (0..64)
            .flat_map(|i| if i % 2 == 0 { a } else { b })
            .collect();
        let coder = ResidualCoder::train(&data, dim).unwrap();
        assert_eq!(coder.centroids(), 2);
        assert_eq!(coder.check(dim), Ok(()));
        let q = [0.5, -0.25, 2.0, 1.0];
        let query = coder.prepare_query(&q);
        for v in [a, b] {
            let mut payload = Vec::new();
            coder.encode_into(&v, &mut payload);
            assert_eq!(payload.len(), coder.payload_bytes());
            let s = query.score(&payload);
            assert!((s - dot(&q, &v)).abs() < 1e-5, "{s} vs {}", dot(&q, &v));
        }
    }

    /// Recall@10 of the exact top-10 among the 40 best by `estimate`,
    /// rescored exactly, over `queries`.
    fn recall_of_40(
        data: &[f32],
        dim: usize,
        queries: &[f32],
        estimate: &dyn Fn(&[f32]) -> Vec<f32>,
    ) -> f64 {
        let mut found = 0;
        let mut total = 0;
        for q in queries.chunks_exact(dim) {
            let truth = exact(data, dim, q);
            let mut order: Vec<usize> = (0..truth.len()).collect();
            order.sort_by(|&a, &b| truth[b].total_cmp(&truth[a]));
            let est = estimate(q);
            let mut cands: Vec<usize> = (0..est.len()).collect();
            cands.sort_by(|&a, &b| est[b].total_cmp(&est[a]));
            cands.truncate(40);
            cands.sort_by(|&a, &b| truth[b].total_cmp(&truth[a]));
            found += order[..10]
                .iter()
                .filter(|r| cands[..10].contains(r))
                .count();
            total += 10;
        }
        found as f64 / total as f64
    }

    #[test]
    fn residuals_rank_members_of_a_cluster_better_than_plain_codes() {
        // Tight clusters far apart: the two-bit code of a vector mostly
        // says which cluster it is in; its residual says where in it.
        let dim = 32;
        let mut rng = testdata::XorShift::new(7);
        let centers = testdata::centers(&mut rng, 40, dim);
        let data = testdata::clustered(&mut rng, &centers, dim, 4000, 0.3);
        let queries = testdata::clustered(&mut rng, &centers, dim, 40, 0.3);
        let coder = ResidualCoder::train(&data, dim).unwrap();
        assert_eq!(coder.centroids(), 4000 / ROWS_PER_CENTROID);
        let payloads: Vec<Vec<u8>> = data
            .chunks_exact(dim)
            .map(|v| {
                let mut p = Vec::new();
                coder.encode_into(v, &mut p);
                p
            })
            .collect();
        let residual = recall_of_40(&data, dim, &queries, &|q| {
            let prepared = coder.prepare_query(q);
            payloads.iter().map(|p| prepared.score(p)).collect()
        });
        let plain_coder = BinaryQuantizer::train_bits(&data, dim, 2).unwrap();
        let codes: Vec<Vec<u64>> = data
            .chunks_exact(dim)
            .map(|v| {
                let mut w = Vec::new();
                plain_coder.encode_into(v, &mut w);
                w
            })
            .collect();
        let plain = recall_of_40(&data, dim, &queries, &|q| {
            let prepared = plain_coder.prepare_query(q);
            codes.iter().map(|c| prepared.score_words(c)).collect()
        });
        assert!(residual >= 0.95, "residual recall {residual}");
        assert!(residual > plain, "residual {residual} vs plain {plain}");
    }

    #[test]
    fn a_damaged_coder_is_named() {
        let data: Vec<f32> = (0..256).map(|i| (i % 7) as f32).collect();
        let mut coder = ResidualCoder::train(&data, 8).unwrap();
        assert!(coder.check(16).unwrap_err().contains("16"));
        coder.centroids.pop();
        assert!(coder.check(8).unwrap_err().contains("centroid floats"));
        assert!(matches!(
            ResidualCoder::train(&[], 8),
            Err(IndexError::EmptyTrainingSet { .. })
        ));
    }
}
