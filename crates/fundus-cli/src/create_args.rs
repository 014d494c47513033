//! What a new collection is made of: model, chunking, metric and index.
//! Shared by `fundus ingest` (which creates a missing collection) and
//! `fundus collection create`.

use anyhow::{bail, Result};
use clap::{Args, ValueEnum};

use fundus_core::{Metric, Reduction};
use fundus_index::{HnswParams, Quantization};
use fundus_models::registry::DEFAULT_MODEL;
use fundus_models::{Chunker, InputKind};
use fundus_store::{ChunkingInfo, CollectionConfig, IndexConfig, TextIndexConfig};

use crate::context::{Context, LoadedModel, PrefixArgs};

#[derive(Args, Debug, Clone)]
pub struct CreateArgs {
    /// Model name (pulled on first use) or path to a sentence-transformers folder
    /// [default: all-minilm-l6-v2; when appending: the collection's model].
    #[arg(long, short)]
    pub model: Option<String>,
    /// Tokens per chunk (default: the model's window minus special tokens).
    #[arg(long)]
    pub chunk_size: Option<usize>,
    /// Tokens shared by consecutive chunks.
    #[arg(long, default_value_t = 32)]
    pub chunk_overlap: usize,
    /// Do not chunk: embed the first max_seq_length tokens of each document only.
    #[arg(long, conflicts_with_all = ["chunk_size"])]
    pub no_chunking: bool,
    /// Similarity used for search (cosine, dot, euclidean).
    #[arg(long, default_value = "cosine")]
    pub metric: Metric,
    #[command(flatten)]
    pub prefixes: PrefixArgs,
    #[command(flatten)]
    pub index: IndexArgs,
    /// Text analyzer of the collection's BM25 index: english, german,
    /// german-compounds (german, and compounds split into the collection's known
    /// words), standard (no stemming or stop words), or none for no BM25.
    #[arg(
        long,
        default_value = "english",
        help_heading = "Index (fixed when the collection is created)"
    )]
    pub analyzer: String,
    /// SPLADE model (e.g. splade-tiny) whose sparse vectors every chunk gets, for the
    /// `splade` pipeline stage [default: none; when appending: the collection's].
    #[arg(
        long,
        value_name = "MODEL",
        help_heading = "Index (fixed when the collection is created)"
    )]
    pub splade_model: Option<String>,
    #[command(flatten)]
    pub reduce: ReduceArgs,
}

/// `--dims` / `--reduction`: store shorter vectors than the model makes.
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Dimension reduction")]
pub struct ReduceArgs {
    /// Store vectors reduced to this many dimensions; queries are reduced
    /// the same way (the reduction is saved with the collection).
    #[arg(long)]
    pub dims: Option<usize>,
    /// How --dims reduces: pca (fitted on the corpus' vectors, mean-centered)
    /// or truncate (the first dims, for Matryoshka-trained models); both
    /// re-normalize.
    #[arg(long, value_enum, default_value_t = ReductionArg::Pca)]
    pub reduction: ReductionArg,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReductionArg {
    /// Principal components of the corpus' vectors.
    #[default]
    Pca,
    /// The first dimensions.
    Truncate,
}

impl ReduceArgs {
    /// The reduction when it needs no data (truncation); PCA is fitted by
    /// the caller, who has the corpus ([`ReduceArgs::pca_dims`]).
    pub fn fixed(&self, model_dim: usize) -> Result<Option<Reduction>> {
        let Some(dims) = self.dims else {
            return Ok(None);
        };
        // Checks the dimensions for PCA too.
        let truncate = Reduction::truncate(model_dim, dims)?;
        Ok((self.reduction == ReductionArg::Truncate).then_some(truncate))
    }

