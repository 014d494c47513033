//! Half-precision codes: each component stored as the 16 bits of an IEEE
//! `f16`, widened back to `f32` inside the distance kernel.
//!
//! Encoding goes through the `half` crate (round to nearest even, which is
//! the fiddly direction). Decoding is a branch-free bit manipulation written
//! here so that LLVM vectorizes it together with the multiply-add, instead of
//! calling a conversion per element; the kernels are multiversioned
//! (`fundus_core::multiversion!`) like `fundus_core::distance`.

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

fundus_core::multiversion! {
    /// Inner product of an `f32` query with `f16` codes.
    pub fn dot(q: &[f32], c: &[u16]) -> f32 {
        let n = q.len().min(c.len());
        let mut acc = [0.0f32; LANES];
        let mut cq = q[..n].chunks_exact(LANES);
        let mut cc = c[..n].chunks_exact(LANES);
        for (x, y) in (&mut cq).zip(&mut cc) {
            for i in 0..LANES {
                acc[i] += x[i] * decode(y[i]);
            }
        }
        let mut tail = 0.0f32;
        for (x, y) in cq.remainder().iter().zip(cc.remainder()) {
            tail += x * decode(*y);
        }
        acc.iter().sum::<f32>() + tail
    }
}

fundus_core::multiversion! {
    /// Squared euclidean distance between an `f32` query and `f16` codes.
    pub fn l2_squared(q: &[f32], c: &[u16]) -> f32 {
        let n = q.len().min(c.len());
        let mut acc = [0.0f32; LANES];
        let mut cq = q[..n].chunks_exact(LANES);
        let mut cc = c[..n].chunks_exact(LANES);
        for (x, y) in (&mut cq).zip(&mut cc) {
            for i in 0..LANES {
                let d = x[i] - decode(y[i]);
                acc[i] += d * d;
            }
        }
        let mut tail = 0.0f32;
        for (x, y) in cq.remainder().iter().zip(cc.remainder()) {
            let d = x - decode(*y);
            tail += d * d;
        }
        acc.iter().sum::<f32>() + tail
    }
}

/// The dot kernel as a function pointer.
pub fn dot_kernel() -> F16Kernel {
    dot
}

/// The squared-euclidean kernel as a function pointer.
pub fn l2_squared_kernel() -> F16Kernel {
    l2_squared
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
            let (kd, kl) = (dot_kernel(), l2_squared_kernel());
            assert!((kd(&q, &codes) - dot).abs() < 1e-3, "dot n={n}");
            assert!((kl(&q, &codes) - l2).abs() < 1e-3, "l2 n={n}");
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
