//! Deterministic synthetic data for the index and quantization tests:
//! Gaussian-ish clusters from a xorshift generator (no `rand` dependency).

pub(crate) struct XorShift(u64);

impl XorShift {
    pub(crate) fn new(seed: u64) -> Self {
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Roughly standard normal: the sum of four uniforms, centred and
    /// scaled to unit variance.
    pub(crate) fn gaussian(&mut self) -> f32 {
        let s: f32 = (0..4).map(|_| self.uniform()).sum();
        (s - 2.0) * 3.0f32.sqrt()
    }
}

/// `centers` cluster centres of dimension `dim` drawn from a standard normal.
pub(crate) fn centers(rng: &mut XorShift, count: usize, dim: usize) -> Vec<f32> {
    (0..count * dim).map(|_| rng.gaussian()).collect()
}

/// `n` row-major points, each a random centre plus noise of `spread`.
pub(crate) fn clustered(
    rng: &mut XorShift,
    centers: &[f32],
    dim: usize,
    n: usize,
    spread: f32,
) -> Vec<f32> {
    let count = centers.len() / dim;
    let mut out = Vec::with_capacity(n * dim);
    for _ in 0..n {
        let c = (rng.next_u64() % count as u64) as usize;
        let center = &centers[c * dim..(c + 1) * dim];
        out.extend(center.iter().map(|x| x + spread * rng.gaussian()));
    }
    out
}
