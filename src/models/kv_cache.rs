//! Incremental decoding: the key-value cache that generation keeps between decode steps,
//! the causal attention that reads it, and [`Generator`] for every decoder-only family
//! (through [`CausalLm`]). A forward pass over a whole sequence uses [`KvCache::off`], which
//! keeps nothing, so training and the prefill-only cells run exactly as before.

use super::layers::{attention_kernel, with_key_padding};
use super::Generator;
use crate::measure::profile::{self, Part};
use anyhow::Result;
use tch::{Kind, Tensor};

/// One layer's cached keys and values (batch, kv_heads, tokens, head_dim): those of the
/// last tokens fed (all of them, or a sliding window's), and how many were fed in all.
struct LayerKv {
    k: Tensor,
    v: Tensor,
    seen: i64,
}

/// Per layer, the keys and values of the tokens fed so far; for encoder-decoders also the
/// cross-attention keys and values of the encoder's output, computed once, and that output.
pub struct KvCache {
    store: bool,
    layers: Vec<Option<LayerKv>>,
    cross: Vec<Option<(Tensor, Tensor)>>,
    /// An encoder-decoder's encoder output (batch, prompt, d_model), set by its prefill.
    pub encoder_hidden: Option<Tensor>,
    /// A full-sequence pass over right-padded inputs: the attention mask (batch, seq), 0 at
    /// padding. It travels with the cache so that every layer's attention sees it.
    padding: Option<Tensor>,
}

impl KvCache {
    /// An empty cache that keeps what it is given: the start of a generation.
    pub fn new() -> Self {
        KvCache {
            store: true,
            layers: Vec::new(),
            cross: Vec::new(),
            encoder_hidden: None,
            padding: None,
        }
    }

    /// A cache that keeps nothing: one forward pass over the whole sequence.
    pub fn off() -> Self {
        KvCache {
            store: false,
            ..KvCache::new()
        }
    }

    /// [`KvCache::off`] over right-padded inputs: `padding` (batch, seq) is 0 at padding,
    /// which no real token attends to (see [`with_key_padding`]).
    pub fn off_masked(padding: Option<&Tensor>) -> Self {
        KvCache {
            padding: padding.map(Tensor::shallow_clone),
            ..KvCache::off()
        }
    }

    /// The attention mask of a padded full-sequence pass, if any.
    pub fn padding(&self) -> Option<&Tensor> {
        self.padding.as_ref()
    }

    /// Tokens fed so far: the position of the next input's first token.
    pub fn past(&self) -> i64 {
        match self.layers.first() {
            Some(Some(layer)) => layer.seen,
            _ => 0,
        }
    }

    /// Appends layer `layer`'s keys and values of the new tokens (batch, kv_heads, new,
    /// head_dim); returns the keys and values to attend to (the cached ones, then the new)
    /// and the position of the first. With a `sliding_window`, only the last
    /// `sliding_window - 1` tokens are kept for the next query, as transformers'
    /// `DynamicSlidingWindowLayer` keeps them.
    pub fn append(
        &mut self,
        layer: usize,
        k: Tensor,
        v: Tensor,
        sliding_window: Option<i64>,
    ) -> (Tensor, Tensor, i64) {
        if !self.store {
            return (k, v, 0);
        }
        if self.layers.len() <= layer {
            self.layers.resize_with(layer + 1, || None);
        }
        let new = k.size()[2];
        let (k, v, seen) = match self.layers[layer].take() {
            Some(past) => (
                Tensor::cat(&[past.k, k], 2),
                Tensor::cat(&[past.v, v], 2),
                past.seen,
            ),
            None => (k, v, 0),
        };
        let start = seen + new - k.size()[2];
        let keep = sliding_window.map_or(i64::MAX, |w| (w - 1).max(0));
        let len = k.size()[2];
        let (kept_k, kept_v) = if len > keep {
            (k.narrow(2, len - keep, keep), v.narrow(2, len - keep, keep))
        } else {
            (k.shallow_clone(), v.shallow_clone())
        };
        self.layers[layer] = Some(LayerKv {
            k: kept_k,
            v: kept_v,
            seen: seen + new,
        });
        (k, v, start)
    }

