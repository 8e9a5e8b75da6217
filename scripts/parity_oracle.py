#!/usr/bin/env python3
"""The transformers oracle: writes parity fixtures for tests/parity.rs.

For each architecture, a tiny model is built from a config in code (random weights, a fixed
seed; the Hugging Face Hub is never contacted), its weights are saved under the checkpoint's
own names, and transformers' outputs on fixed inputs are saved next to them:

    <out>/<arch>/config.json           the tiny config, as a checkpoint's config.json
    <out>/<arch>/model.safetensors     the weights, HF checkpoint key names
    <out>/<arch>/expected.safetensors  input_ids and transformers' outputs (eval mode, fp32)

Usage: python scripts/parity_oracle.py tests/fixtures/parity [arch ...]
(`make fixtures` runs it with the pinned transformers). Adding an architecture is one
function in ARCHITECTURES below.
"""

import argparse
import json
import os
import sys

import torch
import transformers
from safetensors.torch import save_file

SEED = 0
BATCH, SEQ = 2, 7


def randomize_(module, std=0.2):
    """Replaces transformers' init (LayerNorm 1/0, zero biases, std 0.02) by values that make
    every parameter matter: weights ~ N(0, std) so that attention is far from uniform,
    norm weights ~ 1 + N(0, 0.2), every bias ~ N(0, 0.1). Norm weights are matched by name:
    LayerNorm (`LayerNorm.weight`, `layer_norm.weight`, `final_layernorm.weight`) and RMSNorm
    (`input_layernorm.weight`, `norm.weight`, `q_norm.weight`, ...) alike."""
    with torch.no_grad():
        for name, param in module.named_parameters():
            if name.lower().endswith("norm.weight"):
                param.copy_(1.0 + 0.2 * torch.randn_like(param))
            elif name.endswith("bias"):
                param.copy_(0.1 * torch.randn_like(param))
            else:
                param.copy_(std * torch.randn_like(param))


def save_tensors(path, tensors):
    """safetensors refuses shared or non-contiguous storage: save fresh contiguous copies."""
    save_file(
        {k: v.detach().contiguous().clone() for k, v in tensors.items()},
        path,
        metadata={"format": "pt"},
    )


def write_config(path, config, keys, architectures):
    full = config.to_dict()
    out = {"architectures": architectures, "model_type": config.model_type}
    out.update({k: full[k] for k in keys})
    out["transformers_version"] = transformers.__version__
    with open(path, "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")


def max_abs(a, b):
    return (a - b).abs().max().item()


def bert(out_dir):
    """BertModel (with pooler) and BertForMaskedLM sharing one encoder: `bert.*` holds
    embeddings, encoder and pooler, `cls.predictions.*` the MLM head; the decoder weight is
    tied to `bert.embeddings.word_embeddings.weight` and not saved."""
    from transformers import BertConfig, BertForMaskedLM, BertModel

    config = BertConfig(
        vocab_size=99,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        hidden_act="gelu",
        max_position_embeddings=64,
        type_vocab_size=2,
        layer_norm_eps=1e-12,
        pad_token_id=0,
        position_embedding_type="absolute",
        attn_implementation="eager",
    )
    base = BertModel(config, add_pooling_layer=True).eval()
    mlm = BertForMaskedLM(config).eval()
    randomize_(base)
    randomize_(mlm.cls)
    # The MLM model's encoder is the base model's (all but the pooler, which it lacks);
    # copy_ keeps the decoder tied to the word embeddings.
    base_state = base.state_dict()
    missing, unexpected = mlm.bert.load_state_dict(
        {k: v for k, v in base_state.items() if not k.startswith("pooler.")}, strict=True
    )
    assert not missing and not unexpected
    decoder = mlm.cls.predictions.decoder
    assert decoder.weight.data_ptr() == mlm.bert.embeddings.word_embeddings.weight.data_ptr()
    assert decoder.bias.data_ptr() == mlm.cls.predictions.bias.data_ptr()

    weights = {f"bert.{k}": v for k, v in base_state.items()}
    weights.update(
        {
            f"cls.{k}": v
            for k, v in mlm.cls.state_dict().items()
            if not k.startswith("predictions.decoder.")
        }
    )

    input_ids = torch.randint(0, config.vocab_size, (BATCH, SEQ), dtype=torch.int64)
    with torch.no_grad():
        base_out = base(input_ids=input_ids)
        mlm_out = mlm(input_ids=input_ids, labels=input_ids)
        # Both models must see the same encoder.
        shared = mlm.bert(input_ids=input_ids).last_hidden_state
        assert max_abs(shared, base_out.last_hidden_state) == 0.0
    expected = {
        "input_ids": input_ids,
        "last_hidden_state": base_out.last_hidden_state,
        "pooler_output": base_out.pooler_output,
        "mlm_logits": mlm_out.logits,
        "mlm_loss": mlm_out.loss,
    }

    write_config(
        os.path.join(out_dir, "config.json"),
        config,
        [
            "vocab_size",
            "hidden_size",
            "num_hidden_layers",
            "num_attention_heads",
            "intermediate_size",
            "hidden_act",
            "hidden_dropout_prob",
            "attention_probs_dropout_prob",
            "max_position_embeddings",
            "type_vocab_size",
            "initializer_range",
            "layer_norm_eps",
            "pad_token_id",
            "position_embedding_type",
        ],
        ["BertForMaskedLM"],
    )
    save_tensors(os.path.join(out_dir, "model.safetensors"), weights)
    save_tensors(os.path.join(out_dir, "expected.safetensors"), expected)


