//! Pieces shared by the rotary-embedding decoders (Llama, Mistral, Qwen2/3, GPT-NeoX, Phi,
//! Phi-3, Gemma, Mixtral, Qwen3-MoE):
//! rotary position embeddings (Su et al., 2021, "RoFormer: Enhanced Transformer with Rotary
//! Position Embedding") as transformers' `modeling_rope_utils.py` and `apply_rotary_pos_emb`,
//! and RMSNorm (Zhang & Sennrich, 2019) as `LlamaRMSNorm`. Their causal attention, with or
//! without a cache, is `kv_cache::causal_sdpa`.

use crate::measure::profile::{scope, Part};
pub use run_benchmark_core::spec::rope::{RopeScaling, RopeType};
use tch::{nn, Device, Kind, Tensor};

/// Rotary embeddings of the first `rotary_dim` dimensions of each head (all of them unless
/// partial rotary), with the inverse frequencies computed once at build time.
#[derive(Debug)]
pub struct Rotary {
    inv_freq: Tensor,
    /// LongRoPE: the frequencies used when the sequence is longer than the threshold.
    long: Option<(i64, Tensor)>,
    /// transformers' `attention_scaling`, which multiplies cos and sin (1 but for LongRoPE).
    attention_scaling: f64,
}

impl Rotary {
    /// `rotary_dim` is `int(head_dim * partial_rotary_factor)`; `theta` is `rope_theta`.
    pub fn new(rope: RopeType, theta: f64, rotary_dim: i64, device: Device) -> Self {
        // Computed on the CPU in every build, a shape-only one included (its values are
        // used there too), then moved to the module's device.
        super::shapes::computed(|| Self::on_cpu(rope, theta, rotary_dim).moved_to(device))
    }

    fn moved_to(self, device: Device) -> Self {
        Rotary {
            inv_freq: self.inv_freq.to_device(device),
            long: self
                .long
                .map(|(threshold, t)| (threshold, t.to_device(device))),
            attention_scaling: self.attention_scaling,
        }
    }

    fn on_cpu(rope: RopeType, theta: f64, rotary_dim: i64) -> Self {
        // Float32 throughout and in transformers' operation order, so that the tables are
        // bit-identical to its own: 1 / theta^(2i/d), then the llama3 bands.
        let exponents = Tensor::arange_start_step(0, rotary_dim, 2, (Kind::Int64, Device::Cpu))
            .to_kind(Kind::Float)
            / rotary_dim as f64;
        let powers = Tensor::pow_scalar(theta, &exponents);
        let inv_freq = powers.reciprocal();
        let mut long = None;
        let mut attention_scaling = 1.0;
        let inv_freq = match rope {
            RopeType::Default => inv_freq,
            RopeType::Linear { factor } => inv_freq / factor,
            RopeType::LongRope {
                short_factor,
                long_factor,
                original_max_position_embeddings,
                attention_factor,
            } => {
                // 1 / (ext_factors · theta^(2i/d)), in float32 as transformers.
                let scaled = |factors: &[f64]| {
                    (Tensor::from_slice(factors).to_kind(Kind::Float) * &powers).reciprocal()
                };
                long = Some((original_max_position_embeddings, scaled(&long_factor)));
                attention_scaling = attention_factor;
                scaled(&short_factor)
            }
            RopeType::Llama3 {
                factor,
                low_freq_factor,
                high_freq_factor,
                original_max_position_embeddings: old_context,
            } => {
                let low_freq_wavelen = old_context / low_freq_factor;
                let high_freq_wavelen = old_context / high_freq_factor;
                let wavelen = inv_freq.reciprocal() * (2.0 * std::f64::consts::PI);
                // `a.where_self(cond, b)` is torch.where(cond, a, b).
                let scaled =
                    (&inv_freq / factor).where_self(&wavelen.gt(low_freq_wavelen), &inv_freq);
                let smooth = (wavelen.reciprocal() * old_context - low_freq_factor)
                    / (high_freq_factor - low_freq_factor);
                let smoothed =
                    (smooth.ones_like() - &smooth) * &scaled / factor + &smooth * &scaled;
                let medium = wavelen
                    .lt(high_freq_wavelen)
                    .logical_not()
                    .logical_and(&wavelen.gt(low_freq_wavelen).logical_not());
                smoothed.where_self(&medium, &scaled)
            }
        };
        Rotary {
            inv_freq,
            long,
            attention_scaling,
        }
    }

    /// The cos and sin tables for positions start..start + seq, (seq, rotary_dim), in
    /// `kind`; computed once per forward call and shared by every layer. LongRoPE switches to
    /// its long factors once the positions pass the threshold, as transformers' dynamic
    /// update does (keys cached before keep their rotation).
    pub fn tables(&self, start: i64, seq: i64, kind: Kind) -> RotaryTables {
        let inv_freq = match &self.long {
            Some((threshold, long)) if start + seq > *threshold => long,
            _ => &self.inv_freq,
        };
        let positions = Tensor::arange_start(start, start + seq, (Kind::Float, inv_freq.device()));
        let freqs = positions.unsqueeze(1) * inv_freq.unsqueeze(0);
        let angles = Tensor::cat(&[&freqs, &freqs], -1);
        let (cos, sin) = (angles.cos(), angles.sin());
        let (cos, sin) = if self.attention_scaling == 1.0 {
            (cos, sin)
        } else {
            (cos * self.attention_scaling, sin * self.attention_scaling)
        };
        RotaryTables {
            cos: cos.to_kind(kind),
            sin: sin.to_kind(kind),
        }
    }
}

