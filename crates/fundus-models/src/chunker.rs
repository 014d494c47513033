//! Splitting long documents into overlapping token windows.
//!
//! A bi-encoder reads at most `max_seq_length` tokens; everything after is
//! silently dropped. For RAG that loses the end of every long product
//! sheet, so documents are cut into windows of `size` tokens that overlap
//! by `overlap` tokens (a sentence cut at a border is whole in one of the
//! two windows). Every chunk keeps its document id and character offsets.

use fundus_core::Chunk;

use crate::error::ModelError;
use crate::tokenize::TextTokenizer;

/// Token-window chunker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunker {
    /// Tokens per window, special tokens and prefix not counted.
    pub size: usize,
    /// Tokens shared by consecutive windows.
    pub overlap: usize,
}

impl Chunker {
    /// A chunker; `overlap` must be smaller than `size`.
    pub fn new(size: usize, overlap: usize) -> Result<Self, String> {
        if size == 0 {
            return Err("chunk size must be at least 1 token".into());
        }
        if overlap >= size {
            return Err(format!(
                "chunk overlap ({overlap}) must be smaller than the chunk size ({size})"
            ));
        }
        Ok(Chunker { size, overlap })
    }

    /// Splits `text` into chunks. A text that fits into one window is one
    /// chunk spanning all of it (whitespace included), so short documents
    /// are embedded exactly as given.
    pub fn split(
        &self,
        tokenizer: &TextTokenizer,
        doc_id: &str,
        text: &str,
    ) -> Result<Vec<Chunk>, ModelError> {
        let offsets = tokenizer.token_offsets(text)?;
        let whole = || Chunk {
            doc_id: doc_id.to_string(),
            index: 0,
            char_start: 0,
            char_end: text.chars().count() as u32,
            text: text.to_string(),
        };
        if offsets.len() <= self.size {
            return Ok(vec![whole()]);
        }
        let step = self.size - self.overlap;
        // Two tokens belong to one word when nothing separates them.
        let joined = |i: usize| i > 0 && i < offsets.len() && offsets[i].0 == offsets[i - 1].1;
        let mut chunks = Vec::new();
        let mut start = 0;
        loop {
            let mut end = (start + self.size).min(offsets.len());
            // Do not cut a word at either border (a chunk should not start
            // with "ltemittel"): move the start forward to the next word
            // and the end back to the last whole word, each by less than
            // half the overlap, so consecutive chunks still share tokens.
            let mut first = start;
            while joined(first) && first - start < self.overlap / 2 && first + 1 < end {
                first += 1;
            }
            if end < offsets.len() {
                let mut last = end;
                while joined(last) && end - last < self.overlap / 2 && last > first + 1 {
                    last -= 1;
                }
                end = last;
            }
            let start_tok = first;
            let byte_start = offsets[start_tok].0;
            let byte_end = offsets[end - 1].1;
            let (byte_start, byte_end) = (
                floor_char_boundary(text, byte_start),
                ceil_char_boundary(text, byte_end),
            );
            chunks.push(Chunk {
                doc_id: doc_id.to_string(),
                index: chunks.len() as u32,
                char_start: text[..byte_start].chars().count() as u32,
                char_end: text[..byte_end].chars().count() as u32,
                text: text[byte_start..byte_end].to_string(),
            });
            if end == offsets.len() {
                break;
            }
            start = (start + step).min(end);
        }
        Ok(chunks)
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_char_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_must_be_smaller_than_size() {
        assert!(Chunker::new(0, 0).is_err());
        assert!(Chunker::new(10, 10).is_err());
        assert!(Chunker::new(10, 2).is_ok());
    }

    #[test]
    fn char_boundaries() {
        let s = "aü b";
        assert_eq!(floor_char_boundary(s, 2), 1);
        assert_eq!(ceil_char_boundary(s, 2), 3);
        assert_eq!(ceil_char_boundary(s, 99), s.len());
    }
}