def causal_lm(out_dir, config, base_cls, lm_cls, prefix, head, keys, architectures):
    """A decoder and its causal-LM head sharing one set of weights: `<prefix>.*` holds the
    base model, `<head>.*` the LM head (not saved when tied to the input embeddings).
    Expected: the base model's `last_hidden_state`, the LM's `logits` and its `loss` with
    labels = input_ids (transformers' ForCausalLMLoss: shifted by one, mean cross-entropy)."""
    lm = lm_cls(config).eval()
    randomize_(lm)
    base = base_cls(config).eval()
    missing, unexpected = base.load_state_dict(getattr(lm, prefix).state_dict(), strict=True)
    assert not missing and not unexpected
    output_weight = getattr(lm, head).weight
    input_weight = lm.get_input_embeddings().weight
    tied = output_weight.data_ptr() == input_weight.data_ptr()
    assert tied == bool(config.tie_word_embeddings), (tied, config.tie_word_embeddings)
    weights = {k: v for k, v in lm.state_dict().items() if not (tied and k == f"{head}.weight")}

    input_ids = torch.randint(0, config.vocab_size, (BATCH, SEQ), dtype=torch.int64)
    with torch.no_grad():
        base_out = base(input_ids=input_ids)
        lm_out = lm(input_ids=input_ids, labels=input_ids)
        shared = getattr(lm, prefix)(input_ids=input_ids).last_hidden_state
        assert max_abs(shared, base_out.last_hidden_state) == 0.0
    expected = {
        "input_ids": input_ids,
        "last_hidden_state": base_out.last_hidden_state,
        "logits": lm_out.logits,
        "loss": lm_out.loss,
    }
    write_config(os.path.join(out_dir, "config.json"), config, keys, architectures)
    save_tensors(os.path.join(out_dir, "model.safetensors"), weights)
    save_tensors(os.path.join(out_dir, "expected.safetensors"), expected)


DECODER_KEYS = [
    "vocab_size",
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "hidden_act",
    "max_position_embeddings",
    "initializer_range",
    "rms_norm_eps",
    "tie_word_embeddings",
    "rope_theta",
    "attention_dropout",
]


def llama(out_dir):
    """LlamaModel / LlamaForCausalLM with grouped-query attention (4 query heads, 2 key-value
    heads), q/k/v/o and MLP biases, untied head."""
    from transformers import LlamaConfig, LlamaForCausalLM, LlamaModel

    config = LlamaConfig(
        vocab_size=99,
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        attention_bias=True,
        mlp_bias=True,
        tie_word_embeddings=False,
        attn_implementation="eager",
    )
    keys = DECODER_KEYS + ["head_dim", "rope_scaling", "attention_bias", "mlp_bias"]
    causal_lm(
        out_dir, config, LlamaModel, LlamaForCausalLM, "model", "lm_head", keys,
        ["LlamaForCausalLM"],
    )


def llama3_scaled(out_dir):
    """Llama with Llama 3.1's rope_scaling (rope_type llama3): head_dim 16 (not hidden/heads)
    so that its 8 frequencies fall in all three bands (kept, smoothed, divided by factor);
    one key-value head; tied head as Llama 3.2."""
    from transformers import LlamaConfig, LlamaForCausalLM, LlamaModel

    config = LlamaConfig(
        vocab_size=99,
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=1,
        head_dim=16,
        max_position_embeddings=4096,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        rope_scaling={
            "rope_type": "llama3",
            "factor": 8.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 1024,
        },
        tie_word_embeddings=True,
        attn_implementation="eager",
    )
    keys = DECODER_KEYS + ["head_dim", "rope_scaling", "attention_bias", "mlp_bias"]
    causal_lm(
        out_dir, config, LlamaModel, LlamaForCausalLM, "model", "lm_head", keys,
        ["LlamaForCausalLM"],
    )


