#!/usr/bin/env python3
"""The transformers oracle: writes parity fixtures for tests/parity/<family>.rs.

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


# Parameter names of normalisation weights (1 in transformers' init), randomised around 1,
# besides every name ending in `norm.weight` (RMSNorm: `input_layernorm`, `norm`, `q_norm`, ...).
NORM_WEIGHTS = (
    "LayerNorm.weight",
    "layer_norm.weight",
    "layernorm_embedding.weight",
    "ln_1.weight",
    "ln_2.weight",
    "ln_f.weight",
)


def randomize_(module, std=0.2):
    """Replaces transformers' init (LayerNorm 1/0, zero biases, std 0.02) by values that make
    every parameter matter: weights ~ N(0, std) so that attention is far from uniform,
    LayerNorm weights ~ 1 + N(0, 0.2), every bias ~ N(0, 0.1)."""
    with torch.no_grad():
        for name, param in module.named_parameters():
            if any(norm in name for norm in NORM_WEIGHTS) or name.lower().endswith("norm.weight"):
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


def encoder_fixture(out_dir, config, keys, base, heads, prefix, input_ids, extra=None):
    """Fixtures of a BERT-like family: `base` (the bare model, pooler or not) and `heads`
    ({name: model}, each holding a copy of the base model under `prefix`, without pooler).
    Every parameter is randomised; each head model gets the base model's weights (tied
    decoders follow the word embeddings) and its own random head. Writes the weights under
    the checkpoint's names (`<prefix>.*` and each head's own keys, tied copies left out) and
    the outputs: last_hidden_state, pooler_output if any, <name>_logits and <name>_loss with
    labels = input_ids; and `extra` expected tensors."""
    base.eval()
    randomize_(base)
    base_state = base.state_dict()
    weights = {f"{prefix}.{k}": v for k, v in base_state.items()}
    with torch.no_grad():
        base_out = base(input_ids=input_ids)
    expected = {"input_ids": input_ids, "last_hidden_state": base_out.last_hidden_state}
    if getattr(base_out, "pooler_output", None) is not None:
        expected["pooler_output"] = base_out.pooler_output
    for name, model in heads.items():
        model.eval()
        # Whole-model names, so that LayerNorms are recognised; the base model's
        # parameters are then overwritten by the base model's.
        randomize_(model)
        inner = getattr(model, prefix)
        inner_keys = inner.state_dict().keys()
        missing, unexpected = inner.load_state_dict(
            {k: v for k, v in base_state.items() if k in inner_keys}, strict=True
        )
        assert not missing and not unexpected
        output = model.get_output_embeddings()
        if output is not None and config.tie_word_embeddings:
            assert output.weight.data_ptr() == inner.get_input_embeddings().weight.data_ptr()
        tied = set(model._tied_weights_keys or [])
        weights.update(
            {
                k: v
                for k, v in model.state_dict().items()
                if not k.startswith(f"{prefix}.") and k not in tied
            }
        )
        with torch.no_grad():
            out = model(input_ids=input_ids, labels=input_ids)
            # The head sees the base model's encoder.
            shared = inner(input_ids=input_ids).last_hidden_state
            assert max_abs(shared, base_out.last_hidden_state) == 0.0
        expected[f"{name}_logits"] = out.logits
        expected[f"{name}_loss"] = out.loss
    expected.update(extra or {})

    write_config(os.path.join(out_dir, "config.json"), config, keys, config.architectures)
    save_tensors(os.path.join(out_dir, "model.safetensors"), weights)
    save_tensors(os.path.join(out_dir, "expected.safetensors"), expected)


BERT_KEYS = [
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
]


def roberta(out_dir, model_type="roberta"):
    """RobertaModel (with pooler) and RobertaForMaskedLM: `roberta.*` and `lm_head.*`, the
    decoder tied to the word embeddings. hidden_act is gelu_new, so that the head's fixed
    exact GELU is told apart; input_ids hold padding tokens, whose position id is padding_idx
    (create_position_ids_from_input_ids)."""
    import transformers as t

    classes = {
        "roberta": (t.RobertaConfig, t.RobertaModel, t.RobertaForMaskedLM),
        "xlm-roberta": (t.XLMRobertaConfig, t.XLMRobertaModel, t.XLMRobertaForMaskedLM),
    }
    config_class, base_class, mlm_class = classes[model_type]
    config = config_class(
        vocab_size=99,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        hidden_act="gelu_new",
        max_position_embeddings=SEQ + 5,
        type_vocab_size=1,
        layer_norm_eps=1e-5,
        pad_token_id=1,
        architectures=[mlm_class.__name__],
        attn_implementation="eager",
    )
    input_ids = torch.randint(2, config.vocab_size, (BATCH, SEQ), dtype=torch.int64)
    input_ids[0, 2] = config.pad_token_id
    input_ids[1, -2:] = config.pad_token_id
    encoder_fixture(
        out_dir,
        config,
        BERT_KEYS,
        base_class(config, add_pooling_layer=True),
        {"mlm": mlm_class(config)},
        "roberta",
        input_ids,
    )


def xlm_roberta(out_dir):
    roberta(out_dir, "xlm-roberta")


def distilbert(out_dir):
    """DistilBertModel and DistilBertForMaskedLM: `distilbert.*`, `vocab_transform`,
    `vocab_layer_norm` and `vocab_projector` (weight tied to the word embeddings, own bias).
    Also `sinusoidal_position_embeddings`: the fixed table that sinusoidal_pos_embds=True
    puts in `embeddings.position_embeddings` (not randomised, not trained)."""
    from transformers import DistilBertConfig, DistilBertForMaskedLM, DistilBertModel

    config = DistilBertConfig(
        vocab_size=99,
        dim=32,
        n_layers=2,
        n_heads=4,
        hidden_dim=37,
        activation="gelu",
        max_position_embeddings=SEQ + 3,
        sinusoidal_pos_embds=False,
        pad_token_id=0,
        architectures=["DistilBertForMaskedLM"],
        attn_implementation="eager",
    )
    sinusoidal = DistilBertModel(DistilBertConfig(**{**config.to_dict(), "sinusoidal_pos_embds": True}))
    table = sinusoidal.embeddings.position_embeddings.weight
    assert not table.requires_grad
    input_ids = torch.randint(0, config.vocab_size, (BATCH, SEQ), dtype=torch.int64)
    encoder_fixture(
        out_dir,
        config,
        [
            "vocab_size",
            "max_position_embeddings",
            "sinusoidal_pos_embds",
            "n_layers",
            "n_heads",
            "dim",
            "hidden_dim",
            "dropout",
            "attention_dropout",
            "activation",
            "initializer_range",
            "pad_token_id",
        ],
        DistilBertModel(config),
        {"mlm": DistilBertForMaskedLM(config)},
        "distilbert",
        input_ids,
        extra={"sinusoidal_position_embeddings": table},
    )


def albert(out_dir):
    """AlbertModel (with pooler) and AlbertForMaskedLM: `albert.*` with embeddings 16 wide
    mapped to the hidden size, 4 passes through 2 groups of 2 shared layers (groups 0, 0, 1,
    1), and `predictions.*`, the decoder tied to the word embeddings. (transformers fails on
    inner_group_num > num_hidden_layers / num_hidden_groups: its head_mask slice is short.)"""
    from transformers import AlbertConfig, AlbertForMaskedLM, AlbertModel

    config = AlbertConfig(
        vocab_size=99,
        embedding_size=16,
        hidden_size=32,
        num_hidden_layers=4,
        num_hidden_groups=2,
        inner_group_num=2,
        num_attention_heads=4,
        intermediate_size=37,
        hidden_act="gelu_new",
        max_position_embeddings=SEQ + 3,
        type_vocab_size=2,
        layer_norm_eps=1e-12,
        pad_token_id=0,
        architectures=["AlbertForMaskedLM"],
        attn_implementation="eager",
    )
    input_ids = torch.randint(0, config.vocab_size, (BATCH, SEQ), dtype=torch.int64)
    encoder_fixture(
        out_dir,
        config,
        [
            "vocab_size",
            "embedding_size",
            "hidden_size",
            "num_hidden_layers",
            "num_hidden_groups",
            "num_attention_heads",
            "intermediate_size",
            "inner_group_num",
            "hidden_act",
            "hidden_dropout_prob",
            "attention_probs_dropout_prob",
            "max_position_embeddings",
            "type_vocab_size",
            "initializer_range",
            "layer_norm_eps",
            "position_embedding_type",
            "pad_token_id",
        ],
        AlbertModel(config, add_pooling_layer=True),
        {"mlm": AlbertForMaskedLM(config)},
        "albert",
        input_ids,
    )


def electra(out_dir):
    """ElectraModel, ElectraForPreTraining (`discriminator_predictions.*`; its loss is
    BCEWithLogitsLoss against labels.float(), here the token ids) and ElectraForMaskedLM
    (`generator_predictions.*`, `generator_lm_head` tied to the word embeddings), sharing
    `electra.*` with embeddings 16 wide projected by `embeddings_project`. hidden_act is
    gelu_new, so that the generator's fixed exact GELU is told apart."""
    from transformers import ElectraConfig, ElectraForMaskedLM, ElectraForPreTraining, ElectraModel

    config = ElectraConfig(
        vocab_size=99,
        embedding_size=16,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        hidden_act="gelu_new",
        max_position_embeddings=SEQ + 3,
        type_vocab_size=2,
        layer_norm_eps=1e-12,
        pad_token_id=0,
        architectures=["ElectraForPreTraining"],
        attn_implementation="eager",
    )
    input_ids = torch.randint(0, config.vocab_size, (BATCH, SEQ), dtype=torch.int64)
    encoder_fixture(
        out_dir,
        config,
        ["embedding_size"] + BERT_KEYS,
        ElectraModel(config),
        {"pretraining": ElectraForPreTraining(config), "mlm": ElectraForMaskedLM(config)},
        "electra",
        input_ids,
    )


