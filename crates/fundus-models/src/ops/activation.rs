//! Element-wise activations with vectorizable approximations.
//!
//! libm's `erff` and `expf` are scalar calls with branches; these are
//! branch-free polynomials (accurate to a few ulp) that LLVM turns into
//! SIMD code.

/// `erf(x)`, rational approximation after Eigen's `generic_fast_erf_float`
/// (|error| < 2e-7 on all of ℝ).
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = -2.726_142_3e-10_f32;
    p = p * x2 + 2.770_681_4e-8;
    p = p * x2 + -2.101_024e-6;
    p = p * x2 + -5.692_506_4e-5;
    p = p * x2 + -7.349_906_3e-4;
    p = p * x2 + -2.954_6e-3;
    p = p * x2 + -1.609_603_3e-2;
    let mut q = -1.456_607_2e-5_f32;
    q = q * x2 + -2.133_740_6e-4;
    q = q * x2 + -1.682_827e-3;
    q = q * x2 + -7.373_329e-3;
    q = q * x2 + -1.426_474e-2;
    x * p / q
}

/// `e^x` by range reduction to `[-ln2/2, ln2/2]` and a degree-6
/// polynomial. Inputs are clamped to the finite range of `f32`.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.3, 88.7);
    // Round to nearest by the 1.5·2^23 trick: no libm call, vectorizes.
    const ROUND: f32 = 12_582_912.0;
    let t = x * LOG2E + ROUND;
    let n = t - ROUND;
    let r = x - n * LN2_HI;
    let r = r - n * LN2_LO;
    let mut p = 1.987_569_1e-4_f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 5e-1;
    let p = (p * r) * r + r + 1.0;
    // 2^n from the integer that the rounding left in `t`'s low mantissa
    // bits (|n| ≤ 128 < 2^22): `n as i32` is a saturating conversion that
    // LLVM does one lane at a time, which made softmax a quarter of the
    // int8 model's time.
    let n_int = (t.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    let scale = f32::from_bits(((n_int + 127) as u32) << 23);
    p * scale
}

const LANES: usize = 16;

/// Sum with independent lane accumulators: a plain `iter().sum()` is a
/// serial chain that LLVM may not reorder (float addition is not
/// associative), so it would never vectorize.
#[inline(always)]
pub fn sum(xs: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let mut chunks = xs.chunks_exact(LANES);
    for c in &mut chunks {
        for i in 0..LANES {
            acc[i] += c[i];
        }
    }
    acc.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>()
}

/// Maximum with lane accumulators (see [`sum`]).
#[inline(always)]
pub fn max(xs: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let mut chunks = xs.chunks_exact(LANES);
    for c in &mut chunks {
        for i in 0..LANES {
            acc[i] = acc[i].max(c[i]);
        }
    }
    let tail = chunks
        .remainder()
        .iter()
        .copied()
        .fold(f32::NEG_INFINITY, f32::max);
    acc.iter().copied().fold(tail, f32::max)
}

multiversion! {
    /// GELU as BERT defines it: `x · Φ(x) = x/2 · (1 + erf(x/√2))`, in place.
    pub fn gelu_erf(xs: &mut [f32]) {
        for x in xs.iter_mut() {
            *x = 0.5 * *x * (1.0 + erf(*x * std::f32::consts::FRAC_1_SQRT_2));
        }
    }
}

/// GELU with the tanh approximation (`gelu_new`), in place.
pub fn gelu_tanh(xs: &mut [f32]) {
    const C: f32 = 0.797_884_6; // sqrt(2/pi)
    dispatch(xs, |x| {
        let u = C * (x + 0.044_715 * x * x * x);
        // tanh(u) = 1 - 2 / (e^{2u} + 1)
        let t = 1.0 - 2.0 / (exp(2.0 * u) + 1.0);
        0.5 * x * (1.0 + t)
    });
}

pub fn relu(xs: &mut [f32]) {
    xs.iter_mut().for_each(|x| *x = x.max(0.0));
}

pub(crate) use fundus_core::multiversion;

/// Applies `f` to every element, compiled with AVX-512 or AVX2 when the
/// CPU has them.
#[inline(always)]
pub(crate) fn dispatch(xs: &mut [f32], f: impl Fn(f32) -> f32 + Copy) {
    #[cfg(target_arch = "x86_64")]
    {
        if simd::has_avx512() {
            // SAFETY: feature presence checked above.
            unsafe { simd::map_avx512(xs, f) };
            return;
        }
        if simd::has_avx2() {
            // SAFETY: as above.
            unsafe { simd::map_avx2(xs, f) };
            return;
        }
    }
    xs.iter_mut().for_each(|x| *x = f(*x));
}

