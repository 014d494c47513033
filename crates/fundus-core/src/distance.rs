//! Distance kernels.
//!
//! The kernels are written so that LLVM vectorizes them (sixteen
//! independent accumulators break the dependency chain of a naive sum) and
//! are compiled for AVX-512, AVX2+FMA and the baseline by
//! [`multiversion!`](crate::multiversion), picked at run time. That keeps
//! the binary portable — no `target-cpu=native` — and still runs the wide
//! kernel on every machine that has it.

/// Signature of a kernel over two equally long slices.
pub type Kernel = fn(&[f32], &[f32]) -> f32;

/// Accumulators per kernel: one AVX-512 register's worth.
pub const LANES: usize = 16;

crate::multiversion! {
    /// Inner product. Slices of unequal length are compared on their
    /// common prefix.
    pub fn dot(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let mut acc = [0.0f32; LANES];
        let mut ca = a[..n].chunks_exact(LANES);
        let mut cb = b[..n].chunks_exact(LANES);
        for (x, y) in (&mut ca).zip(&mut cb) {
            for i in 0..LANES {
                acc[i] += x[i] * y[i];
            }
        }
        let mut tail = 0.0f32;
        for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
            tail += x * y;
        }
        acc.iter().sum::<f32>() + tail
    }
}

crate::multiversion! {
    /// Squared euclidean distance.
    pub fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let mut acc = [0.0f32; LANES];
        let mut ca = a[..n].chunks_exact(LANES);
        let mut cb = b[..n].chunks_exact(LANES);
        for (x, y) in (&mut ca).zip(&mut cb) {
            for i in 0..LANES {
                let d = x[i] - y[i];
                acc[i] += d * d;
            }
        }
        let mut tail = 0.0f32;
        for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
            tail += (x - y) * (x - y);
        }
        acc.iter().sum::<f32>() + tail
    }
}

/// The dot-product kernel as a function pointer, for callers that take a
/// `Kernel`.
pub fn dot_kernel() -> Kernel {
    dot
}

/// The squared-euclidean kernel as a function pointer.
pub fn l2_squared_kernel() -> Kernel {
    l2_squared
}

/// Scales `v` to unit length; a zero vector stays zero rather than NaN.
pub fn normalize(v: &mut [f32]) {
    let norm = dot(v, v).sqrt();
    if norm > 0.0 {
        let inv = 1.0 / norm;
        v.iter_mut().for_each(|x| *x *= inv);
    }
}

/// Cosine similarity of two vectors of any length.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let denom = (dot(a, a) * dot(b, b)).sqrt();
    if denom == 0.0 {
        0.0
    } else {
        dot(a, b) / denom
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
    }

    fn sample(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2654435761).wrapping_add(1);
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s as f32 / u32::MAX as f32) - 0.5
            })
            .collect()
    }

    #[test]
    fn kernels_agree_with_naive_sums_for_odd_lengths() {
        for n in [0, 1, 7, 15, 16, 17, 33, 384, 385, 768] {
            let a = sample(n, 1);
            let b = sample(n, 2);
            let d = dot(&a, &b) as f64;
            assert!((d - naive_dot(&a, &b)).abs() < 1e-4, "dot n={n}");
            let l2: f64 = a
                .iter()
                .zip(&b)
                .map(|(x, y)| ((*x - *y) as f64).powi(2))
                .sum();
            assert!((l2_squared(&a, &b) as f64 - l2).abs() < 1e-4, "l2 n={n}");
        }
    }

    #[test]
    fn normalize_gives_unit_length_and_keeps_zero() {
        let mut v = vec![3.0, 4.0];
        normalize(&mut v);
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
        let mut z = vec![0.0; 4];
        normalize(&mut z);
        assert_eq!(z, vec![0.0; 4]);
        assert_eq!(cosine(&z, &v), 0.0);
    }
}
