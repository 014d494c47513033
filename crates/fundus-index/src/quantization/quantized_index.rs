//! Flat search over quantized codes, with exact rescoring of the best
//! candidates.

use rayon::prelude::*;

use fundus_core::metric::validate_vector;
use fundus_core::{distance, Metric};

use super::binary::{self, BinaryQuantizer};
use super::int8::Int8Quantizer;
use super::pq::{self, ProductQuantizer};
use super::residual::ResidualCoder;
use super::{f16, Quantization, SearchParams};
use crate::error::IndexError;
use fundus_core::TopK;

/// Rows scored per parallel task, as in [`crate::FlatIndex`]: rayon's
/// overhead vanishes and two to sixty cores stay balanced.
const BLOCK_ROWS: usize = 4096;

/// What the scan reads, per quantization.
#[derive(Debug, Clone)]
enum Codes {
    /// No codes: the scan reads the original floats.
    None,
    Float16(Vec<u16>),
    Int8 {
        quantizer: Int8Quantizer,
        codes: Vec<u8>,
        /// `|x̂|²` per vector; kept only for the euclidean metric.
        norms: Vec<f32>,
    },
    Binary {
        quantizer: BinaryQuantizer,
        codes: Vec<u64>,
    },
    /// Two bits per dimension for dot and cosine: the residual from the
    /// nearest coarse centroid with its correction (residual.rs), which
    /// ranks clustered data far better than two-bit codes of the vectors.
    Residual {
        coder: ResidualCoder,
        /// `coder.payload_bytes()` per row.
        payloads: Vec<u8>,
    },
    Product {
        quantizer: ProductQuantizer,
        /// One byte per subvector, `subvectors` per row.
        codes: Vec<u8>,
    },
}

/// Bytes an index holds per kind, the two columns of a memory-versus-recall
/// table. Quantizer parameters (a few floats per dimension) are not counted,
/// except product quantization's codebooks (256 floats per dimension, which
/// outweigh the codes of small indexes) and two-bit binary's coarse
/// centroids (up to 1,024 vectors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryUsage {
    /// What the scan reads besides floats: codes plus per-vector correction
    /// terms (int8 keeps `|x̂|²` per vector for euclidean, two-bit binary a
    /// centroid number and two floats), PQ codebooks and coarse centroids.
    /// Zero without quantization, where the scan reads the floats.
    pub codes: usize,
    /// Original `f32` vectors (for rescoring, or the scan itself without
    /// quantization). In a disk-backed store these need not be in memory.
    pub floats: usize,
}

/// Brute-force index over quantized vectors.
///
/// A search scans every code for `ceil(k * oversampling)` candidates by an
/// approximate score, then (with `rescore`) scores those candidates exactly
/// against the original vectors and returns the best `k`. Vectors are
/// prepared for the metric on insert (unit length for cosine), before
/// quantization, as in [`crate::FlatIndex`].
#[derive(Debug, Clone)]
pub struct QuantizedFlatIndex {
    dim: usize,
    metric: Metric,
    quantization: Quantization,
    codes: Codes,
    /// Prepared `f32` rows; `None` once dropped with
    /// [`QuantizedFlatIndex::without_originals`].
    originals: Option<Vec<f32>>,
    len: usize,
}

