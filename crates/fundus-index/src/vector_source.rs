//! Where a rescoring pass reads the original vectors.

use crate::FlatIndex;

/// Original (prepared, `f32`) vectors by key, for rescoring candidates that
/// an index found through quantized codes.
///
/// An index over codes need not hold the floats: a collection keeps them
/// once, in its vector storage, and lends them to whichever index searches.
pub trait VectorSource: Sync {
    /// The prepared vector stored under `key`, if there is one.
    fn vector_of(&self, key: u64) -> Option<&[f32]>;
}

/// Keys are row numbers.
impl VectorSource for FlatIndex {
    fn vector_of(&self, key: u64) -> Option<&[f32]> {
        usize::try_from(key)
            .ok()
            .filter(|&row| row < self.len())
            .map(|row| self.vector(row))
    }
}
