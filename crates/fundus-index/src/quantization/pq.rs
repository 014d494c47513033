//! Product quantization (PQ) with asymmetric distance computation (ADC).
//!
//! Each vector is cut into `subvectors` equal slices, and every slice is
//! replaced by the number of its nearest centroid among 256 learned for that
//! slice by k-means: one byte per slice, so a 384-dimensional vector with 48
//! subvectors takes 48 bytes instead of 1536. Scalar codes stop at one bit
//! per dimension (binary); PQ's size is a free choice, down to a fraction of
//! a bit per dimension, because its centroids sit where the data is instead
//! of on a fixed grid and a byte names a point of a whole slice.
//!
//! Distances are asymmetric: the query stays `f32`. Both the dot product and
//! the squared euclidean distance are sums over slices, so a query is
//! prepared once into a table of its partial scores against every centroid
//! (`subvectors × 256` floats, which stays in cache) and a vector's score is
//! one table lookup per code byte:
//!
//! ```text
//! q · x̂ = Σ_m q_m · c_m[code_m]       |q - x̂|² = Σ_m |q_m - c_m[code_m]|²
//! ```
//!
//! The scan is the exact score of the reconstructed vector `x̂`, so ranking
//! errors come from reconstruction error alone; they are larger than int8's,
//! which is why PQ oversamples more and rescores.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use fundus_core::Metric;

use crate::error::IndexError;

/// Centroids per subspace: what one code byte can name.
pub const CENTROIDS: usize = 256;

/// Lloyd iterations per subspace: a fixed, small count keeps training time
/// predictable; k-means moves its centroids most in the first few rounds,
/// and the rescoring pass absorbs what more rounds would refine.
const ITERATIONS: usize = 12;

/// Training uses at most this many vectors (sampled evenly): about 200 per
/// centroid, which is plenty to place 256 centroids (FAISS caps its samples
/// at 256 per centroid for the same reason), while training time grows
/// with the sample.
const MAX_TRAINING_VECTORS: usize = 50_000;

/// Fixed seed, so the same vectors always train the same codebooks (and an
/// index rebuilt from the same data gives the same results).
const SEED: u64 = 0x5eed_9a7c_0dec_0de5;

/// Points per parallel task in the assignment step and in bulk encoding.
const CHUNK_ROWS: usize = 1024;

/// Codebooks of a product quantizer.
///
/// Serialized as its dimension, subvector and centroid counts and the
/// codebooks; the derived lookup layout is rebuilt (and the parts checked)
/// on deserialization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ProductQuantizerParts", into = "ProductQuantizerParts")]
pub struct ProductQuantizer {
    dim: usize,
    subvectors: usize,
    /// Centroids actually learned per subspace: 256, or the number of
    /// training vectors when there were fewer.
    centroids: usize,
    /// Per subspace, 256 centroids of `dim / subvectors` floats, row-major.
    /// Rows past `centroids` are zero, so every byte decodes to something
    /// and lookups need no bounds beyond the byte's range.
    codebooks: Vec<f32>,
    /// Per subspace, the codebook transposed (`sub_dim × 256`): scoring a
    /// slice against all centroids then runs along contiguous rows of 256,
    /// which vectorizes.
    transposed: Vec<f32>,
    /// Per subspace, `|c|²` of every centroid (zero for the unused rows).
    norms: Vec<f32>,
}

impl ProductQuantizer {
    /// Learns 256 centroids per subspace from row-major `vectors` (finite;
    /// the index validates them) with k-means (k-means++ seeding, fixed seed,
    /// subspaces trained in parallel), on an even sample of at most 50 000
    /// vectors.
    ///
    /// With fewer than 256 training vectors every subspace gets one centroid
    /// per vector instead: those vectors then encode exactly, and anything
    /// added later maps to the nearest of them. Train on a representative
    /// sample of several thousand vectors for useful codes.
    pub fn train(vectors: &[f32], dim: usize, subvectors: usize) -> Result<Self, IndexError> {
        if dim == 0 || !vectors.len().is_multiple_of(dim) {
            return Err(IndexError::RaggedData {
                len: vectors.len(),
                dim,
            });
        }
        check_subvectors(dim, subvectors)?;
        if vectors.is_empty() {
            return Err(IndexError::EmptyTrainingSet {
                quantization: "product",
            });
        }
        let rows = vectors.len() / dim;
        let stride = rows.div_ceil(MAX_TRAINING_VECTORS);
        let sample = rows.div_ceil(stride);
        let centroids = sample.min(CENTROIDS);
        let sub_dim = dim / subvectors;
        let codebooks: Vec<Vec<f32>> = (0..subvectors)
            .into_par_iter()
            .map(|m| {
                let mut slices = Vec::with_capacity(sample * sub_dim);
                for row in vectors.chunks_exact(dim).step_by(stride) {
                    slices.extend_from_slice(&row[m * sub_dim..(m + 1) * sub_dim]);
                }
                kmeans(&slices, sub_dim, centroids, SEED ^ m as u64)
            })
            .collect();
        Ok(Self::from_codebooks(
            dim,
            subvectors,
            centroids,
            codebooks.concat(),
        ))
    }