/// Applies `f` to every `cols`-long row, compiled for the widest SIMD the
/// CPU has.
#[inline(always)]
pub(crate) fn dispatch_rows(xs: &mut [f32], cols: usize, f: impl Fn(&mut [f32]) + Copy) {
    #[cfg(target_arch = "x86_64")]
    {
        if simd::has_avx512() {
            // SAFETY: feature presence checked above.
            unsafe { simd::rows_avx512(xs, cols, f) };
            return;
        }
        if simd::has_avx2() {
            // SAFETY: as above.
            unsafe { simd::rows_avx2(xs, cols, f) };
            return;
        }
    }
    xs.chunks_exact_mut(cols).for_each(f);
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod simd {

    pub use fundus_core::simd::{has_avx2, has_avx512};

    #[target_feature(enable = "avx512f,avx2,fma")]
    pub unsafe fn map_avx512(xs: &mut [f32], f: impl Fn(f32) -> f32) {
        xs.iter_mut().for_each(|x| *x = f(*x));
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn map_avx2(xs: &mut [f32], f: impl Fn(f32) -> f32) {
        xs.iter_mut().for_each(|x| *x = f(*x));
    }

    #[target_feature(enable = "avx512f,avx2,fma")]
    pub unsafe fn rows_avx512(xs: &mut [f32], cols: usize, f: impl Fn(&mut [f32])) {
        xs.chunks_exact_mut(cols).for_each(f);
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn rows_avx2(xs: &mut [f32], cols: usize, f: impl Fn(&mut [f32])) {
        xs.chunks_exact_mut(cols).for_each(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// erf by its Taylor series in f64, good for |x| <= 3.
    fn erf_ref(x: f64) -> f64 {
        if x.abs() > 3.0 {
            // Tail: erf(x) = 1 - erfc(x); erfc(3) ~ 2e-5, erfc(4) ~ 1.5e-8.
            let t = 1.0 / (1.0 + 0.5 * x.abs());
            let y = t
                * (-x * x - 1.26551223
                    + t * (1.00002368
                        + t * (0.37409196
                            + t * (0.09678418
                                + t * (-0.18628806
                                    + t * (0.27886807
                                        + t * (-1.13520398
                                            + t * (1.48851587
                                                + t * (-0.82215223 + t * 0.17087277)))))))))
                    .exp();
            return x.signum() * (1.0 - y);
        }
        let mut sum = 0.0;
        let mut term = x;
        let mut n = 0.0;
        while term.abs() > 1e-17 {
            sum += term / (2.0 * n + 1.0);
            n += 1.0;
            term *= -x * x / n;
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn erf_is_accurate() {
        let mut worst = 0.0f64;
        for i in -6000..=6000 {
            let x = i as f64 / 1000.0;
            worst = worst.max((erf(x as f32) as f64 - erf_ref(x)).abs());
        }
        assert!(worst < 1e-6, "max erf error {worst}");
    }

    #[test]
    fn exp_is_accurate_and_underflows_to_zero() {
        for i in -8000..=8000 {
            let x = i as f32 / 100.0;
            let rel = ((exp(x) as f64 - (x as f64).exp()) / (x as f64).exp()).abs();
            assert!(rel < 1e-6, "exp({x}) relative error {rel}");
        }
        assert_eq!(exp(-1e9), exp(-87.3));
        assert!(exp(-1e9) < 1e-37);
    }

    #[test]
    fn gelu_matches_its_definition() {
        let mut xs: Vec<f32> = (-50..=50).map(|i| i as f32 / 10.0).collect();
        let expect: Vec<f64> = xs
            .iter()
            .map(|&x| 0.5 * x as f64 * (1.0 + erf_ref(x as f64 / 2f64.sqrt())))
            .collect();
        gelu_erf(&mut xs);
        for (a, b) in xs.iter().zip(expect) {
            assert!((*a as f64 - b).abs() < 1e-5, "{a} vs {b}");
        }
        let mut t = vec![-1.0f32, 0.0, 1.0];
        gelu_tanh(&mut t);
        assert!((t[2] - 0.841_192).abs() < 1e-4);
    }
}