def mistral(out_dir):
    """MistralModel / MistralForCausalLM with a sliding window (4) shorter than the sequence
    (7), so that the window matters; grouped-query attention."""
    from transformers import MistralConfig, MistralForCausalLM, MistralModel

    config = MistralConfig(
        vocab_size=99,
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        sliding_window=4,
        attn_implementation="eager",
    )
    causal_lm(
        out_dir, config, MistralModel, MistralForCausalLM, "model", "lm_head",
        DECODER_KEYS + ["head_dim", "sliding_window"], ["MistralForCausalLM"],
    )


def qwen2(out_dir):
    """Qwen2Model / Qwen2ForCausalLM: q/k/v biases, tied head, and sliding-window attention
    (window 3) in the layers from max_window_layers (1) on, as Qwen2's layer_types say."""
    from transformers import Qwen2Config, Qwen2ForCausalLM, Qwen2Model

    config = Qwen2Config(
        vocab_size=99,
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        rms_norm_eps=1e-6,
        rope_theta=1000000.0,
        tie_word_embeddings=True,
        use_sliding_window=True,
        sliding_window=3,
        max_window_layers=1,
        attn_implementation="eager",
    )
    assert config.layer_types == ["full_attention", "sliding_attention"]
    keys = DECODER_KEYS + [
        "rope_scaling", "use_sliding_window", "sliding_window", "max_window_layers", "layer_types",
    ]
    causal_lm(
        out_dir, config, Qwen2Model, Qwen2ForCausalLM, "model", "lm_head", keys,
        ["Qwen2ForCausalLM"],
    )


def qwen3(out_dir):
    """Qwen3Model / Qwen3ForCausalLM: per-head q_norm/k_norm (RMSNorm), head_dim 16 (not
    hidden/heads), grouped-query attention, untied head."""
    from transformers import Qwen3Config, Qwen3ForCausalLM, Qwen3Model

    config = Qwen3Config(
        vocab_size=99,
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=64,
        rms_norm_eps=1e-6,
        rope_theta=1000000.0,
        tie_word_embeddings=False,
        attn_implementation="eager",
    )
    keys = DECODER_KEYS + [
        "head_dim", "rope_scaling", "attention_bias", "use_sliding_window", "sliding_window",
        "max_window_layers",
    ]
    causal_lm(
        out_dir, config, Qwen3Model, Qwen3ForCausalLM, "model", "lm_head", keys,
        ["Qwen3ForCausalLM"],
    )


def gpt_neox(out_dir):
    """GPTNeoXModel / GPTNeoXForCausalLM (Pythia): fused query_key_value, partial rotary
    (rotary_pct 0.25 of head size 8: 2 dims), parallel residual, untied embed_out."""
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM, GPTNeoXModel

    config = GPTNeoXConfig(
        vocab_size=99,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        hidden_act="gelu",
        rotary_pct=0.25,
        rotary_emb_base=10000,
        max_position_embeddings=64,
        layer_norm_eps=1e-5,
        use_parallel_residual=True,
        tie_word_embeddings=False,
        attn_implementation="eager",
    )
    keys = [
        "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
        "intermediate_size", "hidden_act", "rotary_pct", "rotary_emb_base", "attention_dropout",
        "hidden_dropout", "max_position_embeddings", "initializer_range", "layer_norm_eps",
        "use_parallel_residual", "tie_word_embeddings", "attention_bias",
    ]
    causal_lm(
        out_dir, config, GPTNeoXModel, GPTNeoXForCausalLM, "gpt_neox", "embed_out", keys,
        ["GPTNeoXForCausalLM"],
    )


def gpt_neox_sequential(out_dir):
    """GPT-NeoX with use_parallel_residual False (sequential residual, as some NeoX
    checkpoints) and half the head rotated (rotary_pct 0.5)."""
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM, GPTNeoXModel

    config = GPTNeoXConfig(
        vocab_size=99,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        hidden_act="gelu",
        rotary_pct=0.5,
        rotary_emb_base=10000,
        max_position_embeddings=64,
        layer_norm_eps=1e-5,
        use_parallel_residual=False,
        tie_word_embeddings=False,
        attn_implementation="eager",
    )
    keys = [
        "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
        "intermediate_size", "hidden_act", "rotary_pct", "rotary_emb_base", "attention_dropout",
        "hidden_dropout", "max_position_embeddings", "initializer_range", "layer_norm_eps",
        "use_parallel_residual", "tie_word_embeddings", "attention_bias",
    ]
    causal_lm(
        out_dir, config, GPTNeoXModel, GPTNeoXForCausalLM, "gpt_neox", "embed_out", keys,
        ["GPTNeoXForCausalLM"],
    )