    /// Assembles a quantizer from padded codebooks, deriving the layouts the
    /// encoder and the query tables read.
    fn from_codebooks(
        dim: usize,
        subvectors: usize,
        centroids: usize,
        codebooks: Vec<f32>,
    ) -> Self {
        let sub_dim = dim / subvectors;
        let mut transposed = vec![0.0f32; codebooks.len()];
        let mut norms = vec![0.0f32; subvectors * CENTROIDS];
        for (m, book) in codebooks.chunks_exact(CENTROIDS * sub_dim).enumerate() {
            let size = CENTROIDS * sub_dim;
            transpose_into(
                book,
                sub_dim,
                &mut transposed[m * size..(m + 1) * size],
                &mut norms[m * CENTROIDS..(m + 1) * CENTROIDS],
            );
        }
        ProductQuantizer {
            dim,
            subvectors,
            centroids,
            codebooks,
            transposed,
            norms,
        }
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Slices per vector, and code bytes per vector.
    pub fn subvectors(&self) -> usize {
        self.subvectors
    }

    /// Dimensions per slice.
    pub fn sub_dim(&self) -> usize {
        self.dim / self.subvectors
    }

    /// Centroids learned per subspace (256 unless training had fewer
    /// vectors).
    pub fn centroids(&self) -> usize {
        self.centroids
    }

    /// The codebooks: per subspace 256 rows of [`sub_dim`](Self::sub_dim)
    /// floats, zero past [`centroids`](Self::centroids).
    pub fn codebooks(&self) -> &[f32] {
        &self.codebooks
    }

    /// Appends the codes of `v` (`dim` floats; one byte per subvector) to
    /// `out`.
    pub fn encode_into(&self, v: &[f32], out: &mut Vec<u8>) {
        let sub_dim = self.sub_dim();
        let mut scratch = [0.0f32; CENTROIDS];
        for (m, slice) in v.chunks_exact(sub_dim).take(self.subvectors).enumerate() {
            let (code, _) = nearest(
                slice,
                self.transposed(m),
                self.norms(m),
                self.centroids,
                &mut scratch,
            );
            out.push(code as u8);
        }
    }

    /// The codes of all row-major `vectors`, encoded in parallel: encoding
    /// costs 256 multiply-adds per dimension, which at build time dominates
    /// everything but training.
    pub fn encode_all(&self, vectors: &[f32]) -> Vec<u8> {
        vectors
            .par_chunks(CHUNK_ROWS * self.dim)
            .map(|block| {
                let mut codes = Vec::with_capacity(block.len() / self.sub_dim());
                for row in block.chunks_exact(self.dim) {
                    self.encode_into(row, &mut codes);
                }
                codes
            })
            .collect::<Vec<_>>()
            .concat()
    }

    /// The reconstructed vector `x̂` of `codes`: the concatenated centroids.
    pub fn decode(&self, codes: &[u8]) -> Vec<f32> {
        let sub_dim = self.sub_dim();
        let mut out = Vec::with_capacity(self.dim);
        for (m, &code) in codes.iter().take(self.subvectors).enumerate() {
            let start = (m * CENTROIDS + code as usize) * sub_dim;
            out.extend_from_slice(&self.codebooks[start..start + sub_dim]);
        }
        out
    }

    /// Builds the lookup table of `q` (prepared for `metric`, like the
    /// indexed vectors): per subvector and centroid the partial dot product
    /// (cosine and dot) or the negated partial squared distance (euclidean),
    /// so that [`PqQuery::score`] is "higher is better" for every metric.
    pub fn prepare_query(&self, q: &[f32], metric: Metric) -> PqQuery {
        let sub_dim = self.sub_dim();
        let mut table = vec![[0.0f32; CENTROIDS]; self.subvectors];
        for (m, (row, slice)) in table.iter_mut().zip(q.chunks_exact(sub_dim)).enumerate() {
            kernel::partial_dots(slice, self.transposed(m), row);
            if metric == Metric::Euclidean {
                let q2: f32 = slice.iter().map(|x| x * x).sum();
                for (t, &c2) in row.iter_mut().zip(self.norms(m)) {
                    *t = -(q2 - 2.0 * *t + c2).max(0.0);
                }
            }
        }
        PqQuery { table }
    }

    fn transposed(&self, m: usize) -> &[f32] {
        let size = CENTROIDS * self.sub_dim();
        &self.transposed[m * size..(m + 1) * size]
    }

    fn norms(&self, m: usize) -> &[f32] {
        &self.norms[m * CENTROIDS..(m + 1) * CENTROIDS]
    }
}

/// A query prepared for [`ProductQuantizer`] codes: its ADC lookup table.
#[derive(Debug, Clone)]
pub struct PqQuery {
    table: Vec<[f32; CENTROIDS]>,
}

impl PqQuery {
    /// The approximate score of the vector encoded as `codes`: `q · x̂` for
    /// cosine and dot, `-|q - x̂|²` for euclidean.
    #[inline]
    pub fn score(&self, codes: &[u8]) -> f32 {
        // Four independent sums: the lookups are gathers that cannot be
        // vectorized, but they need not wait on one another's additions.
        let mut acc = [0.0f32; 4];
        let mut rows = self.table.chunks_exact(4);
        let mut bytes = codes.chunks_exact(4);
        for (t, c) in (&mut rows).zip(&mut bytes) {
            for i in 0..4 {
                acc[i] += t[i][c[i] as usize];
            }
        }
        let mut tail = 0.0f32;
        for (t, &c) in rows.remainder().iter().zip(bytes.remainder()) {
            tail += t[c as usize];
        }
        (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
    }

    /// The lookup table, `subvectors` rows of 256 partial scores.
    pub fn table(&self) -> &[[f32; CENTROIDS]] {
        &self.table
    }
}

/// Subvectors used when a configuration leaves them out: `dim / 8` (8
/// dimensions, i.e. 32 float bytes, per code byte, a common starting point
/// that compresses 32-fold), lowered to the nearest divisor of `dim` so
/// that any dimension works, and at least 1.
pub fn default_subvectors(dim: usize) -> usize {
    let target = (dim / 8).max(1);
    (1..=target)
        .rev()
        .find(|s| dim.is_multiple_of(*s))
        .unwrap_or(1)
}

/// Refuses subvector counts that cannot split `dim` into equal slices.
fn check_subvectors(dim: usize, subvectors: usize) -> Result<(), IndexError> {
    if subvectors == 0 {
        return Err(IndexError::InvalidSubvectors(subvectors));
    }
    if !dim.is_multiple_of(subvectors) {
        return Err(IndexError::SubvectorsDoNotDivide {
            dim,
            subvectors,
            suggestion: nearest_divisor(dim, subvectors),
        });
    }
    Ok(())
}

/// The divisor of `dim` closest to `wanted` (the larger one on a tie: more
/// subvectors, finer codes).
fn nearest_divisor(dim: usize, wanted: usize) -> usize {
    (1..=dim.max(1))
        .filter(|d| dim.is_multiple_of(*d))
        .min_by_key(|&d| (d.abs_diff(wanted), usize::MAX - d))
        .unwrap_or(1)
}

/// Writes `book` (256 rows of `sub_dim`) transposed into `t` and the rows'
/// squared lengths into `norms`.
fn transpose_into(book: &[f32], sub_dim: usize, t: &mut [f32], norms: &mut [f32]) {
    for (j, (c, n)) in book.chunks_exact(sub_dim).zip(norms.iter_mut()).enumerate() {
        *n = c.iter().map(|x| x * x).sum();
        for (d, &x) in c.iter().enumerate() {
            t[d * CENTROIDS + j] = x;
        }
    }
}

/// The nearest of the first `k` centroids to `x` (the first on a tie) and
/// `|c|² - 2 x·c`, its squared distance less `|x|²`.
#[inline]
fn nearest(
    x: &[f32],
    transposed: &[f32],
    norms: &[f32],
    k: usize,
    scratch: &mut [f32; CENTROIDS],
) -> (usize, f32) {
    kernel::partial_distances(x, transposed, norms, scratch);
    if k < CENTROIDS {
        scratch[k..].fill(f32::INFINITY);
    }
    kernel::argmin(scratch)
}

mod kernel {
    use super::CENTROIDS;

