//! Word segmentation by Unicode's rules (UAX #29), with a fast path for
//! ASCII text.
//!
//! unicode-segmentation looks every character up in Unicode's tables; on
//! short English queries that was a quarter of the analysis time. Most text
//! (and almost every query) is ASCII, where the rules that can apply are
//! few and written out below. Both paths yield the same *word* pieces
//! (checked on random text in the tests); they differ only in how runs of
//! non-word characters are cut (the fast path yields one piece per
//! character), which the analyzer does not look at: for it, any non-word
//! piece other than a lone joiner ends a product code, and a lone joiner is
//! a one-character piece in both.

use unicode_segmentation::{UWordBoundIndices, UnicodeSegmentation};

/// The pieces of `text` with their byte offsets: words and what lies
/// between them.
pub(crate) fn word_bounds(text: &str) -> WordBounds<'_> {
    if text.is_ascii() {
        WordBounds::Ascii(AsciiWordBounds { text, pos: 0 })
    } else {
        WordBounds::Unicode(text.split_word_bound_indices())
    }
}

/// A word piece (what `unicode_words` keeps): it has a letter or a digit.
pub(crate) fn is_word(piece: &str) -> bool {
    piece.chars().any(char::is_alphanumeric)
}

pub(crate) enum WordBounds<'a> {
    Ascii(AsciiWordBounds<'a>),
    Unicode(UWordBoundIndices<'a>),
}

impl<'a> Iterator for WordBounds<'a> {
    type Item = (usize, &'a str);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            WordBounds::Ascii(it) => it.next(),
            WordBounds::Unicode(it) => it.next(),
        }
    }
}

/// UAX #29 word boundaries restricted to ASCII. The classes that occur:
/// ALetter `A-Z a-z`, Numeric `0-9`, ExtendNumLet `_`, MidLetter `:`,
/// MidNum `, ;`, MidNumLet `.`, Single_Quote `'`. The rules that join:
/// letters, digits and `_` in any order (WB5, 8, 9, 10, 13a, 13b); a
/// letter, then `:` `.` or `'`, then a letter (WB6, 7); a digit, then `,`
/// `;` `.` or `'`, then a digit (WB11, 12).
pub(crate) struct AsciiWordBounds<'a> {
    text: &'a str,
    pos: usize,
}

#[inline]
fn joins(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl<'a> Iterator for AsciiWordBounds<'a> {
    type Item = (usize, &'a str);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let bytes = self.text.as_bytes();
        let start = self.pos;
        let first = *bytes.get(start)?;
        let mut end = start + 1;
        if joins(first) {
            while end < bytes.len() {
                let b = bytes[end];
                if joins(b) {
                    end += 1;
                    continue;
                }
                let (Some(&next), prev) = (bytes.get(end + 1), bytes[end - 1]) else {
                    break;
                };
                let letters = prev.is_ascii_alphabetic()
                    && matches!(b, b':' | b'.' | b'\'')
                    && next.is_ascii_alphabetic();
                let digits = prev.is_ascii_digit()
                    && matches!(b, b',' | b';' | b'.' | b'\'')
                    && next.is_ascii_digit();
                if letters || digits {
                    end += 2;
                } else {
                    break;
                }
            }
        }
        self.pos = end;
        // ASCII: every byte offset is a character boundary.
        Some((start, &self.text[start..end]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the analyzer sees of a segmentation: words and lone joiners
    /// with their offsets; any other run of pieces is one `None`.
    fn seen<'a>(pieces: impl Iterator<Item = (usize, &'a str)>) -> Vec<Option<(usize, &'a str)>> {
        let mut out: Vec<Option<(usize, &str)>> = Vec::new();
        for (i, p) in pieces {
            if is_word(p) || matches!(p, "-" | "/" | ".") {
                out.push(Some((i, p)));
            } else if out.last() != Some(&None) {
                out.push(None);
            }
        }
        out
    }

    fn words_fast(text: &str) -> Vec<Option<(usize, &str)>> {
        seen(AsciiWordBounds { text, pos: 0 })
    }

    fn words_unicode(text: &str) -> Vec<Option<(usize, &str)>> {
        seen(text.split_word_bound_indices())
    }

    #[test]
    fn ascii_path_matches_unicode_segmentation() {
        let fixed = [
            "e.g. U.S.A. 3.5 1,000 1,000.5 a:b:c it's don't 'quoted' rock'n'roll",
            "LABO-288 HMFvh-4001 280L DIN 13277 snake_case __init__ _ a_1 1_a",
            "end. 5. .5 ,5 5, a. .a a.1 1.a a'1 1'a a:1 1:1 1;2 a;b x''y 7..8",
            "tabs\tand\r\nnewlines  double  spaces \"quotes\" #hash (paren) [b]",
        ];
        for text in fixed {
            assert_eq!(words_fast(text), words_unicode(text), "{text}");
        }
        // Random strings over the characters whose rules differ.
        let alphabet = b"aZ09_:.',;-/ \t\r\n\"#xy7.-";
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            let mut text = String::new();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 12) as usize;
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                text.push(alphabet[(state % alphabet.len() as u64) as usize] as char);
            }
            assert_eq!(words_fast(&text), words_unicode(&text), "{text:?}");
        }
    }

    #[test]
    fn non_ascii_text_takes_the_unicode_path() {
        let pieces: Vec<&str> = word_bounds("Straße 3,5 naïve").map(|(_, p)| p).collect();
        assert_eq!(pieces, vec!["Straße", " ", "3,5", " ", "naïve"]);
    }
}
