#!/usr/bin/env python3
"""Runs one model cell under each precision, thread count and optimizer, and writes a table
of time and memory per variant: the documented example that --fp16, --bf16, --threads and
--optimizer change the figures the way the hardware says they should.

Usage: python3 scripts/physics_check.py [--model SPEC] [--out docs/precision-threads-optimizer.md]
(no dependencies beyond Python's standard library; run after `make build`).
"""

import argparse
import json
import os
import platform
import subprocess
import tempfile
import time

VARIANTS = [
    # (label, mode flags, extra flags)
    ("fp32, 1 thread", [], ["--threads", "1"]),
    ("fp32, 2 threads", [], ["--threads", "2"]),
    ("bf16, 2 threads", [], ["--threads", "2", "--bf16"]),
    ("fp16, 2 threads", [], ["--threads", "2", "--fp16"]),
    ("train fp32, no optimizer", ["--training", "--no-inference"], ["--threads", "2"]),
    ("train fp32, SGD", ["--training", "--no-inference"], ["--threads", "2", "--optimizer", "sgd"]),
    ("train fp32, AdamW", ["--training", "--no-inference"], ["--threads", "2", "--optimizer", "adamw"]),
    # Short sequences: small activations, so AdamW's two moment buffers dominate the peak.
    ("train fp32, no optimizer, seq 8", ["--training", "--no-inference", "--sequence-lengths", "8"], ["--threads", "2"]),
    ("train fp32, AdamW, seq 8", ["--training", "--no-inference", "--sequence-lengths", "8"], ["--threads", "2", "--optimizer", "adamw"]),
]


def run(binary, model, batch, seq, flags):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "r.json")
        subprocess.run(
            [binary, "--models", model, "--batch-sizes", str(batch),
             *([] if "--sequence-lengths" in flags else ["--sequence-lengths", str(seq)]),
             "--runs", "5", "--warmup", "1", "--export-json", out, "--quiet", *flags],
            check=True, stdout=subprocess.DEVNULL,
        )
        with open(out) as f:
            return json.load(f)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default="target/release/run-benchmark")
    parser.add_argument("--model", default="bert-6-lay=bert-base:num_hidden_layers=6")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--out")
    args = parser.parse_args()

    lines = [
        "| variant | time s (median) | GFLOP/s | matmul ceiling GFLOP/s | peak MB | increase MB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    print(lines[0], flush=True)
    for label, mode, extra in VARIANTS:
        export = run(args.binary, args.model, args.batch, args.seq, mode + extra)
        speed = next(r["speed"] for r in export["rows"] if r.get("speed"))
        memory = next(r["memory"] for r in export["rows"] if r.get("memory"))
        ceiling = export.get("calibration") or {}
        flops = speed.get("flops_per_call")
        line = (
            f"| {label} | {speed['seconds']:.4f} | "
            f"{flops / speed['seconds'] / 1e9:.1f} | "
            f"{ceiling.get('flops_per_second', float('nan')) / 1e9:.1f} | "
            f"{memory['peak_rss_bytes'] >> 20} | "
            f"{(memory['peak_rss_bytes'] - memory['baseline_rss_bytes']) >> 20} |"
        )
        print(line, flush=True)
        lines.append(line)

    if args.out:
        with open(args.out, "w") as f:
            f.write(
                "# Precision, threads and optimizer: an example run\n\n"
                f"`scripts/physics_check.py`, {time.strftime('%Y-%m-%d')}, on "
                f"{platform.machine()} with {os.cpu_count()} CPUs; model `{args.model}`, batch "
                f"{args.batch}, sequence {args.seq}, median of 5 timed calls after 1 warm-up, one "
                "child process per cell. Inference unless the variant says train.\n\n"
                + "\n".join(lines) + "\n"
            )


if __name__ == "__main__":
    main()
