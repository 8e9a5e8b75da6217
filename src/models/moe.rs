//! Sparse mixture-of-experts feed-forward blocks (Shazeer et al., 2017; Fedus et al., 2021,
//! "Switch Transformers") as Mixtral (Jiang et al., 2024, "Mixtral of Experts") and
//! Qwen3-MoE use them, following transformers' `MixtralSparseMoeBlock`,
//! `Qwen3MoeSparseMoeBlock` and `load_balancing_loss_func`. The decoders around them are
//! llama.rs's (Mistral's and Qwen3's attention); this module holds the router, the experts
//! and the auxiliary loss.
//!
//! Routing, exactly as transformers: router logits `gate(x)`, softmax in float32, the
//! top-k experts per token, their weights renormalised to sum to 1 (always for Mixtral,
//! with `norm_topk_prob` for Qwen3-MoE) and cast back to the hidden states' dtype; each
//! expert runs on its own tokens only, and its weighted outputs are summed per token.
//!
//! `--routing balanced` replaces the router's choice (the router still runs, so its cost
//! stays in the time): token t's j-th expert is (t·k + j) mod E with weight 1/k, so every
//! expert gets the same number of tokens (± 1), as serving benchmarks force an even load.
//! [`counting`] records the tokens each expert received, one bincount per layer.

use super::layers::{GatedMlp, Linear};
use crate::cell::Routing;
pub use run_benchmark_core::spec::moe::{MoeConfig, Naming};
use std::cell::{Cell, RefCell};
use tch::{nn, Kind, Tensor};

thread_local! {
    /// The routing the blocks built inside [`routed`] use.
    static ROUTING: Cell<Routing> = const { Cell::new(Routing::Model) };
    /// Inside [`counting`]: each sparse layer's tokens per expert, in call order, kept on
    /// the device until the call ends.
    static COUNTS: RefCell<Option<Vec<Tensor>>> = const { RefCell::new(None) };
}

/// Runs `build` with its sparse blocks routing as `routing` says.
pub fn routed<T>(routing: Routing, build: impl FnOnce() -> T) -> T {
    let before = ROUTING.with(|r| r.replace(routing));
    let built = build();
    ROUTING.with(|r| r.set(before));
    built
}

/// Runs `call` and returns, per sparse layer it went through (in order), the tokens each
/// expert received.
pub fn counting<T>(call: impl FnOnce() -> T) -> (T, Vec<Vec<u64>>) {
    COUNTS.with(|c| *c.borrow_mut() = Some(Vec::new()));
    let out = call();
    let counts = COUNTS.with(|c| c.borrow_mut().take()).unwrap_or_default();
    let counts = (counts.iter())
        .map(|t| {
            let t = t.to_device(tch::Device::Cpu);
            Vec::<i64>::try_from(&t)
                .unwrap_or_default()
                .into_iter()
                .map(|n| n as u64)
                .collect()
        })
        .collect();
    (out, counts)
}

/// The router (`gate`, no bias) and the experts (SwiGLU MLPs).
pub struct SparseMoe {
    gate: Linear,
    experts: Vec<GatedMlp>,
    top_k: i64,
    norm_topk_prob: bool,
    jitter: f64,
    routing: Routing,
}

impl SparseMoe {
    /// `activation` and `std` are the decoder's `hidden_act` and `initializer_range`.
    pub fn new(
        p: nn::Path,
        c: &MoeConfig,
        hidden: i64,
        activation: super::layers::Activation,
        std: f64,
    ) -> Self {
        let experts = &p / "experts";
        SparseMoe {
            gate: Linear::new(&p / "gate", hidden, c.num_experts, false, std),
            experts: (0..c.num_experts)
                .map(|e| {
                    GatedMlp::named(
                        &experts / e,
                        c.naming.expert(),
                        hidden,
                        c.expert_intermediate_size,
                        false,
                        activation,
                        std,
                    )
                })
                .collect(),
            top_k: c.top_k,
            norm_topk_prob: c.norm_topk_prob,
            jitter: c.router_jitter_noise,
            routing: ROUTING.with(|r| r.get()),
        }
    }