def phi(out_dir):
    """PhiModel / PhiForCausalLM (Phi-2): partial rotary (partial_rotary_factor 0.5 of head
    size 8), attention and MLP in parallel after one shared LayerNorm, `dense` output,
    `final_layernorm`, `lm_head` with bias, gelu_new."""
    from transformers import PhiConfig, PhiForCausalLM, PhiModel

    config = PhiConfig(
        vocab_size=99,
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        hidden_act="gelu_new",
        max_position_embeddings=64,
        layer_norm_eps=1e-5,
        rope_theta=10000.0,
        partial_rotary_factor=0.5,
        qk_layernorm=False,
        tie_word_embeddings=False,
        attn_implementation="eager",
    )
    keys = [
        "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
        "num_attention_heads", "num_key_value_heads", "resid_pdrop", "embd_pdrop",
        "attention_dropout", "hidden_act", "max_position_embeddings", "initializer_range",
        "layer_norm_eps", "tie_word_embeddings", "rope_theta", "rope_scaling",
        "partial_rotary_factor", "qk_layernorm",
    ]
    causal_lm(
        out_dir, config, PhiModel, PhiForCausalLM, "model", "lm_head", keys, ["PhiForCausalLM"]
    )


# name -> function(out_dir) writing that architecture's fixtures.
ARCHITECTURES = {
    "bert": bert,
    "llama": llama,
    "llama3_scaled": llama3_scaled,
    "mistral": mistral,
    "qwen2": qwen2,
    "qwen3": qwen3,
    "gpt_neox": gpt_neox,
    "gpt_neox_sequential": gpt_neox_sequential,
    "phi": phi,
}


README = """\
# Parity fixtures

Written by `scripts/parity_oracle.py` (run `make fixtures`) with transformers
{version} and torch {torch}; checked by `tests/parity.rs`
(`cargo test --release --test parity`), which needs neither Python nor transformers.

One folder per architecture ({archs}), each with:

- `config.json`: a tiny config built in code (the Hugging Face Hub is never used);
- `model.safetensors`: randomly initialised weights (seed {seed}) under the checkpoint's key
  names; LayerNorm weights, all biases and all weights are random (not transformers' 1/0/0.02
  init), so that every parameter affects the outputs; tied weights are not saved;
- `expected.safetensors`: `input_ids` ({batch}x{seq}, int64) and transformers' outputs on
  them in eval mode, fp32, without attention mask.

For BERT: `last_hidden_state` and `pooler_output` of `BertModel` (eager attention),
`mlm_logits` of `BertForMaskedLM` sharing the same encoder, and `mlm_loss`, its loss with
`labels = input_ids`.

For the decoders (llama, llama3_scaled, mistral, qwen2, qwen3, gpt_neox, gpt_neox_sequential,
phi): `last_hidden_state` of the base model (`LlamaModel`, `GPTNeoXModel`, ...; eager
attention), `logits` of the `*ForCausalLM` sharing its weights, and `loss`, its causal-LM
loss with `labels = input_ids` (shifted by one inside transformers). Each fixture's docstring
in the oracle says which switches it covers (grouped-query attention, biases, llama3 rope
scaling, sliding windows shorter than the sequence, q/k norms, partial rotary, ...).

Regenerate them only when the oracle changes; the files are deterministic for a given
transformers/torch version.
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="output folder, e.g. tests/fixtures/parity")
    parser.add_argument(
        "archs", nargs="*", help=f"architectures (default all: {', '.join(ARCHITECTURES)})"
    )
    args = parser.parse_args()
    archs = args.archs or list(ARCHITECTURES)
    unknown = [a for a in archs if a not in ARCHITECTURES]
    if unknown:
        sys.exit(f"unknown architecture(s) {unknown}; known: {list(ARCHITECTURES)}")

    torch.set_default_dtype(torch.float32)
    for arch in archs:
        out_dir = os.path.join(args.out, arch)
        os.makedirs(out_dir, exist_ok=True)
        torch.manual_seed(SEED)
        ARCHITECTURES[arch](out_dir)
        sizes = {f: os.path.getsize(os.path.join(out_dir, f)) for f in sorted(os.listdir(out_dir))}
        print(f"{arch}: " + ", ".join(f"{f} {n} B" for f, n in sizes.items()))

    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write(
            README.format(
                version=transformers.__version__,
                torch=torch.__version__,
                archs=", ".join(f"`{a}/`" for a in ARCHITECTURES),
                seed=SEED,
                batch=BATCH,
                seq=SEQ,
            )
        )


if __name__ == "__main__":
    main()
