//! Snapshots: a collection as it was at one moment, in one file, taken
//! while writers go on; and restoring one as a new collection.
//!
//! A snapshot is a zip archive of a collection's durable state:
//! `collection.json`, the segments it names (`segments/*.seg`, and the
//! HNSW graph saved with them, `segments/*.hnsw`) and
//! `wal.log`. Nothing stops the writer; consistency follows from the order
//! in which a flush changes the files (new segment, manifest, WAL reset,
//! old segments deleted):
//!
//! - Segments are immutable, so a segment named by the manifest we read is
//!   taken whole. It is hard-linked, so a flush that deletes it afterwards
//!   takes nothing away; one already gone means a flush committed in
//!   between, and we start over.
//! - The WAL is copied as it is. Records appended meanwhile only extend the
//!   history; one cut in half at the end is a torn tail, which replay
//!   ignores and restore cuts. A flush that reset the log after we read the
//!   manifest would have dropped records the old segments lack, but it
//!   wrote its new manifest first: re-reading the manifest after the copy
//!   catches it, and we start over (a bounded number of times).
//!
//! The copy is opened as a collection (segment checksums verified, WAL
//! replayed) before it is zipped, so a snapshot that was written restores.
//! The work happens in a hidden folder in `collections/` (same file system,
//! so hard links work), removed afterwards; the archive is written to
//! `<dest>.tmp`, fsynced and renamed, so `dest` is whole or absent.
//!
//! Restore unpacks into a hidden folder, opens it as a collection for
//! writing (which verifies it and cuts a torn WAL tail), renames the
//! collection and moves the folder into place with one rename.

use std::fs::{self, File};
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use crate::collection::{Collection, SEGMENTS_DIR, WAL_FILE};
use crate::data_dir::{valid_name, DataDir};
use crate::error::StoreError;
use crate::manifest::{sync_dir, Manifest, MANIFEST_FILE};
use crate::wal::WalError;

/// How often a snapshot starts over when flushes keep committing under it.
const MAX_ATTEMPTS: usize = 16;

/// What a snapshot holds (or a restore produced).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotInfo {
    /// The collection's name (an alias resolved), or the restored name.
    pub collection: String,
    /// Live points (chunks).
    pub points: usize,
    pub documents: usize,
    /// Size of the snapshot file.
    pub bytes: u64,
}

/// Where a snapshot attempt stands, for tests that make a flush happen at
/// the worst moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    ManifestRead,
    SegmentsLinked,
}

impl DataDir {
    /// Writes a consistent snapshot of a collection (or an alias's) to
    /// `dest`, replacing that file if it exists. Writers may go on; the
    /// snapshot holds every write acknowledged before the call and possibly
    /// some later ones, always a prefix of the collection's history.
    pub fn snapshot(&self, name: &str, dest: &Path) -> Result<SnapshotInfo, StoreError> {
        self.snapshot_with(name, dest, &mut |_, _| {})
    }

    fn snapshot_with(
        &self,
        name: &str,
        dest: &Path,
        hook: &mut dyn FnMut(Step, usize),
    ) -> Result<SnapshotInfo, StoreError> {
        let dir = self.existing(name)?;
        let collection = self.resolve(name)?;
        let work = Staging::new(self, "snapshot")?;
        let mut attempt = 0;
        let manifest = loop {
            attempt += 1;
            if let Some(m) = capture(&dir, &work.path, &mut |s| hook(s, attempt))? {
                break m;
            }
            if attempt == MAX_ATTEMPTS {
                return Err(StoreError::SnapshotBusy {
                    name: collection,
                    attempts: attempt,
                });
            }
        };
        let c = Collection::open(work.path.clone(), false)
            .map_err(|e| relocate(e, &work.path, &dir))?;
        let (points, documents) = (c.len(), c.documents());
        drop(c);
        let bytes = write_archive(&work.path, &manifest, dest)?;
        Ok(SnapshotInfo {
            collection,
            points,
            documents,
            bytes,
        })
    }

