#!/usr/bin/env python3
"""Checks that mixture-of-experts FLOPs count only the routed experts: one Mixtral-shaped
model (8 experts) benchmarked with 1, 2, 4 and 8 experts per token, in one run. The work per
call grows with the experts a token is routed to, so with routed-only FLOPs the achieved
GFLOP/s stays about flat while time grows; had all 8 experts been counted, GFLOP/s would fall
as top-k shrinks (the last column shows that alternative).

Usage: python3 scripts/moe_flops_check.py [--out docs/moe-flops.md]
(standard library only; run after `cargo build --release`).
"""

import argparse
import json
import os
import subprocess
import tempfile
import time

SHAPE = (
    "num_hidden_layers=2,hidden_size=512,intermediate_size=1024,num_attention_heads=8,"
    "num_key_value_heads=2,vocab_size=1000,num_local_experts=8"
)
TOP_K = [1, 2, 4, 8]


def machine():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(l.split(":", 1)[1].strip() for l in out.splitlines() if "Model name" in l)
    except (OSError, StopIteration):
        return "unknown CPU"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default="target/release/run-benchmark")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out")
    args = parser.parse_args()

    models = [f"top{k}=Mixtral-8x7B-v0.1:{SHAPE},num_experts_per_tok={k}" for k in TOP_K]
    with tempfile.TemporaryDirectory() as tmp:
        export = os.path.join(tmp, "moe.json")
        subprocess.run(
            [args.binary, "--models", *models, "--batch-sizes", str(args.batch),
             "--sequence-lengths", str(args.seq), "--no-memory", "--runs", "7", "--warmup", "2",
             "--threads", str(args.threads), "--export-json", export, "--quiet"],
            check=True, stdout=subprocess.DEVNULL,
        )
        with open(export) as f:
            rows = json.load(f)["rows"]

    # Schema 2: a row's figures under "speed" (or its "reason").
    speed = {r["cell"]["model"]: r.get("speed") or {"reason": r.get("reason")}
             for r in rows if r["cell"]["metric"] == "speed"}
    failed = {m: r.get("reason", r) for m, r in speed.items() if "flops_per_call" not in r}
    if failed:
        raise SystemExit(f"cells without a result: {failed}")
    # FLOPs of the same model with every expert counted: the routed experts' share scaled
    # up to 8 (the router and attention are the same either way).
    routed = {k: speed[f"top{k}"]["flops_per_call"] for k in TOP_K}
    per_expert = routed[2] - routed[1]
    base = routed[1] - per_expert
    lines = [
        "| experts per token | time s (median) | time / top-1 | FLOPs / top-1 | GFLOP/s (routed, reported) | GFLOP/s if all 8 counted |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    t1 = speed["top1"]["seconds"]
    for k in TOP_K:
        s = speed[f"top{k}"]
        all_flops = base + 8 * per_expert
        lines.append(
            f"| {k} | {s['seconds']:.4f} | {s['seconds'] / t1:.2f} | "
            f"{routed[k] / routed[1]:.2f} | {routed[k] / s['seconds'] / 1e9:.1f} | "
            f"{all_flops / s['seconds'] / 1e9:.1f} |"
        )
    print("\n".join(lines))
    load = os.getloadavg()[0]
    time_ratio = speed["top8"]["seconds"] / t1
    flop_ratio = routed[8] / routed[1]
    consistent = abs(time_ratio / flop_ratio - 1) <= 0.25
    verdict = (
        f"Top-8 over top-1: time x{time_ratio:.2f} against FLOPs x{flop_ratio:.2f}, "
        + ("consistent (within 25%): time grows with the routed experts, as the reported "
           "FLOPs do, while counting all 8 experts would credit top-1 routing with work it "
           "never does." if consistent else
           "not consistent: on this run the timings do not follow the work (load average "
           f"{load:.1f} on {os.cpu_count()} CPUs); rerun on a quiet machine.")
    )
    print(verdict)
    if args.out:
        with open(args.out, "w") as f:
            f.write(
                "# Mixture-of-experts FLOPs count the routed experts\n\n"
                f"`scripts/moe_flops_check.py`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
                f"on {machine()} ({os.cpu_count()} CPUs, load average {load:.1f} at the end; "
                "ratios are from one run). One Mixtral-8x7B config shrunk to "
                f"`{SHAPE}`, batch {args.batch}, sequence {args.seq}, inference, "
                f"`--threads {args.threads}`, median of 7 timed calls after 2 warm-ups, one child "
                "process per cell; only `num_experts_per_tok` changes.\n\n"
                + "\n".join(lines) + "\n\n" + verdict + "\n"
            )


if __name__ == "__main__":
    main()
