//! The file format of [`NativeHnsw`]: a header, every node (key, level,
//! removed flag, links, vector) and a CRC-32 of everything before it.
//!
//! Its own magic (`FNDSNHW1`) at the start tells it apart from usearch's
//! files (whose Fundus trailer sits at the end). Loading streams the file
//! once, bounds every allocation by the file's length, checks every link
//! (an id in range, on a level its target has) and the checksum, so a
//! flipped or cut byte is an error, never a panic or a wrong graph.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use fundus_core::Metric;

use super::graph::{read_links, write_links, EMPTY};
use super::insert::MAX_LEVEL;
use super::{NativeHnsw, NO_ENTRY};
use crate::error::IndexError;

/// First bytes of a native HNSW file.
pub const MAGIC: &[u8; 8] = b"FNDSNHW1";

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

/// A writer that keeps the CRC-32 of what passes through.
struct Hashing<W> {
    inner: W,
    crc: crc32fast::Hasher,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that keeps the CRC-32 of what passes through.
struct Checked<R> {
    inner: R,
    crc: crc32fast::Hasher,
}

impl<R: Read> Checked<R> {
    fn bytes<const N: usize>(&mut self) -> io::Result<[u8; N]> {
        let mut b = [0u8; N];
        self.inner.read_exact(&mut b)?;
        self.crc.update(&b);
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

    /// `n` little-endian u32 words.
    fn words(&mut self, n: usize, out: &mut Vec<u32>) -> io::Result<()> {
        let mut buf = vec![0u8; n * 4];
        self.inner.read_exact(&mut buf)?;
        self.crc.update(&buf);
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

impl NativeHnsw {
    /// Writes the index to `path` through a synced temporary sibling that
    /// is renamed over it, so a crash leaves the old file or the new one.
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
        let crc = w.crc.clone().finalize();
        let mut inner = w.inner;
        inner.write_all(&crc.to_le_bytes())?;
        inner.flush()?;
        inner.get_ref().sync_all()
    }

    /// Reads an index written by [`NativeHnsw::save`], checking that it
    /// holds `dim`-dimensional vectors for `metric`.
    pub fn load(path: &Path, dim: usize, metric: Metric) -> Result<Self, IndexError> {
        let file = File::open(path).map_err(|e| file_error(path, e))?;
        let total = file.metadata().map_err(|e| file_error(path, e))?.len();
        let mut r = Checked {
            inner: BufReader::with_capacity(1 << 20, file),
            crc: crc32fast::Hasher::new(),
        };
        let corrupt = |why: &str| file_error(path, why);
        let io = |e: io::Error| match e.kind() {
            io::ErrorKind::UnexpectedEof => file_error(path, "cut short: the file is corrupted"),
            _ => file_error(path, e),
        };
        if total < HEADER_LEN + 4 || r.bytes::<8>().map_err(io)? != *MAGIC {
            return Err(corrupt("not a native HNSW file (no FNDSNHW1 magic)"));
        }
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
        if nodes > (total - HEADER_LEN - 4) / min_node || nodes >= u32::MAX as u64 {
            return Err(corrupt("node count does not fit the file's size"));
        }
        let n = nodes as usize;
        index.graph.reserve(n);
        index.keys.reserve(n);
        index.ids.reserve(n);
        index.deleted = vec![0; n.div_ceil(64)];
        let (mut words, mut vector) = (Vec::new(), vec![0f32; dim]);
        for id in 0..n as u32 {
            let key = r.u64().map_err(io)?;
            let level = r.u8().map_err(io)? as usize;
            let deleted = r.u8().map_err(io)?;
            if level > MAX_LEVEL || deleted > 1 {
                return Err(corrupt("a node's level or flags are out of range"));
            }
            r.words(2 * m + level * m, &mut words).map_err(io)?;
            let (base, upper) = words.split_at(2 * m);
            // Vectors are read after the links: keep them aside.
            let (base, upper) = (base.to_vec(), upper.to_vec());
            r.words(dim, &mut words).map_err(io)?;
            vector
                .iter_mut()
                .zip(&words)
                .for_each(|(v, w)| *v = f32::from_bits(*w));
            index.graph.push(&vector, level);
            write_links(index.graph.links0(id), &base);
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
        let crc = r.crc.clone().finalize();
        let stored = u32::from_le_bytes(r.bytes::<4>().map_err(io)?);
        if crc != stored {
            return Err(corrupt("checksum mismatch: the file is corrupted"));
        }
        if r.inner.read(&mut [0u8; 1]).map_err(io)? != 0 {
            return Err(corrupt("trailing bytes after the checksum"));
        }
        // Every link must point at a node that has the link's level (the
        // search indexes the target's lists by it).
        let mut list = Vec::new();
        for id in 0..n as u32 {
            for l in 0..=index.graph.level(id) {
                read_links(index.graph.links(id, l), &mut list);
                if list
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
