//! Distance kernels.
//!
//! Picked at run time, so the binary stays portable (no
//! `target-cpu=native`) and still runs the wide kernel on every machine
//! that has it: AVX-512 kernels written with intrinsics (see `avx512`),
//! else loops written so that LLVM vectorizes them (sixteen independent
//! accumulators break the dependency chain of a naive sum), compiled for
//! AVX2+FMA and the baseline by [`multiversion!`](crate::multiversion).

/// Signature of a kernel over two equally long slices.
pub type Kernel = fn(&[f32], &[f32]) -> f32;

/// Accumulators per kernel: one AVX-512 register's worth.
pub const LANES: usize = 16;

/// Inner product. Slices of unequal length are compared on their common
/// prefix.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if crate::simd::has_avx512() {
        // SAFETY: the CPU has AVX-512F.
        return unsafe { avx512::dot(a, b) };
    }
    dot_vectorized(a, b)
}

/// Squared euclidean distance.
#[inline]
pub fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if crate::simd::has_avx512() {
        // SAFETY: the CPU has AVX-512F.
        return unsafe { avx512::l2_squared(a, b) };
    }
    l2_squared_vectorized(a, b)
}

crate::multiversion! {
    /// [`dot`] where AVX-512 is missing: AVX2+FMA or baseline.
    pub fn dot_vectorized(a: &[f32], b: &[f32]) -> f32 {
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
    /// [`l2_squared`] where AVX-512 is missing.
    pub fn l2_squared_vectorized(a: &[f32], b: &[f32]) -> f32 {
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

/// The AVX-512 kernels, written with intrinsics: left to itself LLVM keeps
/// every `+=` of the portable loop in order (no fast-math), which makes one
/// dependency chain of additions (profiled in the HNSW search: the vector
/// adds waited on each other) and sometimes picks 128-bit registers with
/// spills when asked for several chains. Here: four independent 16-lane
/// fused multiply-add chains, then one chain, then a masked tail, so any
/// length runs without a scalar loop.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    /// # Safety
    /// The CPU must support AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = [_mm512_setzero_ps(); 4];
        let mut i = 0;
        // SAFETY (all loads): `i + width <= n` or a mask limits the lanes
        // read to `i..n`.
        while i + 64 <= n {
            for (j, acc) in acc.iter_mut().enumerate() {
                let x = _mm512_loadu_ps(pa.add(i + 16 * j));
                let y = _mm512_loadu_ps(pb.add(i + 16 * j));
                *acc = _mm512_fmadd_ps(x, y, *acc);
            }
            i += 64;
        }
        while i + 16 <= n {
            let x = _mm512_loadu_ps(pa.add(i));
            let y = _mm512_loadu_ps(pb.add(i));
            acc[0] = _mm512_fmadd_ps(x, y, acc[0]);
            i += 16;
        }
        if i < n {
            let mask: __mmask16 = (1u16 << (n - i)) - 1;
            let x = _mm512_maskz_loadu_ps(mask, pa.add(i));
            let y = _mm512_maskz_loadu_ps(mask, pb.add(i));
            acc[1] = _mm512_fmadd_ps(x, y, acc[1]);
        }
        let sum = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
        _mm512_reduce_add_ps(sum)
    }

    /// # Safety
    /// The CPU must support AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = [_mm512_setzero_ps(); 4];
        let mut i = 0;
        // SAFETY (all loads): as in `dot`.
        while i + 64 <= n {
            for (j, acc) in acc.iter_mut().enumerate() {
                let d = _mm512_sub_ps(
                    _mm512_loadu_ps(pa.add(i + 16 * j)),
                    _mm512_loadu_ps(pb.add(i + 16 * j)),
                );
                *acc = _mm512_fmadd_ps(d, d, *acc);
            }
            i += 64;
        }
        while i + 16 <= n {
            let d = _mm512_sub_ps(_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i)));
            acc[0] = _mm512_fmadd_ps(d, d, acc[0]);
            i += 16;
        }
        if i < n {
            let mask: __mmask16 = (1u16 << (n - i)) - 1;
            let d = _mm512_sub_ps(
                _mm512_maskz_loadu_ps(mask, pa.add(i)),
                _mm512_maskz_loadu_ps(mask, pb.add(i)),
            );
            acc[1] = _mm512_fmadd_ps(d, d, acc[1]);
        }
        let sum = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
        _mm512_reduce_add_ps(sum)
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
        for n in [0, 1, 7, 15, 16, 17, 33, 63, 64, 65, 100, 384, 385, 768] {
            let a = sample(n, 1);
            let b = sample(n, 2);
            let d = dot(&a, &b) as f64;
            assert!((d - naive_dot(&a, &b)).abs() < 1e-4, "dot n={n}");
            let d = dot_vectorized(&a, &b) as f64;
            assert!((d - naive_dot(&a, &b)).abs() < 1e-4, "dot n={n}");
            let l2: f64 = a
                .iter()
                .zip(&b)
                .map(|(x, y)| ((*x - *y) as f64).powi(2))
                .sum();
            assert!((l2_squared(&a, &b) as f64 - l2).abs() < 1e-4, "l2 n={n}");
            assert!(
                (l2_squared_vectorized(&a, &b) as f64 - l2).abs() < 1e-4,
                "l2 n={n}"
            );
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
