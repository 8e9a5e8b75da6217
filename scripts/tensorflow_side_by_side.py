#!/usr/bin/env python3
"""The seed's headline comparison, rerunnable: PyTorch eager, PyTorch + TorchScript,
TensorFlow graph, TensorFlow + XLA and ONNX Runtime (inference only) on the same models and
sizes, inference and training, speed and memory, in one sitting, with the ratio of each
variant to PyTorch eager per cell.

PyTorch cells come from `run-benchmark` (its JSON export: the median of its timed calls, peak
resident memory of one call); TensorFlow cells from `run-benchmark-graph bench` (the graph
child: the same model built as a TensorFlow graph from the same config.json, random weights,
the median of 3 timed calls after a warm-up, peak resident memory of one call; XLA's first
call, which compiles, is reported apart); ONNX Runtime cells from `run-benchmark-graph
onnxruntime bench` (the same graph through ONNX Runtime's model editor, ORT_ENABLE_ALL, the
minimum over 3 runs of one call after a first call, peak resident memory of the first call).
Every process gets the same --threads (default: all cores).

Usage (after `make build tensorflow onnxruntime`):
    python3 scripts/tensorflow_side_by_side.py [--quick] [--threads N]
--quick: a tiny check of the script itself (tests/fixtures/tiny-bert.json, sequence 8), written
to /tmp unless --out says where; --models, --sizes and --modes narrow the sitting. Writes the
JSON record and a Markdown table (docs/tensorflow-side-by-side.{json,md}) and prints an
estimate of the sitting's length first. On 2 cores the seed's whole sweep is hours (sequence
512 dominates: a bert-base training step at batch 8 is about 3 TFLOP); about 25 minutes is
`--sizes 8 32 128 --modes inference` or `--sizes 8 32` with both modes.
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
QUICK_MODELS = [("tiny-bert", "../tests/fixtures/tiny-bert.json", {})]
# The estimate printed first: forward FLOPs of each cell (matrix products, the head included)
# times the calls each variant makes (PyTorch and TorchScript: a memory call, 2 warm-up and 3
# timed calls; TensorFlow, XLA and ONNX Runtime: a first call and 3 timed; training counts
# three forwards a step), at ESTIMATE_GFLOPS, plus ESTIMATE_OVERHEAD seconds a cell (processes,
# library loads, XLA's compile). Both are assumptions for a 2-core machine, not measurements:
# the record keeps the real start and end, so compare and correct them.
ESTIMATE_GFLOPS = 25.0
ESTIMATE_OVERHEAD = 12.0
INFERENCE_CALLS = 6 + 6 + 4 + 4 + 4
TRAINING_CALLS = 3 * (6 + 4 + 4)


def forward_flops(config, seq):
    """Matrix-product FLOPs of one forward call (batch BATCH): layers, attention, head."""
    h = config.get("hidden_size") or config.get("n_embd") or 768
    layers = config.get("num_hidden_layers") or config.get("n_layer") or 12
    inner = config.get("intermediate_size") or config.get("n_inner") or 4 * h
    vocab = config.get("vocab_size") or 30522
    gated = config.get("model_type") in ("llama", "mistral", "qwen2", "qwen3")
    per_token = 2 * layers * (4 * h * h + (3 if gated else 2) * h * inner) + 2 * h * vocab
    attention = 4 * layers * seq * h
    return BATCH * seq * (per_token + attention)


def estimate_seconds(configs, sizes, modes):
    total = 0.0
    for config in configs:
        for seq in sizes:
            for mode in modes:
                calls = INFERENCE_CALLS if mode == "inference" else TRAINING_CALLS
                total += calls * forward_flops(config, seq) / (ESTIMATE_GFLOPS * 1e9)
                total += ESTIMATE_OVERHEAD
    return total


def config_of(base, overrides, directory, name):
    with open(os.path.join(ROOT, "configs", base)) as f:
        config = json.load(f)
    config.update(overrides)
    path = os.path.join(directory, f"{name}.json")
    with open(path, "w") as f:
        json.dump(config, f)
    return path


def pytorch(name, config, sizes, torchscript, directory, training, inference=True):
    """{(mode, seq, metric): result} of one run-benchmark run."""
    out = os.path.join(directory, f"{name}-{'ts' if torchscript else 'eager'}.json")
    command = [PYTORCH, "--models", f"{name}={config}", "--batch-sizes", str(BATCH),
               "--sequence-lengths", *map(str, sizes), "--export-json", out,
               "--threads", str(THREADS), "--runs", "3"]
    if torchscript:
        command.append("--torchscript")
    elif training:
        command.append("--training")
    if not inference:
        command.append("--no-inference")
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
    command = [GRAPH, "bench", config, f"batch={BATCH}", f"seq={seq}", f"mode={mode}",
               f"xla={1 if xla else 0}", "repeat=3", "number=1", f"threads={THREADS}"]
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 0:
        return {"na": run.stderr.strip().splitlines()[-1] if run.stderr.strip() else "failed"}
    r = json.loads(run.stdout)
    return {"seconds": r["median_seconds"], "first_call_seconds": r["first_call_seconds"],
            "peak_rss_bytes": r["peak_rss_bytes"], "baseline_rss_bytes": r["baseline_rss_bytes"],
            "tensorflow": r["tensorflow"]}


def onnxruntime(config, seq, mode):
    if mode != "inference":
        return {"na": "ONNX Runtime is inference only here"}
    command = [GRAPH, "onnxruntime", "bench", config, f"batch={BATCH}", f"seq={seq}",
               "repeat=3", "number=1", f"threads={THREADS}"]
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 0:
        return {"na": run.stderr.strip().splitlines()[-1] if run.stderr.strip() else "failed"}
    r = json.loads(run.stdout)
    return {"seconds": r["seconds"], "first_call_seconds": r["first_call_seconds"],
            "peak_rss_bytes": r["peak_rss_bytes"], "baseline_rss_bytes": r["baseline_rss_bytes"],
            "onnxruntime": r["onnxruntime"], "level": r["graph_optimization_level"],
            "intra_op_threads": r["intra_op_threads"]}


BATCH = 8
THREADS = os.cpu_count()
VARIANTS = ["torchscript", "tensorflow", "tensorflow_xla", "onnxruntime"]


def main():
    global BATCH, THREADS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--models", nargs="*", help="a subset of " + ", ".join(m[0] for m in MODELS))
    parser.add_argument("--sizes", nargs="*", type=int, help="sequence lengths (default 8 32 128 512)")
    parser.add_argument("--modes", nargs="*", default=["inference", "training"])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--out", help="the JSON record (the Markdown table beside it, .md); "
                        "default docs/tensorflow-side-by-side.json, /tmp/... with --quick")
    args = parser.parse_args()
    THREADS = args.threads
    default_out = ("/tmp/tensorflow-side-by-side-quick.json" if args.quick
                   else os.path.join(ROOT, "docs/tensorflow-side-by-side.json"))
    out = args.out or default_out
    sizes = args.sizes or ([8] if args.quick else [8, 32, 128, 512])
    if args.quick:
        BATCH = 2
    models = [m for m in (QUICK_MODELS if args.quick else MODELS)
              if not args.models or m[0] in args.models]
    with tempfile.TemporaryDirectory() as directory:
        configs = [json.load(open(config_of(b, o, directory, n))) for n, b, o in models]
    estimate = estimate_seconds(configs, sizes, args.modes)
    print(f"{len(models)} model(s) x {len(sizes)} size(s) x {len(args.modes)} mode(s), "
          f"batch {BATCH}, {THREADS} thread(s): about {estimate / 60:.0f} min at "
          f"{ESTIMATE_GFLOPS:.0f} GFLOP/s (an assumption for 2 cores)", file=sys.stderr)
    started = datetime.datetime.now(datetime.timezone.utc)
    cells = []
    with tempfile.TemporaryDirectory() as directory:
        for name, base, overrides in models:
            config = config_of(base, overrides, directory, name)
            print(f"{name}: PyTorch eager", file=sys.stderr)
            training = "training" in args.modes
            inference = "inference" in args.modes
            eager = pytorch(name, config, sizes, False, directory, training, inference)
            # TorchScript is inference only: not run for a training-only sitting.
            traced = {}
            if inference:
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
                           "tensorflow_xla": tensorflow(config, seq, mode, True),
                           "onnxruntime": onnxruntime(config, seq, mode)}
                    base_s = row["pytorch"].get("seconds")
                    row["ratio_to_pytorch"] = {
                        k: (row[k]["seconds"] / base_s if base_s and "seconds" in row[k] else None)
                        for k in VARIANTS}
                    cells.append(row)
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model_name = next((l.split(":", 1)[1].strip() for l in lscpu.splitlines()
                       if l.startswith("Model name")), "unknown")
    record = {"started": started.isoformat(timespec="seconds"),
              "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "machine": model_name, "lscpu": lscpu, "threads": THREADS, "batch": BATCH,
              "load_average_at_end": os.getloadavg(), "cells": cells}
    with open(out, "w") as f:
        json.dump(record, f, indent=1)
    table = markdown(record)
    with open(os.path.splitext(out)[0] + ".md", "w") as f:
        f.write(table)
    print(table)
    print(f"wrote {out} and {os.path.splitext(out)[0]}.md", file=sys.stderr)


def markdown(record):
    mib = lambda r: f"{r['peak_rss_bytes'] / 2**20:.0f}" if "peak_rss_bytes" in r else "N/A"
    sec = lambda r: f"{r['seconds']:.4g}" if "seconds" in r else "N/A"
    ratio = lambda v: f"{v:.2f}" if v is not None else "N/A"
    lines = [f"Side by side, {record['started']} to {record['finished']}: {record['machine']}, "
             f"{record['threads']} thread(s), batch {record['batch']}, load average at the end "
             f"{record['load_average_at_end'][0]:.1f}. Seconds per call (PyTorch: median of its "
             "timed calls, 3; TensorFlow: median of 3; ONNX Runtime: minimum of 3), peak resident "
             "MiB of one call, ratio = variant / PyTorch eager. XLA's first call (compile) in "
             "parentheses.", "",
             "| model | mode | seq | PyTorch s | TorchScript s | TF graph s | TF+XLA s (first) "
             "| ORT s | TS/PT | TF/PT | XLA/PT | ORT/PT | PT MiB | TF MiB | XLA MiB | ORT MiB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for c in record["cells"]:
        xla = c["tensorflow_xla"]
        first = f" ({xla['first_call_seconds']:.1f})" if "first_call_seconds" in xla else ""
        r = c["ratio_to_pytorch"]
        lines.append(
            f"| {c['model']} | {c['mode']} | {c['sequence']} | {sec(c['pytorch'])} | "
            f"{sec(c['torchscript'])} | {sec(c['tensorflow'])} | {sec(xla)}{first} | "
            f"{sec(c['onnxruntime'])} | {ratio(r['torchscript'])} | {ratio(r['tensorflow'])} | "
            f"{ratio(r['tensorflow_xla'])} | {ratio(r['onnxruntime'])} | {mib(c['pytorch'])} | "
            f"{mib(c['tensorflow'])} | {mib(xla)} | {mib(c['onnxruntime'])} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