    /// Restores a snapshot as the new collection `new_name`, which may not
    /// be taken by a collection or an alias. The snapshot is verified
    /// (segment checksums, WAL replay) before the collection appears.
    pub fn restore(&self, snapshot: &Path, new_name: &str) -> Result<SnapshotInfo, StoreError> {
        let target = self.path_of(new_name)?;
        self.refuse_taken(new_name)?;
        let bad = |reason: String| StoreError::BadSnapshot {
            path: snapshot.to_path_buf(),
            reason,
        };
        let file = File::open(snapshot).map_err(|e| StoreError::io(snapshot, e))?;
        let bytes = file
            .metadata()
            .map_err(|e| StoreError::io(snapshot, e))?
            .len();
        let mut archive =
            ZipArchive::new(file).map_err(|e| bad(format!("not a snapshot archive: {e}")))?;
        let work = Staging::new(self, "restore")?;
        let segs = work.path.join(SEGMENTS_DIR);
        fs::create_dir_all(&segs).map_err(|e| StoreError::io(&segs, e))?;
        for i in 0..archive.len() {
            let mut entry = archive
                .by_index(i)
                .map_err(|e| bad(format!("entry {i}: {e}")))?;
            if entry.is_dir() {
                continue;
            }
            let name = entry.name().to_string();
            let rel = entry_path(&name).ok_or_else(|| {
                bad(format!(
                    "unexpected entry {name:?} (a snapshot holds {MANIFEST_FILE}, {WAL_FILE} \
                     and {SEGMENTS_DIR}/*.seg, *.hnsw, *.bm25)"
                ))
            })?;
            let out = work.path.join(rel);
            let mut f = File::create(&out).map_err(|e| StoreError::io(&out, e))?;
            // Reading to the end checks the entry's CRC32.
            io::copy(&mut entry, &mut f).map_err(|e| bad(format!("{name}: {e}")))?;
            f.sync_all().map_err(|e| StoreError::io(&out, e))?;
        }
        if !work.path.join(MANIFEST_FILE).is_file() {
            return Err(bad(format!("it holds no {MANIFEST_FILE}")));
        }
        // Opening for writing verifies everything and cuts a torn WAL tail.
        let c = Collection::open(work.path.clone(), true)
            .map_err(|e| bad(relocate(e, &work.path, Path::new("")).to_string()))?;
        let (points, documents) = (c.len(), c.documents());
        drop(c);
        let mut manifest = Manifest::read(&work.path)?;
        manifest.config.name = new_name.to_string();
        manifest.write(&work.path)?;
        sync_dir(&segs)?;

        let _aliases = self.lock_aliases()?;
        self.refuse_taken(new_name)?;
        fs::rename(&work.path, &target).map_err(|e| StoreError::io(&target, e))?;
        work.keep();
        sync_dir(&self.collections())?;
        Ok(SnapshotInfo {
            collection: new_name.to_string(),
            points,
            documents,
            bytes,
        })
    }

    fn refuse_taken(&self, name: &str) -> Result<(), StoreError> {
        if self.is_collection(name) {
            return Err(StoreError::AlreadyExists(name.into()));
        }
        self.refuse_alias_name(name)
    }
}

/// One attempt at copying the collection in `dir` into `work`: the
/// manifest it committed, or `None` when a flush committed in between.
fn capture(
    dir: &Path,
    work: &Path,
    hook: &mut dyn FnMut(Step),
) -> Result<Option<Manifest>, StoreError> {
    if work.exists() {
        fs::remove_dir_all(work).map_err(|e| StoreError::io(work, e))?;
    }
    let segs = work.join(SEGMENTS_DIR);
    fs::create_dir_all(&segs).map_err(|e| StoreError::io(&segs, e))?;
    let manifest = Manifest::read(dir)?;
    hook(Step::ManifestRead);
    for name in manifest.files() {
        let from = dir.join(SEGMENTS_DIR).join(name);
        match link_or_copy(&from, &segs.join(name)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io(&from, e)),
        }
    }
    hook(Step::SegmentsLinked);
    let wal = dir.join(WAL_FILE);
    match fs::copy(&wal, work.join(WAL_FILE)) {
        Ok(_) => {}
        // A collection whose log was never created: the segments are all.
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(StoreError::io(&wal, e)),
    }
    if Manifest::read(dir)? != manifest {
        return Ok(None);
    }
    manifest.write(work)?;
    Ok(Some(manifest))
}

