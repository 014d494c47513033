//! A seeded xorshift64 generator for the crate's randomized tests: the
//! same sequence on every run and machine, no dependency.

/// Successive xorshift64 values from `seed` (which must not be 0).
pub(crate) fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}