    /// The block's output (batch, seq, hidden) and its router logits (batch·seq, experts).
    pub fn forward(&self, xs: &Tensor, train: bool) -> (Tensor, Tensor) {
        let (b, s, h) = xs.size3().expect("hidden states are (batch, seq, hidden)");
        let xs = if train && self.jitter > 0.0 {
            xs * xs
                .empty_like()
                .uniform_(1.0 - self.jitter, 1.0 + self.jitter)
        } else {
            xs.shallow_clone()
        };
        let flat = xs.view([-1, h]);
        let router_logits = self.gate.forward(&flat);
        let (weights, selected) = match self.routing {
            Routing::Model => {
                let probs = router_logits.softmax(-1, Kind::Float);
                let (weights, selected) = probs.topk(self.top_k, -1, true, true);
                let weights = if self.norm_topk_prob {
                    &weights / weights.sum_dim_intlist(-1, true, Kind::Float)
                } else {
                    weights
                };
                (weights.to_kind(flat.kind()), selected)
            }
            Routing::Balanced => {
                let (tokens, k) = (b * s, self.top_k);
                let experts = self.experts.len() as i64;
                let selected = Tensor::arange(tokens * k, (Kind::Int64, flat.device()))
                    .remainder(experts)
                    .view([tokens, k]);
                let weights =
                    Tensor::full([tokens, k], 1.0 / k as f64, (flat.kind(), flat.device()));
                (weights, selected)
            }
        };
        COUNTS.with(|c| {
            if let Some(counts) = c.borrow_mut().as_mut() {
                let experts = self.experts.len() as i64;
                counts.push(selected.view([-1]).bincount(None::<Tensor>, experts));
            }
        });
        let mut out = flat.zeros_like();
        for (e, expert) in self.experts.iter().enumerate() {
            // (token, slot) of every choice of this expert; an expert nobody chose is skipped.
            let hits = selected.eq(e as i64).nonzero();
            if hits.size()[0] == 0 {
                continue;
            }
            let (token, slot) = (hits.select(1, 0), hits.select(1, 1));
            let routed = expert.forward(&flat.index_select(0, &token));
            let weight = weights.index(&[Some(&token), Some(&slot)]).unsqueeze(-1);
            out = out.index_add(0, &token, &(routed * weight));
        }
        (out.view([b, s, h]), router_logits)
    }
}

/// transformers' `load_balancing_loss_func`: over every sparse layer's tokens, the fraction
/// of top-k choices per (slot, expert) times the mean router probability per expert, summed,
/// times the number of experts. With an `attention_mask` (batch, seq), both averages are
/// over the real tokens only, as transformers does when the causal LM is given the mask.
pub fn load_balancing_loss(
    router_logits: &[Tensor],
    num_experts: i64,
    top_k: i64,
    attention_mask: Option<&Tensor>,
) -> Tensor {
    let logits = Tensor::cat(router_logits, 0);
    let probs = logits.softmax(-1, logits.kind());
    let (_, selected) = probs.topk(top_k, -1, true, true);
    let expert_mask = selected.one_hot(num_experts).to_kind(Kind::Float);
    let (tokens_per_expert, router_prob_per_expert) = match attention_mask {
        None => (
            expert_mask.mean_dim(0, false, Kind::Float),
            probs.mean_dim(0, false, None::<Kind>),
        ),
        Some(mask) => {
            // One weight per row of the concatenated logits: layer-major, then batch, seq.
            let layers = router_logits.len() as i64;
            let real = mask
                .ne(0)
                .reshape([1, -1])
                .expand([layers, -1], false)
                .reshape([-1]);
            let weights = real.to_kind(Kind::Float);
            let count = weights.sum(Kind::Float);
            let tokens =
                (&expert_mask * weights.view([-1, 1, 1])).sum_dim_intlist(0, false, Kind::Float)
                    / &count;
            let weights = weights.to_kind(probs.kind());
            let router = (&probs * weights.unsqueeze(-1)).sum_dim_intlist(0, false, None::<Kind>)
                / weights.sum(probs.kind());
            (tokens, router)
        }
    };
    (tokens_per_expert * router_prob_per_expert.unsqueeze(0)).sum(Kind::Float) * num_experts as f64
}

