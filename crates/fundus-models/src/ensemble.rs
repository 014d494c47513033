//! Several embedders used as one (the "hybrid multi-model" of RAG advice).
//!
//! Each member embeds the text with its own tokenizer, window and prefixes;
//! the member vectors (unit length) are combined and re-normalized:
//!
//! * **Concatenation** (default): member `i` is scaled by `sqrt(w_i / W)`
//!   (`W` the sum of the weights) before the vectors are put end to end.
//!   The result has unit length, and its dot product with another such
//!   vector is `sum_i (w_i / W) * cos_i`: the cosine of two concatenations
//!   is the weighted mean of the members' cosines. Equal weights give each
//!   model the same say whatever its dimension.
//! * **Weighted average**: `sum_i (w_i / W) * v_i`, re-normalized. Only
//!   for members of the same dimension; the members' spaces are unrelated,
//!   so this is mainly for variants of one model (e.g. two poolings).
//!
//! Spec syntax, as `--model` takes it: `[avg:]MEMBER+MEMBER[+...]` where
//! `MEMBER` is `NAME_OR_PATH[@WEIGHT]`, e.g.
//! `all-minilm-l6-v2+all-mpnet-base-v2` or
//! `avg:all-minilm-l6-v2@0.3+/models/minilm-cls@0.7`.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};

use sha2::{Digest, Sha256};

use fundus_core::distance;

use crate::bi_encoder::InputKind;
use crate::embedder::{Embedder, ModelIdentity};
use crate::error::ModelError;
use crate::folder::Prompts;
use crate::tokenize::TextTokenizer;

/// How member vectors become one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Combine {
    Concat,
    Average,
}

/// A parsed `--model a+b` spec: which members, with which weights.
#[derive(Debug, Clone, PartialEq)]
pub struct EnsembleSpec {
    pub combine: Combine,
    /// Name or folder of each member, and its weight.
    pub members: Vec<(String, f32)>,
}

impl EnsembleSpec {
    /// `None` when `text` names a single model (no `+`).
    pub fn parse(text: &str) -> Result<Option<Self>, ModelError> {
        let bad = |reason: String| ModelError::Ensemble {
            spec: text.to_string(),
            reason,
        };
        let (combine, rest) = if let Some(r) = text.strip_prefix("avg:") {
            (Combine::Average, r)
        } else if let Some(r) = text.strip_prefix("concat:") {
            (Combine::Concat, r)
        } else if text.contains('+') {
            (Combine::Concat, text)
        } else {
            return Ok(None);
        };
        let mut members = Vec::new();
        for part in rest.split('+') {
            let part = part.trim();
            let (name, weight) = match part.rsplit_once('@') {
                Some((name, w)) => {
                    let weight: f32 = w
                        .trim()
                        .parse()
                        .map_err(|_| bad(format!("weight {w:?} of {name:?} is not a number")))?;
                    (name.trim(), weight)
                }
                None => (part, 1.0),
            };
            if name.is_empty() {
                return Err(bad("a member has no model name (expected a+b)".into()));
            }
            if !(weight.is_finite() && weight > 0.0) {
                return Err(bad(format!(
                    "weight {weight} of {name:?} must be a positive number"
                )));
            }
            members.push((name.to_string(), weight));
        }
        if members.len() < 2 {
            return Err(bad(
                "an ensemble needs at least two members, e.g. a+b".into()
            ));
        }
        Ok(Some(EnsembleSpec { combine, members }))
    }
}

impl fmt::Display for EnsembleSpec {
    /// The canonical spec: weights shown only when they differ.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.members.iter().map(|(n, _)| n.as_str()).collect();
        let weights: Vec<f32> = self.members.iter().map(|(_, w)| *w).collect();
        write!(f, "{}", spec_text(self.combine, &names, &weights))
    }
}

fn spec_text(combine: Combine, names: &[&str], weights: &[f32]) -> String {
    let equal = weights.windows(2).all(|w| w[0] == w[1]);
    let parts: Vec<String> = names
        .iter()
        .zip(weights)
        .map(|(n, w)| {
            if equal {
                n.to_string()
            } else {
                format!("{n}@{w}")
            }
        })
        .collect();
    let prefix = match combine {
        Combine::Concat => "",
        Combine::Average => "avg:",
    };
    format!("{prefix}{}", parts.join("+"))
}

/// Several embedders as one; see the module documentation.
pub struct Ensemble {
    members: Vec<Box<dyn Embedder>>,
    /// Weights divided by their sum.
    shares: Vec<f32>,
    combine: Combine,
    dim: usize,
    /// The member whose tokenizer chunks and counts: the one with the
    /// shortest window, so a chunk fits all members as well as it can.
    counting: usize,
    identity: ModelIdentity,
}