    /// Causal self-attention of layer `layer`: appends k, v (batch, kv_heads, new, d) and
    /// attends q (batch, heads, new, d) over every cached key, through [`causal_sdpa`].
    #[allow(clippy::too_many_arguments)]
    pub fn attend(
        &mut self,
        layer: usize,
        q: &Tensor,
        k: Tensor,
        v: Tensor,
        sliding_window: Option<i64>,
        scale: Option<f64>,
        dropout: f64,
    ) -> Tensor {
        let options = AttentionOptions {
            sliding_window,
            scale,
            softcap: None,
            dropout,
        };
        self.attend_with(layer, q, k, v, options)
    }

    /// [`KvCache::attend`] with every option (Gemma 2's soft-capping too).
    pub fn attend_with(
        &mut self,
        layer: usize,
        q: &Tensor,
        k: Tensor,
        v: Tensor,
        options: AttentionOptions,
    ) -> Tensor {
        let past = self.layer_seen(layer);
        let (k, v, key_start) = self.append(layer, k, v, options.sliding_window);
        causal_sdpa_masked(q, &k, &v, past - key_start, options, self.padding.as_ref())
    }

    fn layer_seen(&self, layer: usize) -> i64 {
        match self.layers.get(layer) {
            Some(Some(l)) if self.store => l.seen,
            _ => 0,
        }
    }

    /// Layer `layer`'s cross-attention keys and values: `compute`d at the first step, then
    /// reused (the encoder's output does not change while decoding).
    pub fn cross(
        &mut self,
        layer: usize,
        compute: impl FnOnce() -> (Tensor, Tensor),
    ) -> (Tensor, Tensor) {
        if !self.store {
            return compute();
        }
        if self.cross.len() <= layer {
            self.cross.resize_with(layer + 1, || None);
        }
        let (k, v) = self.cross[layer].get_or_insert_with(compute);
        (k.shallow_clone(), v.shallow_clone())
    }

    /// Bytes held by the cached keys and values (self- and cross-attention).
    pub fn bytes(&self) -> i64 {
        let size = |t: &Tensor| t.numel() as i64 * t.kind().elt_size_in_bytes() as i64;
        let own = self
            .layers
            .iter()
            .flatten()
            .map(|l| size(&l.k) + size(&l.v));
        let cross = self.cross.iter().flatten().map(|(k, v)| size(k) + size(v));
        own.chain(cross).sum()
    }
}

impl Default for KvCache {
    fn default() -> Self {
        KvCache::new()
    }
}

/// What causal attention does beyond q, k and v: a sliding window, transformers' `scaling`
/// (None: 1/sqrt(head_dim)), Gemma 2's soft-capping of the scores (`tanh(s/cap)·cap`) and
/// attention dropout.
#[derive(Debug, Clone, Copy, Default)]
pub struct AttentionOptions {
    pub sliding_window: Option<i64>,
    pub scale: Option<f64>,
    pub softcap: Option<f64>,
    pub dropout: f64,
}

/// Causal scaled-dot-product attention of q (batch, heads, s, d) over k, v (batch,
/// kv_heads, t, d), where the queries sit `offset` positions after the first key (0
/// without a cache): query i sees keys j ≤ offset + i, and with a `sliding_window` only
/// the last `sliding_window` of them, itself included (transformers'
/// `sliding_window_overlay`). Key-value heads are repeated for grouped-query attention
/// (`repeat_kv`), since libtorch's CPU flash kernel does not take `enable_gqa`. Without
/// soft-capping this is one fused `scaled_dot_product_attention`; soft-capping cannot go
/// through the fused kernel, so it runs transformers' eager path (scores, cap, mask,
/// float32 softmax, values). Returns (batch, heads, s, d).
pub fn causal_sdpa(q: &Tensor, k: &Tensor, v: &Tensor, offset: i64, o: AttentionOptions) -> Tensor {
    causal_sdpa_masked(q, k, v, offset, o, None)
}