impl QuantizedFlatIndex {
    /// Trains the quantizer on row-major `vectors` (after preparing them for
    /// `metric`) and encodes them. Int8, binary and product learn ranges or
    /// codebooks from the data and need at least one vector; later
    /// [`add`](Self::add)s reuse them, so build from a representative
    /// sample. Product quantization's subvector count must divide `dim`; the
    /// index records the count in effect, so
    /// [`quantization`](Self::quantization) reports `Some(count)` where the
    /// configuration left it out.
    pub fn build(
        vectors: &[f32],
        dim: usize,
        metric: Metric,
        quantization: Quantization,
    ) -> Result<Self, IndexError> {
        quantization.validate()?;
        if dim == 0 || !vectors.len().is_multiple_of(dim) {
            return Err(IndexError::RaggedData {
                len: vectors.len(),
                dim,
            });
        }
        let mut prepared = vectors.to_vec();
        for row in prepared.chunks_exact_mut(dim) {
            validate_vector(row, dim)?;
            metric.prepare(row);
        }
        let mut quantization = quantization;
        let codes = match quantization {
            Quantization::None => Codes::None,
            Quantization::Float16 => Codes::Float16(Vec::with_capacity(prepared.len())),
            Quantization::Int8 {
                per_dimension,
                quantile,
            } => Codes::Int8 {
                quantizer: Int8Quantizer::train(&prepared, dim, per_dimension, quantile)?,
                codes: Vec::with_capacity(prepared.len()),
                norms: Vec::new(),
            },
            Quantization::Binary { bits: 2 } if metric != Metric::Euclidean => Codes::Residual {
                coder: ResidualCoder::train(&prepared, dim)?,
                payloads: Vec::new(),
            },
            Quantization::Binary { bits } => {
                let quantizer = BinaryQuantizer::train_bits(&prepared, dim, bits)?;
                let capacity = quantizer.words() * (prepared.len() / dim);
                Codes::Binary {
                    quantizer,
                    codes: Vec::with_capacity(capacity),
                }
            }
            Quantization::Product { subvectors } => {
                let subvectors = subvectors.unwrap_or_else(|| pq::default_subvectors(dim));
                quantization = Quantization::Product {
                    subvectors: Some(subvectors),
                };
                Codes::Product {
                    quantizer: ProductQuantizer::train(&prepared, dim, subvectors)?,
                    codes: Vec::new(),
                }
            }
        };
        let mut index = QuantizedFlatIndex {
            dim,
            metric,
            quantization,
            codes,
            originals: None,
            len: 0,
        };
        if let Codes::Product { quantizer, codes } = &mut index.codes {
            // Encoding costs 256 multiply-adds per dimension: in parallel.
            *codes = quantizer.encode_all(&prepared);
        } else {
            for row in prepared.chunks_exact(dim) {
                index.encode(row);
            }
        }
        index.len = prepared.len() / dim;
        index.originals = Some(prepared);
        Ok(index)
    }

