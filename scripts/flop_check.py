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
CASES = [
    ("ModernBERT-base:num_hidden_layers=3", "answerdotai--ModernBERT-base.json",
     {"num_hidden_layers": 3}, 2, 256),
    ("deberta-v3-base:num_hidden_layers=2", "microsoft--deberta-v3-base.json",
     {"num_hidden_layers": 2}, 2, 128),
    ("vit-base-patch16-224:num_hidden_layers=2", "google--vit-base-patch16-224.json",
     {"num_hidden_layers": 2}, 2, 224),
    ("vit-base-patch16-224:num_hidden_layers=2", "google--vit-base-patch16-224.json",
     {"num_hidden_layers": 2}, 2, 384),
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
    if model_type == "vit":
        inputs = {"pixel_values": torch.randn(batch, config.num_channels, size, size),
                  "interpolate_pos_encoding": size != config.image_size}
    else:
        inputs = {"input_ids": torch.randint(0, config.vocab_size, (batch, size))}
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(**inputs)
    return cls.__name__, counter.get_total_flops()


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
                "of the same shape; the size is the sequence length, or the image side for ViT "
                "(384 interpolates the position embeddings).\n\n"
                + "\n".join(lines) + "\n"
            )


if __name__ == "__main__":
    main()