    /// Dimensions of a PCA to fit on the corpus, if one was asked for.
    pub fn pca_dims(&self) -> Option<usize> {
        self.dims.filter(|_| self.reduction == ReductionArg::Pca)
    }
}

/// How the collection indexes its vectors (fixed at creation).
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Index (fixed when the collection is created)")]
pub struct IndexArgs {
    /// Chunks below which search is an exact scan; from this size on an HNSW
    /// graph is built and kept up to date.
    #[arg(long, default_value_t = IndexConfig::default().exact_threshold)]
    pub exact_threshold: usize,
    /// HNSW links per node: more gives better recall on hard data, more memory.
    #[arg(long = "hnsw-m", default_value_t = HnswParams::default().m)]
    pub m: usize,
    /// HNSW beam width while inserting (graph quality vs. build time).
    #[arg(long, default_value_t = HnswParams::default().ef_construct)]
    pub ef_construct: usize,
    /// Default HNSW beam width while searching (`fundus search --ef` overrides).
    #[arg(long, default_value_t = HnswParams::default().ef_search)]
    pub ef_search: usize,
    /// What the graph stores per vector; the float vectors are kept for rescoring.
    #[arg(long, value_enum, default_value_t = QuantizationArg::None)]
    pub quantization: QuantizationArg,
    /// int8 only: clip ranges to this quantile of the values (e.g. 0.99).
    #[arg(long)]
    pub int8_quantile: Option<f32>,
    /// binary only: bits per dimension, 1 or 2. Use 2 for embeddings of fewer
    /// than ~1024 dimensions (e.g. 384-d MiniLM: recall@10 ~0.97 instead of
    /// ~0.90 at the default oversampling of 4), for twice the code bytes.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=2))]
    pub binary_bits: Option<u8>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantizationArg {
    /// f32: 4 bytes per dimension.
    None,
    /// 2 bytes per dimension; rankings barely change.
    Float16,
    /// 1 byte per dimension, rescored with the floats.
    Int8,
    /// 1 bit per dimension (2 with --binary-bits 2), rescored with the floats
    /// (oversampling 4).
    Binary,
}

impl IndexArgs {
    pub fn config(&self) -> Result<IndexConfig> {
        if self.int8_quantile.is_some() && self.quantization != QuantizationArg::Int8 {
            bail!("--int8-quantile needs --quantization int8");
        }
        if self.binary_bits.is_some() && self.quantization != QuantizationArg::Binary {
            bail!("--binary-bits needs --quantization binary");
        }
        let quantization = match self.quantization {
            QuantizationArg::None => Quantization::None,
            QuantizationArg::Float16 => Quantization::Float16,
            QuantizationArg::Int8 => Quantization::Int8 {
                per_dimension: true,
                quantile: self.int8_quantile,
            },
            QuantizationArg::Binary => Quantization::Binary {
                bits: self.binary_bits.unwrap_or(1),
            },
        };
        let config = IndexConfig {
            exact_threshold: self.exact_threshold,
            hnsw: HnswParams {
                m: self.m,
                ef_construct: self.ef_construct,
                ef_search: self.ef_search,
            },
            quantization,
        };
        config.validate()?;
        Ok(config)
    }
}

impl CreateArgs {
    /// Loads the model and works out the new collection's config.
    pub fn build(&self, ctx: &Context, name: &str) -> Result<(LoadedModel, CollectionConfig)> {
        let index = self.index.config()?;
        let mut model = ctx.load_model(self.model.as_deref().unwrap_or(DEFAULT_MODEL))?;
        model.apply_prefixes(&self.prefixes)?;
        let chunking = if self.no_chunking {
            None
        } else {
            let window = chunk_window(&model);
            let size = self.chunk_size.unwrap_or(window);
            if size > window {
                bail!("--chunk-size {size} exceeds the model's window of {window} tokens");
            }
            Chunker::new(size, self.chunk_overlap).map_err(anyhow::Error::msg)?;
            Some(ChunkingInfo {
                size,
                overlap: self.chunk_overlap,
            })
        };
        let mut config =
            CollectionConfig::new(name, model.info.clone(), self.metric).with_index(index);
        config.chunking = chunking;
        if let Some(r) = self.reduce.fixed(model.info.dim)? {
            config = config.with_reduction(r);
        }
        if self.analyzer != "none" {
            let text = TextIndexConfig {
                analyzer: self.analyzer.clone(),
                ..TextIndexConfig::default()
            };
            text.validate()?;
            config = config.with_text_index(text);
        }
        if let Some(splade) = &self.splade_model {
            let splade = crate::splade::load(ctx, splade)?;
            config =
                config.with_sparse_vector(crate::splade::SPLADE_VECTOR, splade.vector_config());
        }
        Ok((model, config))
    }
}

/// Tokens left for text in one window: the model's window minus the
/// special tokens and the passage prefix.
fn chunk_window(model: &LoadedModel) -> usize {
    let enc = model.encoder.as_ref();
    let prefix = enc
        .prefix(InputKind::Passage)
        .and_then(|p| enc.tokenizer().token_offsets(p).ok())
        .map_or(0, |t| t.len());
    enc.max_seq_length()
        .saturating_sub(enc.tokenizer().special_tokens() + prefix)
        .max(1)
}
