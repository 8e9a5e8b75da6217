#!/usr/bin/env python3
"""Side-by-side forward-pass speed: transformers' eager PyTorch against run-benchmark.

Both run the same cells (same config, batch, sequence length, fp32, no attention mask, random
input_ids) with the same intra-op thread count. Each cell is measured in --rounds rounds that
alternate which side goes first (A B, B A, ...), so drift on a busy machine hits both alike;
a side's figure is the median over rounds of its median of --runs timed calls after --warmup
calls.

Usage (after `make build`; needs `pip install transformers` in .venv, as `make fixtures` does):
    .venv/bin/python scripts/compare_transformers.py --threads 2 \
        --batch-sizes 8 --sequence-lengths 8 32 128 512 --out docs/comparison.md

Models are NAME=KEY=VALUE,... overrides of transformers' BertConfig(), as the seed's example:
the default is bert-base, bert-384-hid (hidden_size=384) and bert-6-lay (num_hidden_layers=6).
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import transformers
from transformers import BertConfig, BertModel

DEFAULT_MODELS = ["bert-base=", "bert-384-hid=hidden_size=384", "bert-6-lay=num_hidden_layers=6"]


def parse_model(spec):
    name, _, overrides = spec.partition("=")
    values = {}
    for pair in filter(None, overrides.split(",")):
        key, _, value = pair.partition("=")
        values[key] = json.loads(value)
    return name, values


def time_transformers(overrides, batch, seq, warmup, runs):
    torch.manual_seed(0)
    config = BertConfig(**overrides, attn_implementation="sdpa")
    model = BertModel(config).eval()
    input_ids = torch.randint(config.vocab_size, (batch, seq))
    samples = []
    with torch.no_grad():
        for i in range(warmup + runs):
            start = time.perf_counter()
            model(input_ids)
            if i >= warmup:
                samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def time_ours(binary, name, overrides, batch, seq, threads, warmup, runs):
    spec = name + "=bert-base" + (":" + ",".join(f"{k}={json.dumps(v)}" for k, v in overrides.items()) if overrides else "")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.json")
        subprocess.run(
            [binary, "--models", spec, "--batch-sizes", str(batch), "--sequence-lengths", str(seq),
             "--no-memory", "--threads", str(threads), "--warmup", str(warmup), "--runs", str(runs),
             "--export-json", out],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        with open(out) as f:
            export = json.load(f)
    row, = export["rows"]
    if row["status"] != "ok":
        raise RuntimeError(f"{name} {batch}x{seq}: {row.get('reason')}")
    return row["speed"]["stats"]["median"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default="target/release/run-benchmark")
    parser.add_argument("--models", nargs="+", default=DEFAULT_MODELS)
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[8])
    parser.add_argument("--sequence-lengths", nargs="+", type=int, default=[8, 32, 128, 512])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", help="also write the table as Markdown to this file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    rows = []
    header = "| model | batch | seq | transformers s | run-benchmark s | ratio (ours / theirs) |"
    print(header)
    print("|---|---:|---:|---:|---:|---:|")
    for spec in args.models:
        name, overrides = parse_model(spec)
        for batch in args.batch_sizes:
            for seq in args.sequence_lengths:
                theirs_rounds, ours_rounds = [], []
                for round_ in range(args.rounds):
                    sides = [
                        lambda: theirs_rounds.append(
                            time_transformers(overrides, batch, seq, args.warmup, args.runs)),
                        lambda: ours_rounds.append(
                            time_ours(args.binary, name, overrides, batch, seq, args.threads,
                                      args.warmup, args.runs)),
                    ]
                    for side in sides if round_ % 2 == 0 else reversed(sides):
                        side()
                theirs = statistics.median(theirs_rounds)
                ours = statistics.median(ours_rounds)
                row = f"| {name} | {batch} | {seq} | {theirs:.4f} | {ours:.4f} | {ours / theirs:.3f} |"
                print(row, flush=True)
                rows.append(row)

    if args.out:
        with open(args.out, "w") as f:
            f.write(
                f"# Forward pass: run-benchmark against transformers\n\n"
                f"Measured {time.strftime('%Y-%m-%d')} by `scripts/compare_transformers.py` on "
                f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
                f"{args.threads} intra-op threads, fp32, transformers {transformers.__version__} "
                f"(eager `BertModel`, SDPA attention), torch {torch.__version__}. Each side: the "
                f"median of {args.runs} calls after {args.warmup} warm-up calls, in {args.rounds} "
                f"rounds alternating which side goes first, median over rounds; a ratio below 1 "
                f"means run-benchmark's forward pass is faster.\n\n"
                + header + "\n|---|---:|---:|---:|---:|---:|\n" + "\n".join(rows) + "\n"
            )


if __name__ == "__main__":
    sys.exit(main())
