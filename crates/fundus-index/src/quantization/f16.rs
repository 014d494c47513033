//! Half-precision codes: each component stored as the 16 bits of an IEEE
//! `f16`, widened back to `f32` inside the distance kernel.
//!
//! Encoding goes through the `half` crate (round to nearest even, which is
//! the fiddly direction). Decoding is a branch-free bit manipulation written
//! here so that LLVM vectorizes it together with the multiply-add, instead of
//! calling a conversion per element; the kernels are compiled for the
//! baseline and for AVX2+FMA and picked at run time, as in
//! `fundus_core::distance`.

use std::sync::OnceLock;

/// Largest finite `f16`; components beyond it saturate instead of turning
/// into infinities that would poison every score.
const F16_MAX: f32 = 65504.0;

const LANES: usize = 16;

/// Appends the `f16` bits of `v` to `out`.
pub fn encode_into(v: &[f32], out: &mut Vec<u16>) {
    out.extend(
        v.iter()
            .map(|&x| half::f16::from_f32(x.clamp(-F16_MAX, F16_MAX)).to_bits()),
    );
}

/// Widens `f16` bits to `f32`, exactly (subnormals, infinities and NaN
/// included). Branch-free so it vectorizes: the three cases are computed and
/// selected.
#[inline(always)]
pub fn decode(h: u16) -> f32 {
    let h = h as u32;
    let sign = (h & 0x8000) << 16;
    let magnitude = h & 0x7fff;
    let exponent = magnitude & 0x7c00;
    // Normal numbers: move exponent and mantissa into place, rebias 15 -> 127.
    let normal = (magnitude << 13) + ((127 - 15) << 23);
    // Infinity and NaN: push the exponent to all ones.
    let special = normal + ((128 - 16) << 23);
    // Subnormals: build 2^-14 * (1 + m/1024) and subtract 2^-14.
    let subnormal = (f32::from_bits(normal + (1 << 23)) - f32::from_bits(113 << 23)).to_bits();
    let bits = if exponent == 0x7c00 {
        special
    } else if exponent == 0 {
        subnormal
    } else {
        normal
    };
    f32::from_bits(bits | sign)
}

/// Signature of a kernel between an `f32` query and `f16` codes.
pub type F16Kernel = fn(&[f32], &[u16]) -> f32;

macro_rules! kernels {
    ($dot:ident, $l2:ident, $fma:expr) => {
        #[inline(always)]
        fn $dot(q: &[f32], c: &[u16]) -> f32 {
            let n = q.len().min(c.len());
            let mut acc = [0.0f32; super::LANES];
            let mut cq = q[..n].chunks_exact(super::LANES);
            let mut cc = c[..n].chunks_exact(super::LANES);
            for (x, y) in (&mut cq).zip(&mut cc) {
                for i in 0..super::LANES {
                    let y = super::decode(y[i]);
                    acc[i] = if $fma {
                        x[i].mul_add(y, acc[i])
                    } else {
                        acc[i] + x[i] * y
                    };
                }
            }
            let tail: f32 = cq
                .remainder()
                .iter()
                .zip(cc.remainder())
                .map(|(x, y)| x * super::decode(*y))
                .sum();
            acc.iter().sum::<f32>() + tail
        }

        #[inline(always)]
        fn $l2(q: &[f32], c: &[u16]) -> f32 {
            let n = q.len().min(c.len());
            let mut acc = [0.0f32; super::LANES];
            let mut cq = q[..n].chunks_exact(super::LANES);
            let mut cc = c[..n].chunks_exact(super::LANES);
            for (x, y) in (&mut cq).zip(&mut cc) {
                for i in 0..super::LANES {
                    let d = x[i] - super::decode(y[i]);
                    acc[i] = if $fma {
                        d.mul_add(d, acc[i])
                    } else {
                        acc[i] + d * d
                    };
                }
            }
            let tail: f32 = cq
                .remainder()
                .iter()
                .zip(cc.remainder())
                .map(|(x, y)| {
                    let d = x - super::decode(*y);
                    d * d
                })
                .sum();
            acc.iter().sum::<f32>() + tail
        }
    };
}

mod portable {
    // Without FMA hardware `mul_add` is a slow libm call; plain multiply-add
    // vectorizes instead.
    kernels!(dot_impl, l2_impl, false);

    pub fn dot(q: &[f32], c: &[u16]) -> f32 {
        dot_impl(q, c)
    }

    pub fn l2_squared(q: &[f32], c: &[u16]) -> f32 {
        l2_impl(q, c)
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    kernels!(dot_impl, l2_impl, true);

    #[target_feature(enable = "avx2,fma")]
    unsafe fn dot_avx2(q: &[f32], c: &[u16]) -> f32 {
        dot_impl(q, c)
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn l2_avx2(q: &[f32], c: &[u16]) -> f32 {
        l2_impl(q, c)
    }

    pub fn dot(q: &[f32], c: &[u16]) -> f32 {
        // SAFETY: only selected after `is_x86_feature_detected!` confirmed
        // AVX2 and FMA on this CPU.
        unsafe { dot_avx2(q, c) }
    }

    pub fn l2_squared(q: &[f32], c: &[u16]) -> f32 {
        // SAFETY: as above.
        unsafe { l2_avx2(q, c) }
    }
}

struct Kernels {
    dot: F16Kernel,
    l2_squared: F16Kernel,
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

/// Inner product of an `f32` query with `f16` codes; resolve once outside a
/// hot loop.
pub fn dot_kernel() -> F16Kernel {
    kernels().dot
}

/// Squared euclidean distance between an `f32` query and `f16` codes.
pub fn l2_squared_kernel() -> F16Kernel {
    kernels().l2_squared
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_matches_half_on_every_bit_pattern() {
        for bits in 0..=u16::MAX {
            let ours = decode(bits);
            let theirs = half::f16::from_bits(bits).to_f32();
            if theirs.is_nan() {
                assert!(ours.is_nan(), "{bits:#06x}");
            } else {
                assert_eq!(ours.to_bits(), theirs.to_bits(), "{bits:#06x}");
            }
        }
    }

    #[test]
    fn kernels_agree_with_widened_floats() {
        for n in [0, 1, 15, 16, 17, 64, 385] {
            let q: Vec<f32> = (0..n).map(|i| ((i * 7 % 13) as f32 - 6.0) / 5.0).collect();
            let v: Vec<f32> = (0..n).map(|i| ((i * 5 % 11) as f32 - 5.0) / 3.0).collect();
            let mut codes = Vec::new();
            encode_into(&v, &mut codes);
            let widened: Vec<f32> = codes.iter().map(|&c| decode(c)).collect();
            let dot: f32 = q.iter().zip(&widened).map(|(a, b)| a * b).sum();
            let l2: f32 = q.iter().zip(&widened).map(|(a, b)| (a - b) * (a - b)).sum();
            for (kd, kl) in [
                (dot_kernel(), l2_squared_kernel()),
                (
                    portable::dot as F16Kernel,
                    portable::l2_squared as F16Kernel,
                ),
            ] {
                assert!((kd(&q, &codes) - dot).abs() < 1e-3, "dot n={n}");
                assert!((kl(&q, &codes) - l2).abs() < 1e-3, "l2 n={n}");
            }
        }
    }

    #[test]
    fn large_components_saturate_instead_of_overflowing() {
        let mut codes = Vec::new();
        encode_into(&[1e9, -1e9, 0.1], &mut codes);
        assert_eq!(decode(codes[0]), F16_MAX);
        assert_eq!(decode(codes[1]), -F16_MAX);
        assert!((decode(codes[2]) - 0.1).abs() < 1e-4);
    }
}
