//! The index file: one checksummed binary file, written atomically.
//!
//! An index must survive a crash during save (the old file stays until the
//! new one is complete: temporary file, fsync, rename, fsync of the
//! folder) and must not be used when damaged (CRC32 over the whole file,
//! then structural checks, each failure an error naming the file).
//!
//! Only live documents are written, renumbered in order, so a saved index
//! is compact. The forward index and the statistics are derived from the
//! postings when reading. Layout, little-endian:
//!
//! ```text
//! magic "FNDSBM25" | version u32 = 1, or 2 for analyzers that split compounds
//! analyzer: u32 length + UTF-8 name
//! k1 f32 | b f32 | variant u8 (0 lucene, 1 robertson, 2 bm25+) | delta f32
//! documents u32, then per document: key (u32 length + UTF-8) | length u32
//! terms u32, then per term: text (u32 length + UTF-8) | postings u32 |
//!     postings × (document u32, tf u32), documents ascending
//! version 2 only: known words u32, then each (u32 length + UTF-8), sorted
//! crc32 u32 of everything before it
//! ```
//!
//! Version 2 adds the lexicon compounds were split against (queries must
//! split against the same one); indexes without it are still written as
//! version 1, so their files are what they always were.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::analyzer::Analyzer;
use crate::bm25::{Bm25Params, Bm25Variant};
use crate::compound::Lexicon;
use crate::index::Bm25Index;
use crate::inverted_index::{InvertedIndex, PostingList, MAX_DOC_TERMS};
use crate::SparseError;

const MAGIC: &[u8; 8] = b"FNDSBM25";
/// Without a lexicon.
const VERSION: u32 = 1;
/// With the lexicon of an analyzer that splits compounds.
const VERSION_LEXICON: u32 = 2;

/// Serializes `index` and replaces `path` with it atomically.
pub(crate) fn write(index: &Bm25Index, path: &Path) -> Result<(), SparseError> {
    write_atomic(&encode(index), path)
}

/// Replaces `path` with `buf`: temporary file beside it, fsync, rename,
/// fsync of the folder. Also used by the sparse vector index's file.
pub(crate) fn write_atomic(buf: &[u8], path: &Path) -> Result<(), SparseError> {
    let tmp = tmp_path(path);
    let mut f = File::create(&tmp).map_err(|e| SparseError::io(&tmp, e))?;
    f.write_all(buf)
        .and_then(|_| f.sync_all())
        .map_err(|e| SparseError::io(&tmp, e))?;
    drop(f);
    fs::rename(&tmp, path).map_err(|e| SparseError::io(path, e))?;
    sync_parent(path)
}

/// `<name>.tmp` beside `path`.
fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Makes the rename durable (a no-op where folders cannot be opened).
fn sync_parent(path: &Path) -> Result<(), SparseError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if cfg!(unix) {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| SparseError::io(dir, e))?;
    }
    Ok(())
}

fn encode(index: &Bm25Index) -> Vec<u8> {
    let inv = &index.inverted;
    let mut remap = vec![u32::MAX; inv.num_ordinals()];
    let mut live_docs = 0u32;
    for (d, &live) in inv.live.iter().enumerate() {
        if live {
            remap[d] = live_docs;
            live_docs += 1;
        }
    }
    let mut out =
        Vec::with_capacity(64 + inv.postings.iter().map(PostingList::len).sum::<usize>() * 8);
    out.extend_from_slice(MAGIC);
    let lexicon = index.compounds.as_ref().map(|c| &c.lexicon);
    put_u32(
        &mut out,
        if lexicon.is_some() {
            VERSION_LEXICON
        } else {
            VERSION
        },
    );
    put_str(&mut out, index.analyzer.name());
    let p = index.params;
    put_f32(&mut out, p.k1);
    put_f32(&mut out, p.b);
    let (variant, delta) = match p.variant {
        Bm25Variant::Lucene => (0u8, 0.0),
        Bm25Variant::Robertson => (1, 0.0),
        Bm25Variant::Bm25Plus { delta } => (2, delta),
    };
    out.push(variant);
    put_f32(&mut out, delta);

    put_u32(&mut out, live_docs);
    for (d, &live) in inv.live.iter().enumerate() {
        if live {
            put_str(&mut out, &index.keys[d]);
            put_u32(&mut out, inv.doc_len[d]);
        }
    }
    let live_terms = inv.df.iter().filter(|&&df| df > 0).count() as u32;
    put_u32(&mut out, live_terms);
    for (id, term) in inv.terms.iter().enumerate() {
        if inv.df[id] == 0 {
            continue;
        }
        put_str(&mut out, term);
        put_u32(&mut out, inv.df[id]);
        for (doc, tf) in inv.postings[id].iter() {
            let doc = remap[doc as usize];
            if doc != u32::MAX {
                put_u32(&mut out, doc);
                put_u32(&mut out, tf);
            }
        }
    }
    if let Some(lexicon) = lexicon {
        let mut words: Vec<&str> = lexicon.iter().collect();
        words.sort_unstable();
        put_u32(&mut out, words.len() as u32);
        for w in words {
            put_str(&mut out, w);
        }
    }
    let crc = crc32fast::hash(&out);
    put_u32(&mut out, crc);
    out
}

