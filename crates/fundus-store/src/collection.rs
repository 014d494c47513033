//! One collection: vectors, payloads and the manifest that commits them.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use fs2::FileExt;

use fundus_core::metric::validate_vector;
use fundus_core::{Filter, Hit};
use fundus_index::FlatIndex;

use crate::error::StoreError;
use crate::manifest::{sync_dir, CollectionConfig, Manifest, FORMAT_VERSION};
use crate::point::Point;

const VECTORS_FILE: &str = "vectors.f32";
const POINTS_FILE: &str = "points.jsonl";
const LOCK_FILE: &str = "writer.lock";

/// A collection loaded in memory, searchable, and — when opened for
/// writing — appendable.
pub struct Collection {
    dir: PathBuf,
    manifest: Manifest,
    index: FlatIndex,
    points: Vec<Point>,
    doc_ids: HashSet<String>,
    /// Held while the collection is open for writing.
    _lock: Option<File>,
}

/// Sizes of a collection, for `fundus collection info`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CollectionStats {
    pub points: usize,
    pub documents: usize,
    pub vector_bytes_on_disk: u64,
    pub payload_bytes_on_disk: u64,
    pub vector_bytes_in_memory: usize,
}

impl Collection {
    pub(crate) fn create(dir: PathBuf, config: CollectionConfig) -> Result<Self, StoreError> {
        let lock = acquire_lock(&dir, &config.name)?;
        for f in [VECTORS_FILE, POINTS_FILE] {
            let p = dir.join(f);
            File::create(&p).map_err(|e| StoreError::io(&p, e))?;
        }
        let manifest = Manifest {
            format_version: FORMAT_VERSION,
            config,
            count: 0,
            documents: 0,
        };
        manifest.write(&dir)?;
        let index = FlatIndex::new(manifest.config.dim, manifest.config.metric);
        Ok(Collection {
            dir,
            manifest,
            index,
            points: Vec::new(),
            doc_ids: HashSet::new(),
            _lock: Some(lock),
        })
    }

    pub(crate) fn open(dir: PathBuf, write: bool) -> Result<Self, StoreError> {
        let manifest = Manifest::read(&dir)?;
        let lock = if write {
            Some(acquire_lock(&dir, &manifest.config.name)?)
        } else {
            None
        };
        let dim = manifest.config.dim;
        let count = manifest.count;

        let vpath = dir.join(VECTORS_FILE);
        let mut data = vec![0f32; count * dim];
        let mut f = File::open(&vpath).map_err(|e| StoreError::io(&vpath, e))?;
        let have = f.metadata().map_err(|e| StoreError::io(&vpath, e))?.len();
        let need = (count * dim * 4) as u64;
        if have < need {
            return Err(StoreError::Corrupt {
                path: vpath,
                reason: format!(
                    "{have} bytes, but the manifest commits {count} vectors ({need} bytes)"
                ),
            });
        }
        f.read_exact(bytemuck_bytes(&mut data))
            .map_err(|e| StoreError::io(&vpath, e))?;
        if cfg!(target_endian = "big") {
            data.iter_mut()
                .for_each(|x| *x = f32::from_bits(x.to_bits().swap_bytes()));
        }

        let ppath = dir.join(POINTS_FILE);
        let reader = BufReader::new(File::open(&ppath).map_err(|e| StoreError::io(&ppath, e))?);
        let mut points = Vec::with_capacity(count);
        for (no, line) in reader.lines().take(count).enumerate() {
            let line = line.map_err(|e| StoreError::io(&ppath, e))?;
            let p: Point = serde_json::from_str(&line).map_err(|e| StoreError::Corrupt {
                path: ppath.clone(),
                reason: format!("line {}: {e}", no + 1),
            })?;
            points.push(p);
        }
        if points.len() < count {
            return Err(StoreError::Corrupt {
                path: ppath,
                reason: format!("{} points, but the manifest commits {count}", points.len()),
            });
        }
        let mut c = Collection {
            index: FlatIndex::from_prepared(dim, manifest.config.metric, data)?,
            doc_ids: points.iter().map(|p| p.doc_id.clone()).collect(),
            points,
            manifest,
            dir,
            _lock: lock,
        };
        if write {
            c.cut_uncommitted_tails(have, need)?;
        }
        Ok(c)
    }

