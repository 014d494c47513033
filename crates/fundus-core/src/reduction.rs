//! Dimension reduction of embeddings: Matryoshka truncation and PCA.
//!
//! A collection that stores reduced vectors keeps its [`Reduction`] in its
//! config, so every query is reduced exactly like the passages were. Both
//! kinds re-normalize the result: a truncated or projected unit vector is
//! no longer of unit length, and cosine search over the stored rows
//! assumes it is.
//!
//! PCA is fitted on the corpus' own vectors: the mean is subtracted, the
//! covariance (at most 1024 x 1024 for today's models) is decomposed in
//! f64 (Householder tridiagonalization + implicit QL, no dependency), and
//! the `dims` eigenvectors of the largest eigenvalues become the rows of
//! the projection. Cyclic Jacobi was tried first: correct, but 25x slower
//! (88 s for a 768 x 768 covariance against 3.6 s, contended machine).

use serde::{Deserialize, Serialize};

use crate::distance;
use crate::error::CoreError;

/// How full-size embeddings become shorter ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Reduction {
    /// The first `dims` components (Matryoshka-style), re-normalized.
    Truncate { input_dim: usize, dims: usize },
    /// `components` (`dims` rows of `input_dim`, row-major) applied to
    /// `x - mean`, re-normalized. `explained` is the share of the corpus'
    /// variance the kept components carry.
    Pca {
        input_dim: usize,
        dims: usize,
        mean: Vec<f32>,
        components: Vec<f32>,
        explained: f64,
    },
}

impl Reduction {
    /// Truncation of `input_dim`-d vectors to their first `dims` components.
    pub fn truncate(input_dim: usize, dims: usize) -> Result<Self, CoreError> {
        check_dims(input_dim, dims)?;
        Ok(Reduction::Truncate { input_dim, dims })
    }

