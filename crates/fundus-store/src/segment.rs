//! Immutable segments: points and vectors written once, checksummed.
//!
//! A segment is what the WAL is folded into: one file holding the payloads
//! (JSON) and the prepared vectors (little-endian `f32`) of a set of points,
//! and the documents it deletes from the segments before it, followed by a
//! CRC32 of everything before it. It is written to a temporary name,
//! fsynced and renamed, so a segment file either is complete or does not
//! exist under its final name; a damaged one is refused with its path.
//!
//! A collection's segments are read in order, like a log of big
//! operations: each deletes its `deletes` from what came before, then adds
//! its points. A flush writes only what changed since the last one (a
//! *delta*); merging folds a run of segments into one that deletes nothing.
//!
//! ```text
//! "FUNDSEG2" | points u64 | dim u64 | json_len u64 | deletes_len u64
//!            | json | deletes json | points·dim f32 | crc32 u32
//! ```
//!
//! Version 1 files (no deletes section, header of four fields) are read
//! too.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::StoreError;
use crate::manifest::sync_dir;
use crate::point::Point;

const MAGIC_V1: &[u8; 8] = b"FUNDSEG1";
const MAGIC: &[u8; 8] = b"FUNDSEG2";
const HEADER_V1: usize = 8 + 8 + 8 + 8;
const HEADER: usize = HEADER_V1 + 8;

/// The content of one segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub points: Vec<Point>,
    /// `points.len() × dim` prepared vectors, row-major.
    pub vectors: Vec<f32>,
    /// Documents removed from the earlier segments before `points` are
    /// added (deleted, or replaced by a point here).
    pub deletes: Vec<String>,
}

