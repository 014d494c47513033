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
    std::fs::write(&p, content).unwrap();
    p
}
