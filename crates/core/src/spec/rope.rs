//! A config's rotary-embedding scaling (`rope_scaling`), read and validated as transformers'
//! `modeling_rope_utils.py` does; each framework computes the frequencies from it.

use anyhow::{bail, Result};
use serde::Deserialize;

/// A config's `rope_scaling` object, as written; [`RopeType::from_scaling`] validates it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RopeScaling {
    pub rope_type: Option<String>,
    /// The older spelling of `rope_type`, which transformers still reads.
    #[serde(rename = "type")]
    pub legacy_type: Option<String>,
    pub factor: Option<f64>,
    pub low_freq_factor: Option<f64>,
    pub high_freq_factor: Option<f64>,
    pub original_max_position_embeddings: Option<f64>,
}

/// How the inverse frequencies are derived: transformers' `ROPE_INIT_FUNCTIONS`, of which
/// this build implements `default`, `linear`, `llama3` and (for Phi-3) `longrope`.
#[derive(Debug, Clone, PartialEq)]
pub enum RopeType {
    Default,
    /// Position interpolation: every inverse frequency divided by `factor`.
    Linear {
        factor: f64,
    },
    /// Llama 3.1's frequency-dependent scaling (`_compute_llama3_parameters`).
    Llama3 {
        factor: f64,
        low_freq_factor: f64,
        high_freq_factor: f64,
        original_max_position_embeddings: f64,
    },
    /// LongRoPE (`_compute_longrope_parameters`): per-frequency divisors, `short` up to
    /// `original_max_position_embeddings` tokens and `long` beyond, and cos/sin scaled by
    /// `attention_factor`. Built by the family that reads it (Phi-3), since its factor
    /// comes from top-level config keys.
    LongRope {
        short_factor: Vec<f64>,
        long_factor: Vec<f64>,
        original_max_position_embeddings: i64,
        attention_factor: f64,
    },
}

impl RopeType {
    pub fn from_scaling(scaling: Option<&RopeScaling>) -> Result<Self> {
        let Some(s) = scaling else {
            return Ok(RopeType::Default);
        };
        let name = s
            .rope_type
            .as_deref()
            .or(s.legacy_type.as_deref())
            .unwrap_or("default");
        match name {
            "default" => Ok(RopeType::Default),
            "linear" => match s.factor {
                Some(factor) if factor > 0.0 => Ok(RopeType::Linear { factor }),
                _ => bail!("rope_scaling of type linear needs a positive \"factor\""),
            },
            "llama3" => {
                let need = |key: &str, v: Option<f64>| match v {
                    Some(v) => Ok(v),
                    None => Err(anyhow::anyhow!(
                        "rope_scaling of type llama3 needs \"{key}\""
                    )),
                };
                let rope = RopeType::Llama3 {
                    factor: need("factor", s.factor)?,
                    low_freq_factor: need("low_freq_factor", s.low_freq_factor)?,
                    high_freq_factor: need("high_freq_factor", s.high_freq_factor)?,
                    original_max_position_embeddings: need(
                        "original_max_position_embeddings",
                        s.original_max_position_embeddings,
                    )?,
                };
                if let RopeType::Llama3 {
                    low_freq_factor,
                    high_freq_factor,
                    ..
                } = rope
                {
                    // Else the smoothing divides by zero or flips the bands.
                    if high_freq_factor <= low_freq_factor {
                        bail!(
                            "rope_scaling: high_freq_factor {high_freq_factor} must exceed \
                             low_freq_factor {low_freq_factor}"
                        );
                    }
                }
                Ok(rope)
            }
            other => {
                bail!(
                    "rope_scaling type \"{other}\" is not supported (supported: default, \
                     linear, llama3)"
                )
            }
        }
    }
}
