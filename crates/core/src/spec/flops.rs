//! FLOP formulas shared by several families: 2·m·n·k for every matrix product.

use super::Task;

/// FLOPs of a language-modelling head on (batch, seq): 2·B·S·H·V, none for the base model.
pub fn lm_head_flops(task: Task, batch: f64, seq: f64, hidden: f64, vocab: f64) -> f64 {
    match task {
        Task::Base => 0.0,
        Task::LanguageModel => 2.0 * batch * seq * hidden * vocab,
    }
}

/// FLOPs of grouped-query self-attention on `tokens` = B·S tokens in sequences of `seq`:
/// with Q = heads·head_dim and K = kv_heads·head_dim, the q and o projections 2·2·T·H·Q,
/// k and v 2·2·T·H·K, scores and weighted values 2·2·T·S·Q (the full S×S products, as
/// eager attention computes them, although a causal or windowed kernel skips some).
pub fn attention_flops(tokens: f64, seq: f64, hidden: f64, q: f64, kv: f64) -> f64 {
    2.0 * tokens * (2.0 * hidden * q + 2.0 * hidden * kv) + 4.0 * tokens * seq * q
}

/// FLOPs of a gated MLP (gate, up and down projections: SwiGLU, GeGLU) on `tokens`
/// tokens: 3·2·T·H·I.
pub fn gated_mlp_flops(tokens: f64, hidden: f64, intermediate: f64) -> f64 {
    3.0 * 2.0 * tokens * hidden * intermediate
}
