//! What every command needs: where data and models live, and how to load
//! an embedding model by name or path.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use fundus_models::registry::{self, ModelCache};
use fundus_models::{BiEncoder, Embedder, Ensemble, EnsembleSpec, ModelIdentity};
use fundus_store::{DataDir, ModelInfo};

pub struct Context {
    pub data: DataDir,
    pub models: ModelCache,
    pub quiet: bool,
}

impl Context {
    pub fn new(data_dir: Option<PathBuf>, model_home: Option<PathBuf>, quiet: bool) -> Self {
        Context {
            data: DataDir::new(data_dir.unwrap_or_else(DataDir::default_root)),
            models: ModelCache::new(model_home.unwrap_or_else(registry::default_home)),
            quiet,
        }
    }

    /// Prints a status line on stderr unless `--quiet`.
    pub fn say(&self, msg: &str) {
        if !self.quiet {
            eprintln!("{msg}");
        }
    }

    /// Loads a model by known name (pulled on first use), folder path, or
    /// ensemble spec (`a+b`, see [`fundus_models::ensemble`]).
    pub fn load_model(&self, spec: &str) -> Result<LoadedModel> {
        let ensemble = if std::path::Path::new(spec).exists() {
            None
        } else {
            EnsembleSpec::parse(spec)?
        };
        let Some(ensemble) = ensemble else {
            return self.load_single(spec);
        };
        let mut members: Vec<(Box<dyn Embedder>, f32)> = Vec::new();
        let mut sources = Vec::new();
        for (name, weight) in &ensemble.members {
            let m = self.load_single(name)?;
            sources.push((m.info.source.clone(), *weight));
            members.push((m.encoder, *weight));
        }
        let encoder = Ensemble::new(members, ensemble.combine)?;
        let id = encoder.identity()?;
        // The source lists the members' sources, so an append can load
        // the same ensemble again.
        let source = EnsembleSpec {
            combine: ensemble.combine,
            members: sources,
        }
        .to_string();
        let info = ModelInfo {
            name: id.name,
            source,
            sha256: id.fingerprint,
            dim: encoder.dim(),
            max_seq_length: encoder.max_seq_length(),
            query_prefix: None,
            passage_prefix: None,
        };
        Ok(LoadedModel {
            encoder: Box::new(encoder),
            info,
        })
    }

    /// Loads one bi-encoder by known name or folder path.
    fn load_single(&self, name_or_path: &str) -> Result<LoadedModel> {
        if let Some(m) = registry::known(name_or_path) {
            if m.kind != registry::ModelKind::BiEncoder {
                anyhow::bail!(
                    "{} is a {} model, not a bi-encoder: it has no dense vectors to ingest or search \
                     (give it to a new collection as --splade-model for the `splade` pipeline stage)",
                    m.name,
                    m.kind.as_str()
                );
            }
        }
        let dir = self
            .models
            .resolve(name_or_path, &|m| self.say(m))
            .with_context(|| format!("cannot provide model {name_or_path:?}"))?;
        let mut encoder = BiEncoder::load(&dir)
            .with_context(|| format!("cannot load model from {}", dir.display()))?;
        // A variant such as all-minilm-l6-v2-int8: the same files, run at
        // another precision.
        if let Some(m) = registry::known(name_or_path) {
            encoder.set_precision(m.precision)?;
        }
        let (name, source, sha256) =
            self.identify(name_or_path, &dir, &encoder.folder().weights_path)?;
        encoder.set_identity(ModelIdentity {
            name: name.clone(),
            fingerprint: sha256.clone(),
        });
        let info = ModelInfo {
            name,
            source,
            sha256,
            dim: encoder.dim(),
            max_seq_length: encoder.max_seq_length(),
            query_prefix: encoder.prompts().query.clone(),
            passage_prefix: encoder.prompts().passage.clone(),
        };
        Ok(LoadedModel {
            encoder: Box::new(encoder),
            info,
        })
    }
}

impl Context {
    /// Name, source (what loads it again) and weights' sha256 of a model
    /// loaded from `dir` for `name_or_path`.
    pub fn identify(
        &self,
        name_or_path: &str,
        dir: &Path,
        weights: &Path,
    ) -> Result<(String, String, String)> {
        let known = registry::known(name_or_path);
        // A pulled model's weights were verified against the pinned hash;
        // any other folder is hashed (a few hundred ms for 90 MB).
        let weights_sha256 = match known.and_then(|m| self.models.get(m.name)) {
            Some(cached) if cached.path == dir => cached.provenance.sha256,
            _ => registry::sha256_file(weights)?,
        };
        // An int8 variant's vectors are not the f32 model's: its own
        // fingerprint keeps the two apart in collections.
        let sha256 = match known {
            Some(m) => m.fingerprint(&weights_sha256),
            None => weights_sha256,
        };
        let name = known.map(|m| m.name.to_string()).unwrap_or_else(|| {
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| name_or_path.to_string())
        });
        let source = if known.is_some() {
            name.clone()
        } else {
            std::fs::canonicalize(dir)
                .unwrap_or_else(|_| dir.to_path_buf())
                .to_string_lossy()
                .into_owned()
        };
        Ok((name, source, sha256))
    }
}

pub struct LoadedModel {
    pub encoder: Box<dyn Embedder>,
    pub info: ModelInfo,
}

/// `--query-prefix` / `--passage-prefix`: override the prefixes from the
/// model's `config_sentence_transformers.json`.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct PrefixArgs {
    /// Text put before every query, e.g. "query: " for E5 models
    /// [default: from the model's config; "" for none].
    #[arg(long, value_name = "TEXT")]
    pub query_prefix: Option<String>,
    /// Text put before every passage, e.g. "passage: " for E5 models
    /// [default: from the model's config; "" for none].
    #[arg(long, value_name = "TEXT")]
    pub passage_prefix: Option<String>,
}

impl LoadedModel {
    /// Applies prefixes given on the command line.
    pub fn apply_prefixes(&mut self, args: &PrefixArgs) -> Result<()> {
        let pick = |given: &Option<String>, current: &Option<String>| match given {
            Some(p) if p.is_empty() => None,
            Some(p) => Some(p.clone()),
            None => current.clone(),
        };
        self.set_prefixes(
            pick(&args.query_prefix, &self.info.query_prefix),
            pick(&args.passage_prefix, &self.info.passage_prefix),
        )
    }

    /// Uses exactly these prefixes (a collection's, at search time).
    pub fn set_prefixes(&mut self, query: Option<String>, passage: Option<String>) -> Result<()> {
        if self.info.query_prefix == query && self.info.passage_prefix == passage {
            return Ok(());
        }
        self.encoder.set_prompts(fundus_models::folder::Prompts {
            query: query.clone(),
            passage: passage.clone(),
        })?;
        self.info.query_prefix = query;
        self.info.passage_prefix = passage;
        Ok(())
    }
}
