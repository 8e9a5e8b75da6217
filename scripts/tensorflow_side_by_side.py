#!/usr/bin/env python3
"""The seed's headline comparison, rerunnable: PyTorch eager, PyTorch + TorchScript,
TensorFlow graph and TensorFlow + XLA on the same models and sizes, inference and training,
speed and memory, in one sitting, with the ratio of each variant to PyTorch eager per cell.

PyTorch cells come from `run-benchmark` (its JSON export: the median of its timed calls, peak
resident memory of one call); TensorFlow cells from `run-benchmark-graph bench` (the graph
child: the same model built as a TensorFlow graph from the same config.json, random weights,
the median of 3 timed calls after a warm-up, peak resident memory of one call; XLA's first
call, which compiles, is reported apart).

Usage (after `make build tensorflow` and `cargo build --release --workspace`):
    python3 scripts/tensorflow_side_by_side.py [--quick] [--out docs/tensorflow-side-by-side.json]
--quick: sequence lengths 8 and 128 only; --models, --sizes and --modes narrow the sitting. Writes the JSON record and prints a Markdown table.
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTORCH = os.path.join(ROOT, "target/release/run-benchmark")
GRAPH = os.path.join(ROOT, "target/release/run-benchmark-graph")

# name, base config file, overrides (the seed's sweep, then gpt2 and a Llama-style model).
MODELS = [
    ("bert-base", "bert-base.json", {}),
    ("bert-384-hid", "bert-base.json", {"hidden_size": 384}),
    ("bert-6-lay", "bert-base.json", {"num_hidden_layers": 6}),
    ("gpt2", "openai-community--gpt2.json", {}),
    ("SmolLM2-135M", "HuggingFaceTB--SmolLM2-135M.json", {}),
]


def config_of(base, overrides, directory, name):
    with open(os.path.join(ROOT, "configs", base)) as f:
        config = json.load(f)
    config.update(overrides)
    path = os.path.join(directory, f"{name}.json")
    with open(path, "w") as f:
        json.dump(config, f)
    return path


def pytorch(name, config, sizes, torchscript, directory, training):
    """{(mode, seq, metric): result} of one run-benchmark run."""
    out = os.path.join(directory, f"{name}-{'ts' if torchscript else 'eager'}.json")
    command = [PYTORCH, "--models", f"{name}={config}", "--batch-sizes", "8",
               "--sequence-lengths", *map(str, sizes), "--export-json", out]
    if torchscript:
        command.append("--torchscript")
    elif training:
        command.append("--training")
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    with open(out) as f:
        rows = json.load(f)["rows"]
    found = {}
    for row in rows:
        cell = row["cell"]
        key = (cell["mode"], cell["sequence_length"], cell["metric"])
        if "speed" in row:
            found[key] = {"seconds": row["speed"]["seconds"]}
        elif "memory" in row:
            found[key] = {"peak_rss_bytes": row["memory"]["peak_rss_bytes"],
                          "baseline_rss_bytes": row["memory"]["baseline_rss_bytes"]}
        else:
            found[key] = {"na": row.get("reason", row.get("status"))}
    return found


def tensorflow(config, seq, mode, xla):
    command = [GRAPH, "bench", config, "batch=8", f"seq={seq}", f"mode={mode}",
               f"xla={1 if xla else 0}", "repeat=3", "number=1"]
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 0:
        return {"na": run.stderr.strip().splitlines()[-1] if run.stderr.strip() else "failed"}
    r = json.loads(run.stdout)
    return {"seconds": r["median_seconds"], "first_call_seconds": r["first_call_seconds"],
            "peak_rss_bytes": r["peak_rss_bytes"], "baseline_rss_bytes": r["baseline_rss_bytes"],
            "tensorflow": r["tensorflow"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--models", nargs="*", help="a subset of " + ", ".join(m[0] for m in MODELS))
    parser.add_argument("--sizes", nargs="*", type=int, help="sequence lengths (default 8 32 128 512)")
    parser.add_argument("--modes", nargs="*", default=["inference", "training"])
    parser.add_argument("--out", default=os.path.join(ROOT, "docs/tensorflow-side-by-side.json"))
    args = parser.parse_args()
    sizes = args.sizes or ([8, 128] if args.quick else [8, 32, 128, 512])
    models = [m for m in MODELS if not args.models or m[0] in args.models]
    started = datetime.datetime.now(datetime.timezone.utc)
    cells = []
    with tempfile.TemporaryDirectory() as directory:
        for name, base, overrides in models:
            config = config_of(base, overrides, directory, name)
            print(f"{name}: PyTorch eager", file=sys.stderr)
            training = "training" in args.modes
            eager = pytorch(name, config, sizes, False, directory, training)
            print(f"{name}: PyTorch TorchScript", file=sys.stderr)
            traced = pytorch(name, config, sizes, True, directory, False)
            for mode in args.modes:
                for seq in sizes:
                    print(f"{name}: TensorFlow {mode} {seq}", file=sys.stderr)
                    row = {"model": name, "batch": 8, "sequence": seq, "mode": mode,
                           "pytorch": {**eager.get((mode, seq, "speed"), {}),
                                       **eager.get((mode, seq, "memory"), {})},
                           "torchscript": ({**traced.get((mode, seq, "speed"), {}),
                                            **traced.get((mode, seq, "memory"), {})}
                                           if mode == "inference" else {"na": "training is not traced"}),
                           "tensorflow": tensorflow(config, seq, mode, False),
                           "tensorflow_xla": tensorflow(config, seq, mode, True)}
                    base_s = row["pytorch"].get("seconds")
                    row["ratio_to_pytorch"] = {
                        k: (row[k]["seconds"] / base_s if base_s and "seconds" in row[k] else None)
                        for k in ["torchscript", "tensorflow", "tensorflow_xla"]}
                    cells.append(row)
    machine = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    record = {"started": started.isoformat(timespec="seconds"),
              "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "machine": machine, "load_average_at_end": os.getloadavg(), "cells": cells}
    with open(args.out, "w") as f:
        json.dump(record, f, indent=1)
    print("| model | mode | seq | PyTorch s | TorchScript s | TF graph s | TF+XLA s (first call) "
          "| TF/PT | XLA/PT | PT peak MiB | TF peak MiB | XLA peak MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    mib = lambda r: f"{r['peak_rss_bytes'] / 2**20:.0f}" if "peak_rss_bytes" in r else "N/A"
    sec = lambda r: f"{r['seconds']:.4f}" if "seconds" in r else "N/A"
    ratio = lambda v: f"{v:.2f}" if v is not None else "N/A"
    for c in cells:
        xla = c["tensorflow_xla"]
        first = f" ({xla['first_call_seconds']:.1f})" if "first_call_seconds" in xla else ""
        print(f"| {c['model']} | {c['mode']} | {c['sequence']} | {sec(c['pytorch'])} | "
              f"{sec(c['torchscript'])} | {sec(c['tensorflow'])} | {sec(xla)}{first} | "
              f"{ratio(c['ratio_to_pytorch']['tensorflow'])} | {ratio(c['ratio_to_pytorch']['tensorflow_xla'])} | "
              f"{mib(c['pytorch'])} | {mib(c['tensorflow'])} | {mib(xla)} |")


if __name__ == "__main__":
    main()