/// A decoder layer's feed-forward block: dense SwiGLU or sparse experts.
pub enum FeedForward {
    Dense(GatedMlp),
    Sparse(SparseMoe),
}

impl FeedForward {
    /// The output, and the router logits of a sparse block.
    pub fn forward(&self, xs: &Tensor, train: bool) -> (Tensor, Option<Tensor>) {
        let _mlp = crate::measure::profile::part(crate::measure::profile::Part::Mlp);
        match self {
            FeedForward::Dense(mlp) => (mlp.forward(xs), None),
            FeedForward::Sparse(moe) => {
                let (out, logits) = moe.forward(xs, train);
                (out, Some(logits))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn config(norm: bool) -> MoeConfig {
        MoeConfig {
            naming: Naming::Mixtral,
            num_experts: 4,
            top_k: 2,
            expert_intermediate_size: 8,
            norm_topk_prob: norm,
            sparse_layers: vec![true],
            output_router_logits: false,
            router_aux_loss_coef: 0.01,
            router_jitter_noise: 0.0,
        }
    }

    #[test]
    fn one_token_is_the_weighted_sum_of_its_top_two_experts() {
        tch::manual_seed(1);
        let vs = nn::VarStore::new(Device::Cpu);
        let c = config(true);
        let moe = SparseMoe::new(
            vs.root(),
            &c,
            6,
            super::super::layers::Activation::Silu,
            0.5,
        );
        let xs = Tensor::randn([1, 1, 6], (Kind::Float, Device::Cpu));
        let (out, logits) = tch::no_grad(|| moe.forward(&xs, false));
        let probs = Vec::<f32>::try_from(logits.softmax(-1, Kind::Float).view([-1])).unwrap();
        let mut order: Vec<usize> = (0..4).collect();
        order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
        let (a, b) = (order[0], order[1]);
        let norm = probs[a] + probs[b];
        let want = tch::no_grad(|| {
            moe.experts[a].forward(&xs) * f64::from(probs[a] / norm)
                + moe.experts[b].forward(&xs) * f64::from(probs[b] / norm)
        });
        let diff = (out - want).abs().max().double_value(&[]);
        assert!(diff < 1e-6, "{diff}");
    }

    /// The tokens per expert of one forward pass of a 4-expert top-2 block built with
    /// `routing`, over `tokens` tokens.
    fn counts(routing: Routing, tokens: i64) -> Vec<Vec<u64>> {
        tch::manual_seed(5);
        let vs = nn::VarStore::new(Device::Cpu);
        let moe = routed(routing, || {
            SparseMoe::new(
                vs.root(),
                &config(true),
                6,
                super::super::layers::Activation::Silu,
                0.5,
            )
        });
        let xs = Tensor::randn([2, tokens / 2, 6], (Kind::Float, Device::Cpu));
        let (_, counts) = counting(|| tch::no_grad(|| moe.forward(&xs, false)));
        counts
    }

    #[test]
    fn balanced_routing_gives_every_expert_the_same_load() {
        // 10 tokens x top-2 = 20 choices over 4 experts: 5 each.
        let load = crate::cell::ExpertLoad::of(Routing::Balanced, 2, counts(Routing::Balanced, 10));
        assert_eq!(load.counts, vec![vec![5, 5, 5, 5]]);
        assert_eq!((load.tokens, load.min_active_experts), (10, 4));
        assert_eq!(load.worst_max_over_mean, 1.0);
        // 6 tokens x top-2 = 12 choices: 3 each.
        assert_eq!(counts(Routing::Balanced, 6), vec![vec![3, 3, 3, 3]]);
    }

    #[test]
    fn balanced_routing_weighs_each_chosen_expert_one_over_k() {
        tch::manual_seed(2);
        let vs = nn::VarStore::new(Device::Cpu);
        let c = config(true);
        let act = super::super::layers::Activation::Silu;
        let moe = routed(Routing::Balanced, || {
            SparseMoe::new(vs.root(), &c, 6, act, 0.5)
        });
        let xs = Tensor::randn([1, 2, 6], (Kind::Float, Device::Cpu));
        let (out, _) = tch::no_grad(|| moe.forward(&xs, false));
        // Token 0 goes to experts 0 and 1, token 1 to experts 2 and 3.
        let t0 = xs.narrow(1, 0, 1);
        let t1 = xs.narrow(1, 1, 1);
        let want = tch::no_grad(|| {
            Tensor::cat(
                &[
                    (moe.experts[0].forward(&t0) + moe.experts[1].forward(&t0)) * 0.5,
                    (moe.experts[2].forward(&t1) + moe.experts[3].forward(&t1)) * 0.5,
                ],
                1,
            )
        });
        let diff = (out - want).abs().max().double_value(&[]);
        assert!(diff < 1e-6, "{diff}");
    }

    #[test]
    fn model_routing_counts_sum_to_tokens_times_top_k() {
        let counts = counts(Routing::Model, 16);
        assert_eq!(counts.len(), 1);
        assert_eq!(counts[0].iter().sum::<u64>(), 16 * 2);
        // Outside `counting` nothing is kept.
        assert!(COUNTS.with(|c| c.borrow().is_none()));
    }

    #[test]
    fn uniform_routing_has_aux_loss_top_k() {
        // Uniform router probabilities: every expert's mean probability is 1/E, and the
        // top-k fractions per (slot, expert) sum to k, so the loss is k · 1/E · E = k.
        let logits = Tensor::zeros([8, 4], (Kind::Float, Device::Cpu));
        let loss = load_balancing_loss(&[logits], 4, 2, None).double_value(&[]);
        assert!((loss - 2.0).abs() < 1e-6, "{loss}");
    }

    #[test]
    fn masked_aux_loss_is_the_loss_of_the_real_tokens_alone() {
        // Two sparse layers, batch 2 x seq 3; row 0's last two tokens are padding.
        tch::manual_seed(3);
        let layers: Vec<Tensor> = (0..2)
            .map(|_| Tensor::randn([6, 4], (Kind::Float, Device::Cpu)))
            .collect();
        let mask = Tensor::from_slice(&[1i64, 0, 0, 1, 1, 1]).view([2, 3]);
        let masked = load_balancing_loss(&layers, 4, 2, Some(&mask)).double_value(&[]);
        let real = Tensor::from_slice(&[0i64, 3, 4, 5]);
        let kept: Vec<Tensor> = layers.iter().map(|l| l.index_select(0, &real)).collect();
        let alone = load_balancing_loss(&kept, 4, 2, None).double_value(&[]);
        assert!((masked - alone).abs() < 1e-6, "{masked} vs {alone}");
        // The padding's router logits count without the mask.
        let unmasked = load_balancing_loss(&layers, 4, 2, None).double_value(&[]);
        assert!((unmasked - alone).abs() > 1e-4, "{unmasked} vs {alone}");
        // A mask of all ones is no mask.
        let ones = mask.ones_like();
        let all = load_balancing_loss(&layers, 4, 2, Some(&ones)).double_value(&[]);
        assert!((all - unmasked).abs() < 1e-6, "{all} vs {unmasked}");
    }

    #[test]
    fn flops_count_only_the_routed_experts() {
        let c = config(false);
        // Router 2·1·6·4 = 48; two experts of 3·2·6·8 = 288 each.
        assert_eq!(c.flops(1.0, 6.0), 48.0 + 2.0 * 288.0);
    }
}