impl Ensemble {
    pub fn new(
        members: Vec<(Box<dyn Embedder>, f32)>,
        combine: Combine,
    ) -> Result<Self, ModelError> {
        let ids: Vec<ModelIdentity> = members
            .iter()
            .map(|(m, _)| m.identity())
            .collect::<Result<_, _>>()?;
        let names: Vec<&str> = ids.iter().map(|i| i.name.as_str()).collect();
        let weights: Vec<f32> = members.iter().map(|(_, w)| *w).collect();
        let name = spec_text(combine, &names, &weights);
        let bad = |reason: String| ModelError::Ensemble {
            spec: name.clone(),
            reason,
        };
        if members.len() < 2 {
            return Err(bad("an ensemble needs at least two members".into()));
        }
        if let Some(w) = weights.iter().find(|w| !(w.is_finite() && **w > 0.0)) {
            return Err(bad(format!("weight {w} must be a positive number")));
        }
        let dims: Vec<usize> = members.iter().map(|(m, _)| m.dim()).collect();
        let dim = match combine {
            Combine::Concat => dims.iter().sum(),
            Combine::Average => {
                if dims.windows(2).any(|d| d[0] != d[1]) {
                    return Err(bad(format!(
                        "a weighted average needs members of one dimension, got {dims:?}; \
                         concatenate them instead (a+b without avg:)"
                    )));
                }
                dims[0]
            }
        };
        let total: f32 = weights.iter().sum();
        let shares: Vec<f32> = weights.iter().map(|w| w / total).collect();
        let mut h = Sha256::new();
        h.update(format!("fundus-ensemble-v1|{combine:?}").as_bytes());
        for ((id, (m, _)), share) in ids.iter().zip(&members).zip(&shares) {
            h.update(
                format!("|{}|{}|{share}|{}", id.fingerprint, id.name, m.settings()).as_bytes(),
            );
        }
        let counting = (0..members.len())
            .min_by_key(|&i| members[i].0.max_seq_length())
            .unwrap_or(0);
        Ok(Ensemble {
            members: members.into_iter().map(|(m, _)| m).collect(),
            shares,
            combine,
            dim,
            counting,
            identity: ModelIdentity {
                name,
                fingerprint: format!("{:x}", h.finalize()),
            },
        })
    }

    pub fn combine(&self) -> Combine {
        self.combine
    }

    /// Joins one text's member vectors (each of unit length).
    fn join(&self, parts: &[&[f32]]) -> Vec<f32> {
        let mut out = match self.combine {
            Combine::Concat => {
                let mut v = Vec::with_capacity(self.dim);
                for (p, share) in parts.iter().zip(&self.shares) {
                    let s = share.sqrt();
                    v.extend(p.iter().map(|x| x * s));
                }
                v
            }
            Combine::Average => {
                let mut v = vec![0f32; self.dim];
                for (p, share) in parts.iter().zip(&self.shares) {
                    for (o, x) in v.iter_mut().zip(*p) {
                        *o += x * share;
                    }
                }
                v
            }
        };
        distance::normalize(&mut out);
        out
    }
}

impl Embedder for Ensemble {
    /// Members run one after another (each uses all cores); `progress`
    /// advances by the texts' share of all members' work.
    fn embed_with_progress(
        &self,
        texts: &[&str],
        kind: InputKind,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        let m = self.members.len();
        let done = AtomicUsize::new(0);
        let tick = |n: usize| {
            let before = done.fetch_add(n, Ordering::Relaxed);
            let step = (before + n) / m - before / m;
            if step > 0 {
                progress(step);
            }
        };
        let outputs: Vec<Vec<Vec<f32>>> = self
            .members
            .iter()
            .map(|e| e.embed_with_progress(texts, kind, &tick))
            .collect::<Result<_, _>>()?;
        Ok((0..texts.len())
            .map(|i| {
                let parts: Vec<&[f32]> = outputs.iter().map(|o| o[i].as_slice()).collect();
                self.join(&parts)
            })
            .collect())
    }

    fn dim(&self) -> usize {
        self.dim
    }

    /// The shortest member window: longer texts lose tokens in that member.
    fn max_seq_length(&self) -> usize {
        self.members[self.counting].max_seq_length()
    }

    fn identity(&self) -> Result<ModelIdentity, ModelError> {
        Ok(self.identity.clone())
    }

    fn settings(&self) -> String {
        let parts: Vec<String> = self
            .members
            .iter()
            .zip(&self.shares)
            .map(|(m, s)| format!("{s}:{}", m.settings()))
            .collect();
        format!("{:?}[{}]", self.combine, parts.join(";"))
    }

    fn tokenizer(&self) -> &TextTokenizer {
        self.members[self.counting].tokenizer()
    }

    /// None: each member puts its own prefix in front of the text.
    fn prefix(&self, _kind: InputKind) -> Option<&str> {
        None
    }

    fn set_prompts(&mut self, _prompts: Prompts) -> Result<(), ModelError> {
        Err(ModelError::Ensemble {
            spec: self.identity.name.clone(),
            reason: "prefixes cannot be overridden for an ensemble: each member uses the \
                     prefixes of its own config"
                .into(),
        })
    }

    fn set_batch_size(&mut self, batch_size: usize) {
        for m in &mut self.members {
            m.set_batch_size(batch_size);
        }
    }

    fn weights_bytes(&self) -> u64 {
        self.members.iter().map(|m| m.weights_bytes()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_with_weights_and_modes() {
        assert_eq!(EnsembleSpec::parse("all-minilm-l6-v2").unwrap(), None);
        let s = EnsembleSpec::parse("a+b").unwrap().unwrap();
        assert_eq!(s.combine, Combine::Concat);
        assert_eq!(s.members, vec![("a".into(), 1.0), ("b".into(), 1.0)]);
        assert_eq!(s.to_string(), "a+b");
        let s = EnsembleSpec::parse("avg:a@0.3+ /m/b@0.7").unwrap().unwrap();
        assert_eq!(s.combine, Combine::Average);
        assert_eq!(s.members, vec![("a".into(), 0.3), ("/m/b".into(), 0.7)]);
        assert_eq!(s.to_string(), "avg:a@0.3+/m/b@0.7");
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        for (spec, want) in [
            ("a+", "no model name"),
            ("a@x+b", "not a number"),
            ("a@0+b", "positive"),
            ("a@-1+b", "positive"),
            ("avg:a", "at least two"),
        ] {
            let e = EnsembleSpec::parse(spec).unwrap_err().to_string();
            assert!(e.contains(want) && e.contains(spec), "{spec}: {e}");
        }
    }
}