/// A hard link shares the immutable segment without copying it; where the
/// file system refuses links, a copy does the same.
fn link_or_copy(from: &Path, to: &Path) -> io::Result<()> {
    match fs::hard_link(from, to) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(e),
        Err(_) => fs::copy(from, to).map(|_| ()),
    }
}

/// Zips `work` into `dest` through `<dest>.tmp`; returns the file's size.
fn write_archive(work: &Path, manifest: &Manifest, dest: &Path) -> Result<u64, StoreError> {
    let mut tmp = dest.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let written = zip_into(work, manifest, &tmp);
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written?;
    fs::rename(&tmp, dest).map_err(|e| StoreError::io(dest, e))?;
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    sync_dir(parent)?;
    Ok(fs::metadata(dest)
        .map_err(|e| StoreError::io(dest, e))?
        .len())
}

fn zip_into(work: &Path, manifest: &Manifest, tmp: &Path) -> Result<(), StoreError> {
    let zip_err = |e: zip::result::ZipError| match e {
        zip::result::ZipError::Io(e) => StoreError::io(tmp, e),
        other => StoreError::io(tmp, io::Error::other(other)),
    };
    let file = File::create(tmp).map_err(|e| StoreError::io(tmp, e))?;
    let mut zw = ZipWriter::new(BufWriter::new(file));
    let mut entries = vec![MANIFEST_FILE.to_string()];
    entries.extend(manifest.files().map(|s| format!("{SEGMENTS_DIR}/{s}")));
    if work.join(WAL_FILE).is_file() {
        entries.push(WAL_FILE.to_string());
    }
    for entry in entries {
        let path = work.join(&entry);
        let mut src = File::open(&path).map_err(|e| StoreError::io(&path, e))?;
        let len = src.metadata().map_err(|e| StoreError::io(&path, e))?.len();
        // Vectors do not compress; storing keeps snapshots fast.
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Stored)
            .large_file(len >= u64::from(u32::MAX));
        zw.start_file(entry.as_str(), options).map_err(zip_err)?;
        io::copy(&mut src, &mut zw).map_err(|e| StoreError::io(tmp, e))?;
    }
    let buffered = zw.finish().map_err(zip_err)?;
    let file = buffered
        .into_inner()
        .map_err(|e| StoreError::io(tmp, e.into_error()))?;
    file.sync_all().map_err(|e| StoreError::io(tmp, e))
}

/// Where an archive entry goes in the collection folder; `None` for
/// anything a snapshot does not hold (and for any path that would leave
/// the folder).
fn entry_path(name: &str) -> Option<&str> {
    if name == MANIFEST_FILE || name == WAL_FILE {
        return Some(name);
    }
    let seg = name.strip_prefix(SEGMENTS_DIR)?.strip_prefix('/')?;
    let derived = [".seg", ".hnsw", ".bm25"];
    (valid_name(seg) && derived.iter().any(|ext| seg.ends_with(ext))).then_some(name)
}

/// Rewrites paths inside `from` in an error to the same paths inside `to`,
/// so a message names the collection (or the archive entry), not the
/// hidden work folder.
fn relocate(e: StoreError, from: &Path, to: &Path) -> StoreError {
    let mv = |p: PathBuf| match p.strip_prefix(from) {
        Ok(rel) => to.join(rel),
        Err(_) => p,
    };
    match e {
        StoreError::Corrupt { path, reason } => StoreError::Corrupt {
            path: mv(path),
            reason,
        },
        StoreError::Io { path, source } => StoreError::Io {
            path: mv(path),
            source,
        },
        StoreError::Wal(WalError::Corrupt {
            path,
            offset,
            reason,
        }) => StoreError::Wal(WalError::Corrupt {
            path: mv(path),
            offset,
            reason,
        }),
        StoreError::Wal(WalError::Io { path, source }) => StoreError::Wal(WalError::Io {
            path: mv(path),
            source,
        }),
        other => other,
    }
}