    /// Drops the original vectors to save memory. Searches must then turn
    /// `rescore` off. Without quantization the floats are what the scan
    /// reads, so they stay.
    pub fn without_originals(mut self) -> Self {
        if !matches!(self.codes, Codes::None) {
            self.originals = None;
        }
        self
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn metric(&self) -> Metric {
        self.metric
    }

    pub fn quantization(&self) -> Quantization {
        self.quantization
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the original vectors are kept for rescoring.
    pub fn has_originals(&self) -> bool {
        self.originals.is_some()
    }

    /// Appends a vector, encoded with the ranges learned at build time
    /// (values outside them saturate), and returns its row number.
    pub fn add(&mut self, v: &[f32]) -> Result<u32, IndexError> {
        validate_vector(v, self.dim)?;
        let mut row = v.to_vec();
        self.metric.prepare(&mut row);
        self.encode(&row);
        if let Some(originals) = &mut self.originals {
            originals.extend_from_slice(&row);
        }
        let id = self.len as u32;
        self.len += 1;
        Ok(id)
    }

    fn encode(&mut self, row: &[f32]) {
        let euclidean = self.metric == Metric::Euclidean;
        match &mut self.codes {
            Codes::None => {}
            Codes::Float16(codes) => f16::encode_into(row, codes),
            Codes::Int8 {
                quantizer,
                codes,
                norms,
            } => {
                let norm = quantizer.encode_into(row, codes);
                if euclidean {
                    norms.push(norm);
                }
            }
            Codes::Binary { quantizer, codes } => quantizer.encode_into(row, codes),
            Codes::Residual { coder, payloads } => coder.encode_into(row, payloads),
            Codes::Product { quantizer, codes } => quantizer.encode_into(row, codes),
        }
    }

    /// Bytes held in codes and in original floats.
    pub fn memory_bytes(&self) -> MemoryUsage {
        let codes = match &self.codes {
            Codes::None => 0,
            Codes::Float16(c) => std::mem::size_of_val(c.as_slice()),
            Codes::Int8 { codes, norms, .. } => {
                std::mem::size_of_val(codes.as_slice()) + std::mem::size_of_val(norms.as_slice())
            }
            Codes::Binary { codes, .. } => std::mem::size_of_val(codes.as_slice()),
            Codes::Residual { coder, payloads } => {
                payloads.len() + coder.centroids() * coder.dim() * std::mem::size_of::<f32>()
            }
            Codes::Product { quantizer, codes } => {
                codes.len() + std::mem::size_of_val(quantizer.codebooks())
            }
        };
        let floats = self
            .originals
            .as_ref()
            .map_or(0, |o| std::mem::size_of_val(o.as_slice()));
        MemoryUsage { codes, floats }
    }

    /// The `k` best rows for `query`, best first, as `(row, score)`. With
    /// `rescore` the scores are exact metric scores (as [`crate::FlatIndex`]
    /// returns them); without, they are the scan's approximations.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        params: &SearchParams,
    ) -> Result<Vec<(u32, f32)>, IndexError> {
        self.search_filtered(query, k, params, &|_| true)
    }

    /// [`search`](Self::search) among the rows `allow` accepts. The
    /// predicate is checked in the scan before scoring, so every candidate
    /// (and every hit) is an allowed row.
    pub fn search_filtered(
        &self,
        query: &[f32],
        k: usize,
        params: &SearchParams,
        allow: &(dyn Fn(u32) -> bool + Sync),
    ) -> Result<Vec<(u32, f32)>, IndexError> {
        validate_vector(query, self.dim)?;
        let oversampling = params.oversampling_for(&self.quantization)?;
        let exact = matches!(self.codes, Codes::None);
        let rescore = params.rescore && !exact;
        if rescore && self.originals.is_none() {
            return Err(IndexError::NoOriginals);
        }
        if k == 0 || self.len == 0 {
            return Ok(Vec::new());
        }
        let mut q = query.to_vec();
        self.metric.prepare(&mut q);
        let wanted = if rescore {
            ((k as f64 * oversampling as f64).ceil() as usize).min(self.len)
        } else {
            k
        };
        let candidates = self.scan(&q, wanted, allow);
        match (&self.originals, rescore) {
            (Some(originals), true) => {
                let mut top = TopK::new(k);
                for (id, _) in candidates {
                    let i = id as usize;
                    let row = &originals[i * self.dim..(i + 1) * self.dim];
                    top.push(id, self.metric.score(&q, row));
                }
                Ok(top.into_sorted())
            }
            _ => Ok(self.finish_approximate(&q, candidates)),
        }
    }

    /// The `wanted` best rows by the scan's ranking score (higher is better;
    /// for euclidean a monotone stand-in for the distance).
    fn scan(
        &self,
        q: &[f32],
        wanted: usize,
        allow: &(dyn Fn(u32) -> bool + Sync),
    ) -> Vec<(u32, f32)> {
        let dim = self.dim;
        let euclidean = self.metric == Metric::Euclidean;
        match &self.codes {
            Codes::None => {
                let data = self.originals.as_deref().unwrap_or_default();
                let dot = distance::dot_kernel();
                let l2 = distance::l2_squared_kernel();
                top_rows(self.len, wanted, allow, |i| {
                    let row = &data[i * dim..(i + 1) * dim];
                    if euclidean {
                        -l2(q, row)
                    } else {
                        dot(q, row)
                    }
                })
            }
            Codes::Float16(codes) => {
                let dot = f16::dot_kernel();
                let l2 = f16::l2_squared_kernel();
                top_rows(self.len, wanted, allow, |i| {
                    let row = &codes[i * dim..(i + 1) * dim];
                    if euclidean {
                        -l2(q, row)
                    } else {
                        dot(q, row)
                    }
                })
            }
            Codes::Int8 {
                quantizer,
                codes,
                norms,
            } => {
                let prepared = quantizer.prepare_query(q);
                top_rows(self.len, wanted, allow, |i| {
                    let dot = prepared.dot(&codes[i * dim..(i + 1) * dim]);
                    if euclidean {
                        // |q|² - |q - x̂|², the distance up to a constant.
                        2.0 * dot - norms[i]
                    } else {
                        dot
                    }
                })
            }
            Codes::Binary { quantizer, codes } if !euclidean => {
                // The float query against the stored signs (binary.rs).
                let words = quantizer.words();
                let prepared = quantizer.prepare_query(q);
                top_rows(self.len, wanted, allow, |i| {
                    prepared.score_words(&codes[i * words..(i + 1) * words])
                })
            }
            Codes::Residual { coder, payloads } => {
                let bytes = coder.payload_bytes();
                let prepared = coder.prepare_query(q);
                top_rows(self.len, wanted, allow, |i| {
                    prepared.score(&payloads[i * bytes..(i + 1) * bytes])
                })
            }
            Codes::Binary { quantizer, codes } => {
                // Euclidean ranks by Hamming distance: the asymmetric score
                // estimates a dot product, and the distance would also need
                // each vector's norm.
                let words = quantizer.words();
                let mut code = Vec::with_capacity(words);
                quantizer.encode_into(q, &mut code);
                let hamming = binary::hamming_kernel();
                top_rows(self.len, wanted, allow, |i| {
                    quantizer.score(hamming(&code, &codes[i * words..(i + 1) * words]))
                })
            }
            Codes::Product { quantizer, codes } => {
                let m = quantizer.subvectors();
                // Euclidean tables hold negated squared distances, so the
                // score is "higher is better" for every metric.
                let prepared = quantizer.prepare_query(q, self.metric);
                top_rows(self.len, wanted, allow, |i| {
                    prepared.score(&codes[i * m..(i + 1) * m])
                })
            }
        }
    }

    /// Turns ranking scores into the metric's units where they differ
    /// (euclidean: negated distance).
    fn finish_approximate(&self, q: &[f32], mut hits: Vec<(u32, f32)>) -> Vec<(u32, f32)> {
        if self.metric != Metric::Euclidean {
            return hits;
        }
        match &self.codes {
            Codes::None | Codes::Float16(_) | Codes::Product { .. } => {
                hits.iter_mut()
                    .for_each(|(_, s)| *s = -(-*s).max(0.0).sqrt());
            }
            Codes::Int8 { .. } => {
                let q2 = distance::dot(q, q);
                hits.iter_mut()
                    .for_each(|(_, s)| *s = -(q2 - *s).max(0.0).sqrt());
            }
            Codes::Binary { .. } | Codes::Residual { .. } => {}
        }
        hits
    }
}

/// The `wanted` best of rows `0..len` by `score`, scanned in parallel
/// blocks with a bounded heap per block.
fn top_rows<F>(
    len: usize,
    wanted: usize,
    allow: &(dyn Fn(u32) -> bool + Sync),
    score: F,
) -> Vec<(u32, f32)>
where
    F: Fn(usize) -> f32 + Sync,
{
    (0..len.div_ceil(BLOCK_ROWS))
        .into_par_iter()
        .map(|block| {
            let mut top = TopK::new(wanted);
            let start = block * BLOCK_ROWS;
            for i in start..(start + BLOCK_ROWS).min(len) {
                if !allow(i as u32) {
                    continue;
                }
                let s = score(i);
                if s > top.threshold() {
                    top.push(i as u32, s);
                }
            }
            top
        })
        .reduce(
            || TopK::new(wanted),
            |mut a, b| {
                a.merge(b);
                a
            },
        )
        .into_sorted()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::{centers, clustered, XorShift};
    use crate::FlatIndex;
    use fundus_core::CoreError;

    const DIM: usize = 64;
    const K: usize = 10;

    /// 2000 points in 20 clusters and 100 queries from the same clusters.
    fn data() -> (Vec<f32>, Vec<f32>) {
        let mut rng = XorShift::new(7);
        let c = centers(&mut rng, 20, DIM);
        let points = clustered(&mut rng, &c, DIM, 2000, 0.5);
        let queries = clustered(&mut rng, &c, DIM, 100, 0.5);
        (points, queries)
    }

    fn flat(points: &[f32], metric: Metric) -> FlatIndex {
        let mut f = FlatIndex::new(DIM, metric);
        for row in points.chunks_exact(DIM) {
            f.add(row).unwrap();
        }
        f
    }

    /// Exact top-K rows of every query: the ground truth.
    fn truth(exact: &FlatIndex, queries: &[f32]) -> Vec<Vec<u32>> {
        queries
            .chunks_exact(DIM)
            .map(|q| exact.search(q, K).unwrap().iter().map(|h| h.0).collect())
            .collect()
    }

    /// Mean recall@K of `index` against the ground truth.
    fn recall(
        index: &QuantizedFlatIndex,
        truth: &[Vec<u32>],
        queries: &[f32],
        params: &SearchParams,
    ) -> f32 {
        let mut found = 0;
        for (q, truth) in queries.chunks_exact(DIM).zip(truth) {
            let got = index.search(q, K, params).unwrap();
            assert_eq!(got.len(), K);
            found += got.iter().filter(|h| truth.contains(&h.0)).count();
        }
        found as f32 / (truth.len() * K) as f32
    }

    fn no_rescore() -> SearchParams {
        SearchParams {
            rescore: false,
            ..SearchParams::default()
        }
    }

    const INT8: Quantization = Quantization::Int8 {
        per_dimension: true,
        quantile: None,
    };

    const PQ: Quantization = Quantization::Product { subvectors: None };

    #[test]
    fn none_matches_the_flat_index() {
        let (points, queries) = data();
        for metric in [Metric::Cosine, Metric::Dot, Metric::Euclidean] {
            let exact = flat(&points, metric);
            let index =
                QuantizedFlatIndex::build(&points, DIM, metric, Quantization::None).unwrap();
            for q in queries.chunks_exact(DIM).take(10) {
                let got = index.search(q, K, &SearchParams::default()).unwrap();
                assert_eq!(got, exact.search(q, K).unwrap(), "{metric}");
            }
        }
    }

    #[test]
    fn float16_recall() {
        let (points, queries) = data();
        let truth = truth(&flat(&points, Metric::Cosine), &queries);
        let index =
            QuantizedFlatIndex::build(&points, DIM, Metric::Cosine, Quantization::Float16).unwrap();
        let rescored = recall(&index, &truth, &queries, &SearchParams::default());
        let approximate = recall(&index, &truth, &queries, &no_rescore());
        println!("float16 recall@10: rescore {rescored:.3}, no rescore {approximate:.3}");
        assert!(rescored >= 0.99, "{rescored}");
        assert!(approximate >= 0.99, "{approximate}");
    }

    #[test]
    fn int8_recall() {
        let (points, queries) = data();
        let truth = truth(&flat(&points, Metric::Cosine), &queries);
        let index = QuantizedFlatIndex::build(&points, DIM, Metric::Cosine, INT8).unwrap();
        let rescored = recall(&index, &truth, &queries, &SearchParams::default());
        let approximate = recall(&index, &truth, &queries, &no_rescore());
        println!("int8 per-dim recall@10: rescore {rescored:.3}, no rescore {approximate:.3}");
        assert!(rescored >= 0.98, "{rescored}");
        assert!(approximate >= 0.9, "{approximate}");

        for (per_dimension, quantile) in [(false, None), (true, Some(0.99)), (false, Some(0.99))] {
            let q = Quantization::Int8 {
                per_dimension,
                quantile,
            };
            let index = QuantizedFlatIndex::build(&points, DIM, Metric::Cosine, q).unwrap();
            let rescored = recall(&index, &truth, &queries, &SearchParams::default());
            let approximate = recall(&index, &truth, &queries, &no_rescore());
            println!(
                "int8 per_dimension={per_dimension} quantile={quantile:?} recall@10: \
                 rescore {rescored:.3}, no rescore {approximate:.3}"
            );
            // Clipping pays off with outliers; this data has none, so it
            // only saturates the tails (measured 0.97 per dimension, 0.93
            // global, both with rescore).
            assert!(rescored >= 0.9, "{q:?}: {rescored}");
        }
    }

    #[test]
    fn binary_recall() {
        let (points, queries) = data();
        let truth = truth(&flat(&points, Metric::Cosine), &queries);
        let index =
            QuantizedFlatIndex::build(&points, DIM, Metric::Cosine, Quantization::BINARY).unwrap();
        let params = SearchParams {
            oversampling: Some(4.0),
            rescore: true,
        };
        let rescored = recall(&index, &truth, &queries, &params);
        let approximate = recall(&index, &truth, &queries, &no_rescore());
        let wide = recall(
            &index,
            &truth,
            &queries,
            &SearchParams {
                oversampling: Some(10.0),
                rescore: true,
            },
        );
        println!(
            "binary recall@10: oversampling 4 + rescore {rescored:.3}, \
             oversampling 10 + rescore {wide:.3}, no rescore {approximate:.3}"
        );
        // 64 bits cannot order the ~100 members of a cluster, whose
        // distances to the query differ only by isotropic noise: measured
        // 0.679 at oversampling 4 (the same at 128 to 512 dimensions on this
        // data), 0.994 at oversampling 10.
        assert!(rescored >= 0.65, "{rescored}");
        assert!(wide >= 0.98, "{wide}");
    }

    #[test]
    fn two_bit_binary_recalls_more_than_one_bit() {
        let (points, queries) = data();
        let truth = truth(&flat(&points, Metric::Cosine), &queries);
        for oversampling in [2.0, 4.0] {
            let params = SearchParams {
                oversampling: Some(oversampling),
                rescore: true,
            };
            let [one, two] = [Quantization::BINARY, Quantization::BINARY2].map(|q| {
                let index = QuantizedFlatIndex::build(&points, DIM, Metric::Cosine, q).unwrap();
                recall(&index, &truth, &queries, &params)
            });
            println!(
                "binary recall@10 at oversampling {oversampling}: 1 bit {one:.3}, 2 bits {two:.3}"
            );
            assert!(two > one, "oversampling {oversampling}: {two} vs {one}");
        }
    }

    #[test]
    fn every_metric_rescores_to_exact_scores() {
        let (points, queries) = data();
        let points = &points[..500 * DIM];
        for metric in [Metric::Cosine, Metric::Dot, Metric::Euclidean] {
            let exact = flat(points, metric);
            for quantization in [
                Quantization::Float16,
                INT8,
                Quantization::BINARY,
                Quantization::BINARY2,
                PQ,
            ] {
                let index = QuantizedFlatIndex::build(points, DIM, metric, quantization).unwrap();
                let params = SearchParams {
                    oversampling: Some(8.0),
                    rescore: true,
                };
                let q = &queries[..DIM];
                let got = index.search(q, K, &params).unwrap();
                let truth = exact.search(q, K).unwrap();
                let hits = got
                    .iter()
                    .filter(|h| truth.iter().any(|t| t.0 == h.0))
                    .count();
                assert!(hits >= 8, "{metric} {quantization:?}: {hits}");
                for (id, score) in &got {
                    let want = metric.score(
                        &prepared(q, metric),
                        &prepared(
                            &points[*id as usize * DIM..(*id as usize + 1) * DIM],
                            metric,
                        ),
                    );
                    assert!((score - want).abs() < 1e-4, "{metric} {quantization:?}");
                }
                // Approximate euclidean scores come back as negated distances.
                if metric == Metric::Euclidean
                    && !matches!(quantization, Quantization::Binary { .. })
                {
                    let approx = index.search(q, 1, &no_rescore()).unwrap();
                    assert!((approx[0].1 - truth[0].1).abs() < 0.1 * truth[0].1.abs());
                }
            }
        }
    }

    fn prepared(v: &[f32], metric: Metric) -> Vec<f32> {
        let mut v = v.to_vec();
        metric.prepare(&mut v);
        v
    }

    #[test]
    fn memory_shrinks_by_the_code_width() {
        let (points, _) = data();
        let floats = points.len() * 4;
        let usage = |q| {
            QuantizedFlatIndex::build(&points, DIM, Metric::Cosine, q)
                .unwrap()
                .memory_bytes()
        };
        assert_eq!(usage(Quantization::None), MemoryUsage { codes: 0, floats });
        assert_eq!(usage(Quantization::Float16).codes, floats / 2);
        assert_eq!(
            usage(INT8),
            MemoryUsage {
                codes: floats / 4,
                floats
            }
        );
        assert_eq!(usage(Quantization::BINARY).codes, floats / 32);
        // Two bits of the residual, 12 bytes of header per vector, and the
        // coarse centroids (2000 / 32 of them).
        assert_eq!(
            usage(Quantization::BINARY2).codes,
            floats / 16 + 2000 * 12 + 62 * DIM * 4
        );
        // One byte per subvector (8 by default here) plus the codebooks.
        assert_eq!(usage(PQ).codes, 2000 * 8 + 256 * DIM * 4);
        let lean = QuantizedFlatIndex::build(&points, DIM, Metric::Cosine, Quantization::BINARY)
            .unwrap()
            .without_originals();
        assert_eq!(
            lean.memory_bytes(),
            MemoryUsage {
                codes: floats / 32,
                floats: 0
            }
        );
        // Euclidean int8 also keeps one norm per vector.
        let l2 = QuantizedFlatIndex::build(&points, DIM, Metric::Euclidean, INT8).unwrap();
        assert_eq!(l2.memory_bytes().codes, floats / 4 + 2000 * 4);
    }

    #[test]
    fn dropped_originals_need_rescore_off() {
        let (points, queries) = data();
        let index = QuantizedFlatIndex::build(&points, DIM, Metric::Cosine, INT8)
            .unwrap()
            .without_originals();
        let q = &queries[..DIM];
        assert_eq!(
            index.search(q, K, &SearchParams::default()),
            Err(IndexError::NoOriginals)
        );
        assert_eq!(index.search(q, K, &no_rescore()).unwrap().len(), K);
        // Without quantization the floats are the index and stay.
        let plain = QuantizedFlatIndex::build(&points, DIM, Metric::Cosine, Quantization::None)
            .unwrap()
            .without_originals();
        assert!(plain.has_originals());
    }

    #[test]
    fn add_encodes_with_the_trained_ranges() {
        let (points, _) = data();
        let (train, rest) = points.split_at(1000 * DIM);
        let mut index = QuantizedFlatIndex::build(train, DIM, Metric::Cosine, INT8).unwrap();
        for row in rest.chunks_exact(DIM) {
            index.add(row).unwrap();
        }
        assert_eq!(index.len(), 2000);
        let target = &rest[500 * DIM..501 * DIM];
        let hits = index.search(target, 1, &SearchParams::default()).unwrap();
        assert_eq!(hits[0].0, 1500);
        assert!((hits[0].1 - 1.0).abs() < 1e-5);

        // Float16 needs no training and can start empty.
        let mut empty =
            QuantizedFlatIndex::build(&[], DIM, Metric::Dot, Quantization::Float16).unwrap();
        assert!(empty
            .search(target, 3, &SearchParams::default())
            .unwrap()
            .is_empty());
        assert_eq!(empty.add(target).unwrap(), 0);
        assert_eq!(
            empty.search(target, 3, &SearchParams::default()).unwrap()[0].0,
            0
        );
    }

    #[test]
    fn bad_input_is_refused() {
        let (points, _) = data();
        let points = &points[..100 * DIM];
        let mut index = QuantizedFlatIndex::build(points, DIM, Metric::Cosine, INT8).unwrap();
        assert_eq!(
            index.search(&[1.0; 3], K, &SearchParams::default()),
            Err(IndexError::Core(CoreError::WrongVectorDimension {
                expected: DIM,
                received: 3
            }))
        );
        let mut nan = vec![0.5; DIM];
        nan[7] = f32::NAN;
        assert!(matches!(
            index.search(&nan, K, &SearchParams::default()),
            Err(IndexError::Core(CoreError::NonFiniteComponent {
                index: 7,
                ..
            }))
        ));
        assert!(index.add(&nan).is_err());
        assert!(index.add(&[1.0; 3]).is_err());
        assert_eq!(index.len(), 100);
        let params = SearchParams {
            oversampling: Some(f32::NAN),
            rescore: true,
        };
        assert!(matches!(
            index.search(&points[..DIM], K, &params),
            Err(IndexError::InvalidOversampling(_))
        ));

        for q in [INT8, Quantization::BINARY] {
            assert!(matches!(
                QuantizedFlatIndex::build(&[], DIM, Metric::Cosine, q),
                Err(IndexError::EmptyTrainingSet { .. })
            ));
        }
        assert!(matches!(
            QuantizedFlatIndex::build(&points[..DIM + 1], DIM, Metric::Cosine, INT8),
            Err(IndexError::RaggedData { .. })
        ));
        let mut bad = points.to_vec();
        bad[DIM + 3] = f32::INFINITY;
        assert!(
            QuantizedFlatIndex::build(&bad, DIM, Metric::Cosine, Quantization::Float16).is_err()
        );
        let bad_quantile = Quantization::Int8 {
            per_dimension: true,
            quantile: Some(2.0),
        };
        assert_eq!(
            QuantizedFlatIndex::build(points, DIM, Metric::Cosine, bad_quantile).unwrap_err(),
            IndexError::InvalidQuantile(2.0)
        );
    }

    #[test]
    fn filtered_search_only_returns_allowed_rows() {
        let (points, queries) = data();
        let index = QuantizedFlatIndex::build(&points, DIM, Metric::Cosine, INT8).unwrap();
        let exact = flat(&points, Metric::Cosine);
        let even = |row: u32| row.is_multiple_of(2);
        let q = &queries[..DIM];
        for rescore in [true, false] {
            let params = SearchParams {
                rescore,
                ..SearchParams::default()
            };
            let hits = index.search_filtered(q, K, &params, &even).unwrap();
            assert_eq!(hits.len(), K);
            assert!(hits.iter().all(|h| even(h.0)));
        }
        let want: Vec<(u32, f32)> = exact
            .search(q, points.len() / DIM)
            .unwrap()
            .into_iter()
            .filter(|h| even(h.0))
            .collect();
        let got = index
            .search_filtered(q, K, &SearchParams::default(), &even)
            .unwrap();
        assert_eq!(got[0].0, want[0].0);
    }

    #[test]
    fn k_beyond_len_and_zero_k() {
        let (points, queries) = data();
        let points = &points[..5 * DIM];
        let index =
            QuantizedFlatIndex::build(points, DIM, Metric::Cosine, Quantization::BINARY).unwrap();
        let q = &queries[..DIM];
        assert_eq!(
            index.search(q, 50, &SearchParams::default()).unwrap().len(),
            5
        );
        assert!(index
            .search(q, 0, &SearchParams::default())
            .unwrap()
            .is_empty());
    }

    #[test]
    fn many_blocks_merge_like_one() {
        // More rows than one scan block, so the parallel merge is exercised.
        let dim = 8;
        let n = BLOCK_ROWS * 2 + 17;
        let points: Vec<f32> = (0..n * dim)
            .map(|i| ((i * 31 + i / dim * 7) % 97) as f32 / 97.0 - 0.5)
            .collect();
        let mut exact = FlatIndex::new(dim, Metric::Dot);
        for row in points.chunks_exact(dim) {
            exact.add(row).unwrap();
        }
        let index =
            QuantizedFlatIndex::build(&points, dim, Metric::Dot, Quantization::Float16).unwrap();
        let q = vec![0.3; dim];
        let params = SearchParams {
            oversampling: Some(4.0),
            rescore: true,
        };
        let got = index.search(&q, 10, &params).unwrap();
        let want = exact.search(&q, 10).unwrap();
        for ((gi, gs), (_, ws)) in got.iter().zip(&want) {
            assert!((gs - ws).abs() < 1e-5, "{gi}");
        }
    }
}