fn corrupt(path: &Path, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Writes a segment atomically into `dir` under `name`.
pub fn write(dir: &Path, name: &str, dim: usize, seg: &Segment) -> Result<PathBuf, StoreError> {
    write_parts(dir, name, dim, &seg.points, &seg.vectors, &seg.deletes)
}

/// [`write`] from borrowed parts, so a collection can write its rows
/// without copying them into a [`Segment`] first.
pub fn write_parts(
    dir: &Path,
    name: &str,
    dim: usize,
    points: &[Point],
    vectors: &[f32],
    deletes: &[String],
) -> Result<PathBuf, StoreError> {
    let path = dir.join(name);
    let json = serde_json::to_vec(points).map_err(|e| corrupt(&path, e.to_string()))?;
    let del = serde_json::to_vec(deletes).map_err(|e| corrupt(&path, e.to_string()))?;
    let mut buf = Vec::with_capacity(HEADER + json.len() + del.len() + vectors.len() * 4 + 4);
    buf.extend_from_slice(MAGIC);
    buf.extend_from_slice(&(points.len() as u64).to_le_bytes());
    buf.extend_from_slice(&(dim as u64).to_le_bytes());
    buf.extend_from_slice(&(json.len() as u64).to_le_bytes());
    buf.extend_from_slice(&(del.len() as u64).to_le_bytes());
    buf.extend_from_slice(&json);
    buf.extend_from_slice(&del);
    for x in vectors {
        buf.extend_from_slice(&x.to_le_bytes());
    }
    let crc = crc32fast::hash(&buf);
    buf.extend_from_slice(&crc.to_le_bytes());

    let tmp = dir.join(format!("{name}.tmp"));
    let mut f = File::create(&tmp).map_err(|e| StoreError::io(&tmp, e))?;
    f.write_all(&buf)
        .and_then(|_| f.sync_all())
        .map_err(|e| StoreError::io(&tmp, e))?;
    fs::rename(&tmp, &path).map_err(|e| StoreError::io(&path, e))?;
    sync_dir(dir)?;
    Ok(path)
}

/// Reads and verifies a segment of vectors of dimension `dim`.
pub fn read(path: &Path, dim: usize) -> Result<Segment, StoreError> {
    let mut buf = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut buf))
        .map_err(|e| StoreError::io(path, e))?;
    let v1 = buf.len() >= 8 && &buf[..8] == MAGIC_V1;
    let header = if v1 { HEADER_V1 } else { HEADER };
    if buf.len() < header + 4 || !(v1 || &buf[..8] == MAGIC) {
        return Err(corrupt(path, "not a Fundus segment (bad header)"));
    }
    let (body, tail) = buf.split_at(buf.len() - 4);
    let stored = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
    if crc32fast::hash(body) != stored {
        return Err(corrupt(path, "checksum mismatch: the file is damaged"));
    }
    let u64_at = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&body[i..i + 8]);
        u64::from_le_bytes(b) as usize
    };
    let (n, seg_dim, json_len) = (u64_at(8), u64_at(16), u64_at(24));
    let del_len = if v1 { 0 } else { u64_at(32) };
    if seg_dim != dim {
        return Err(corrupt(
            path,
            format!("dimension {seg_dim}, collection has {dim}"),
        ));
    }
    let vec_bytes = n.checked_mul(dim).and_then(|x| x.checked_mul(4));
    let meta_end = json_len
        .checked_add(del_len)
        .and_then(|m| m.checked_add(header));
    if meta_end.zip(vec_bytes).and_then(|(m, v)| m.checked_add(v)) != Some(body.len()) {
        return Err(corrupt(path, "lengths in the header do not match the file"));
    }
    let json = &body[header..header + json_len];
    let points: Vec<Point> =
        serde_json::from_slice(json).map_err(|e| corrupt(path, format!("payloads: {e}")))?;
    if points.len() != n {
        return Err(corrupt(path, "point count does not match the header"));
    }
    let vec_start = header + json_len + del_len;
    let deletes: Vec<String> = if v1 {
        Vec::new()
    } else {
        serde_json::from_slice(&body[header + json_len..vec_start])
            .map_err(|e| corrupt(path, format!("deletes: {e}")))?
    };
    let vectors = body[vec_start..]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok(Segment {
        points,
        vectors,
        deletes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Segment {
        Segment {
            points: vec![Point::whole("a", "x"), Point::whole("b", "y")],
            vectors: vec![1.0, 0.0, 0.5, 0.5],
            deletes: vec!["old".into()],
        }
    }

    #[test]
    fn version_1_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let json = serde_json::to_vec(&sample().points).unwrap();
        let mut buf = Vec::new();
        buf.extend_from_slice(MAGIC_V1);
        for x in [2u64, 2, json.len() as u64] {
            buf.extend_from_slice(&x.to_le_bytes());
        }
        buf.extend_from_slice(&json);
        for x in sample().vectors {
            buf.extend_from_slice(&x.to_le_bytes());
        }
        let crc = crc32fast::hash(&buf);
        buf.extend_from_slice(&crc.to_le_bytes());
        let p = dir.path().join("old.seg");
        fs::write(&p, buf).unwrap();
        let seg = read(&p, 2).unwrap();
        assert_eq!(seg.points, sample().points);
        assert!(seg.deletes.is_empty());
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "s1.seg", 2, &sample()).unwrap();
        assert_eq!(read(&p, 2).unwrap(), sample());
        assert!(!dir.path().join("s1.seg.tmp").exists());
    }

    #[test]
    fn damage_is_detected_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "s1.seg", 2, &sample()).unwrap();
        let mut bytes = fs::read(&p).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x40;
        fs::write(&p, &bytes).unwrap();
        let err = read(&p, 2).unwrap_err().to_string();
        assert!(err.contains("s1.seg") && err.contains("checksum"), "{err}");
        fs::write(&p, b"nonsense").unwrap();
        assert!(read(&p, 2).unwrap_err().to_string().contains("bad header"));
        let p = write(dir.path(), "s2.seg", 2, &sample()).unwrap();
        assert!(read(&p, 3).unwrap_err().to_string().contains("dimension"));
    }
}
