//! Distance kernels.
//!
//! The kernels are written so that LLVM vectorizes them (eight independent
//! accumulators break the dependency chain of a naive sum) and are compiled
//! twice: once for the baseline target and once with AVX2+FMA, picked at
//! run time. That keeps the binary portable — no `target-cpu=native` — and
//! still runs the wide kernel on every machine that has it.

use std::sync::OnceLock;

/// Signature of a kernel over two equally long slices.
pub type Kernel = fn(&[f32], &[f32]) -> f32;

const LANES: usize = 16;

macro_rules! kernels {
    ($dot:ident, $l2:ident) => {
        #[inline(always)]
        fn $dot(a: &[f32], b: &[f32]) -> f32 {
            let n = a.len().min(b.len());
            let (a, b) = (&a[..n], &b[..n]);
            let mut acc = [0.0f32; super::LANES];
            let mut ca = a.chunks_exact(super::LANES);
            let mut cb = b.chunks_exact(super::LANES);
            for (x, y) in (&mut ca).zip(&mut cb) {
                for i in 0..super::LANES {
                    acc[i] = x[i].mul_add(y[i], acc[i]);
                }
            }
            let mut tail = 0.0f32;
            for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
                tail = x.mul_add(*y, tail);
            }
            acc.iter().sum::<f32>() + tail
        }

        #[inline(always)]
        fn $l2(a: &[f32], b: &[f32]) -> f32 {
            let n = a.len().min(b.len());
            let (a, b) = (&a[..n], &b[..n]);
            let mut acc = [0.0f32; super::LANES];
            let mut ca = a.chunks_exact(super::LANES);
            let mut cb = b.chunks_exact(super::LANES);
            for (x, y) in (&mut ca).zip(&mut cb) {
                for i in 0..super::LANES {
                    let d = x[i] - y[i];
                    acc[i] = d.mul_add(d, acc[i]);
                }
            }
            let mut tail = 0.0f32;
            for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
                let d = x - y;
                tail = d.mul_add(d, tail);
            }
            acc.iter().sum::<f32>() + tail
        }
    };
}

mod portable {
    pub fn dot(a: &[f32], b: &[f32]) -> f32 {
        // Without FMA hardware `mul_add` is a slow libm call; plain
        // multiply-add vectorizes instead.
        let n = a.len().min(b.len());
        let mut acc = [0.0f32; super::LANES];
        let mut ca = a[..n].chunks_exact(super::LANES);
        let mut cb = b[..n].chunks_exact(super::LANES);
        for (x, y) in (&mut ca).zip(&mut cb) {
            for i in 0..super::LANES {
                acc[i] += x[i] * y[i];
            }
        }
        let tail: f32 = ca
            .remainder()
            .iter()
            .zip(cb.remainder())
            .map(|(x, y)| x * y)
            .sum();
        acc.iter().sum::<f32>() + tail
    }

    pub fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        a[..n]
            .iter()
            .zip(&b[..n])
            .map(|(x, y)| (x - y) * (x - y))
            .sum()
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    kernels!(dot_impl, l2_impl);

    #[target_feature(enable = "avx2,fma")]
    unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
        dot_impl(a, b)
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn l2_avx2(a: &[f32], b: &[f32]) -> f32 {
        l2_impl(a, b)
    }

    pub fn dot(a: &[f32], b: &[f32]) -> f32 {
        // SAFETY: only selected after `is_x86_feature_detected!` confirmed
        // AVX2 and FMA on this CPU.
        unsafe { dot_avx2(a, b) }
    }

    pub fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
        // SAFETY: as above.
        unsafe { l2_avx2(a, b) }
    }
}

struct Kernels {
    dot: Kernel,
    l2_squared: Kernel,
}

fn kernels() -> &'static Kernels {
    static KERNELS: OnceLock<Kernels> = OnceLock::new();
    KERNELS.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            return Kernels {
                dot: avx2::dot,
                l2_squared: avx2::l2_squared,
            };
        }
        Kernels {
            dot: portable::dot,
            l2_squared: portable::l2_squared,
        }
    })
}

/// The fastest dot-product kernel for this CPU; resolve it once outside a
/// hot loop.
pub fn dot_kernel() -> Kernel {
    kernels().dot
}

/// The fastest squared-euclidean kernel for this CPU.
pub fn l2_squared_kernel() -> Kernel {
    kernels().l2_squared
}

/// Inner product. Slices of unequal length are compared on their common prefix.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    (kernels().dot)(a, b)
}

/// Squared euclidean distance.
#[inline]
pub fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    (kernels().l2_squared)(a, b)
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
            assert!((portable::dot(&a, &b) as f64 - naive_dot(&a, &b)).abs() < 1e-4);
            let l2: f64 = a
                .iter()
                .zip(&b)
                .map(|(x, y)| ((*x - *y) as f64).powi(2))
                .sum();
            assert!((l2_squared(&a, &b) as f64 - l2).abs() < 1e-4, "l2 n={n}");
            assert!((portable::l2_squared(&a, &b) as f64 - l2).abs() < 1e-4);
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