/// cos and sin of every (position, rotary dimension).
pub struct RotaryTables {
    cos: Tensor,
    sin: Tensor,
}

impl RotaryTables {
    /// Rotates `xs` (batch, heads, seq, head_dim) as transformers' `apply_rotary_pos_emb`:
    /// `x·cos + rotate_half(x)·sin` on the first rotary_dim dimensions, the rest passed
    /// through.
    pub fn apply(&self, xs: &Tensor) -> Tensor {
        let rotary_dim = self.cos.size()[1];
        let head_dim = xs.size().last().copied().unwrap_or(0);
        if rotary_dim == head_dim {
            return self.rotate(xs);
        }
        let rot = xs.narrow(-1, 0, rotary_dim);
        let pass = xs.narrow(-1, rotary_dim, head_dim - rotary_dim);
        Tensor::cat(&[self.rotate(&rot), pass], -1)
    }

    fn rotate(&self, xs: &Tensor) -> Tensor {
        let half = self.cos.size()[1] / 2;
        let x1 = xs.narrow(-1, 0, half);
        let x2 = xs.narrow(-1, half, half);
        let rotated_half = Tensor::cat(&[-x2, x1], -1);
        xs * &self.cos + rotated_half * &self.sin
    }
}

/// Root-mean-square normalisation with a learned scale (`weight`, initialised to ones).
#[derive(Debug)]
pub struct RmsNorm {
    pub weight: Tensor,
    eps: f64,
    dim: i64,
}

impl RmsNorm {
    pub fn new(p: nn::Path, dim: i64, eps: f64) -> Self {
        RmsNorm {
            weight: p.var("weight", &[dim], nn::Init::Const(1.0)),
            eps,
            dim,
        }
    }

    /// `weight · x / sqrt(mean(x²) + eps)` over the last dimension; libtorch's `rms_norm`
    /// computes in float32 for half inputs, as `LlamaRMSNorm` does.
    pub fn forward(&self, xs: &Tensor) -> Tensor {
        scope(Part::Norm, || {
            xs.rms_norm([self.dim], Some(&self.weight), self.eps)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(t: &Tensor) -> Vec<f32> {
        Vec::<f32>::try_from(t.to_kind(Kind::Float).flatten(0, -1)).unwrap()
    }

    #[test]
    fn default_frequencies_are_theta_to_the_minus_2i_over_d() {
        let rotary = Rotary::new(RopeType::Default, 10000.0, 8, Device::Cpu);
        let f = values(&rotary.inv_freq);
        for (got, want) in f.iter().zip([1.0, 0.1, 0.01, 0.001]) {
            assert!((got - want).abs() <= 1e-6 * want.max(1e-3), "{f:?}");
        }
    }

    #[test]
    fn llama3_keeps_high_divides_low_and_smooths_medium_frequencies() {
        let rope = RopeType::Llama3 {
            factor: 8.0,
            low_freq_factor: 1.0,
            high_freq_factor: 4.0,
            original_max_position_embeddings: 1024.0,
        };
        // Wavelengths 2π·10^(i/2): 6.3, 19.9, 62.8, 199 (< 256: kept), 628 (medium),
        // 1987, 6283, 19869 (> 1024: divided by 8).
        let plain = values(&Rotary::new(RopeType::Default, 10000.0, 16, Device::Cpu).inv_freq);
        let scaled = values(&Rotary::new(rope, 10000.0, 16, Device::Cpu).inv_freq);
        for i in 0..4 {
            assert_eq!(scaled[i], plain[i]);
        }
        let smooth = (1024.0 * plain[4] / (2.0 * std::f32::consts::PI) - 1.0) / 3.0;
        let medium = (1.0 - smooth) * plain[4] / 8.0 + smooth * plain[4];
        assert!(
            (scaled[4] - medium).abs() < 1e-7,
            "{} vs {medium}",
            scaled[4]
        );
        for i in 5..8 {
            assert!((scaled[i] - plain[i] / 8.0).abs() < 1e-9);
        }
    }

    #[test]
    fn unknown_rope_types_are_rejected_by_name() {
        let scaling = RopeScaling {
            legacy_type: Some("yarn".into()),
            ..RopeScaling::default()
        };
        let err = RopeType::from_scaling(Some(&scaling)).unwrap_err();
        assert!(
            err.to_string().contains("\"yarn\" is not supported"),
            "{err}"
        );
        let incomplete = RopeScaling {
            rope_type: Some("llama3".into()),
            factor: Some(8.0),
            ..RopeScaling::default()
        };
        let err = RopeType::from_scaling(Some(&incomplete)).unwrap_err();
        assert!(err.to_string().contains("low_freq_factor"), "{err}");
    }

    #[test]
    fn partial_rotary_leaves_the_other_dimensions_alone() {
        let rotary = Rotary::new(RopeType::Default, 10000.0, 2, Device::Cpu);
        let tables = rotary.tables(0, 3, Kind::Float);
        let xs = Tensor::randn([1, 1, 3, 6], (Kind::Float, Device::Cpu));
        let out = tables.apply(&xs);
        assert_eq!(out.size(), xs.size());
        let same = out.narrow(-1, 2, 4).eq_tensor(&xs.narrow(-1, 2, 4)).all();
        assert!(bool::try_from(same).unwrap());
        // Position 0 is not rotated at all.
        let first = out.narrow(2, 0, 1).eq_tensor(&xs.narrow(2, 0, 1)).all();
        assert!(bool::try_from(first).unwrap());
    }
}