    /// Fits PCA on `vectors` (row-major, `input_dim` each) and keeps the
    /// `dims` directions of largest variance.
    pub fn fit_pca(vectors: &[f32], input_dim: usize, dims: usize) -> Result<Self, CoreError> {
        check_dims(input_dim, dims)?;
        if !vectors.len().is_multiple_of(input_dim) {
            return Err(CoreError::Reduction(format!(
                "{} values are not a whole number of {input_dim}-d vectors",
                vectors.len()
            )));
        }
        let n = vectors.len() / input_dim;
        if n < 2 {
            return Err(CoreError::Reduction(format!(
                "PCA needs at least 2 vectors to fit, got {n}"
            )));
        }
        let d = input_dim;
        let mut mean = vec![0f64; d];
        for row in vectors.chunks_exact(d) {
            for (m, &x) in mean.iter_mut().zip(row) {
                *m += x as f64;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);

        // Upper triangle of the covariance, accumulated row by row.
        let mut cov = vec![0f64; d * d];
        let mut centered = vec![0f64; d];
        for row in vectors.chunks_exact(d) {
            for ((c, &x), m) in centered.iter_mut().zip(row).zip(&mean) {
                *c = x as f64 - m;
            }
            for i in 0..d {
                let ci = centered[i];
                let out = &mut cov[i * d + i..(i + 1) * d];
                for (o, &cj) in out.iter_mut().zip(&centered[i..]) {
                    *o += ci * cj;
                }
            }
        }
        let scale = 1.0 / (n - 1) as f64;
        for i in 0..d {
            for j in i..d {
                let v = cov[i * d + j] * scale;
                cov[i * d + j] = v;
                cov[j * d + i] = v;
            }
        }
        let (values, eigenvectors) = symmetric_eigen(&mut cov, d);
        let mut order: Vec<usize> = (0..d).collect();
        order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
        let total: f64 = values.iter().map(|v| v.max(0.0)).sum();
        let kept: f64 = order[..dims].iter().map(|&i| values[i].max(0.0)).sum();
        let mut components = Vec::with_capacity(dims * d);
        for &k in &order[..dims] {
            components.extend(eigenvectors[k * d..(k + 1) * d].iter().map(|&x| x as f32));
        }
        Ok(Reduction::Pca {
            input_dim: d,
            dims,
            mean: mean.iter().map(|&m| m as f32).collect(),
            components,
            explained: if total > 0.0 { kept / total } else { 0.0 },
        })
    }

    /// Dimension of the vectors it takes.
    pub fn input_dim(&self) -> usize {
        match self {
            Reduction::Truncate { input_dim, .. } | Reduction::Pca { input_dim, .. } => *input_dim,
        }
    }

    /// Dimension of the vectors it returns.
    pub fn dims(&self) -> usize {
        match self {
            Reduction::Truncate { dims, .. } | Reduction::Pca { dims, .. } => *dims,
        }
    }

    /// Short name for reports: `truncate256`, `pca256`.
    pub fn label(&self) -> String {
        match self {
            Reduction::Truncate { dims, .. } => format!("truncate{dims}"),
            Reduction::Pca { dims, .. } => format!("pca{dims}"),
        }
    }

    /// Reduces one vector and re-normalizes it.
    pub fn apply(&self, v: &[f32]) -> Result<Vec<f32>, CoreError> {
        if v.len() != self.input_dim() {
            return Err(CoreError::WrongVectorDimension {
                expected: self.input_dim(),
                received: v.len(),
            });
        }
        let mut out = match self {
            Reduction::Truncate { dims, .. } => v[..*dims].to_vec(),
            Reduction::Pca {
                mean, components, ..
            } => {
                let centered: Vec<f32> = v.iter().zip(mean).map(|(x, m)| x - m).collect();
                components
                    .chunks_exact(v.len())
                    .map(|c| distance::dot(c, &centered))
                    .collect()
            }
        };
        distance::normalize(&mut out);
        Ok(out)
    }
}

fn check_dims(input_dim: usize, dims: usize) -> Result<(), CoreError> {
    if dims == 0 || dims > input_dim {
        return Err(CoreError::Reduction(format!(
            "cannot reduce {input_dim}-d vectors to {dims} dimensions: \
             expected between 1 and {input_dim}"
        )));
    }
    Ok(())
}

/// Eigen decomposition of the symmetric `d x d` matrix `a` (row-major,
/// destroyed): Householder reduction to tridiagonal form, then the QL
/// algorithm with implicit shifts (as in Numerical Recipes' `tred2` and
/// `tqli`), in f64. Returns the eigenvalues and the eigenvectors,
/// eigenvector `k` in row `k` of a row-major matrix.
fn symmetric_eigen(a: &mut [f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut d = vec![0f64; n];
    let mut e = vec![0f64; n];
    tridiagonalize(a, n, &mut d, &mut e);
    // Rows of zt are the columns of the accumulated transformation, so
    // the rotations below touch contiguous memory.
    let mut zt = vec![0f64; n * n];
    for r in 0..n {
        for c in 0..n {
            zt[c * n + r] = a[r * n + c];
        }
    }
    tridiagonal_ql(&mut d, &mut e, &mut zt, n);
    (d, zt)
}

/// Householder reduction of the symmetric `a` to tridiagonal form:
/// diagonal in `d`, sub-diagonal in `e[1..]`; `a` becomes the orthogonal
/// matrix of the transformation.
fn tridiagonalize(a: &mut [f64], n: usize, d: &mut [f64], e: &mut [f64]) {
    for i in (1..n).rev() {
        let l = i - 1;
        let mut h = 0.0;
        if l > 0 {
            let scale: f64 = (0..=l).map(|k| a[i * n + k].abs()).sum();
            if scale == 0.0 {
                e[i] = a[i * n + l];
            } else {
                for k in 0..=l {
                    a[i * n + k] /= scale;
                    h += a[i * n + k] * a[i * n + k];
                }
                let mut f = a[i * n + l];
                let mut g = if f >= 0.0 { -h.sqrt() } else { h.sqrt() };
                e[i] = scale * g;
                h -= f * g;
                a[i * n + l] = f - g;
                f = 0.0;
                for j in 0..=l {
                    a[j * n + i] = a[i * n + j] / h;
                    g = 0.0;
                    for k in 0..=j {
                        g += a[j * n + k] * a[i * n + k];
                    }
                    for k in (j + 1)..=l {
                        g += a[k * n + j] * a[i * n + k];
                    }
                    e[j] = g / h;
                    f += e[j] * a[i * n + j];
                }
                let hh = f / (h + h);
                for j in 0..=l {
                    let f = a[i * n + j];
                    let g = e[j] - hh * f;
                    e[j] = g;
                    for k in 0..=j {
                        a[j * n + k] -= f * e[k] + g * a[i * n + k];
                    }
                }
            }
        } else {
            e[i] = a[i * n + l];
        }
        d[i] = h;
    }
    d[0] = 0.0;
    e[0] = 0.0;
    for i in 0..n {
        if d[i] != 0.0 {
            for j in 0..i {
                let g: f64 = (0..i).map(|k| a[i * n + k] * a[k * n + j]).sum();
                for k in 0..i {
                    a[k * n + j] -= g * a[k * n + i];
                }
            }
        }
        d[i] = a[i * n + i];
        a[i * n + i] = 1.0;
        for j in 0..i {
            a[j * n + i] = 0.0;
            a[i * n + j] = 0.0;
        }
    }
}

/// Eigenvalues (into `d`) and eigenvectors (rows of `zt`) of the
/// tridiagonal matrix `d`, `e[1..]` by QL with implicit shifts.
fn tridiagonal_ql(d: &mut [f64], e: &mut [f64], zt: &mut [f64], n: usize) {
    if n == 0 {
        return;
    }
    for i in 1..n {
        e[i - 1] = e[i];
    }
    e[n - 1] = 0.0;
    for l in 0..n {
        // 30 iterations per eigenvalue is the classic bound; well-formed
        // covariance matrices need two or three.
        for _iter in 0..60 {
            let mut m = l;
            while m + 1 < n {
                let dd = d[m].abs() + d[m + 1].abs();
                if e[m].abs() <= f64::EPSILON * dd {
                    break;
                }
                m += 1;
            }
            if m == l {
                break;
            }
            let mut g = (d[l + 1] - d[l]) / (2.0 * e[l]);
            let mut r = g.hypot(1.0);
            g = d[m] - d[l] + e[l] / (g + r.copysign(g));
            let (mut s, mut c, mut p) = (1.0, 1.0, 0.0);
            let mut underflow = false;
            for i in (l..m).rev() {
                let f = s * e[i];
                let b = c * e[i];
                r = f.hypot(g);
                e[i + 1] = r;
                if r == 0.0 {
                    d[i + 1] -= p;
                    e[m] = 0.0;
                    underflow = true;
                    break;
                }
                s = f / r;
                c = g / r;
                g = d[i + 1] - p;
                r = (d[i] - g) * s + 2.0 * c * b;
                p = s * r;
                d[i + 1] = g + p;
                g = c * r - b;
                let (zi, zi1) = zt.split_at_mut((i + 1) * n);
                let (zi, zi1) = (&mut zi[i * n..], &mut zi1[..n]);
                for (x, y) in zi.iter_mut().zip(zi1.iter_mut()) {
                    let f = *y;
                    *y = s * *x + c * f;
                    *x = c * *x - s * f;
                }
            }
            if underflow {
                continue;
            }
            d[l] -= p;
            e[l] = g;
            e[m] = 0.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (no rand dependency in core).
    fn lcg(seed: &mut u64) -> f32 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 33) as f32 / (1u64 << 31) as f32) - 0.5
    }

    #[test]
    fn jacobi_diagonalizes_a_symmetric_matrix() {
        let d = 12;
        let mut seed = 7;
        let mut m = vec![0f64; d * d];
        for i in 0..d {
            for j in i..d {
                let x = lcg(&mut seed) as f64;
                m[i * d + j] = x;
                m[j * d + i] = x;
            }
        }
        let original = m.clone();
        let (values, vectors) = symmetric_eigen(&mut m, d);
        // A v_k = lambda_k v_k, and V is orthonormal.
        for k in 0..d {
            for r in 0..d {
                let av: f64 = (0..d)
                    .map(|c| original[r * d + c] * vectors[k * d + c])
                    .sum();
                assert!((av - values[k] * vectors[k * d + r]).abs() < 1e-9);
            }
            for l in 0..d {
                let dot: f64 = (0..d)
                    .map(|r| vectors[k * d + r] * vectors[l * d + r])
                    .sum();
                let want = if k == l { 1.0 } else { 0.0 };
                assert!((dot - want).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn pca_finds_the_directions_of_largest_variance() {
        // Points spread along (1, 1, 0) a lot, along (0, 0, 1) a little,
        // and not at all along (1, -1, 0).
        let mut seed = 3;
        let mut data = Vec::new();
        for _ in 0..500 {
            let (a, b) = (lcg(&mut seed) * 10.0, lcg(&mut seed));
            data.extend([a + 2.0, a + 2.0, b]);
        }
        let r = Reduction::fit_pca(&data, 3, 2).unwrap();
        let Reduction::Pca {
            components,
            explained,
            mean,
            ..
        } = &r
        else {
            panic!("not PCA");
        };
        let first = &components[..3];
        let h = std::f32::consts::FRAC_1_SQRT_2;
        assert!((first[0].abs() - h).abs() < 1e-4 && (first[1].abs() - h).abs() < 1e-4);
        // Sample correlation of 500 points tilts it slightly.
        assert!(first[2].abs() < 1e-2, "{first:?}");
        assert!((components[5].abs() - 1.0).abs() < 1e-3, "{components:?}");
        assert!(*explained > 0.999, "{explained}");
        assert!((mean[0] - 2.0).abs() < 0.5);
        // Two points that differ only along the dropped direction reduce
        // to the same vector.
        let x = r.apply(&[3.0, 1.0, 0.5]).unwrap();
        let y = r.apply(&[2.5, 1.5, 0.5]).unwrap();
        for (a, b) in x.iter().zip(&y) {
            assert!((a - b).abs() < 1e-5);
        }
        assert!((distance::dot(&x, &x) - 1.0).abs() < 1e-5);
    }

    #[test]
    fn truncation_keeps_the_first_components_normalized() {
        let r = Reduction::truncate(4, 2).unwrap();
        assert_eq!(r.apply(&[3.0, 4.0, 9.0, 9.0]).unwrap(), vec![0.6, 0.8]);
        assert_eq!(r.label(), "truncate2");
        assert!(r.apply(&[1.0, 2.0]).is_err());
    }

    #[test]
    fn impossible_dimensions_are_refused() {
        for (from, to) in [(4, 0), (4, 5)] {
            let e = Reduction::truncate(from, to).unwrap_err().to_string();
            assert!(e.contains("between 1 and 4"), "{e}");
        }
        let e = Reduction::fit_pca(&[1.0, 2.0], 2, 1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("at least 2 vectors"), "{e}");
        assert!(Reduction::fit_pca(&[1.0, 2.0, 3.0], 2, 1).is_err());
    }

    #[test]
    fn a_reduction_survives_json() {
        let r = Reduction::fit_pca(&[1.0, 0.0, 0.0, 1.0, 2.0, 2.0], 2, 1).unwrap();
        let back: Reduction = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }
}