/// A hidden work folder in `collections/`, removed on drop unless kept.
struct Staging {
    path: PathBuf,
    keep: bool,
}

impl Staging {
    fn new(data: &DataDir, kind: &str) -> Result<Staging, StoreError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = data
            .collections()
            .join(format!(".{kind}-{}-{n}", std::process::id()));
        if path.exists() {
            // Left by a crashed process that had our id.
            fs::remove_dir_all(&path).map_err(|e| StoreError::io(&path, e))?;
        }
        fs::create_dir_all(&path).map_err(|e| StoreError::io(&path, e))?;
        Ok(Staging { path, keep: false })
    }

    fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CollectionConfig, ModelInfo, Point};
    use fundus_core::Metric;
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, AtomicUsize};

    fn model() -> ModelInfo {
        ModelInfo::toy(3)
    }

    fn doc(i: usize) -> (Point, Vec<f32>) {
        let id = format!("d{i:05}");
        let x = i as f32;
        (
            Point::whole(&id, &id),
            vec![1.0, (x * 0.37).sin(), (x * 0.11).cos()],
        )
    }

    fn upsert(c: &mut Collection, i: usize) {
        let (p, v) = doc(i);
        c.upsert(&[p], &[v]).unwrap();
    }

    /// With a BM25 index and a graph from the first few points, so the
    /// derived files travel in snapshots too.
    fn create(data: &DataDir, name: &str) -> Collection {
        let index = crate::IndexConfig {
            exact_threshold: 8,
            ..Default::default()
        };
        let config = CollectionConfig::new(name, model(), Metric::Cosine)
            .with_index(index)
            .with_text_index(crate::TextIndexConfig::default());
        data.create(config).unwrap()
    }

    fn ids(c: &Collection) -> Vec<String> {
        c.scroll(None, usize::MAX)
            .into_iter()
            .map(String::from)
            .collect()
    }

    /// Nothing hidden is left behind in `collections/`.
    fn no_work_folders(data: &DataDir) {
        let left: Vec<_> = fs::read_dir(data.collections())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn snapshot_and_restore_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path().join("data"));
        let mut c = create(&data, "products_v1");
        for i in 0..30 {
            upsert(&mut c, i);
        }
        c.flush().unwrap();
        for i in 30..40 {
            upsert(&mut c, i);
        }
        c.delete(&["d00003"]).unwrap();
        data.set_alias("products", "products_v1").unwrap();

        let dest = tmp.path().join("products.zip");
        let info = data.snapshot("products", &dest).unwrap();
        assert_eq!(info.collection, "products_v1");
        assert_eq!((info.points, info.documents), (39, 39));
        assert_eq!(info.bytes, fs::metadata(&dest).unwrap().len());
        assert!(!tmp.path().join("products.zip.tmp").exists());
        no_work_folders(&data);

        // Writes after the snapshot are not in it.
        upsert(&mut c, 40);
        let restored = data.restore(&dest, "copy").unwrap();
        assert_eq!(restored.collection, "copy");
        assert_eq!((restored.points, restored.documents), (39, 39));
        no_work_folders(&data);
        let r = data.open("copy").unwrap();
        assert_eq!(r.config().name, "copy");
        assert_eq!(r.config().model, c.config().model);
        for q in [[1.0, 0.2, 0.9], [0.3, -1.0, 0.1], [1.0, 1.0, 1.0]] {
            let mut want = c.search(&q, 10).unwrap();
            want.retain(|h| h.id != "d00040");
            let got = r.search(&q, 10).unwrap();
            assert_eq!(got[..9], want[..9]);
        }
        assert!(!r.contains_document("d00003"));
        drop(r);
        let mut w = data.open_for_write("copy").unwrap();
        upsert(&mut w, 41);
        assert_eq!(w.len(), 40);
        drop(w);
        assert_eq!(data.open("products_v1").unwrap().len(), 40);

        let err = data.restore(&dest, "copy").unwrap_err();
        assert!(matches!(err, StoreError::AlreadyExists(_)), "{err}");
        let err = data.restore(&dest, "products").unwrap_err();
        assert!(matches!(err, StoreError::AliasConflict { .. }), "{err}");
        let err = data.snapshot("nope", &dest).unwrap_err();
        assert!(matches!(err, StoreError::UnknownCollection { .. }), "{err}");
        assert_eq!(data.list().unwrap(), ["copy", "products_v1"]);
    }

    #[test]
    fn a_flush_under_the_snapshot_is_detected_and_retried() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path().join("data"));
        let mut c = create(&data, "c");
        for i in 0..10 {
            upsert(&mut c, i);
        }
        c.flush().unwrap();
        upsert(&mut c, 10);
        let dest = tmp.path().join("s.zip");

        // Between reading the manifest and copying the log: the log is
        // reset and the segments just linked are no longer the committed ones.
        let mut next = 11;
        let mut steps = Vec::new();
        let info = data
            .snapshot_with("c", &dest, &mut |step, attempt| {
                steps.push((step, attempt));
                if step == Step::SegmentsLinked && attempt == 1 {
                    upsert(&mut c, next);
                    next += 1;
                    c.flush().unwrap();
                }
            })
            .unwrap();
        assert_eq!(steps.len(), 4, "{steps:?}");
        assert_eq!(info.points, 12);

        // Between reading the manifest and linking: its segments vanish.
        let mut attempts = 0;
        let info = data
            .snapshot_with("c", &dest, &mut |step, attempt| {
                attempts = attempt;
                if step == Step::ManifestRead && attempt < 3 {
                    upsert(&mut c, next);
                    next += 1;
                    c.flush().unwrap();
                }
            })
            .unwrap();
        assert_eq!(attempts, 3);
        assert_eq!(info.points, 14);
        data.restore(&dest, "r").unwrap();
        assert_eq!(ids(&data.open("r").unwrap()), ids(&c));

        // A writer that flushes under every attempt wins, with a clear error.
        let err = data
            .snapshot_with("c", &dest, &mut |step, _| {
                if step == Step::SegmentsLinked {
                    upsert(&mut c, next);
                    next += 1;
                    c.flush().unwrap();
                }
            })
            .unwrap_err();
        assert!(matches!(err, StoreError::SnapshotBusy { .. }), "{err}");
        no_work_folders(&data);
    }

    #[test]
    fn snapshot_while_a_writer_keeps_upserting() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path().join("data"));
        drop(create(&data, "live"));
        let acked = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        const MAX: usize = 3000;
        std::thread::scope(|s| {
            let writer = s.spawn(|| {
                let mut w = data.open_for_write("live").unwrap();
                for i in 0..MAX {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    upsert(&mut w, i);
                    acked.store(i + 1, Ordering::SeqCst);
                    if i % 25 == 24 {
                        w.flush().unwrap();
                    }
                }
            });
            while acked.load(Ordering::SeqCst) < 20 {
                std::thread::yield_now();
            }
            for k in 0..4 {
                let before = acked.load(Ordering::SeqCst);
                let dest = tmp.path().join(format!("s{k}.zip"));
                let info = data.snapshot("live", &dest).unwrap();
                let after = acked.load(Ordering::SeqCst);
                let name = format!("r{k}");
                data.restore(&dest, &name).unwrap();
                let r = data.open(&name).unwrap();
                let got = ids(&r);
                let n = got.len();
                assert_eq!(info.points, n);
                let prefix: Vec<String> = (0..n).map(|i| doc(i).0.doc_id).collect();
                assert_eq!(got, prefix, "snapshot {k} holds a prefix of the writes");
                assert!(
                    n >= before,
                    "snapshot {k}: {n} points, {before} acknowledged before"
                );
                // At most the one write in flight when the snapshot ended.
                assert!(
                    n <= after + 1,
                    "snapshot {k}: {n} points, {after} acknowledged"
                );
                for i in [0, n / 2, n - 1] {
                    let (p, _) = doc(i);
                    assert_eq!(r.get(&p.doc_id)[0], &p);
                }
            }
            stop.store(true, Ordering::Relaxed);
            writer.join().unwrap();
        });
        no_work_folders(&data);
    }

    /// A snapshot archive rebuilt from `dir` with `edit` applied to one
    /// entry's bytes (checksums in the zip stay right).
    fn rezip(src: &Path, dest: &Path, edit: &dyn Fn(&str, &mut Vec<u8>)) {
        let mut archive = ZipArchive::new(File::open(src).unwrap()).unwrap();
        let mut zw = ZipWriter::new(File::create(dest).unwrap());
        for i in 0..archive.len() {
            let mut e = archive.by_index(i).unwrap();
            let name = e.name().to_string();
            let mut bytes = Vec::new();
            io::Read::read_to_end(&mut e, &mut bytes).unwrap();
            edit(&name, &mut bytes);
            zw.start_file(name.as_str(), SimpleFileOptions::default())
                .unwrap();
            zw.write_all(&bytes).unwrap();
        }
        zw.finish().unwrap();
    }

    #[test]
    fn a_damaged_snapshot_is_refused_and_named() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path().join("data"));
        let mut c = create(&data, "c");
        for i in 0..20 {
            upsert(&mut c, i);
        }
        c.flush().unwrap();
        upsert(&mut c, 20);
        upsert(&mut c, 21);
        let good = tmp.path().join("good.zip");
        data.snapshot("c", &good).unwrap();

        // A flipped bit in the stored segment: the zip's CRC catches it.
        let mut bytes = fs::read(&good).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x10;
        let flipped = tmp.path().join("flipped.zip");
        fs::write(&flipped, &bytes).unwrap();
        let err = data.restore(&flipped, "x").unwrap_err().to_string();
        assert!(err.contains("flipped.zip"), "{err}");

        // A damaged segment inside an intact archive: the segment's own
        // checksum catches it, and the message names the entry.
        let seg_damaged = tmp.path().join("seg.zip");
        rezip(&good, &seg_damaged, &|name, b| {
            if name.ends_with(".seg") {
                b[40] ^= 1;
            }
        });
        let err = data.restore(&seg_damaged, "x").unwrap_err().to_string();
        assert!(
            err.contains("seg.zip") && err.contains("segments/seg-") && err.contains("checksum"),
            "{err}"
        );

        // Damage inside the log, with a good record behind it: not a torn
        // tail but corruption.
        let wal_damaged = tmp.path().join("wal.zip");
        rezip(&good, &wal_damaged, &|name, b| {
            if name == WAL_FILE {
                // Header (20 bytes), frame header (16), then the payload.
                b[20 + 16 + 5] ^= 1;
            }
        });
        let err = data.restore(&wal_damaged, "x").unwrap_err().to_string();
        assert!(
            err.contains("wal.zip") && err.contains("wal.log") && err.contains("not a torn tail"),
            "{err}"
        );

        let escape = tmp.path().join("escape.zip");
        let mut zw = ZipWriter::new(File::create(&escape).unwrap());
        zw.start_file("../../evil", SimpleFileOptions::default())
            .unwrap();
        zw.write_all(b"x").unwrap();
        zw.finish().unwrap();
        let err = data.restore(&escape, "x").unwrap_err().to_string();
        assert!(
            err.contains("escape.zip") && err.contains("unexpected entry"),
            "{err}"
        );

        let junk = tmp.path().join("junk.zip");
        fs::write(&junk, b"not a zip at all").unwrap();
        let err = data.restore(&junk, "x").unwrap_err().to_string();
        assert!(err.contains("junk.zip"), "{err}");

        let err = data
            .restore(&tmp.path().join("missing.zip"), "x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing.zip"), "{err}");

        assert!(!data.exists("x"));
        no_work_folders(&data);
        data.restore(&good, "x").unwrap();
        assert_eq!(data.open("x").unwrap().len(), 22);
    }
}