# name -> function(out_dir) writing that architecture's fixtures.
def causal_lm(out_dir, base, lm, base_prefix, config, keys, architecture):
    """Shared by the decoder-only families: the base model and the causal LM share one body
    (`<base_prefix>.*`), the LM head is tied (not saved) unless the config unties it."""
    randomize_(base)
    randomize_(lm)
    state = base.state_dict()
    missing, unexpected = getattr(lm, base_prefix).load_state_dict(state, strict=True)
    assert not missing and not unexpected
    tied = lm.lm_head.weight.data_ptr() == lm.get_input_embeddings().weight.data_ptr()
    assert tied == config.tie_word_embeddings
    weights = {f"{base_prefix}.{k}": v for k, v in state.items()}
    if not tied:
        weights["lm_head.weight"] = lm.lm_head.weight
    write_causal_lm_fixture(
        out_dir, base, lm, base_prefix, config, keys, [architecture], weights, "lm_"
    )


def write_causal_lm_fixture(out_dir, base, lm, prefix, config, keys, architectures, weights,
                            names=""):
    """Runs a base model and its causal LM (whose body `lm.<prefix>` is the base model's) on
    random input_ids with labels = input_ids, and writes config.json, `weights` and the
    expected `input_ids`, `last_hidden_state`, `<names>logits` and `<names>loss`."""
    input_ids = torch.randint(0, config.vocab_size, (BATCH, SEQ), dtype=torch.int64)
    with torch.no_grad():
        base_out = base(input_ids=input_ids)
        lm_out = lm(input_ids=input_ids, labels=input_ids)
        shared = getattr(lm, prefix)(input_ids=input_ids).last_hidden_state
        assert max_abs(shared, base_out.last_hidden_state) == 0.0
    expected = {
        "input_ids": input_ids,
        "last_hidden_state": base_out.last_hidden_state,
        f"{names}logits": lm_out.logits,
        f"{names}loss": lm_out.loss,
    }
    write_config(os.path.join(out_dir, "config.json"), config, keys, architectures)
    save_tensors(os.path.join(out_dir, "model.safetensors"), weights)
    save_tensors(os.path.join(out_dir, "expected.safetensors"), expected)


