//! Merging segments in the background.
//!
//! Each flush appends a small delta segment, so a flush costs what changed,
//! not the collection's size. Deltas pile up and carry rows that later
//! deltas deleted; a merge folds a run of segments into one that holds only
//! their surviving points. It works from the segment *files* — immutable,
//! so a thread can read them while the writer goes on — and writes the
//! merged segment under a name no manifest mentions yet. The writer swaps
//! it in at its next flush ([`Collection::flush`](crate::Collection)): one
//! manifest commit replaces the run by the merged file. A crash before that
//! leaves an orphan file, removed when the collection is next opened for
//! writing.
//!
//! The merged rows keep their relative order, so the writer can drop the
//! same rows from memory (and rename graph keys) without re-reading
//! anything: [`Merged::kept`] lists which rows of the run survived.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::error::StoreError;
use crate::point::Point;
use crate::segment;

/// What a finished merge produced.
#[derive(Debug)]
pub(crate) struct Merged {
    /// The merged segment's file name (in `segments/`).
    pub name: String,
    /// The segments it replaces: a prefix of the manifest's list.
    pub sources: Vec<String>,
    /// Rows the sources hold in total, in replay numbering.
    pub rows: u32,
    /// The surviving rows, increasing: merged row `i` is source row `kept[i]`.
    pub kept: Vec<u32>,
}

/// A merge running on its own thread.
pub(crate) struct MergeJob {
    cancel: Arc<AtomicBool>,
    handle: Option<JoinHandle<Result<Merged, StoreError>>>,
}

impl MergeJob {
    /// Starts merging `sources` (in order) from `dir` into `name`.
    pub(crate) fn start(
        dir: PathBuf,
        sources: Vec<String>,
        name: String,
        dim: usize,
    ) -> Result<Self, StoreError> {
        let cancel = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&cancel);
        let handle = std::thread::Builder::new()
            .name("fundus-merge".into())
            .spawn(move || merge(&dir, &sources, &name, dim, &flag))
            .map_err(|e| StoreError::Merge(format!("cannot start the merge thread: {e}")))?;
        Ok(MergeJob {
            cancel,
            handle: Some(handle),
        })
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.handle.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Waits for the result.
    pub(crate) fn join(mut self) -> Result<Merged, StoreError> {
        match self.handle.take() {
            Some(h) => h
                .join()
                .unwrap_or_else(|_| Err(StoreError::Merge("the merge thread panicked".into()))),
            None => Err(StoreError::Merge("the merge was already collected".into())),
        }
    }
}

impl Drop for MergeJob {
    /// A collection closed mid-merge stops the thread and waits for it, so
    /// no thread writes into a folder that another writer may own next.
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Replays `sources` and writes their surviving points as one segment.
pub(crate) fn merge(
    dir: &Path,
    sources: &[String],
    name: &str,
    dim: usize,
    cancel: &AtomicBool,
) -> Result<Merged, StoreError> {
    let mut points: Vec<Point> = Vec::new();
    let mut vectors: Vec<f32> = Vec::new();
    let mut alive: Vec<bool> = Vec::new();
    let mut doc_rows: HashMap<String, Vec<u32>> = HashMap::new();
    for s in sources {
        if cancel.load(Ordering::Relaxed) {
            return Err(StoreError::Merge("cancelled".into()));
        }
        let seg = segment::read(&dir.join(s), dim)?;
        for d in &seg.deletes {
            for r in doc_rows.remove(d).unwrap_or_default() {
                alive[r as usize] = false;
            }
        }
        for p in seg.points {
            let row = points.len() as u32;
            doc_rows.entry(p.doc_id.clone()).or_default().push(row);
            points.push(p);
            alive.push(true);
        }
        vectors.extend_from_slice(&seg.vectors);
    }
    let rows = points.len() as u32;
    let kept: Vec<u32> = (0..rows).filter(|&r| alive[r as usize]).collect();
    let mut out_points = Vec::with_capacity(kept.len());
    let mut out_vectors = Vec::with_capacity(kept.len() * dim);
    let mut points: Vec<Option<Point>> = points.into_iter().map(Some).collect();
    for &r in &kept {
        let r = r as usize;
        if let Some(p) = points[r].take() {
            out_points.push(p);
        }
        out_vectors.extend_from_slice(&vectors[r * dim..(r + 1) * dim]);
    }
    if cancel.load(Ordering::Relaxed) {
        return Err(StoreError::Merge("cancelled".into()));
    }
    segment::write_parts(dir, name, dim, &out_points, &out_vectors, &[])?;
    Ok(Merged {
        name: name.to_string(),
        sources: sources.to_vec(),
        rows,
        kept,
    })
}