pub(crate) fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_f32(out: &mut Vec<u8>, v: f32) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    // Keys and terms are far below 4 GiB: terms are capped by the analyzer
    // and a key that long could not have been stored in the first place.
    put_u32(out, s.len() as u32);
    out.extend_from_slice(s.as_bytes());
}

/// Reads and verifies an index file.
pub(crate) fn read(path: &Path) -> Result<Bm25Index, SparseError> {
    let mut buf = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut buf))
        .map_err(|e| SparseError::io(path, e))?;
    decode(&buf).map_err(|reason| SparseError::corrupt(path, reason))
}

fn decode(buf: &[u8]) -> Result<Bm25Index, String> {
    if buf.len() < MAGIC.len() + 8 || &buf[..MAGIC.len()] != MAGIC {
        return Err("not a Fundus BM25 index (bad magic)".into());
    }
    let (body, tail) = buf.split_at(buf.len() - 4);
    let stored = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
    let mut r = Reader {
        buf: body,
        pos: MAGIC.len(),
    };
    let version = r.u32()?;
    if version != VERSION && version != VERSION_LEXICON {
        return Err(format!(
            "index format version {version}, this build reads versions {VERSION} and {VERSION_LEXICON}"
        ));
    }
    if crc32fast::hash(body) != stored {
        return Err("checksum mismatch: the file is damaged".into());
    }
    let name = r.str()?;
    let analyzer = Analyzer::from_name(&name).map_err(|e| e.to_string())?;
    let k1 = r.f32()?;
    let b = r.f32()?;
    let variant = match (r.u8()?, r.f32()?) {
        (0, _) => Bm25Variant::Lucene,
        (1, _) => Bm25Variant::Robertson,
        (2, delta) => Bm25Variant::Bm25Plus { delta },
        (v, _) => return Err(format!("unknown BM25 variant code {v}")),
    };
    let params = Bm25Params { k1, b, variant };
    params.validate().map_err(|e| e.to_string())?;

    let num_docs = r.u32()? as usize;
    let mut keys = Vec::with_capacity(num_docs.min(r.remaining() / 8));
    let mut inverted = InvertedIndex::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for d in 0..num_docs {
        let key = r.str()?;
        if let Some(first) = seen.insert(key.clone(), d) {
            return Err(format!(
                "key {key:?} stored twice (documents {first} and {d})"
            ));
        }
        let len = r.u32()?;
        if len as usize > MAX_DOC_TERMS {
            return Err(format!(
                "document {key:?} has length {len}, more than {MAX_DOC_TERMS}"
            ));
        }
        keys.push(key);
        inverted.doc_len.push(len);
    }
    drop(seen);

    let num_terms = r.u32()? as usize;
    let mut tf_sum = vec![0u64; num_docs];
    for id in 0..num_terms {
        let term = r.str()?;
        if inverted.term_ids.insert(term.clone(), id as u32).is_some() {
            return Err(format!("term {term:?} stored twice"));
        }
        let count = r.u32()? as usize;
        if count == 0 {
            return Err(format!("term {term:?} has no postings"));
        }
        let mut list = PostingList::default();
        let mut prev: Option<u32> = None;
        for _ in 0..count {
            let doc = r.u32()?;
            let tf = r.u32()?;
            if doc as usize >= num_docs || prev.is_some_and(|p| doc <= p) || tf == 0 {
                return Err(format!(
                    "postings of term {term:?} are invalid (document {doc}, tf {tf}, {num_docs} documents)"
                ));
            }
            prev = Some(doc);
            tf_sum[doc as usize] += u64::from(tf);
            // Lengths are filled in once all documents are known.
            list.docs.push(doc);
            list.tfs.push(tf);
        }
        inverted.terms.push(term);
        inverted.postings.push(list);
    }
    let lexicon = if version == VERSION_LEXICON {
        if !analyzer.splits_compounds() {
            return Err(format!(
                "a lexicon of compound parts is stored, but the {analyzer} analyzer splits no compounds"
            ));
        }
        let count = r.u32()? as usize;
        let mut lexicon = Lexicon::new();
        for _ in 0..count {
            let word = r.str()?;
            if !lexicon.insert(&word) {
                return Err(format!(
                    "known word {word:?} is stored twice or cannot be a part"
                ));
            }
        }
        Some(lexicon)
    } else {
        None
    };
    if r.remaining() != 0 {
        return Err(format!(
            "{} unexpected bytes after the postings",
            r.remaining()
        ));
    }
    if let Some(d) = (0..num_docs).find(|&d| tf_sum[d] != u64::from(inverted.doc_len[d])) {
        return Err(format!(
            "document {:?} has length {} but {} term occurrences",
            keys[d], inverted.doc_len[d], tf_sum[d]
        ));
    }
    Ok(Bm25Index::from_parts(
        analyzer, params, inverted, keys, lexicon,
    ))
}