def _t5(out_dir, architecture, **kwargs):
    """T5Model and T5ForConditionalGeneration sharing every weight (`shared`, `encoder.*`,
    `decoder.*`; `lm_head` unless tied), both called with decoder_input_ids = input_ids as the
    benchmark calls them. Few buckets and a short max_distance, so that the 7-token fixture
    reaches the logarithmic and the saturated buckets."""
    from transformers import T5Config, T5ForConditionalGeneration, T5Model

    config = T5Config(
        vocab_size=99,
        d_model=32,
        d_kv=6,
        d_ff=37,
        num_layers=2,
        num_heads=4,
        dropout_rate=0.1,
        layer_norm_epsilon=1e-6,
        attn_implementation="eager",
        **kwargs,
    )
    lm = T5ForConditionalGeneration(config).eval()
    randomize_(lm)
    with torch.no_grad():
        # Relative-position biases as large as the scores, so that buckets matter.
        for name, param in lm.named_parameters():
            if "relative_attention_bias" in name:
                param.mul_(5.0)
    lm_state = lm.state_dict()
    base = T5Model(config).eval()
    missing, unexpected = base.load_state_dict(
        {k: v for k, v in lm_state.items() if not k.startswith("lm_head.")}, strict=True
    )
    assert not missing and not unexpected
    tied = lm.lm_head.weight.data_ptr() == lm.shared.weight.data_ptr()
    assert tied == config.tie_word_embeddings

    skip = {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight"}
    if tied:
        skip.add("lm_head.weight")
    weights = {k: v for k, v in lm_state.items() if k not in skip}

    input_ids = torch.randint(0, config.vocab_size, (BATCH, SEQ), dtype=torch.int64)
    with torch.no_grad():
        base_out = base(input_ids=input_ids, decoder_input_ids=input_ids)
        lm_out = lm(input_ids=input_ids, decoder_input_ids=input_ids, labels=input_ids)
        assert max_abs(lm_out.encoder_last_hidden_state, base_out.encoder_last_hidden_state) == 0.0
    expected = {
        "input_ids": input_ids,
        "last_hidden_state": base_out.last_hidden_state,
        "encoder_last_hidden_state": base_out.encoder_last_hidden_state,
        "lm_logits": lm_out.logits,
        "lm_loss": lm_out.loss,
    }

    write_config(
        os.path.join(out_dir, "config.json"),
        config,
        [
            "vocab_size",
            "d_model",
            "d_kv",
            "d_ff",
            "num_layers",
            "num_decoder_layers",
            "num_heads",
            "relative_attention_num_buckets",
            "relative_attention_max_distance",
            "dropout_rate",
            "layer_norm_epsilon",
            "initializer_factor",
            "feed_forward_proj",
            "tie_word_embeddings",
            "pad_token_id",
        ],
        [architecture],
    )
    save_tensors(os.path.join(out_dir, "model.safetensors"), weights)
    save_tensors(os.path.join(out_dir, "expected.safetensors"), expected)


GPT2_KEYS = [
    "vocab_size",
    "n_positions",
    "n_embd",
    "n_layer",
    "n_head",
    "n_inner",
    "activation_function",
    "resid_pdrop",
    "embd_pdrop",
    "attn_pdrop",
    "layer_norm_epsilon",
    "initializer_range",
    "scale_attn_weights",
    "scale_attn_by_inverse_layer_idx",
    "reorder_and_upcast_attn",
    "tie_word_embeddings",
]


def gpt2_fixture(out_dir, **overrides):
    from transformers import GPT2Config, GPT2LMHeadModel, GPT2Model

    settings = dict(
        vocab_size=99,
        n_positions=64,
        n_embd=32,
        n_layer=2,
        n_head=4,
        n_inner=None,
        activation_function="gelu_new",
        layer_norm_epsilon=1e-5,
        attn_implementation="eager",
    )
    settings.update(overrides)
    config = GPT2Config(**settings)
    base, lm = GPT2Model(config).eval(), GPT2LMHeadModel(config).eval()
    causal_lm(out_dir, base, lm, "transformer", config, GPT2_KEYS, "GPT2LMHeadModel")


def gpt2(out_dir):
    """GPT2Model and GPT2LMHeadModel as gpt2/distilgpt2: Conv1D weights stored (in, out), a
    fused c_attn, learned wpe, lm_head tied to `transformer.wte.weight` and not saved."""
    gpt2_fixture(out_dir)


def gpt2_variant(out_dir):
    """GPT-2 with the options no embedded config sets: an explicit n_inner, scores divided
    by layer_idx + 1, upcast-and-reorder attention, and an untied, saved lm_head."""
    gpt2_fixture(
        out_dir,
        n_inner=37,
        scale_attn_by_inverse_layer_idx=True,
        reorder_and_upcast_attn=True,
        tie_word_embeddings=False,
    )


OPT_KEYS = [
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "ffn_dim",
    "max_position_embeddings",
    "do_layer_norm_before",
    "_remove_final_layer_norm",
    "word_embed_proj_dim",
    "dropout",
    "attention_dropout",
    "num_attention_heads",
    "activation_function",
    "layerdrop",
    "init_std",
    "pad_token_id",
    "enable_bias",
    "layer_norm_elementwise_affine",
    "tie_word_embeddings",
]


def opt_fixture(out_dir, **overrides):
    from transformers import OPTConfig, OPTForCausalLM, OPTModel

    settings = dict(
        vocab_size=99,
        hidden_size=32,
        num_hidden_layers=2,
        ffn_dim=37,
        max_position_embeddings=64,
        num_attention_heads=4,
        activation_function="relu",
        pad_token_id=1,
        attn_implementation="eager",
    )
    settings.update(overrides)
    config = OPTConfig(**settings)
    base, lm = OPTModel(config).eval(), OPTForCausalLM(config).eval()
    causal_lm(out_dir, base, lm, "model", config, OPT_KEYS, "OPTForCausalLM")


def opt(out_dir):
    """OPTModel and OPTForCausalLM as opt-125m: pre-LN, word_embed_proj_dim = hidden_size,
    positions offset by 2, lm_head tied to `model.decoder.embed_tokens.weight`."""
    opt_fixture(out_dir)


def opt_350m(out_dir):
    """OPT as opt-350m: post-LN (do_layer_norm_before=False, so no final LayerNorm) and
    word_embed_proj_dim < hidden_size (project_in/project_out); also without biases
    (enable_bias), which no embedded config sets."""
    opt_fixture(
        out_dir,
        do_layer_norm_before=False,
        word_embed_proj_dim=16,
        enable_bias=False,
    )


def gpt_neo(out_dir):
    """GPTNeoModel and GPTNeoForCausalLM: a global then a local layer whose window (3) is
    shorter than the sequence (7), unscaled scores, lm_head tied to `transformer.wte.weight`."""
    from transformers import GPTNeoConfig, GPTNeoForCausalLM, GPTNeoModel

    config = GPTNeoConfig(
        vocab_size=99,
        max_position_embeddings=64,
        hidden_size=32,
        num_layers=2,
        attention_types=[[["global", "local"], 1]],
        num_heads=4,
        intermediate_size=37,
        window_size=3,
        activation_function="gelu_new",
        layer_norm_epsilon=1e-5,
        attn_implementation="eager",
    )
    base, lm = GPTNeoModel(config).eval(), GPTNeoForCausalLM(config).eval()
    keys = [
        "vocab_size",
        "max_position_embeddings",
        "hidden_size",
        "num_layers",
        "attention_types",
        "attention_layers",
        "num_heads",
        "intermediate_size",
        "window_size",
        "activation_function",
        "resid_dropout",
        "embed_dropout",
        "attention_dropout",
        "layer_norm_epsilon",
        "initializer_range",
        "tie_word_embeddings",
    ]
    causal_lm(out_dir, base, lm, "transformer", config, keys, "GPTNeoForCausalLM")
def t5(out_dir):
    """T5 (v1.0): relu feed-forward, lm_head tied to `shared` (decoder output scaled by
    d_model**-0.5 before it)."""
    _t5(
        out_dir,
        "T5ForConditionalGeneration",
        feed_forward_proj="relu",
        relative_attention_num_buckets=8,
        relative_attention_max_distance=5,
    )


def flan_t5(out_dir):
    """flan-T5 (T5 v1.1): gated-gelu feed-forward (wi_0, wi_1, gelu_new), untied lm_head, and
    more decoder than encoder layers."""
    _t5(
        out_dir,
        "T5ForConditionalGeneration",
        feed_forward_proj="gated-gelu",
        tie_word_embeddings=False,
        num_decoder_layers=3,
        relative_attention_num_buckets=10,
        relative_attention_max_distance=6,
    )


def bart(out_dir):
    """BartModel and BartForConditionalGeneration sharing every weight (`model.*`), called with
    decoder_input_ids = input_ids; lm_head tied to `model.shared` and not saved;
    `final_logits_bias` (a buffer) randomised too. scale_embedding on, unlike bart-base, so
    that it is covered."""
    from transformers import BartConfig, BartForConditionalGeneration, BartModel

    config = BartConfig(
        vocab_size=99,
        max_position_embeddings=64,
        d_model=32,
        encoder_layers=2,
        decoder_layers=3,
        encoder_attention_heads=4,
        decoder_attention_heads=2,
        encoder_ffn_dim=37,
        decoder_ffn_dim=41,
        activation_function="gelu",
        dropout=0.1,
        attention_dropout=0.1,
        activation_dropout=0.1,
        scale_embedding=True,
        pad_token_id=1,
        attn_implementation="eager",
    )
    lm = BartForConditionalGeneration(config).eval()
    randomize_(lm)
    with torch.no_grad():
        lm.final_logits_bias.copy_(0.1 * torch.randn_like(lm.final_logits_bias))
    base = BartModel(config).eval()
    missing, unexpected = base.load_state_dict(lm.model.state_dict(), strict=True)
    assert not missing and not unexpected
    assert lm.lm_head.weight.data_ptr() == lm.model.shared.weight.data_ptr()

    skip = {
        "model.encoder.embed_tokens.weight",
        "model.decoder.embed_tokens.weight",
        "lm_head.weight",
    }
    weights = {k: v for k, v in lm.state_dict().items() if k not in skip}

    input_ids = torch.randint(0, config.vocab_size, (BATCH, SEQ), dtype=torch.int64)
    with torch.no_grad():
        base_out = base(input_ids=input_ids, decoder_input_ids=input_ids)
        lm_out = lm(input_ids=input_ids, decoder_input_ids=input_ids, labels=input_ids)
        assert max_abs(lm_out.encoder_last_hidden_state, base_out.encoder_last_hidden_state) == 0.0
    expected = {
        "input_ids": input_ids,
        "last_hidden_state": base_out.last_hidden_state,
        "encoder_last_hidden_state": base_out.encoder_last_hidden_state,
        "lm_logits": lm_out.logits,
        "lm_loss": lm_out.loss,
    }

    write_config(
        os.path.join(out_dir, "config.json"),
        config,
        [
            "vocab_size",
            "max_position_embeddings",
            "d_model",
            "encoder_layers",
            "encoder_ffn_dim",
            "encoder_attention_heads",
            "decoder_layers",
            "decoder_ffn_dim",
            "decoder_attention_heads",
            "encoder_layerdrop",
            "decoder_layerdrop",
            "activation_function",
            "dropout",
            "attention_dropout",
            "activation_dropout",
            "init_std",
            "scale_embedding",
            "pad_token_id",
            "tie_word_embeddings",
        ],
        ["BartForConditionalGeneration"],
    )
    save_tensors(os.path.join(out_dir, "model.safetensors"), weights)
    save_tensors(os.path.join(out_dir, "expected.safetensors"), expected)


# name -> function(out_dir) writing that architecture's fixtures.
def decoder_fixture(out_dir, config, base_cls, lm_cls, prefix, head, keys, architectures):
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
    write_causal_lm_fixture(out_dir, base, lm, prefix, config, keys, architectures, weights)


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
    decoder_fixture(
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
    decoder_fixture(
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
    decoder_fixture(
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
    decoder_fixture(
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
    decoder_fixture(
        out_dir, config, Qwen3Model, Qwen3ForCausalLM, "model", "lm_head", keys,
        ["Qwen3ForCausalLM"],
    )


GPT_NEOX_KEYS = [
    "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
    "intermediate_size", "hidden_act", "rotary_pct", "rotary_emb_base", "attention_dropout",
    "hidden_dropout", "max_position_embeddings", "initializer_range", "layer_norm_eps",
    "use_parallel_residual", "tie_word_embeddings", "attention_bias",
]


def _gpt_neox(out_dir, rotary_pct, use_parallel_residual):
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM, GPTNeoXModel

    config = GPTNeoXConfig(
        vocab_size=99,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        hidden_act="gelu",
        rotary_pct=rotary_pct,
        rotary_emb_base=10000,
        max_position_embeddings=64,
        layer_norm_eps=1e-5,
        use_parallel_residual=use_parallel_residual,
        tie_word_embeddings=False,
        attn_implementation="eager",
    )
    decoder_fixture(
        out_dir, config, GPTNeoXModel, GPTNeoXForCausalLM, "gpt_neox", "embed_out",
        GPT_NEOX_KEYS, ["GPTNeoXForCausalLM"],
    )


def gpt_neox(out_dir):
    """GPTNeoXModel / GPTNeoXForCausalLM (Pythia): fused query_key_value, partial rotary
    (rotary_pct 0.25 of head size 8: 2 dims), parallel residual, untied embed_out."""
    _gpt_neox(out_dir, rotary_pct=0.25, use_parallel_residual=True)


def gpt_neox_sequential(out_dir):
    """GPT-NeoX with use_parallel_residual False (sequential residual, as some NeoX
    checkpoints) and half the head rotated (rotary_pct 0.5)."""
    _gpt_neox(out_dir, rotary_pct=0.5, use_parallel_residual=False)


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
    decoder_fixture(
        out_dir, config, PhiModel, PhiForCausalLM, "model", "lm_head", keys, ["PhiForCausalLM"]
    )


# name -> function(out_dir) writing that architecture's fixtures.
def torchscript_bert(out_dir):
    """A user's TorchScript file, as exported from Python with torch.jit.trace: a tiny
    BertModel returning (last_hidden_state, pooler_output). run-benchmark benchmarks it as
    `NAME=model.pt:vocab_size=99`."""
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=99,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        max_position_embeddings=64,
        torchscript=True,
        attn_implementation="eager",
    )
    model = BertModel(config).eval()
    randomize_(model)
    input_ids = torch.randint(0, config.vocab_size, (BATCH, SEQ), dtype=torch.int64)
    with torch.no_grad():
        traced = torch.jit.trace(model, (input_ids,))
        last_hidden_state = model(input_ids)[0]
    torch.jit.save(traced, os.path.join(out_dir, "model.pt"))
    save_tensors(
        os.path.join(out_dir, "expected.safetensors"),
        {"input_ids": input_ids, "last_hidden_state": last_hidden_state},
    )


ARCHITECTURES = {
    "bert": bert,
    "gpt2": gpt2,
    "gpt2_variant": gpt2_variant,
    "opt": opt,
    "opt_350m": opt_350m,
    "gpt_neo": gpt_neo,
    "torchscript_bert": torchscript_bert,
    "t5": t5,
    "flan_t5": flan_t5,
    "bart": bart,
    "roberta": roberta,
    "xlm-roberta": xlm_roberta,
    "distilbert": distilbert,
    "albert": albert,
    "electra": electra,
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
{version} and torch {torch}; checked by `tests/parity/<family>.rs`
(one binary: `cargo test --release --test parity`; one family: `... -- bert::`), which need neither Python nor transformers.

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

For the decoder-only families (`gpt2/`, `gpt2_variant/`, `opt/`, `opt_350m/`, `gpt_neo/`):
`last_hidden_state` of the base model (`GPT2Model`, `OPTModel`, `GPTNeoModel`; eager
attention), `lm_logits` of the causal LM sharing the same body, and `lm_loss`, its loss with
`labels = input_ids` (shifted inside the loss, as transformers does).
For the encoder-decoders (T5 in `t5/` and `flan_t5/`, BART in `bart/`), both models are called
with `decoder_input_ids = input_ids`, as the benchmark calls them: `last_hidden_state` (the
decoder's) and `encoder_last_hidden_state` of `T5Model` / `BartModel`, `lm_logits` of
`T5ForConditionalGeneration` / `BartForConditionalGeneration` sharing the same weights, and
`lm_loss`, its loss with `labels = input_ids`.

The BERT-like families (`encoder_fixture`) follow the same pattern: the base model's
`last_hidden_state` (and `pooler_output` where it has a pooler: RoBERTa, XLM-RoBERTa, ALBERT),
then `<head>_logits` and `<head>_loss` (labels = input_ids) of each head model, which shares
the base model's weights: `mlm` (`*ForMaskedLM`) everywhere, and for ELECTRA also
`pretraining` (`ElectraForPreTraining`, the discriminator; its loss is BCE-with-logits against
the labels as floats). RoBERTa's inputs hold padding tokens, to check its position ids.
DistilBERT's also has `sinusoidal_position_embeddings`, the fixed table that
`sinusoidal_pos_embds = true` uses.

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