    /// Lanes of the arg-min: one AVX-512 register.
    const LANES: usize = 16;

    fundus_core::multiversion! {
        /// `out[j] = |c_j|² - 2 x·c_j` for all 256 centroids of a transposed
        /// codebook `t` with squared lengths `norms`: squared distances
        /// less `|x|²`, which is the same for every centroid.
        pub fn partial_distances(x: &[f32], t: &[f32], norms: &[f32], out: &mut [f32; CENTROIDS]) {
            for (o, &n) in out.iter_mut().zip(norms) {
                *o = n;
            }
            for (&xd, row) in x.iter().zip(t.chunks_exact(CENTROIDS)) {
                let w = -2.0 * xd;
                for (o, &c) in out.iter_mut().zip(row) {
                    *o += w * c;
                }
            }
        }
    }

    fundus_core::multiversion! {
        /// `nearest[i] = min(nearest[i], |x_(start + i) - c|²)` for the `n`
        /// points stored column by column in `columns`.
        pub fn lower_distances(
            columns: &[f32],
            n: usize,
            start: usize,
            c: &[f32],
            nearest: &mut [f32],
        ) {
            let mut acc = [0.0f32; CENTROIDS];
            for (block, out) in nearest.chunks_mut(CENTROIDS).enumerate() {
                let from = start + block * CENTROIDS;
                let acc = &mut acc[..out.len()];
                acc.fill(0.0);
                for (d, &cd) in c.iter().enumerate() {
                    let column = &columns[d * n + from..d * n + from + out.len()];
                    for (a, &x) in acc.iter_mut().zip(column) {
                        let e = x - cd;
                        *a += e * e;
                    }
                }
                for (o, &a) in out.iter_mut().zip(acc.iter()) {
                    *o = if a < *o { a } else { *o };
                }
            }
        }
    }

