#!/usr/bin/env python3
"""Time to a trustworthy answer (issue 16), measured in one sitting:

1. a one-cell tiny run (tests/fixtures/tiny-bert.json, batch 1, sequence 8, inference speed),
   with the matmul calibration measured (empty cache) and reused (warm cache);
2. the 7B bf16 build: run-benchmark's batch-1 memory cell (build seconds and peak resident
   memory from its JSON) against transformers' `AutoModelForCausalLM.from_config` with
   `torch_dtype=torch.bfloat16` in a fresh process (wall time and peak RSS);
3. the seed's sweep (bert-base, bert-384-hid, bert-6-lay; batch 8; sequence 8, 32, 128, 512;
   inference speed and memory): run-benchmark's wall time, and with --original PYTHON (a
   venv with transformers 4.44.2, torch 2.13 and psutil) the original PyTorchBenchmark's.

Usage (after `cargo build --release`; transformers from the project's .venv):
    .venv/bin/python scripts/time_to_answer.py --parts tiny build sweep \
        [--original /path/to/venv-hf444/bin/python] --out docs/time-to-answer.json

An A/B of a change to the build: `--parts build --binaries OLD NEW --repeats 3` times each
binary's build alternately (run-benchmark only). With `--parts tiny sweep --binaries OLD NEW`,
the tiny run and the seed sweep are run by each binary in turn, in one sitting (the sweep
`--repeats` rounds, alternating), so a refactoring shows the speed of a cell unchanged.

Each part prints what it measured; --out collects everything as JSON with the date and CPU.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target", "release", "run-benchmark")
SEED_MODELS = ["bert-base", "bert-384-hid=bert-base:hidden_size=384",
               "bert-6-lay=bert-base:num_hidden_layers=6"]


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(l.split(":", 1)[1].strip() for l in out.splitlines() if l.startswith("Model name"))
    except (OSError, StopIteration):
        return platform.processor()


def run_ours(args, cache, out_json=None, binary=BINARY):
    env = dict(os.environ, XDG_CACHE_HOME=cache)
    command = [binary, *args, "--quiet"]
    if out_json:
        command += ["--export-json", out_json]
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def tiny(repeats, binary=BINARY):
    results = {"binary": binary, "cold_s": [], "warm_s": []}
    args = ["--models", os.path.join(ROOT, "tests/fixtures/tiny-bert.json"), "--batch-sizes", "1",
            "--sequence-lengths", "8", "--no-memory"]
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as cache:
            results["cold_s"].append(run_ours(args, cache, binary=binary))
            results["warm_s"].append(run_ours(args, cache, binary=binary))
    for key in ("cold_s", "warm_s"):
        results[key + "_median"] = sorted(results[key])[len(results[key]) // 2]
    print(f"one-cell tiny run: calibration measured {results['cold_s_median']:.2f} s, "
          f"reused {results['warm_s_median']:.2f} s (median of {repeats})")
    return results


TRANSFORMERS_BUILD = r"""
import json, resource, sys, time
import torch
from transformers import AutoConfig, AutoModelForCausalLM
config = AutoConfig.for_model(**json.loads(sys.argv[1]))
start = time.perf_counter()
model = AutoModelForCausalLM.from_config(config, torch_dtype=torch.bfloat16)
seconds = time.perf_counter() - start
params = sum(p.numel() for p in model.parameters())
print(json.dumps({"build_s": seconds, "parameters": params,
                  "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def build_ours(model, threads, binary):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "build.json")
        wall = run_ours(["--models", model, "--bf16", "--batch-sizes", "1", "--sequence-lengths",
                         "8", "--no-speed", "--threads", str(threads)], tmp, out, binary)
        row = json.load(open(out))["rows"][0]
        if isinstance(row, list):  # schema 1 (an older binary in an A/B): [cell, result]
            memory = row[1]
        else:
            memory = dict(row.get("memory") or {}, status=row["status"], reason=row.get("reason"))
    ours = {"wall_s": wall, "build_s": memory.get("build_seconds"),
            "peak_rss_bytes": memory.get("peak_rss_bytes"),
            "build_peak_rss_bytes": memory.get("build_peak_rss_bytes"),
            "estimated_peak_bytes": memory.get("estimated_peak_bytes"), "status": memory["status"],
            "reason": memory.get("reason"), "binary": binary}
    print(f"{model} bf16 build, run-benchmark: {ours}", flush=True)
    return ours


def build_binaries(model, threads, binaries, rounds):
    """The same build by several binaries (an A/B of a change), alternating, in one sitting."""
    runs = [build_ours(model, threads, b) for _ in range(rounds) for b in binaries]
    medians = {}
    for b in binaries:
        seconds = sorted(r["build_s"] for r in runs if r["binary"] == b and r["build_s"])
        medians[b] = seconds[len(seconds) // 2] if seconds else None
    print(f"{model} bf16 build seconds, median of {rounds} alternating rounds: {medians}")
    return {"runs": runs, "build_s_median": medians}


def build(model, threads, python):
    """Our 7B bf16 build, then transformers' `from_config` in `python` (a venv with transformers)."""
    config = json.load(open(os.path.join(ROOT, "configs", model.replace("/", "--") + ".json")))
    ours = build_ours(model, threads, BINARY)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    done = subprocess.run([python, "-c", TRANSFORMERS_BUILD, json.dumps(config)],
                          capture_output=True, text=True, env=env)
    theirs = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else {
        "error": done.stderr.strip().splitlines()[-1:]}
    print(f"{model} bf16 build: run-benchmark {ours['build_s']} s, peak {ours['peak_rss_bytes']}; "
          f"transformers from_config {theirs}")
    return {"run_benchmark": ours, "transformers_from_config": theirs}


ORIGINAL = r"""
import sys, time
from transformers import BertConfig, PyTorchBenchmark, PyTorchBenchmarkArguments
configs = [BertConfig(), BertConfig(hidden_size=384), BertConfig(num_hidden_layers=6)]
args = PyTorchBenchmarkArguments(models=["bert-base", "bert-384-hid", "bert-6-lay"],
    batch_sizes=[8], sequence_lengths=[8, 32, 128, 512], multi_process=True, cuda=False)
start = time.perf_counter()
PyTorchBenchmark(args, configs=configs).run()
print("WALL", time.perf_counter() - start)
"""


def sweep(original, threads, binary=BINARY, sizes=None):
    sizes = ["--sequence-lengths", *map(str, sizes)] if sizes else []
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "sweep.json")
        # The calibration is cached beforehand, as on a machine that ran before.
        run_ours(["--models", SEED_MODELS[0], "--batch-sizes", "1", "--sequence-lengths", "8",
                  "--no-memory", "--runs", "1", "--threads", str(threads)], tmp, binary=binary)
        wall = run_ours(["--models", *SEED_MODELS, "--batch-sizes", "8", *sizes,
                         "--threads", str(threads)], tmp, out, binary=binary)
        rows = json.load(open(out))["rows"]
    speed = [r["speed"] for r in rows if r.get("speed")]
    imprecise = sum(1 for r in speed if r.get("imprecise"))
    widths = [r["interval"]["high"] / r["interval"]["median"] - 1 for r in speed if r.get("interval")]
    result = {"binary": binary, "run_benchmark_wall_s": wall, "speed_cells": len(speed), "imprecise": imprecise,
              "largest_interval_half_width": max(widths) if widths else None,
              # Each speed cell, so that a flag can be traced to its samples.
              "cells": [{"model": row["cell"]["model"],
                         "sequence_length": row["cell"]["sequence_length"],
                         "seconds": r.get("seconds"), "samples": len(r.get("samples", [])),
                         "timed_s": sum(r.get("samples", [])),
                         "half_width": (r["interval"]["high"] / r["interval"]["median"] - 1)
                         if r.get("interval") else None, "imprecise": r.get("imprecise")}
                        for row in rows for r in [row.get("speed")] if r]}
    if original:
        env = dict(os.environ, OMP_NUM_THREADS=str(threads))
        done = subprocess.run([original, "-c", ORIGINAL], capture_output=True, text=True, env=env)
        walls = [l for l in done.stdout.splitlines() if l.startswith("WALL")]
        result["original_wall_s"] = float(walls[-1].split()[1]) if walls else None
        if not walls:
            # Keep why it failed: a missing figure must say so, not vanish.
            result["original_error"] = (done.stderr or done.stdout)[-2000:]
        if result["original_wall_s"]:
            result["ratio"] = wall / result["original_wall_s"]
    print(f"seed sweep: {result}")
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=["tiny", "build", "sweep"])
    parser.add_argument("--models", nargs="+",
                        default=["meta-llama/Llama-2-7b-hf", "mistralai/Mistral-7B-v0.1"])
    parser.add_argument("--original", help="python of a venv with transformers 4.44.2 and psutil")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--binaries", nargs="+",
                        help="part `build` only: time these run-benchmark binaries' builds "
                             "against each other, alternating --repeats rounds (no transformers)")
    parser.add_argument("--sequence-lengths", nargs="+", type=int,
                        help="part `sweep`: these sizes instead of the seed's 8 32 128 512 "
                             "(a quick check of the command on a busy machine)")
    parser.add_argument("--out")
    parser.add_argument("--md", help="with --binaries: a Markdown table of the binaries' tiny "
                                     "runs and sweep cells side by side")
    args = parser.parse_args()
    record = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpu": cpu_model(),
              "cpus": os.cpu_count(), "threads": args.threads,
              "load_average": os.getloadavg()}
    if args.sequence_lengths:
        record["sequence_lengths"] = args.sequence_lengths
    binaries = args.binaries or []
    if "tiny" in args.parts and binaries:
        record["tiny_binaries"] = [tiny(args.repeats, b) for b in binaries]
    elif "tiny" in args.parts:
        record["tiny"] = tiny(args.repeats)
    if "build" in args.parts:
        if binaries:
            record["build_binaries"] = {m: build_binaries(m, args.threads, args.binaries,
                                                          args.repeats) for m in args.models}
        else:
            # transformers from the original's venv when given (the project's .venv may lack it).
            python = args.original or sys.executable
            record["build"] = {m: build(m, args.threads, python) for m in args.models}
    if "sweep" in args.parts and binaries:
        # Alternating rounds, so that the machine's load falls on every binary alike.
        record["sweep_binaries"] = [sweep(None, args.threads, b, args.sequence_lengths)
                                    for _ in range(args.repeats) for b in binaries]
    elif "sweep" in args.parts:
        record["sweep"] = sweep(args.original, args.threads, sizes=args.sequence_lengths)
    record["load_average_after"] = os.getloadavg()
    if args.out:
        with open(args.out, "w") as f:
            json.dump(record, f, indent=2)
    if args.md and binaries:
        with open(args.md, "w") as f:
            f.write(side_by_side(record, binaries))
    print(json.dumps(record, indent=2))


