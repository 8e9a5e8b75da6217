//! The mixture-of-experts part of a config (Mixtral, Qwen3-MoE): experts, routing and which
//! layers are sparse, with the FLOPs of a sparse block.

use super::checks::check_positive;
use super::flops::gated_mlp_flops;
use anyhow::{bail, Result};

/// How the checkpoint names the block and its experts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naming {
    /// `block_sparse_moe.gate`, `block_sparse_moe.experts.N.{w1,w3,w2}`.
    Mixtral,
    /// `mlp.gate`, `mlp.experts.N.{gate_proj,up_proj,down_proj}`.
    Qwen,
}

impl Naming {
    /// The decoder layer's sub-module holding the block.
    pub fn block(self) -> &'static str {
        match self {
            Naming::Mixtral => "block_sparse_moe",
            Naming::Qwen => "mlp",
        }
    }

    /// (gate, up, down) projection names of one expert.
    pub fn expert(self) -> [&'static str; 3] {
        match self {
            Naming::Mixtral => ["w1", "w3", "w2"],
            Naming::Qwen => ["gate_proj", "up_proj", "down_proj"],
        }
    }
}

/// The mixture-of-experts part of a config, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct MoeConfig {
    pub naming: Naming,
    pub num_experts: i64,
    /// `num_experts_per_tok`.
    pub top_k: i64,
    /// Each expert's intermediate size (Mixtral: `intermediate_size`; Qwen3-MoE:
    /// `moe_intermediate_size`).
    pub expert_intermediate_size: i64,
    pub norm_topk_prob: bool,
    /// Per layer, whether its feed-forward block is sparse (Qwen3-MoE's
    /// `decoder_sparse_step` and `mlp_only_layers`; every layer for Mixtral).
    pub sparse_layers: Vec<bool>,
    /// transformers adds the load-balancing loss to the LM loss only when this is set.
    pub output_router_logits: bool,
    pub router_aux_loss_coef: f64,
    /// Mixtral's multiplicative noise on the block's input, in training only.
    pub router_jitter_noise: f64,
}

impl MoeConfig {
    pub fn validate(&self) -> Result<()> {
        let (experts_key, size_key) = match self.naming {
            Naming::Mixtral => ("num_local_experts", "intermediate_size"),
            Naming::Qwen => ("num_experts", "moe_intermediate_size"),
        };
        check_positive(&[
            (experts_key, self.num_experts),
            ("num_experts_per_tok", self.top_k),
            (size_key, self.expert_intermediate_size),
        ])?;
        if self.top_k > self.num_experts {
            bail!(
                "num_experts_per_tok {} exceeds the {} experts",
                self.top_k,
                self.num_experts
            );
        }
        if !(0.0..1.0).contains(&self.router_jitter_noise) {
            bail!(
                "router_jitter_noise must be in [0, 1), got {}",
                self.router_jitter_noise
            );
        }
        Ok(())
    }

    /// FLOPs of one sparse block on `tokens` tokens of width `hidden`: the router
    /// 2·T·H·E and, per token, only the `top_k` experts it is routed to, 3·2·H·I each (the
    /// experts a token skips cost nothing, as in transformers' per-expert loop).
    pub fn flops(&self, tokens: f64, hidden: f64) -> f64 {
        let router = 2.0 * tokens * hidden * self.num_experts as f64;
        let experts = gated_mlp_flops(tokens, hidden, self.expert_intermediate_size as f64);
        router + self.top_k as f64 * experts
    }
}
