//! The file format of [`NativeHnsw`]: a header, every node (key, level,
//! removed flag, links, vector), then a trailer with the body's length and
//! CRC-32.
//!
//! Its own magic (`FNDSNHW1`) at the start tells it apart from usearch's
//! files (whose Fundus trailer sits at the end, `hnsw.rs`). The trailer
//! mirrors `hnsw.rs`'s: a cut file has no trailer, a flipped byte fails the
//! checksum, and both are found before a byte is parsed. Parsing then still
//! bounds every allocation by the file's length and checks every link (an
//! id in range, on a level its target has), so even a file with a valid
//! checksum but a broken structure is an error, never a panic.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use fundus_core::Metric;

use super::graph::{read_links, write_links, EMPTY};
use super::insert::MAX_LEVEL;
use super::{NativeHnsw, NO_ENTRY};
use crate::error::IndexError;

/// First bytes of a native HNSW file.
pub const MAGIC: &[u8; 8] = b"FNDSNHW1";

/// Last bytes: this magic, the body's length (u64 LE), its CRC-32 (u32 LE).
const TRAILER_MAGIC: &[u8; 8] = b"FNDSNHWT";
const TRAILER_LEN: u64 = 8 + 8 + 4;

/// Header: magic, dim, metric, m, ef_construct (u32 each), nodes, entry
/// (u64 each).
const HEADER_LEN: u64 = 8 + 4 * 4 + 8 + 8;

fn metric_code(metric: Metric) -> u32 {
    match metric {
        Metric::Cosine => 0,
        Metric::Dot => 1,
        Metric::Euclidean => 2,
    }
}

/// Whether the file at `path` starts with the native format's magic.
pub fn is_native_file(path: &Path) -> bool {
    let mut magic = [0u8; 8];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|_| &magic == MAGIC)
}

/// A writer that keeps the CRC-32 and length of what passes through.
struct Hashing<W> {
    inner: W,
    crc: crc32fast::Hasher,
    len: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Little-endian reads from the body.
struct Body<R>(R);

impl<R: Read> Body<R> {
    fn bytes<const N: usize>(&mut self) -> io::Result<[u8; N]> {
        let mut b = [0u8; N];
        self.0.read_exact(&mut b)?;
        Ok(b)
    }

    fn u8(&mut self) -> io::Result<u8> {
        Ok(self.bytes::<1>()?[0])
    }

    fn u32(&mut self) -> io::Result<u32> {
        Ok(u32::from_le_bytes(self.bytes()?))
    }

    fn u64(&mut self) -> io::Result<u64> {
        Ok(u64::from_le_bytes(self.bytes()?))
    }

    /// `n` little-endian u32 words into `out`.
    fn words(&mut self, n: usize, buf: &mut Vec<u8>, out: &mut Vec<u32>) -> io::Result<()> {
        buf.resize(n * 4, 0);
        self.0.read_exact(buf)?;
        out.clear();
        out.extend(
            buf.chunks_exact(4)
                .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]])),
        );
        Ok(())
    }
}

