#!/usr/bin/env python3
"""Checks run-benchmark's FLOP formulas against torch's own count: for each case, the binary
measures one inference cell (--export-json, flops_per_call), and torch.utils.flop_counter
counts the matrix products (mm, bmm, addmm, convolution, attention) of the same transformers
module on an input of the same shape. Both count 2·m·n·k per product and nothing else, so
they should agree to a fraction of a percent (norms, softmax and element-wise work are in
neither).

Usage: python scripts/flop_check.py [--binary target/release/run-benchmark] [--out FILE]
(needs torch and transformers: /work/main/.venv/bin/python, or `make setup`'s .venv).
"""

import argparse
import json
import os
import platform
import subprocess
import tempfile
import time

import torch
import transformers
from torch.utils.flop_counter import FlopCounterMode

# (model argument for run-benchmark, embedded config file, overrides, batch, size)
MIXTRAL_SMALL = ("num_hidden_layers=2,hidden_size=512,intermediate_size=1024,"
                 "num_attention_heads=8,num_key_value_heads=2")
QWEN3_MOE_SMALL = ("num_hidden_layers=2,hidden_size=512,moe_intermediate_size=256,"
                   "num_attention_heads=8,num_key_value_heads=2")


def overrides(spec):
    """A KEY=VALUE,... override list as the config values it sets (all integers here)."""
    return {k: int(v) for k, v in (pair.split("=") for pair in spec.split(","))}


CASES = [
    ("ModernBERT-base:num_hidden_layers=3", "answerdotai--ModernBERT-base.json",
     {"num_hidden_layers": 3}, 2, 256),
    ("deberta-v3-base:num_hidden_layers=2", "microsoft--deberta-v3-base.json",
     {"num_hidden_layers": 2}, 2, 128),
    ("vit-base-patch16-224:num_hidden_layers=2", "google--vit-base-patch16-224.json",
     {"num_hidden_layers": 2}, 2, 224),
    ("vit-base-patch16-224:num_hidden_layers=2", "google--vit-base-patch16-224.json",
     {"num_hidden_layers": 2}, 2, 384),
    ("gemma-2b:num_hidden_layers=2", "google--gemma-2b.json", {"num_hidden_layers": 2}, 2, 64),
    ("gemma-2-2b-it:num_hidden_layers=2", "google--gemma-2-2b-it.json",
     {"num_hidden_layers": 2}, 2, 64),
    ("gemma-3-1b-it:num_hidden_layers=2", "google--gemma-3-1b-it.json",
     {"num_hidden_layers": 2}, 2, 64),
    ("Phi-3-mini-4k-instruct:num_hidden_layers=2", "microsoft--Phi-3-mini-4k-instruct.json",
     {"num_hidden_layers": 2}, 2, 64),
    # Mixture of experts: torch counts the products transformers runs, i.e. routed experts only.
    ("Mixtral-8x7B-v0.1:" + MIXTRAL_SMALL, "mistralai--Mixtral-8x7B-v0.1.json",
     overrides(MIXTRAL_SMALL), 2, 64),
    ("Qwen3-30B-A3B:" + QWEN3_MOE_SMALL, "Qwen--Qwen3-30B-A3B.json",
     overrides(QWEN3_MOE_SMALL), 2, 64),
    # Audio seconds: 30 s is what transformers' encoder takes; 5 s runs its layers on 250
    # positions of the table (parity_oracle.whisper_encoder_sliced), as run-benchmark does.
    ("openai/whisper-tiny", "openai--whisper-tiny.json", {}, 2, 30),
    ("openai/whisper-tiny", "openai--whisper-tiny.json", {}, 2, 5),
]


def ours(binary, model, batch, size):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "r.json")
        subprocess.run(
            [binary, "--models", model, "--batch-sizes", str(batch), "--sequence-lengths",
             str(size), "--no-memory", "--runs", "1", "--warmup", "0", "--quiet",
             "--export-json", out],
            check=True, stdout=subprocess.DEVNULL,
        )
        with open(out) as f:
            export = json.load(f)
    row, = export["rows"]
    return row["speed"]["flops_per_call"]