    /// An append that crashed before its commit leaves bytes past the
    /// manifest's count; cut them so the next append starts clean.
    fn cut_uncommitted_tails(&mut self, vec_len: u64, vec_need: u64) -> Result<(), StoreError> {
        if vec_len > vec_need {
            let p = self.dir.join(VECTORS_FILE);
            let f = OpenOptions::new()
                .write(true)
                .open(&p)
                .map_err(|e| StoreError::io(&p, e))?;
            f.set_len(vec_need).map_err(|e| StoreError::io(&p, e))?;
        }
        let p = self.dir.join(POINTS_FILE);
        let committed: u64 = {
            let reader = BufReader::new(File::open(&p).map_err(|e| StoreError::io(&p, e))?);
            let mut total = 0u64;
            for line in reader.split(b'\n').take(self.manifest.count) {
                total += line.map_err(|e| StoreError::io(&p, e))?.len() as u64 + 1;
            }
            total
        };
        let len = fs::metadata(&p).map_err(|e| StoreError::io(&p, e))?.len();
        if len > committed {
            let f = OpenOptions::new()
                .write(true)
                .open(&p)
                .map_err(|e| StoreError::io(&p, e))?;
            f.set_len(committed).map_err(|e| StoreError::io(&p, e))?;
        }
        Ok(())
    }

    pub fn config(&self) -> &CollectionConfig {
        &self.manifest.config
    }

    pub fn len(&self) -> usize {
        self.manifest.count
    }

    pub fn is_empty(&self) -> bool {
        self.manifest.count == 0
    }

    pub fn documents(&self) -> usize {
        self.manifest.documents
    }

    pub fn contains_document(&self, doc_id: &str) -> bool {
        self.doc_ids.contains(doc_id)
    }

    pub fn points(&self) -> &[Point] {
        &self.points
    }