/// [`causal_sdpa`] of a full sequence (offset 0) over right-padded inputs: `padding`
/// (batch, seq), 0 at padding, hides padding keys.
pub fn causal_sdpa_masked(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    offset: i64,
    o: AttentionOptions,
    padding: Option<&Tensor>,
) -> Tensor {
    let (b, heads, s, d) = q
        .size4()
        .expect("queries are (batch, heads, seq, head_dim)");
    let (kv_heads, t) = (k.size()[1], k.size()[2]);
    let repeat = |x: &Tensor| {
        if kv_heads == heads {
            x.shallow_clone()
        } else {
            x.unsqueeze(2)
                .expand([b, kv_heads, heads / kv_heads, t, d], false)
                .reshape([b, heads, t, d])
        }
    };
    let (k, v) = (repeat(k), repeat(v));
    // Farthest key any query sees: offset + s - 1 back from the last query.
    let window = o.sliding_window.filter(|&w| w < offset + s);
    let in_window = || {
        let i = Tensor::arange_start(offset, offset + s, (Kind::Int64, q.device())).unsqueeze(1);
        let j = Tensor::arange(t, (Kind::Int64, q.device())).unsqueeze(0);
        let distance = &i - &j;
        let causal = distance.ge(0);
        match window {
            Some(w) => causal.logical_and(&distance.lt(w)),
            None => causal,
        }
    };
    // SDPA's is_causal aligns the diagonal top-left, which is right only without cached
    // keys; one query after them sees every key; anything else needs an explicit mask.
    let plain =
        padding.is_none() && window.is_none() && (offset == 0 || (s == 1 && offset + 1 == t));
    let allowed = || match padding {
        Some(padding) => with_key_padding(&in_window(), padding),
        None => in_window(),
    };
    let Some(cap) = o.softcap else {
        let mask = (!plain).then(allowed);
        let is_causal = mask.is_none() && s > 1;
        // Profiled as the attention kernel, as every family's full-sequence attention is.
        return attention_kernel(q, &k, &v, mask, o.dropout, is_causal, o.scale, false);
    };
    let _kernel = profile::part(Part::AttentionKernel);
    let scale = o.scale.unwrap_or(1.0 / (d as f64).sqrt());
    let scores = q.matmul(&k.transpose(-2, -1)) * scale;
    let scores = (scores / cap).tanh() * cap;
    let scores = match s == 1 && plain {
        true => scores,
        false => scores.masked_fill(&allowed().logical_not(), f64::NEG_INFINITY),
    };
    let probs = scores.softmax(-1, Kind::Float).to_kind(q.kind());
    let probs = if o.dropout > 0.0 {
        probs.dropout(o.dropout, true)
    } else {
        probs
    };
    probs.matmul(&v)
}

/// A decoder-only causal LM, split where generation needs it: the body, which appends to
/// the cache, and the head. [`Generator`] follows for every such model.
pub trait CausalLm {
    /// The body's last hidden state (batch, new, hidden) of `input_ids` (batch, new), the
    /// tokens after the `cache`d ones; appends them to the cache.
    fn hidden(&self, input_ids: &Tensor, train: bool, cache: &mut KvCache) -> Tensor;
    /// The vocabulary logits of hidden states.
    fn head(&self, hidden: &Tensor) -> Tensor;

    /// Logits (batch, seq, vocab) of a whole sequence, without a cache.
    fn full_logits(&self, input_ids: &Tensor, train: bool) -> Tensor {
        self.head(&self.hidden(input_ids, train, &mut KvCache::off()))
    }
}

/// The last position's hidden state (batch, 1, hidden): only the next token's logits are
/// computed, as transformers' generate does (`logits_to_keep = 1`).
pub fn last_position(hidden: &Tensor) -> Tensor {
    let s = hidden.size()[1];
    hidden.narrow(1, s - 1, 1)
}

impl<T: CausalLm> Generator for T {
    fn prefill(&self, input_ids: &Tensor) -> Result<(Tensor, KvCache)> {
        let mut cache = KvCache::new();
        let logits = self.step(input_ids, &mut cache)?;
        Ok((logits, cache))
    }

    fn step(&self, input_ids: &Tensor, cache: &mut KvCache) -> Result<Tensor> {
        let hidden = self.hidden(input_ids, false, cache);
        Ok(self.head(&last_position(&hidden)).squeeze_dim(1))
    }
}