def theirs(config_file, overrides, batch, size):
    with open(os.path.join("configs", config_file)) as f:
        values = json.load(f)
    values.update(overrides)
    model_type = values.pop("model_type")
    config = transformers.AutoConfig.for_model(model_type, **values)
    config._attn_implementation = "eager"
    # The module run-benchmark benchmarks for inference: architectures[0] if it names a head.
    head = (config.architectures or [None])[0]
    cls = getattr(transformers, head) if head else transformers.AutoModel._model_mapping[type(config)]
    model = cls(config).eval()
    counter = FlopCounterMode(display=False)
    if model_type == "whisper":
        return cls.__name__, whisper_flops(model, config, batch, size, counter)
    if model_type == "vit":
        inputs = {"pixel_values": torch.randn(batch, config.num_channels, size, size),
                  "interpolate_pos_encoding": size != config.image_size}
    else:
        inputs = {"input_ids": torch.randint(0, config.vocab_size, (batch, size))}
    with torch.no_grad(), counter:
        model(**inputs)
    return cls.__name__, counter.get_total_flops()


def whisper_flops(model, config, batch, seconds, counter):
    """`seconds` of features (100 frames a second) and run-benchmark's 4-token decoder prefix
    (decoder_start_token_id, then forced_decoder_ids' tokens) through a Whisper model: the
    whole model at its full 2 x max_source_positions frames, else the sliced encoder and the
    model on its output."""
    import sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from parity_oracle import whisper_encoder_sliced

    features = torch.randn(batch, config.num_mel_bins, 100 * seconds)
    prefix = [config.decoder_start_token_id] * 4
    for position, token in config.forced_decoder_ids or []:
        if 1 <= position < 4 and token is not None:
            prefix[position] = token
    decoder_input_ids = torch.tensor([prefix] * batch)
    body = getattr(model, "model", model)
    with torch.no_grad(), counter:
        if features.shape[-1] == 2 * config.max_source_positions:
            model(input_features=features, decoder_input_ids=decoder_input_ids)
        else:
            encoded = whisper_encoder_sliced(body.encoder, features)
            model(encoder_outputs=(encoded,), decoder_input_ids=decoder_input_ids)
    return counter.get_total_flops()


def cpu_model():
    """`lscpu`'s model name, else the architecture."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        return next(l.split(":", 1)[1].strip() for l in out.splitlines() if l.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        return platform.machine()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default="target/release/run-benchmark")
    parser.add_argument("--out")
    args = parser.parse_args()
    lines = [
        "| model | module | batch | size | run-benchmark GFLOP | torch count GFLOP | ratio |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    print(lines[0], flush=True)
    for model, config_file, overrides, batch, size in CASES:
        name, counted = theirs(config_file, overrides, batch, size)
        computed = ours(args.binary, model, batch, size)
        line = (f"| {model} | {name} | {batch} | {size} | {computed / 1e9:.4f} | "
                f"{counted / 1e9:.4f} | {computed / counted:.4f} |")
        print(line, flush=True)
        lines.append(line)
    if args.out:
        with open(args.out, "w") as f:
            f.write(
                "# FLOP formulas against torch's FlopCounterMode\n\n"
                f"`scripts/flop_check.py`, {time.strftime('%Y-%m-%d')}, on {cpu_model()}, "
                f"transformers {transformers.__version__}, torch {torch.__version__}. "
                "run-benchmark's `flops_per_call` of one inference cell against the matrix-product "
                "FLOPs torch counts for the same transformers module (eager attention) on an input "
                "of the same shape; the size is the sequence length, the image side for ViT "
                "(384 interpolates the position embeddings), or the audio length in seconds for "
                "Whisper (100 mel frames a second, 30 s through the whole model, 5 s through "
                "transformers' encoder layers on the sliced position table, the decoder on "
                "run-benchmark's 4-token prefix).\n\n"
                + "\n".join(lines) + "\n"
            )


if __name__ == "__main__":
    main()