def median(values):
    values = sorted(v for v in values if v is not None)
    return values[len(values) // 2] if values else None


def side_by_side(record, binaries):
    """Markdown: each binary's tiny run and, per speed cell of the seed sweep, the median over
    the rounds of its seconds per call, with the last binary's ratio to the first."""
    lines = [f"# Before/after: {' vs '.join(binaries)}", "",
             f"Measured {record['date']} on {record['cpu']} ({record['cpus']} CPUs, "
             f"{record['threads']} threads), load average {record['load_average'][0]:.2f} before "
             f"and {record['load_average_after'][0]:.2f} after; rounds alternate between the "
             f"binaries. Raw figures: the JSON beside this file.", ""]
    if record.get("sequence_lengths"):
        lines += [f"**Sequence lengths {record['sequence_lengths']} only: a check of the "
                  f"command, not the seed sweep's record.**", ""]
    if record.get("tiny_binaries"):
        lines += ["## One-cell tiny run (wall seconds, median)", "",
                  "| binary | calibration measured | calibration reused |", "|---|---:|---:|"]
        lines += [f"| {t['binary']} | {t['cold_s_median']:.2f} | {t['warm_s_median']:.2f} |"
                  for t in record["tiny_binaries"]]
        lines.append("")
    runs = record.get("sweep_binaries") or []
    if runs:
        walls = {b: median([r["run_benchmark_wall_s"] for r in runs if r["binary"] == b])
                 for b in binaries}
        cells = {}
        for r in runs:
            for c in r["cells"]:
                key = (c["model"], c["sequence_length"])
                cells.setdefault(key, {}).setdefault(r["binary"], []).append(c["seconds"])
        head = " | ".join(f"{b} (ms)" for b in binaries)
        lines += ["## Seed sweep, batch 8, inference (median of the rounds)", "",
                  "| | " + " | ".join(binaries) + " |", "|---|" + "---:|" * len(binaries),
                  "| sweep wall (s) | " + " | ".join(f"{walls[b]:.1f}" for b in binaries) + " |",
                  "",
                  f"| model | sequence | {head} | last / first |",
                  "|---|---:|" + "---:|" * (len(binaries) + 1)]
        for (model, seq), by in sorted(cells.items()):
            ms = [median(by.get(b, [])) for b in binaries]
            shown = " | ".join("N/A" if m is None else f"{m * 1e3:.3f}" for m in ms)
            ratio = f"{ms[-1] / ms[0]:.3f}" if ms[0] and ms[-1] else "N/A"
            lines.append(f"| {model} | {seq} | {shown} | {ratio} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