/// A bounds-checked cursor over the file body.
pub(crate) struct Reader<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) pos: usize,
}

impl Reader<'_> {
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&[u8], String> {
        if self.remaining() < n {
            return Err(format!("truncated at byte {} (needed {n} more)", self.pos));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn f32(&mut self) -> Result<f32, String> {
        Ok(f32::from_bits(self.u32()?))
    }

    pub(crate) fn str(&mut self) -> Result<String, String> {
        let len = self.u32()? as usize;
        let at = self.pos;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| format!("invalid UTF-8 at byte {at}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Bm25Index {
        let mut index = Bm25Index::build(
            Analyzer::German,
            Bm25Params {
                k1: 1.1,
                b: 0.6,
                variant: Bm25Variant::Bm25Plus { delta: 0.5 },
            },
            [
                ("a", "Der Kühlschrank LABO-288 kühlt Impfstoffe"),
                ("b", "Gefrierschrank HMFvh-4001 für Labore"),
                ("c", "Ein Schrank ohne Kühlung"),
                ("d", "Kühlschränke nach DIN 13277"),
            ],
        )
        .unwrap();
        index.delete("c");
        index
            .upsert("b", "Gefrierschrank HMFvh-4001 für Labore und Kliniken")
            .unwrap();
        index
    }

    #[test]
    fn round_trip_keeps_results_and_settings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bm25.idx");
        let index = sample();
        index.save(&path).unwrap();
        assert!(!dir.path().join("bm25.idx.tmp").exists());
        let loaded = Bm25Index::load(&path).unwrap();
        assert_eq!(loaded.analyzer(), Analyzer::German);
        assert_eq!(loaded.params(), index.params());
        assert_eq!(loaded.len(), 3);
        assert_eq!(loaded.stats().deleted, 0, "saved compact");
        for q in [
            "Kühlschrank",
            "labo 288",
            "Labore Kliniken",
            "DIN 13277 Schrank",
        ] {
            assert_eq!(
                loaded.search(q, 10).unwrap(),
                index.search(q, 10).unwrap(),
                "{q}"
            );
        }
        // The loaded index keeps working: deletes fix df through the
        // rebuilt forward index, upserts add.
        let mut loaded = loaded;
        let mut index = index;
        for i in [&mut loaded, &mut index] {
            i.delete("a");
            i.upsert("e", "Kühlschrank für Blut").unwrap();
        }
        for q in ["Kühlschrank", "Blut labore"] {
            assert_eq!(
                loaded.search(q, 10).unwrap(),
                index.search(q, 10).unwrap(),
                "{q}"
            );
        }
    }

    #[test]
    fn every_damaged_byte_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bm25.idx");
        sample().save(&path).unwrap();
        let good = fs::read(&path).unwrap();
        for i in (0..good.len()).step_by(7) {
            let mut bad = good.clone();
            bad[i] ^= 0x20;
            fs::write(&path, &bad).unwrap();
            let err = Bm25Index::load(&path).unwrap_err();
            assert!(
                matches!(err, SparseError::Corrupt { .. }),
                "byte {i}: {err}"
            );
            assert!(err.to_string().contains("bm25.idx"), "{err}");
        }
        for len in [0, 5, good.len() / 2, good.len() - 1] {
            fs::write(&path, &good[..len]).unwrap();
            assert!(Bm25Index::load(&path).is_err(), "truncated to {len}");
        }
    }

    #[test]
    fn wrong_file_and_missing_file_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.txt");
        fs::write(&path, "hello, this is not an index").unwrap();
        let err = Bm25Index::load(&path).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("notes.txt: not a Fundus BM25 index (bad magic)"),
            "{err}"
        );
        let missing = dir.path().join("missing.idx");
        let err = Bm25Index::load(&missing).unwrap_err();
        assert!(matches!(err, SparseError::Io { .. }));
        assert!(err.to_string().contains("missing.idx"), "{err}");
    }

    #[test]
    fn structural_damage_with_a_valid_checksum_is_refused() {
        // A well-formed file whose postings point past the documents.
        let index =
            Bm25Index::build(Analyzer::Standard, Bm25Params::default(), [("k", "x")]).unwrap();
        let mut bytes = encode(&index);
        bytes.truncate(bytes.len() - 4);
        let at = bytes.len() - 8; // the document of the only posting
        bytes[at..at + 4].copy_from_slice(&5u32.to_le_bytes());
        let crc = crc32fast::hash(&bytes);
        bytes.extend_from_slice(&crc.to_le_bytes());
        let err = decode(&bytes).err().unwrap();
        assert!(err.contains("postings of term \"x\" are invalid"), "{err}");
    }

    #[test]
    fn newer_version_is_refused_with_its_number() {
        let index =
            Bm25Index::build(Analyzer::Standard, Bm25Params::default(), [("k", "x")]).unwrap();
        let mut bytes = encode(&index);
        bytes[8..12].copy_from_slice(&9u32.to_le_bytes());
        let err = decode(&bytes).err().unwrap();
        assert!(err.contains("version 9"), "{err}");
    }
}