fn file_error(path: &Path, e: impl std::fmt::Display) -> IndexError {
    IndexError::HnswFile {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Checks the trailer and the checksum of the body; returns its length.
fn check_trailer(path: &Path, file: &mut File) -> Result<u64, IndexError> {
    let corrupt = |why: &str| file_error(path, why);
    let io = |e: io::Error| file_error(path, e);
    let total = file.metadata().map_err(io)?.len();
    if total < HEADER_LEN + TRAILER_LEN {
        return Err(corrupt("too short to be an HNSW index file"));
    }
    let mut trailer = [0u8; TRAILER_LEN as usize];
    file.seek(SeekFrom::Start(total - TRAILER_LEN))
        .and_then(|_| file.read_exact(&mut trailer))
        .map_err(io)?;
    let (magic, rest) = trailer.split_at(8);
    let (len, crc) = rest.split_at(8);
    if magic != TRAILER_MAGIC {
        return Err(corrupt(
            "no checksum trailer: not written by Fundus, or cut short",
        ));
    }
    let len = u64::from_le_bytes(len.try_into().unwrap_or_default());
    let crc = u32::from_le_bytes(crc.try_into().unwrap_or_default());
    if len != total - TRAILER_LEN {
        return Err(corrupt("lengths in the trailer do not match the file"));
    }
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    let mut reader = BufReader::with_capacity(1 << 20, file.take(len));
    let mut hasher = crc32fast::Hasher::new();
    loop {
        let buf = reader.fill_buf().map_err(io)?;
        if buf.is_empty() {
            break;
        }
        hasher.update(buf);
        let n = buf.len();
        reader.consume(n);
    }
    if hasher.finalize() != crc {
        return Err(corrupt("checksum mismatch: the file is corrupted"));
    }
    Ok(len)
}

impl NativeHnsw {
    /// Writes the index to `path` through a synced temporary sibling that
    /// is renamed over it, so a crash leaves the old file or the new one.
    /// Syncing the directory is the caller's part of the commit.
    pub fn save(&self, path: &Path) -> Result<(), IndexError> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        self.write_to(&tmp).map_err(|e| file_error(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| file_error(path, e))
    }

    fn write_to(&self, path: &Path) -> io::Result<()> {
        let file = File::create(path)?;
        let mut w = Hashing {
            inner: BufWriter::with_capacity(1 << 20, file),
            crc: crc32fast::Hasher::new(),
            len: 0,
        };
        let g = &self.graph;
        w.write_all(MAGIC)?;
        for x in [
            g.dim as u32,
            metric_code(self.metric),
            g.m as u32,
            self.ef_construct as u32,
        ] {
            w.write_all(&x.to_le_bytes())?;
        }
        w.write_all(&(g.len() as u64).to_le_bytes())?;
        w.write_all(&self.entry.load(Ordering::Acquire).to_le_bytes())?;
        let mut links = Vec::new();
        let mut buf = Vec::new();
        for id in 0..g.len() as u32 {
            buf.clear();
            buf.extend_from_slice(&self.keys[id as usize].to_le_bytes());
            let level = g.level(id);
            buf.push(level as u8);
            buf.push(self.is_deleted(id) as u8);
            for l in 0..=level {
                let slots = g.links(id, l);
                read_links(slots, &mut links);
                for i in 0..slots.len() {
                    let x = links.get(i).copied().unwrap_or(EMPTY);
                    buf.extend_from_slice(&x.to_le_bytes());
                }
            }
            for x in g.vector(id) {
                buf.extend_from_slice(&x.to_le_bytes());
            }
            w.write_all(&buf)?;
        }
        let (crc, len) = (w.crc.clone().finalize(), w.len);
        let mut inner = w.inner;
        inner.write_all(TRAILER_MAGIC)?;
        inner.write_all(&len.to_le_bytes())?;
        inner.write_all(&crc.to_le_bytes())?;
        inner.flush()?;
        inner.get_ref().sync_all()
    }

    /// Reads an index written by [`NativeHnsw::save`], checking that it
    /// holds `dim`-dimensional vectors for `metric`.
    pub fn load(path: &Path, dim: usize, metric: Metric) -> Result<Self, IndexError> {
        let corrupt = |why: &str| file_error(path, why);
        let mut file = File::open(path).map_err(|e| file_error(path, e))?;
        let mut magic = [0u8; 8];
        if file.read_exact(&mut magic).is_err() || magic != *MAGIC {
            return Err(corrupt("not a native HNSW file (no FNDSNHW1 magic)"));
        }
        let len = check_trailer(path, &mut file)?;
        file.seek(SeekFrom::Start(8))
            .map_err(|e| file_error(path, e))?;
        let mut r = Body(BufReader::with_capacity(1 << 20, file.take(len - 8)));
        let io = |e: io::Error| match e.kind() {
            io::ErrorKind::UnexpectedEof => corrupt("node data runs past the end of the file"),
            _ => file_error(path, e),
        };
        let file_dim = r.u32().map_err(io)? as usize;
        let file_metric = r.u32().map_err(io)?;
        let m = r.u32().map_err(io)? as usize;
        let ef_construct = r.u32().map_err(io)? as usize;
        let nodes = r.u64().map_err(io)?;
        let entry = r.u64().map_err(io)?;
        if file_dim != dim {
            return Err(corrupt(&format!(
                "holds {file_dim}-dimensional vectors, expected {dim}"
            )));
        }
        if file_metric != metric_code(metric) {
            return Err(corrupt(&format!(
                "was built for metric code {file_metric}, expected {metric}"
            )));
        }
        let mut index = NativeHnsw::new(dim, metric, m, ef_construct)
            .map_err(|e| file_error(path, format!("header: {e}")))?;
        // Each node takes at least its key, level, flags, base links and
        // vector: bounds `nodes` before anything is allocated for it.
        let min_node = 8 + 2 + 4 * (2 * m + dim) as u64;
        if nodes > (len - HEADER_LEN) / min_node || nodes >= u32::MAX as u64 {
            return Err(corrupt("node count does not fit the file's size"));
        }
        let n = nodes as usize;
        index.graph.reserve(n);
        index.keys.reserve(n);
        index.ids.reserve(n);
        index.deleted = vec![0; n.div_ceil(64)];
        let (mut buf, mut links, mut words) = (Vec::new(), Vec::new(), Vec::new());
        let mut vector = vec![0f32; dim];
        for id in 0..n as u32 {
            let key = r.u64().map_err(io)?;
            let level = r.u8().map_err(io)? as usize;
            let deleted = r.u8().map_err(io)?;
            if level > MAX_LEVEL || deleted > 1 {
                return Err(corrupt("a node's level or flags are out of range"));
            }
            r.words(2 * m + level * m, &mut buf, &mut links)
                .map_err(io)?;
            r.words(dim, &mut buf, &mut words).map_err(io)?;
            vector
                .iter_mut()
                .zip(&words)
                .for_each(|(v, w)| *v = f32::from_bits(*w));
            index.graph.push(&vector, level);
            let (base, upper) = links.split_at(2 * m);
            write_links(index.graph.links0(id), base);
            for (l, part) in upper.chunks_exact(m).enumerate() {
                write_links(index.graph.links(id, l + 1), part);
            }
            index.keys.push(key);
            if deleted == 1 {
                index.deleted[id as usize >> 6] |= 1 << (id & 63);
                index.deleted_count += 1;
            } else if index.ids.insert(key, id).is_some() {
                return Err(corrupt("a key appears twice"));
            }
        }
        if r.0.read(&mut [0u8; 1]).map_err(io)? != 0 {
            return Err(corrupt("bytes left over after the last node"));
        }
        // Every link must point at a node that has the link's level (the
        // search indexes the target's lists by it).
        for id in 0..n as u32 {
            for l in 0..=index.graph.level(id) {
                read_links(index.graph.links(id, l), &mut links);
                if links
                    .iter()
                    .any(|&t| t as usize >= n || index.graph.level(t) < l)
                {
                    return Err(corrupt("a link points outside the graph"));
                }
            }
        }
        if entry != NO_ENTRY {
            let (id, level) = (entry as u32, (entry >> 32) as usize);
            if id as usize >= n || index.graph.level(id) != level {
                return Err(corrupt("the entry point is not a node of its level"));
            }
        } else if n > 0 {
            return Err(corrupt("nodes but no entry point"));
        }
        index.entry.store(entry, Ordering::Release);
        Ok(index)
    }
}