    fundus_core::multiversion! {
        /// Index and value of the smallest of 256 values, the first on a
        /// tie. Kept per lane with selects, so it vectorizes where a plain
        /// compare-and-branch loop would cost one mispredicted branch per
        /// improvement.
        pub fn argmin(v: &[f32; CENTROIDS]) -> (usize, f32) {
            let mut best = [f32::INFINITY; LANES];
            let mut at = [0u32; LANES];
            for (chunk, values) in v.chunks_exact(LANES).enumerate() {
                for l in 0..LANES {
                    let better = values[l] < best[l];
                    best[l] = if better { values[l] } else { best[l] };
                    at[l] = if better { (chunk * LANES + l) as u32 } else { at[l] };
                }
            }
            let mut winner = (0usize, f32::INFINITY);
            for l in 0..LANES {
                let (i, x) = (at[l] as usize, best[l]);
                if x < winner.1 || (x == winner.1 && i < winner.0) {
                    winner = (i, x);
                }
            }
            winner
        }
    }

    fundus_core::multiversion! {
        /// `out[j] = Σ_d x[d] * t[d][j]` for a transposed codebook `t`
        /// (`x.len()` rows of 256): the dot products of `x` with all 256
        /// centroids, computed along the centroids so the inner loop is
        /// one wide multiply-add per 16 of them.
        pub fn partial_dots(x: &[f32], t: &[f32], out: &mut [f32; CENTROIDS]) {
            *out = [0.0; CENTROIDS];
            for (&xd, row) in x.iter().zip(t.chunks_exact(CENTROIDS)) {
                for (o, &c) in out.iter_mut().zip(row) {
                    *o += xd * c;
                }
            }
        }
    }
}

/// k-means on the `sub_dim`-dimensional points of `data` with `k` (at most
/// 256, at most the number of points) centroids; returns 256 rows with the
/// ones past `k` zero.
fn kmeans(data: &[f32], sub_dim: usize, k: usize, seed: u64) -> Vec<f32> {
    let n = data.len() / sub_dim;
    let mut rng = Rng::new(seed);
    let mut centroids = vec![0.0f32; CENTROIDS * sub_dim];
    seed_plus_plus(data, sub_dim, k, &mut rng, &mut centroids);

    let point_norms: Vec<f32> = data
        .chunks_exact(sub_dim)
        .map(|x| x.iter().map(|v| v * v).sum())
        .collect();
    let mut transposed = vec![0.0f32; CENTROIDS * sub_dim];
    let mut norms = vec![0.0f32; CENTROIDS];
    let mut assignment = vec![0u8; n];
    let mut distance = vec![0.0f32; n];
    let mut sums = vec![0.0f64; CENTROIDS * sub_dim];
    let mut counts = vec![0usize; CENTROIDS];
    for iteration in 0..ITERATIONS {
        transpose_into(&centroids, sub_dim, &mut transposed, &mut norms);
        let changed: usize = assignment
            .par_chunks_mut(CHUNK_ROWS)
            .zip(distance.par_chunks_mut(CHUNK_ROWS))
            .enumerate()
            .map(|(block, (assign, dist))| {
                let mut scratch = [0.0f32; CENTROIDS];
                let mut changed = 0;
                for (i, (a, d)) in assign.iter_mut().zip(dist.iter_mut()).enumerate() {
                    let p = block * CHUNK_ROWS + i;
                    let x = &data[p * sub_dim..(p + 1) * sub_dim];
                    let (j, partial) = nearest(x, &transposed, &norms, k, &mut scratch);
                    changed += usize::from(*a as usize != j);
                    *a = j as u8;
                    *d = (point_norms[p] + partial).max(0.0);
                }
                changed
            })
            .sum();
        if iteration > 0 && changed == 0 {
            break;
        }
        // The update runs in point order on one thread, so the result does
        // not depend on how rayon split the work.
        sums.fill(0.0);
        counts.fill(0);
        for (x, &a) in data.chunks_exact(sub_dim).zip(&assignment) {
            let a = a as usize;
            counts[a] += 1;
            for (s, &v) in sums[a * sub_dim..(a + 1) * sub_dim].iter_mut().zip(x) {
                *s += v as f64;
            }
        }
        for j in 0..k {
            let c = &mut centroids[j * sub_dim..(j + 1) * sub_dim];
            if counts[j] > 0 {
                let s = &sums[j * sub_dim..(j + 1) * sub_dim];
                for (c, &s) in c.iter_mut().zip(s) {
                    *c = (s / counts[j] as f64) as f32;
                }
            } else {
                // An empty cluster restarts at the worst-served point, which
                // is then taken out of the running for the next empty one.
                let (far, _) =
                    distance
                        .iter()
                        .enumerate()
                        .fold((0, f32::NEG_INFINITY), |best, (p, &d)| {
                            if d > best.1 {
                                (p, d)
                            } else {
                                best
                            }
                        });
                distance[far] = f32::NEG_INFINITY;
                c.copy_from_slice(&data[far * sub_dim..(far + 1) * sub_dim]);
            }
        }
    }
    centroids
}

/// k-means++ seeding: each next centroid is a point drawn with probability
/// proportional to its squared distance from the nearest centroid so far,
/// which spreads the start over the data and keeps Lloyd's iterations from
/// settling in a poor local optimum.
fn seed_plus_plus(data: &[f32], sub_dim: usize, k: usize, rng: &mut Rng, centroids: &mut [f32]) {
    let n = data.len() / sub_dim;
    let point = |p: usize| &data[p * sub_dim..(p + 1) * sub_dim];
    let mut chosen = rng.below(n);
    centroids[..sub_dim].copy_from_slice(point(chosen));
    // By column, so the distance update runs along the points (a slice
    // is too short, a few floats, to vectorize along).
    let mut columns = vec![0.0f32; data.len()];
    for (p, x) in data.chunks_exact(sub_dim).enumerate() {
        for (d, &v) in x.iter().enumerate() {
            columns[d * n + p] = v;
        }
    }
    let mut nearest = vec![f32::INFINITY; n];
    for j in 1..k {
        let c = point(chosen);
        nearest
            .par_chunks_mut(CHUNK_ROWS)
            .enumerate()
            .for_each(|(block, dist)| {
                kernel::lower_distances(&columns, n, block * CHUNK_ROWS, c, dist);
            });
        let total: f64 = nearest.iter().map(|&d| d as f64).sum();
        chosen = if total > 0.0 {
            let mut target = rng.unit() * total;
            let mut pick = None;
            for (p, &d) in nearest.iter().enumerate() {
                if d > 0.0 {
                    pick = Some(p);
                    target -= d as f64;
                    if target < 0.0 {
                        break;
                    }
                }
            }
            // Rounding can leave `target` just above zero at the end; the
            // last point with weight is then the draw.
            pick.unwrap_or(0)
        } else {
            // Every point coincides with a centroid (duplicates in the
            // data): any point will do.
            rng.below(n)
        };
        centroids[j * sub_dim..(j + 1) * sub_dim].copy_from_slice(point(chosen));
    }
}

/// Xorshift64 generator: deterministic, and all k-means needs.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The serialized form of a [`ProductQuantizer`]: what cannot be derived.
#[derive(Serialize, Deserialize)]
struct ProductQuantizerParts {
    dim: usize,
    subvectors: usize,
    centroids: usize,
    codebooks: Vec<f32>,
}

impl From<ProductQuantizer> for ProductQuantizerParts {
    fn from(q: ProductQuantizer) -> Self {
        ProductQuantizerParts {
            dim: q.dim,
            subvectors: q.subvectors,
            centroids: q.centroids,
            codebooks: q.codebooks,
        }
    }
}

impl TryFrom<ProductQuantizerParts> for ProductQuantizer {
    type Error = IndexError;

