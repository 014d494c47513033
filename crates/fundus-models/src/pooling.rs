//! Pooling: from one vector per token to one vector per text.

use std::path::Path;

use serde::Deserialize;

use crate::error::ModelError;

/// How token states become a sentence vector (sentence-transformers'
/// `Pooling` module). Several modes may be active; their outputs are then
/// concatenated in sentence-transformers' order: cls, max, mean, mean-sqrt-len.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    Mean,
    Cls,
    Max,
    MeanSqrtLen,
    LastToken,
    /// Several modes concatenated (bit set over the single modes).
    Combined {
        cls: bool,
        max: bool,
        mean: bool,
        mean_sqrt_len: bool,
    },
}

#[derive(Deserialize)]
struct PoolingConfig {
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
    #[serde(default)]
    pooling_mode_lasttoken: bool,
    #[serde(default)]
    pooling_mode_weightedmean_tokens: bool,
}

impl Pooling {
    pub fn from_config_file(path: &Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?;
        let c: PoolingConfig =
            serde_json::from_str(&text).map_err(|e| ModelError::InvalidConfig {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        if c.pooling_mode_weightedmean_tokens {
            return Err(ModelError::Unsupported {
                path: path.to_path_buf(),
                what: "weighted-mean pooling".into(),
            });
        }
        if c.pooling_mode_lasttoken {
            return Ok(Pooling::LastToken);
        }
        let modes = [
            c.pooling_mode_cls_token,
            c.pooling_mode_max_tokens,
            c.pooling_mode_mean_tokens,
            c.pooling_mode_mean_sqrt_len_tokens,
        ];
        Ok(match modes {
            [false, false, false, false] => {
                return Err(ModelError::InvalidConfig {
                    path: path.to_path_buf(),
                    reason: "no pooling mode is enabled".into(),
                })
            }
            [true, false, false, false] => Pooling::Cls,
            [false, true, false, false] => Pooling::Max,
            [false, false, true, false] => Pooling::Mean,
            [false, false, false, true] => Pooling::MeanSqrtLen,
            [cls, max, mean, mean_sqrt_len] => Pooling::Combined {
                cls,
                max,
                mean,
                mean_sqrt_len,
            },
        })
    }

    pub fn output_dim(self, hidden: usize) -> usize {
        match self {
            Pooling::Combined {
                cls,
                max,
                mean,
                mean_sqrt_len,
            } => {
                hidden
                    * [cls, max, mean, mean_sqrt_len]
                        .iter()
                        .filter(|b| **b)
                        .count()
            }
            _ => hidden,
        }
    }

    /// Pools the states of one sequence. `states` is `len × hidden`
    /// row-major and holds only real tokens (no padding), so no mask is
    /// needed here.
    pub fn pool(self, states: &[f32], hidden: usize, out: &mut Vec<f32>) {
        let len = states.len() / hidden.max(1);
        if len == 0 {
            out.extend(std::iter::repeat_n(0.0, self.output_dim(hidden)));
            return;
        }
        let rows = || states.chunks_exact(hidden);
        let sum = || {
            let mut acc = vec![0.0f32; hidden];
            for row in rows() {
                acc.iter_mut().zip(row).for_each(|(a, x)| *a += x);
            }
            acc
        };
        match self {
            Pooling::Cls => out.extend_from_slice(&states[..hidden]),
            Pooling::LastToken => out.extend_from_slice(&states[(len - 1) * hidden..]),
            Pooling::Mean => out.extend(sum().into_iter().map(|x| x / len as f32)),
            Pooling::MeanSqrtLen => {
                let d = (len as f32).sqrt();
                out.extend(sum().into_iter().map(|x| x / d))
            }
            Pooling::Max => {
                let mut acc = vec![f32::NEG_INFINITY; hidden];
                for row in rows() {
                    acc.iter_mut().zip(row).for_each(|(a, x)| *a = a.max(*x));
                }
                out.extend(acc)
            }
            Pooling::Combined {
                cls,
                max,
                mean,
                mean_sqrt_len,
            } => {
                for (on, mode) in [
                    (cls, Pooling::Cls),
                    (max, Pooling::Max),
                    (mean, Pooling::Mean),
                    (mean_sqrt_len, Pooling::MeanSqrtLen),
                ] {
                    if on {
                        mode.pool(states, hidden, out);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATES: [f32; 6] = [1.0, 2.0, 3.0, -4.0, 5.0, 0.0];

    fn pooled(p: Pooling) -> Vec<f32> {
        let mut out = Vec::new();
        p.pool(&STATES, 2, &mut out);
        out
    }

    #[test]
    fn single_modes() {
        assert_eq!(pooled(Pooling::Mean), vec![3.0, -2.0 / 3.0]);
        assert_eq!(pooled(Pooling::Cls), vec![1.0, 2.0]);
        assert_eq!(pooled(Pooling::LastToken), vec![5.0, 0.0]);
        assert_eq!(pooled(Pooling::Max), vec![5.0, 2.0]);
        let s = pooled(Pooling::MeanSqrtLen);
        assert!((s[0] - 9.0 / 3f32.sqrt()).abs() < 1e-6);
    }

    #[test]
    fn combined_concatenates_in_sentence_transformers_order() {
        let p = Pooling::Combined {
            cls: true,
            max: false,
            mean: true,
            mean_sqrt_len: false,
        };
        assert_eq!(p.output_dim(2), 4);
        assert_eq!(pooled(p), vec![1.0, 2.0, 3.0, -2.0 / 3.0]);
    }

    #[test]
    fn reads_pooling_config() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        std::fs::write(
            &p,
            r#"{"word_embedding_dimension":4,"pooling_mode_cls_token":true}"#,
        )
        .unwrap();
        assert_eq!(Pooling::from_config_file(&p).unwrap(), Pooling::Cls);
        std::fs::write(&p, r#"{"word_embedding_dimension":4}"#).unwrap();
        assert!(Pooling::from_config_file(&p).is_err());
    }
}