/// Greedy decoding of exactly `new_tokens` tokens (no stop at EOS): the prompt (batch,
/// seq) once, then each chosen token fed back. `each` is called at every step, as soon as
/// that step's logits (batch, vocab) and tokens (batch, 1, the argmax) exist, before the
/// next step starts. Returns the cache at the end (the last token is never fed).
pub fn greedy(
    generator: &dyn Generator,
    prompt: &Tensor,
    new_tokens: i64,
    mut each: impl FnMut(&Tensor, &Tensor),
) -> Result<KvCache> {
    let (mut logits, mut cache) = generator.prefill(prompt)?;
    for step in 0..new_tokens {
        let tokens = logits.argmax(-1, true);
        each(&logits, &tokens);
        if step + 1 < new_tokens {
            logits = generator.step(&tokens, &mut cache)?;
        }
    }
    Ok(cache)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
        (a - b).abs().max().double_value(&[])
    }

    fn options(sliding_window: Option<i64>, softcap: Option<f64>) -> AttentionOptions {
        AttentionOptions {
            sliding_window,
            softcap,
            ..AttentionOptions::default()
        }
    }

    /// Attention over a cache, one query at a time, is the full causal attention's rows,
    /// with and without a sliding window, soft-capping and grouped-query heads.
    #[test]
    fn cached_queries_equal_rows_of_full_causal_attention() {
        let opts = (Kind::Float, Device::Cpu);
        // Large scores, so that a cap of 2 changes them.
        let q = Tensor::randn([2, 4, 6, 8], opts) * 3.0;
        let k = Tensor::randn([2, 2, 6, 8], opts);
        let v = Tensor::randn([2, 2, 6, 8], opts);
        let part = |t: &Tensor, from: i64, n: i64| t.narrow(2, from, n);
        for window in [None, Some(3)] {
            for softcap in [None, Some(2.0)] {
                let o = options(window, softcap);
                let full = causal_sdpa(&q, &k, &v, 0, o);
                let mut cache = KvCache::new();
                // The first four as a prefill, then one at a time.
                let head = cache.attend_with(0, &part(&q, 0, 4), part(&k, 0, 4), part(&v, 0, 4), o);
                assert!(max_diff(&head, &part(&full, 0, 4)) < 1e-6, "{o:?}");
                for i in 4..6 {
                    let row =
                        cache.attend_with(0, &part(&q, i, 1), part(&k, i, 1), part(&v, i, 1), o);
                    assert!(max_diff(&row, &part(&full, i, 1)) < 1e-6, "{o:?} {i}");
                }
                assert_eq!(cache.past(), 6);
                // A window of 3 keeps the last 2 tokens for the next query.
                let kept = window.map_or(6, |w| w - 1);
                assert_eq!(cache.bytes(), 2 * (2 * 2 * kept * 8 * 4));
            }
        }
        // Capping changes these scores: the capped and uncapped outputs differ.
        let capped = causal_sdpa(&q, &k, &v, 0, options(None, Some(2.0)));
        let uncapped = causal_sdpa(&q, &k, &v, 0, options(None, None));
        assert!(max_diff(&capped, &uncapped) > 1e-3);
        // Two queries after four cached tokens need the offset mask.
        for softcap in [None, Some(2.0)] {
            let o = options(None, softcap);
            let full = causal_sdpa(&q, &k, &v, 0, o);
            let mut cache = KvCache::new();
            let _ = cache.attend_with(0, &part(&q, 0, 4), part(&k, 0, 4), part(&v, 0, 4), o);
            let tail = cache.attend_with(0, &part(&q, 4, 2), part(&k, 4, 2), part(&v, 4, 2), o);
            assert!(max_diff(&tail, &part(&full, 4, 2)) < 1e-6, "{o:?}");
        }
    }

    #[test]
    fn a_window_at_least_the_sequence_is_plain_causal_attention() {
        let q = Tensor::randn([2, 4, 5, 8], (Kind::Float, Device::Cpu));
        let k = Tensor::randn([2, 2, 5, 8], (Kind::Float, Device::Cpu));
        let v = Tensor::randn([2, 2, 5, 8], (Kind::Float, Device::Cpu));
        for softcap in [None, Some(50.0)] {
            let causal = causal_sdpa(&q, &k, &v, 0, options(None, softcap));
            let wide = causal_sdpa(&q, &k, &v, 0, options(Some(5), softcap));
            assert_eq!(causal.size(), [2, 4, 5, 8]);
            assert!(max_diff(&causal, &wide) < 1e-6, "{softcap:?}");
            // A window of 1 attends to the token itself only: the output is its value.
            let own = causal_sdpa(&q, &k, &v, 0, options(Some(1), softcap));
            let values = v
                .unsqueeze(2)
                .expand([2, 2, 2, 5, 8], false)
                .reshape([2, 4, 5, 8]);
            assert!(max_diff(&own, &values) < 1e-6, "{softcap:?}");
        }
    }

    #[test]
    fn an_off_cache_keeps_nothing() {
        let mut cache = KvCache::off();
        let k = Tensor::ones([1, 1, 2, 2], (Kind::Float, Device::Cpu));
        let (k2, _, start) = cache.append(0, k.shallow_clone(), k.shallow_clone(), None);
        assert_eq!(start, 0);
        assert_eq!(k2.size(), [1, 1, 2, 2]);
        assert_eq!((cache.past(), cache.bytes()), (0, 0));
    }
}
