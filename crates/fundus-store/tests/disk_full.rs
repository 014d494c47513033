//! A full disk: writes fail with a clear error naming the file, and every
//! write acknowledged before that survives.
//!
//! A real full file system needs privileges to set up (a small tmpfs or a
//! loop device). The test gets the same failure from the kernel without
//! them: the writer runs with a file-size limit (`ulimit -f`, SIGXFSZ
//! ignored), so a write past the limit fails with `EFBIG` exactly where
//! `ENOSPC` would hit a full disk — in the middle of a WAL append, or of a
//! segment written by a flush.

use std::io::Write;
use std::process::Command;

use fundus_core::Metric;
use fundus_store::{CollectionConfig, DataDir, ModelInfo, Point};

const DIM: usize = 8;

fn model() -> ModelInfo {
    ModelInfo {
        name: "disk-full-test".into(),
        source: "disk-full-test".into(),
        sha256: "0".into(),
        dim: DIM,
        max_seq_length: 8,
        query_prefix: None,
        passage_prefix: None,
    }
}

fn point(i: usize) -> (Point, Vec<f32>) {
    let id = format!("doc-{i}");
    // A large payload fills the limit in a few dozen writes.
    let mut p = Point::whole(&id, &format!("{id} {}", "lorem ipsum ".repeat(200)));
    p.metadata = Some(serde_json::json!({ "i": i }));
    let v = (0..DIM).map(|d| ((i * 7 + d) % 11) as f32 + 1.0).collect();
    (p, v)
}

/// The writer, run under the file-size limit: upserts one point at a time
/// and prints `ack <i>` after each acknowledged write, then `error <msg>`
/// for the first failure; then tries a flush and a merge of all segments
/// and prints how they went.
fn writer(dir: &str) {
    let data = DataDir::new(dir);
    let mut c = if data.exists("c") {
        data.open_for_write("c").expect("open for write")
    } else {
        data.create(CollectionConfig::new("c", model(), Metric::Cosine))
            .expect("create")
    };
    let mut out = std::io::stdout().lock();
    // The test harness has printed "test <name> ... " without a newline.
    writeln!(out).expect("stdout");
    for i in c.len().. {
        let (p, v) = point(i);
        match c.upsert(&[p], &[v]) {
            Ok(_) => writeln!(out, "ack {i}").expect("stdout"),
            Err(e) => {
                writeln!(out, "error {e}").expect("stdout");
                break;
            }
        }
    }
    match c.flush() {
        Ok(()) => writeln!(out, "flush ok").expect("stdout"),
        Err(e) => writeln!(out, "flush-error {e}").expect("stdout"),
    }
    // Merging all segments writes one file as large as all of them.
    match c.optimize() {
        Ok(()) => writeln!(out, "optimize ok").expect("stdout"),
        Err(e) => writeln!(out, "optimize-error {e}").expect("stdout"),
    }
    out.flush().expect("stdout");
}

/// Runs the writer in a child process with a file-size limit of `kib` KiB.
fn run_limited(dir: &str, kib: u64) -> String {
    let exe = std::env::current_exe().expect("test binary");
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f {kib}; exec \"$0\" --exact writes_fail_clearly_when_the_disk_is_full --nocapture --test-threads 1"
        ))
        .arg(exe)
        .env("FUNDUS_DISK_FULL_WRITER", dir)
        .output()
        .expect("spawn writer");
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn writes_fail_clearly_when_the_disk_is_full() {
    if let Ok(dir) = std::env::var("FUNDUS_DISK_FULL_WRITER") {
        writer(&dir);
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap().to_string();

    // 1. The WAL hits the limit mid-append.
    let out = run_limited(&dir, 256);
    let acked: Vec<usize> = out
        .lines()
        .filter_map(|l| l.strip_prefix("ack ")?.parse().ok())
        .collect();
    assert!(acked.len() > 10, "some writes fit: {out}");
    let error = out
        .lines()
        .find_map(|l| l.strip_prefix("error "))
        .unwrap_or_else(|| panic!("the write past the limit must fail: {out}"));
    assert!(
        error.contains("wal.log") && error.contains("too large"),
        "the error names the file and the cause: {error}"
    );
    // The flush may fit (a segment is more compact than the log) — either
    // way the committed state is intact.
    assert!(
        out.contains("flush ok") || out.contains("flush-error"),
        "{out}"
    );

    // 2. Again, with a limit below the merged segment that optimizing
    // must write (the new delta itself fits).
    let out = run_limited(&dir, 48);
    let more: Vec<usize> = out
        .lines()
        .filter_map(|l| l.strip_prefix("ack ")?.parse().ok())
        .collect();
    let merge = out
        .lines()
        .find_map(|l| l.strip_prefix("optimize-error "))
        .unwrap_or_else(|| panic!("a merged segment past the limit must fail: {out}"));
    assert!(
        merge.contains("merged.seg") && merge.contains("too large"),
        "the error names the segment file: {merge}"
    );
    let acked: Vec<usize> = acked.into_iter().chain(more).collect();

    // 3. With space again, nothing acknowledged is lost and writing goes on.
    let data = DataDir::new(&dir);
    let mut c = data
        .open_for_write("c")
        .expect("opens cleanly after the failure");
    assert_eq!(c.len(), acked.len(), "exactly the acknowledged points");
    for &i in &acked {
        let got = c.get(&format!("doc-{i}"));
        assert_eq!(got.len(), 1, "doc-{i} is present");
        assert_eq!(got[0].metadata.as_ref().unwrap()["i"], i);
    }
    let (p, v) = point(acked.len());
    c.upsert(&[p], &[v]).unwrap();
    c.flush().unwrap();
    drop(c);
    assert_eq!(data.open("c").unwrap().len(), acked.len() + 1);
    let leftovers: Vec<String> = std::fs::read_dir(tmp.path().join("collections/c/segments"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp") || n.contains("merged"))
        .collect();
    assert!(leftovers.is_empty(), "the failed merge left {leftovers:?}");
}