    /// The stored (prepared) vector of point `i`.
    pub fn vector(&self, i: usize) -> &[f32] {
        self.index.vector(i)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends points and their vectors and commits them. When this returns
    /// `Ok`, the points survive a crash.
    pub fn append(&mut self, points: &[Point], vectors: &[Vec<f32>]) -> Result<(), StoreError> {
        if self._lock.is_none() {
            return Err(StoreError::Locked {
                name: self.manifest.config.name.clone(),
                path: self.dir.join(LOCK_FILE),
            });
        }
        if points.len() != vectors.len() {
            return Err(StoreError::LengthMismatch {
                count: points.len(),
                vectors: vectors.len(),
            });
        }
        let dim = self.manifest.config.dim;
        for v in vectors {
            validate_vector(v, dim)?;
        }
        let before = self.index.len();
        let mut prepared = Vec::with_capacity(vectors.len() * dim);
        for v in vectors {
            let row = self.index.add(v)?;
            prepared.extend_from_slice(self.index.vector(row as usize));
        }
        let result = self.write_and_commit(points, &prepared);
        if result.is_err() {
            // Keep memory equal to what is committed on disk.
            self.index.truncate(before);
            return result;
        }
        self.doc_ids.extend(points.iter().map(|p| p.doc_id.clone()));
        self.points.extend_from_slice(points);
        Ok(())
    }

    fn write_and_commit(&mut self, points: &[Point], prepared: &[f32]) -> Result<(), StoreError> {
        let vpath = self.dir.join(VECTORS_FILE);
        let mut vf = OpenOptions::new()
            .append(true)
            .open(&vpath)
            .map_err(|e| StoreError::io(&vpath, e))?;
        let mut bytes = Vec::with_capacity(prepared.len() * 4);
        for x in prepared {
            bytes.extend_from_slice(&x.to_le_bytes());
        }
        vf.write_all(&bytes)
            .and_then(|_| vf.sync_data())
            .map_err(|e| StoreError::io(&vpath, e))?;

        let ppath = self.dir.join(POINTS_FILE);
        let pf = OpenOptions::new()
            .append(true)
            .open(&ppath)
            .map_err(|e| StoreError::io(&ppath, e))?;
        let mut w = BufWriter::new(pf);
        for p in points {
            serde_json::to_writer(&mut w, p).map_err(|e| StoreError::io(&ppath, e.into()))?;
            w.write_all(b"\n").map_err(|e| StoreError::io(&ppath, e))?;
        }
        let pf = w
            .into_inner()
            .map_err(|e| StoreError::io(&ppath, e.into_error()))?;
        pf.sync_data().map_err(|e| StoreError::io(&ppath, e))?;

        let new_docs = points
            .iter()
            .map(|p| p.doc_id.as_str())
            .filter(|d| !self.doc_ids.contains(*d))
            .collect::<HashSet<_>>()
            .len();
        let mut next = self.manifest.clone();
        next.count += points.len();
        next.documents += new_docs;
        next.write(&self.dir)?;
        self.manifest = next;
        Ok(())
    }

    /// The `k` best documents for a query vector. A document scores with its
    /// best chunk; chunks are fetched in growing rounds until `k` distinct
    /// documents are found or the collection is exhausted.
    pub fn search(&self, query: &[f32], k: usize) -> Result<Vec<Hit>, StoreError> {
        self.search_filtered(query, k, None)
    }

    /// Like [`Collection::search`], among the points whose payload
    /// (`metadata`) satisfies `filter`. The filter is evaluated once per
    /// point and checked inside the scan.
    pub fn search_filtered(
        &self,
        query: &[f32],
        k: usize,
        filter: Option<&Filter>,
    ) -> Result<Vec<Hit>, StoreError> {
        let allowed: Option<Vec<bool>> = filter.map(|f| {
            self.points
                .iter()
                .map(|p| f.matches(p.metadata.as_ref()))
                .collect()
        });
        let allow = |row: u32| allowed.as_ref().is_none_or(|a| a[row as usize]);
        let n = allowed
            .as_ref()
            .map_or(self.index.len(), |a| a.iter().filter(|x| **x).count());
        let mut fetch = (k * 4).max(16).min(n);
        loop {
            let raw = self.index.search_filtered(query, fetch, &allow)?;
            let mut seen = HashSet::new();
            let mut hits = Vec::with_capacity(k);
            for (row, score) in &raw {
                let p = &self.points[*row as usize];
                if seen.insert(p.doc_id.as_str()) {
                    hits.push(Hit {
                        id: p.doc_id.clone(),
                        score: *score,
                        chunk: Some(p.chunk),
                        title: p.title.clone(),
                        text: Some(p.text.clone()),
                        metadata: p.metadata.clone(),
                    });
                    if hits.len() == k {
                        break;
                    }
                }
            }
            if hits.len() == k || fetch >= n {
                return Ok(hits);
            }
            fetch = (fetch * 4).min(n);
        }
    }

    pub fn stats(&self) -> CollectionStats {
        let size = |f: &str| fs::metadata(self.dir.join(f)).map(|m| m.len()).unwrap_or(0);
        CollectionStats {
            points: self.len(),
            documents: self.documents(),
            vector_bytes_on_disk: size(VECTORS_FILE),
            payload_bytes_on_disk: size(POINTS_FILE),
            vector_bytes_in_memory: self.index.len() * self.manifest.config.dim * 4,
        }
    }
}

fn acquire_lock(dir: &Path, name: &str) -> Result<File, StoreError> {
    let path = dir.join(LOCK_FILE);
    let f = File::create(&path).map_err(|e| StoreError::io(&path, e))?;
    f.try_lock_exclusive().map_err(|_| StoreError::Locked {
        name: name.into(),
        path: path.clone(),
    })?;
    sync_dir(dir)?;
    Ok(f)
}

/// Views an `f32` buffer as bytes for a single `read_exact`.
fn bytemuck_bytes(v: &mut [f32]) -> &mut [u8] {
    // SAFETY: f32 has no invalid bit patterns and u8 has alignment 1; the
    // slice covers exactly the same memory.
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr() as *mut u8, std::mem::size_of_val(v)) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DataDir, ModelInfo};
    use fundus_core::{CoreError, Metric};

    fn model() -> ModelInfo {
        ModelInfo {
            name: "toy".into(),
            source: "toy".into(),
            sha256: "00".into(),
            dim: 3,
            max_seq_length: 16,
            query_prefix: None,
            passage_prefix: None,
        }
    }

    fn point(doc: &str, chunk: u32) -> Point {
        Point {
            chunk,
            ..Point::whole(doc, &format!("{doc} chunk {chunk}"))
        }
    }

    #[test]
    fn append_reopen_and_search_by_best_chunk() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path());
        let mut c = data
            .create(CollectionConfig::new("c", model(), Metric::Cosine))
            .unwrap();
        c.append(
            &[point("a", 0), point("a", 1), point("b", 0)],
            &[
                vec![1.0, 0.0, 0.0],
                vec![0.9, 0.1, 0.0],
                vec![0.0, 1.0, 0.0],
            ],
        )
        .unwrap();
        drop(c);
        let c = data.open("c").unwrap();
        assert_eq!((c.len(), c.documents()), (3, 2));
        let hits = c.search(&[1.0, 0.05, 0.0], 2).unwrap();
        let ids: Vec<_> = hits.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(
            ids,
            ["a", "b"],
            "a document appears once, with its best chunk"
        );
        assert_eq!(hits[0].chunk, Some(0));
    }

    #[test]
    fn filtered_search_returns_only_matching_points() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path());
        let mut c = data
            .create(CollectionConfig::new("c", model(), Metric::Cosine))
            .unwrap();
        let mut points = Vec::new();
        let mut vectors = Vec::new();
        for i in 0..50u32 {
            let mut p = point(&format!("d{i}"), 0);
            p.metadata = Some(
                serde_json::json!({"volume_l": i * 10, "maker": if i % 2 == 0 { "A" } else { "B" }}),
            );
            points.push(p);
            vectors.push(vec![1.0, i as f32 / 50.0, 0.0]);
        }
        c.append(&points, &vectors).unwrap();
        let f = Filter::parse(r#"maker = "B" AND volume_l >= 250"#).unwrap();
        let hits = c.search_filtered(&[1.0, 0.0, 0.0], 10, Some(&f)).unwrap();
        assert_eq!(hits.len(), 10, "k matching points exist, k are returned");
        for h in &hits {
            let m = h.metadata.as_ref().unwrap();
            assert_eq!(m["maker"], "B");
            assert!(m["volume_l"].as_u64().unwrap() >= 250);
        }
        let none = Filter::parse(r#"maker = "C""#).unwrap();
        assert!(c
            .search_filtered(&[1.0, 0.0, 0.0], 10, Some(&none))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn refuses_wrong_dimension_nan_and_mismatched_lengths() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path());
        let mut c = data
            .create(CollectionConfig::new("c", model(), Metric::Cosine))
            .unwrap();
        let err = c.append(&[point("a", 0)], &[vec![1.0, 0.0]]).unwrap_err();
        assert!(matches!(
            err,
            StoreError::Core(CoreError::WrongVectorDimension {
                expected: 3,
                received: 2
            })
        ));
        let err = c
            .append(&[point("a", 0)], &[vec![1.0, f32::INFINITY, 0.0]])
            .unwrap_err();
        assert!(err.to_string().contains("not finite"), "{err}");
        let err = c.append(&[point("a", 0)], &[]).unwrap_err();
        assert!(matches!(err, StoreError::LengthMismatch { .. }));
        assert!(c.is_empty());
        assert!(c.search(&[1.0, 0.0], 1).is_err());
    }

    #[test]
    fn a_second_writer_is_refused_readers_are_not() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path());
        let _w = data
            .create(CollectionConfig::new("c", model(), Metric::Cosine))
            .unwrap();
        assert!(matches!(
            data.open_for_write("c"),
            Err(StoreError::Locked { .. })
        ));
        assert!(data.open("c").is_ok());
        assert!(matches!(data.delete("c"), Err(StoreError::Locked { .. })));
    }

    #[test]
    fn uncommitted_tails_are_ignored_and_cut() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path());
        let mut c = data
            .create(CollectionConfig::new("c", model(), Metric::Cosine))
            .unwrap();
        c.append(&[point("a", 0)], &[vec![1.0, 0.0, 0.0]]).unwrap();
        let dir = c.dir().to_path_buf();
        drop(c);
        // Simulate a crash in the middle of the next append: bytes written,
        // manifest not replaced.
        let mut vf = OpenOptions::new()
            .append(true)
            .open(dir.join(VECTORS_FILE))
            .unwrap();
        vf.write_all(&[1, 2, 3, 4, 5]).unwrap();
        let mut pf = OpenOptions::new()
            .append(true)
            .open(dir.join(POINTS_FILE))
            .unwrap();
        pf.write_all(b"{\"doc_id\":\"torn").unwrap();

        let c = data.open("c").unwrap();
        assert_eq!(c.len(), 1);
        drop(c);
        let mut c = data.open_for_write("c").unwrap();
        c.append(&[point("b", 0)], &[vec![0.0, 1.0, 0.0]]).unwrap();
        drop(c);
        let c = data.open("c").unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c.points()[1].doc_id, "b");
        assert_eq!(c.search(&[0.0, 1.0, 0.0], 1).unwrap()[0].id, "b");
    }

    #[test]
    fn missing_vectors_are_reported_with_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path());
        let mut c = data
            .create(CollectionConfig::new("c", model(), Metric::Cosine))
            .unwrap();
        c.append(&[point("a", 0)], &[vec![1.0, 0.0, 0.0]]).unwrap();
        let dir = c.dir().to_path_buf();
        drop(c);
        OpenOptions::new()
            .write(true)
            .open(dir.join(VECTORS_FILE))
            .unwrap()
            .set_len(4)
            .unwrap();
        let err = data.open("c").err().unwrap();
        assert!(err.to_string().contains("vectors.f32"), "{err}");
    }

    #[test]
    fn unknown_and_invalid_names() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path());
        let err = data.open("nope").err().unwrap();
        assert!(
            err.to_string().contains("unknown collection \"nope\""),
            "{err}"
        );
        assert!(matches!(
            data.open("../etc"),
            Err(StoreError::InvalidName(_))
        ));
        data.create(CollectionConfig::new("c", model(), Metric::Cosine))
            .unwrap();
        assert!(matches!(
            data.create(CollectionConfig::new("c", model(), Metric::Cosine)),
            Err(StoreError::AlreadyExists(_))
        ));
        let err = data.open("x").err().unwrap();
        assert!(err.to_string().contains("collections: c"), "{err}");
    }
}
