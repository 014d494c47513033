//! Line-numbered reading shared by all the file readers.
//!
//! Every reader reports errors as `file:line`, so they all go through the
//! same numbering (1-based, counting blank lines) instead of each keeping
//! its own counter.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use crate::EvalError;

/// Opens `path` for buffered reading, naming the path if that fails.
pub(crate) fn open(path: &Path) -> Result<BufReader<File>, EvalError> {
    File::open(path)
        .map(BufReader::new)
        .map_err(|e| EvalError::io(path, e))
}

/// Calls `f(line_number, line)` for every line of `reader`, with the line
/// ending (`\n` or `\r\n`) removed. `source` only names the input in errors.
pub(crate) fn for_each_line<R, F>(mut reader: R, source: &Path, mut f: F) -> Result<(), EvalError>
where
    R: BufRead,
    F: FnMut(usize, &str) -> Result<(), EvalError>,
{
    let mut buf = String::new();
    let mut number = 0;
    loop {
        buf.clear();
        number += 1;
        let read = reader.read_line(&mut buf).map_err(|e| {
            let reason = format!("cannot read line: {e}");
            EvalError::malformed(source, number, reason)
        })?;
        if read == 0 {
            return Ok(());
        }
        let line = buf.strip_suffix('\n').unwrap_or(&buf);
        let line = line.strip_suffix('\r').unwrap_or(line);
        f(number, line)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_lines_from_one_and_strips_crlf() {
        let input = "a\r\n\nb";
        let mut seen = Vec::new();
        for_each_line(input.as_bytes(), Path::new("x"), |n, l| {
            seen.push((n, l.to_string()));
            Ok(())
        })
        .unwrap();
        assert_eq!(
            seen,
            vec![(1, "a".into()), (2, String::new()), (3, "b".into())]
        );
    }

    #[test]
    fn invalid_utf8_is_reported_with_its_line() {
        let input: &[u8] = b"ok\n\xff\xfe\n";
        let err = for_each_line(input, Path::new("f.tsv"), |_, _| Ok(())).unwrap_err();
        assert!(err.to_string().starts_with("f.tsv:2:"), "{err}");
    }
}