    /// Checks the shapes, so a damaged file is an error rather than an
    /// out-of-bounds panic in the first search.
    fn try_from(p: ProductQuantizerParts) -> Result<Self, IndexError> {
        if p.dim == 0 {
            return Err(IndexError::RaggedData {
                len: p.codebooks.len(),
                dim: p.dim,
            });
        }
        check_subvectors(p.dim, p.subvectors)?;
        let expected = CENTROIDS * p.dim;
        if p.codebooks.len() != expected || !(1..=CENTROIDS).contains(&p.centroids) {
            return Err(IndexError::InvalidCodebooks {
                floats: p.codebooks.len(),
                expected,
                centroids: p.centroids,
            });
        }
        if let Some(index) = p.codebooks.iter().position(|x| !x.is_finite()) {
            return Err(IndexError::Core(
                fundus_core::CoreError::NonFiniteComponent {
                    index,
                    value: p.codebooks[index],
                },
            ));
        }
        Ok(Self::from_codebooks(
            p.dim,
            p.subvectors,
            p.centroids,
            p.codebooks,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quantization::{Quantization, QuantizedFlatIndex, SearchParams};
    use crate::testdata::{centers, clustered, XorShift};
    use crate::FlatIndex;

    fn normalized(mut v: Vec<f32>, dim: usize) -> Vec<f32> {
        for row in v.chunks_exact_mut(dim) {
            Metric::Cosine.prepare(row);
        }
        v
    }

    fn dot(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    fn l2(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
    }

    #[test]
    fn reconstruction_error_is_small_on_clustered_data() {
        let dim = 64;
        let mut rng = XorShift::new(11);
        let c = centers(&mut rng, 30, dim);
        let data = clustered(&mut rng, &c, dim, 3000, 0.3);
        let pq = ProductQuantizer::train(&data, dim, 16).unwrap();
        assert_eq!(pq.centroids(), CENTROIDS);
        let codes = pq.encode_all(&data);
        assert_eq!(codes.len(), 3000 * 16);
        let mut error = 0.0f64;
        let mut noise = 0.0f64;
        for (i, (x, code)) in data
            .chunks_exact(dim)
            .zip(codes.chunks_exact(16))
            .enumerate()
        {
            let back = pq.decode(code);
            assert_eq!(back.len(), dim);
            error += l2(x, &back) as f64;
            // The spread around the own cluster centre, the part of a
            // vector no cluster-level code can know.
            let nearest_centre = c
                .chunks_exact(dim)
                .map(|c| l2(x, c))
                .fold(f32::INFINITY, f32::min);
            noise += nearest_centre as f64;
            if i == 0 {
                let mut single = Vec::new();
                pq.encode_into(x, &mut single);
                assert_eq!(single, code);
            }
        }
        let ratio = error / noise;
        println!("pq reconstruction error / cluster noise: {ratio:.3}");
        // The centroids learn the 30 centres and part of the noise around
        // them (measured 0.33).
        assert!(ratio < 0.45, "{ratio}");
    }

    #[test]
    fn adc_score_equals_the_score_of_the_decoded_vector() {
        let dim = 96;
        let mut rng = XorShift::new(3);
        let c = centers(&mut rng, 10, dim);
        let data = normalized(clustered(&mut rng, &c, dim, 1000, 0.5), dim);
        let queries = normalized(clustered(&mut rng, &c, dim, 5, 0.5), dim);
        let pq = ProductQuantizer::train(&data, dim, 12).unwrap();
        for q in queries.chunks_exact(dim) {
            let by_dot = pq.prepare_query(q, Metric::Dot);
            let by_l2 = pq.prepare_query(q, Metric::Euclidean);
            assert_eq!(by_dot.table().len(), 12);
            for x in data.chunks_exact(dim).take(50) {
                let mut code = Vec::new();
                pq.encode_into(x, &mut code);
                let back = pq.decode(&code);
                let want = dot(q, &back);
                assert!((by_dot.score(&code) - want).abs() < 1e-4, "dot {want}");
                let want = -l2(q, &back);
                assert!((by_l2.score(&code) - want).abs() < 1e-4, "l2 {want}");
            }
        }
    }

    /// Recall@10 of PQ against exact search: 5000 points in 50 clusters of
    /// dimension 128, 50 queries from the same clusters.
    fn recall_case(metric: Metric) -> (f32, f32, f32) {
        const DIM: usize = 128;
        const K: usize = 10;
        let mut rng = XorShift::new(5);
        let c = centers(&mut rng, 50, DIM);
        let points = clustered(&mut rng, &c, DIM, 5000, 0.5);
        let queries = clustered(&mut rng, &c, DIM, 50, 0.5);
        let mut exact = FlatIndex::new(DIM, metric);
        for row in points.chunks_exact(DIM) {
            exact.add(row).unwrap();
        }
        let index = QuantizedFlatIndex::build(
            &points,
            DIM,
            metric,
            Quantization::Product { subvectors: None },
        )
        .unwrap();
        assert_eq!(
            index.quantization(),
            Quantization::Product {
                subvectors: Some(16)
            }
        );
        let recall = |params: SearchParams| {
            let mut found = 0;
            for q in queries.chunks_exact(DIM) {
                let truth: Vec<u32> = exact.search(q, K).unwrap().iter().map(|h| h.0).collect();
                let got = index.search(q, K, &params).unwrap();
                assert_eq!(got.len(), K);
                found += got.iter().filter(|h| truth.contains(&h.0)).count();
            }
            found as f32 / (50 * K) as f32
        };
        let rescored = recall(SearchParams::default());
        let wide = recall(SearchParams {
            oversampling: Some(20.0),
            rescore: true,
        });
        let approximate = recall(SearchParams {
            oversampling: None,
            rescore: false,
        });
        println!(
            "pq {metric} recall@10 (128-d, 16 subvectors): oversampling 8 + rescore \
             {rescored:.3}, oversampling 20 + rescore {wide:.3}, no rescore {approximate:.3}"
        );
        (rescored, wide, approximate)
    }

    #[test]
    fn recall_with_rescoring() {
        for metric in [Metric::Cosine, Metric::Euclidean] {
            let (rescored, wide, approximate) = recall_case(metric);
            assert!(rescored >= 0.9, "{metric}: {rescored}");
            assert!(wide >= rescored, "{metric}: {wide}");
            assert!(approximate < rescored - 0.1, "{metric}: {approximate}");
        }
    }

    #[test]
    fn indivisible_dimension_is_refused_naming_both_numbers() {
        let data = vec![0.5f32; 100 * 10];
        let err = QuantizedFlatIndex::build(
            &data,
            100,
            Metric::Cosine,
            Quantization::Product {
                subvectors: Some(7),
            },
        )
        .unwrap_err();
        assert_eq!(
            err,
            IndexError::SubvectorsDoNotDivide {
                dim: 100,
                subvectors: 7,
                suggestion: 5
            }
        );
        let message = err.to_string();
        assert!(
            message.contains("100") && message.contains(" 7 "),
            "{message}"
        );
        assert!(message.contains('5'), "{message}");
        assert_eq!(
            ProductQuantizer::train(&data, 100, 0),
            Err(IndexError::InvalidSubvectors(0))
        );
        assert_eq!(
            Quantization::Product {
                subvectors: Some(0)
            }
            .validate(),
            Err(IndexError::InvalidSubvectors(0))
        );
        // More subvectors than dimensions cannot divide either.
        assert!(matches!(
            ProductQuantizer::train(&data, 100, 200),
            Err(IndexError::SubvectorsDoNotDivide {
                suggestion: 100,
                ..
            })
        ));
        assert_eq!(
            ProductQuantizer::train(&[], 8, 2),
            Err(IndexError::EmptyTrainingSet {
                quantization: "product"
            })
        );
        assert!(matches!(
            ProductQuantizer::train(&data[..15], 8, 2),
            Err(IndexError::RaggedData { .. })
        ));
    }

    #[test]
    fn default_subvectors_divide_any_dimension() {
        assert_eq!(default_subvectors(384), 48);
        assert_eq!(default_subvectors(768), 96);
        assert_eq!(default_subvectors(128), 16);
        assert_eq!(default_subvectors(100), 10);
        assert_eq!(default_subvectors(7), 1);
        assert_eq!(default_subvectors(97), 1);
        for dim in 1..300 {
            assert!(dim % default_subvectors(dim) == 0, "{dim}");
        }
    }

    #[test]
    fn config_round_trips_through_json() {
        let q = Quantization::Product {
            subvectors: Some(48),
        };
        let json = serde_json::to_string(&q).unwrap();
        assert_eq!(json, r#"{"type":"product","subvectors":48}"#);
        assert_eq!(serde_json::from_str::<Quantization>(&json).unwrap(), q);
        let default: Quantization = serde_json::from_str(r#"{"type": "product"}"#).unwrap();
        assert_eq!(default, Quantization::Product { subvectors: None });
        assert_eq!(
            serde_json::from_str::<Quantization>(&serde_json::to_string(&default).unwrap())
                .unwrap(),
            default
        );
        assert_eq!(q.name(), "product");
        assert_eq!(q.default_oversampling(), 8.0);
        assert!(
            serde_json::from_str::<Quantization>(r#"{"type": "product", "subvectors": -1}"#)
                .is_err()
        );
    }

    #[test]
    fn quantizer_round_trips_and_damage_is_refused() {
        let dim = 16;
        let mut rng = XorShift::new(9);
        let c = centers(&mut rng, 4, dim);
        let data = clustered(&mut rng, &c, dim, 600, 0.5);
        let pq = ProductQuantizer::train(&data, dim, 4).unwrap();
        let json = serde_json::to_string(&pq).unwrap();
        let back: ProductQuantizer = serde_json::from_str(&json).unwrap();
        assert_eq!(back, pq);

        let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
        value["codebooks"].as_array_mut().unwrap().pop();
        assert!(serde_json::from_value::<ProductQuantizer>(value).is_err());
        let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
        value["subvectors"] = 3.into();
        assert!(serde_json::from_value::<ProductQuantizer>(value).is_err());
        let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
        value["centroids"] = 0.into();
        assert!(serde_json::from_value::<ProductQuantizer>(value).is_err());
    }

    #[test]
    fn training_is_deterministic() {
        let dim = 32;
        let mut rng = XorShift::new(21);
        let c = centers(&mut rng, 8, dim);
        let data = clustered(&mut rng, &c, dim, 3000, 0.5);
        let a = ProductQuantizer::train(&data, dim, 8).unwrap();
        let b = ProductQuantizer::train(&data, dim, 8).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.encode_all(&data), b.encode_all(&data));
        // Parallel bulk encoding matches one vector at a time.
        let mut one_by_one = Vec::new();
        for row in data.chunks_exact(dim) {
            a.encode_into(row, &mut one_by_one);
        }
        assert_eq!(a.encode_all(&data), one_by_one);
    }

    #[test]
    fn few_training_vectors_get_one_centroid_each() {
        let dim = 8;
        let data: Vec<f32> = (0..10 * dim).map(|i| ((i * 7) % 13) as f32 - 6.0).collect();
        let pq = ProductQuantizer::train(&data, dim, 2).unwrap();
        assert_eq!(pq.centroids(), 10);
        for x in data.chunks_exact(dim) {
            let mut code = Vec::new();
            pq.encode_into(x, &mut code);
            assert!(code.iter().all(|&c| (c as usize) < 10));
            assert_eq!(pq.decode(&code), x);
        }
        // Identical vectors: every centroid coincides, nothing breaks.
        let same = vec![1.5f32; 300 * dim];
        let pq = ProductQuantizer::train(&same, dim, 4).unwrap();
        let mut code = Vec::new();
        pq.encode_into(&same[..dim], &mut code);
        assert_eq!(pq.decode(&code), &same[..dim]);
    }
}
