//! Helpers for running the `fundus` binary in a private data directory.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Fundus {
    pub data: tempfile::TempDir,
}

pub struct Run {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(o: Output) -> Self {
        Run {
            ok: o.status.success(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    /// Panics with both streams unless the command succeeded.
    pub fn success(self) -> Self {
        assert!(
            self.ok,
            "fundus failed\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn failure(self) -> Self {
        assert!(
            !self.ok,
            "fundus should have failed\nstdout:\n{}",
            self.stdout
        );
        self
    }
}

impl Fundus {
    pub fn new() -> Self {
        Fundus {
            data: tempfile::tempdir().unwrap(),
        }
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(
            Command::new(env!("CARGO_BIN_EXE_fundus"))
                .args(args)
                .arg("--quiet")
                .env("FUNDUS_DATA", self.data.path())
                .output()
                .unwrap(),
        )
    }
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A dataset from the shared data folder beside the repository (override
/// with FUNDUS_SHARED_DATA). Missing data fails the test: nothing is
/// skipped silently.
pub fn shared_data(name: &str) -> PathBuf {
    let root = std::env::var_os("FUNDUS_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/data"));
    let dir = root.join(name);
    assert!(
        dir.is_dir(),
        "{} not found: put the shared data beside the repository or set FUNDUS_SHARED_DATA",
        dir.display()
    );
    dir
}

pub fn write(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, content).unwrap();
    p
}

/// The cached all-MiniLM-L6-v2 folder (pulled by earlier tests or `fundus
/// models pull`), in FUNDUS_HOME or the default cache.
pub fn minilm_folder() -> PathBuf {
    let home = std::env::var_os("FUNDUS_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/fundus")))
        .unwrap();
    home.join("models/all-minilm-l6-v2")
}

/// Copies a model folder (files and one level of subfolders).
pub fn copy_model(from: &Path, to: &Path) {
    std::fs::create_dir(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            let sub = to.join(e.file_name());
            std::fs::create_dir(&sub).unwrap();
            for g in std::fs::read_dir(e.path()).unwrap() {
                let g = g.unwrap();
                std::fs::copy(g.path(), sub.join(g.file_name())).unwrap();
            }
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// A copy of all-MiniLM-L6-v2 that pools the CLS token instead of the
/// mean: a second real embedder (same weights, other vectors).
pub fn minilm_cls(dir: &Path) -> PathBuf {
    let copy = dir.join("minilm-cls");
    copy_model(&minilm_folder(), &copy);
    write(
        &copy.join("1_Pooling"),
        "config.json",
        br#"{"word_embedding_dimension": 384, "pooling_mode_cls_token": true,
            "pooling_mode_mean_tokens": false, "pooling_mode_max_tokens": false,
            "pooling_mode_mean_sqrt_len_tokens": false}"#,
    );
    copy
}
