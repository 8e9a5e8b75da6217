#!/usr/bin/env python3
"""Our ONNX Runtime call against Python's onnxruntime.InferenceSession on the same graph.

For each model (a config.json) and size, `run-benchmark-graph onnxruntime save` writes the graph
our model editor builds (unoptimised, weights beside it) to an .onnx file; then, in rounds that
alternate which side goes first (so a busy machine's drift hits both alike):
  - ours:   `run-benchmark-graph onnxruntime bench CONFIG ...` builds the same graph (same seed,
            same weights) in memory and times session.run through the `ort` crate;
  - Python: a fresh process loads the .onnx file into InferenceSession with the same options
            (ORT_ENABLE_ALL, intra-op threads --threads, inter-op 1, spinning left on,
            CPUExecutionProvider) and times sess.run.
Both sides: one warm-up call, then the original benchmark's protocol, the minimum over --repeat
runs of the mean of --number calls, in wall-clock seconds and in the process's CPU seconds (user
and system, all threads: on a shared machine the CPU time counts a call's work where the wall
clock also counts its waits for a core; with spinning threads it also counts their spinning). A
side's figure is the median over rounds. Each cell runs at every --threads count. Inference of
the bare model (no head), random input_ids, fp32, the same library file (the PyPI wheel
onnxruntime==1.31.1 on both sides).

Usage (after `make onnxruntime onnxruntime-python` and `cargo build --release -p run-benchmark-graph`):
    .venv-onnxruntime/bin/python scripts/onnxruntime_vs_python.py --threads 1 2 --rounds 3 \
        --out docs/onnxruntime-vs-python.md
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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target", "release", "run-benchmark-graph")
DEFAULT_CELLS = [
    "configs/google-bert--bert-base-uncased.json:8:8",
    "configs/google-bert--bert-base-uncased.json:8:32",
    "configs/sentence-transformers--all-MiniLM-L6-v2.json:8:128",
    "configs/openai-community--gpt2.json:1:64",
    "configs/HuggingFaceTB--SmolLM2-135M.json:1:64",
]


def python_side(model, threads, repeat, number, batch, seq, vocab):
    """Runs in its own process: load, warm up, time."""
    import numpy as np
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    ids = np.random.default_rng(0).integers(0, vocab, (batch, seq), dtype=np.int64)
    feed = {"input_ids": ids}
    session.run(None, feed)
    best, best_cpu = float("inf"), float("inf")
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        for _ in range(number):
            session.run(None, feed)
        best = min(best, (time.perf_counter() - start) / number)
        best_cpu = min(best_cpu, (time.process_time() - cpu) / number)
    print(json.dumps({"seconds": best, "cpu_seconds": best_cpu, "onnxruntime": ort.__version__}))


def run_json(command):
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(args, config, batch, seq, vocab, model, size, threads):
    """One cell at one thread count: rounds alternating which side goes first."""
    config_path = os.path.join(ROOT, config)
    ours_cmd = [args.binary, "onnxruntime", "bench", config_path, *size, f"threads={threads}",
                f"repeat={args.repeat}", f"number={args.number}"]
    python_cmd = [sys.executable, os.path.abspath(__file__), "--python-side", model, str(threads),
                  str(args.repeat), str(args.number), f"{batch}:{seq}", str(vocab)]
    results = {"ours": [], "python": []}
    loads = [load_average()]
    for r in range(args.rounds):
        order = [("ours", ours_cmd), ("python", python_cmd)]
        for side, command in order if r % 2 == 0 else reversed(order):
            results[side].append(run_json(command))
    loads.append(load_average())
    median = lambda side, key: statistics.median(x[key] for x in results[side])
    detail = results["ours"][-1]
    return {
        "model": os.path.basename(config).removesuffix(".json"),
        "batch": int(batch),
        "seq": int(seq),
        "threads": threads,
        "ours_s": median("ours", "seconds"),
        "python_s": median("python", "seconds"),
        "ours_cpu_s": median("ours", "cpu_seconds"),
        "python_cpu_s": median("python", "cpu_seconds"),
        "ratio": median("ours", "seconds") / median("python", "seconds"),
        "cpu_ratio": median("ours", "cpu_seconds") / median("python", "cpu_seconds"),
        "rounds": results,
        "load_before_after": loads,
        "ours_library": detail["onnxruntime"],
        "python_onnxruntime": results["python"][-1]["onnxruntime"],
        "intra_op_threads": detail["intra_op_threads"],
        "level": detail["graph_optimization_level"],
        "ops": detail["ops"],
        "providers": detail["providers"],
    }


def load_average():
    return os.getloadavg()[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", nargs="+", default=DEFAULT_CELLS, help="CONFIG:BATCH:SEQ")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--number", type=int, default=10)
    parser.add_argument("--binary", default=BINARY, help="the graph child (a copy keeps a rebuild out of a long run)")
    parser.add_argument("--out", help="Markdown record (a .json beside it holds every figure)")
    parser.add_argument("--python-side", nargs=6, metavar=("MODEL", "THREADS", "REPEAT", "NUMBER", "BATCH:SEQ", "VOCAB"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.python_side:
        model, threads, repeat, number, size, vocab = args.python_side
        batch, seq = map(int, size.split(":"))
        python_side(model, int(threads), int(repeat), int(number), batch, seq, int(vocab))
        return

    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for cell in args.cells:
            config, batch, seq = cell.rsplit(":", 2)
            config_path = os.path.join(ROOT, config)
            with open(config_path) as f:
                vocab = json.load(f)["vocab_size"]
            model = os.path.join(scratch, "model.onnx")
            size = [f"batch={batch}", f"seq={seq}", "base=1"]
            subprocess.run([args.binary, "onnxruntime", "save", config_path, model, *size], check=True)
            for threads in args.threads:
                rows.append(measure(args, config, batch, seq, vocab, model, size, threads))
                print(json.dumps(rows[-1]), flush=True)
            for name in os.listdir(scratch):
                os.remove(os.path.join(scratch, name))

    if args.out:
        write_record(args, rows)


def write_record(args, rows):
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model_name = next((l.split(":", 1)[1].strip() for l in lscpu.splitlines() if l.startswith("Model name")), "?")
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
        json.dump({"date": date, "machine": model_name, "rows": rows}, f, indent=1)
    lines = [
        "# ONNX Runtime: our call against Python's InferenceSession on the same graph",
        "",
        f"Recorded {date} by `scripts/onnxruntime_vs_python.py --threads {' '.join(map(str, args.threads))} --rounds {args.rounds} "
        f"--repeat {args.repeat} --number {args.number}` on {model_name} ({os.cpu_count()} CPUs, "
        f"{platform.platform()}); every figure in `{os.path.basename(os.path.splitext(args.out)[0])}.json`.",
        "",
        "Both sides load the same library (PyPI onnxruntime 1.31.1), build the same graph (ours in memory through",
        "the model editor, Python from the .onnx file our `save` wrote from that graph) with the same session options",
        "(ORT_ENABLE_ALL, intra-op threads as below, inter-op 1, spinning on, CPU provider). Inference of the bare",
        "model, fp32, random ids. Seconds per call: min over repeats of the mean of a repeat's calls (the original",
        "benchmark's protocol), median over rounds that alternate which side goes first; wall clock, and the",
        "process's CPU time (user + system, all threads), which a shared machine's load disturbs far less.",
        "",
        "| Model | Batch | Seq | Threads | Ours (s) | Python (s) | Ours / Python | Ours CPU (s) | Python CPU (s) | CPU ratio | Load avg before, after |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['batch']} | {r['seq']} | {r['threads']} | {r['ours_s']:.4f} | {r['python_s']:.4f} | "
            f"{r['ratio']:.3f} | {r['ours_cpu_s']:.4f} | {r['python_cpu_s']:.4f} | {r['cpu_ratio']:.3f} | "
            f"{r['load_before_after'][0]:.1f}, {r['load_before_after'][1]:.1f} |"
        )
    lines += ["", "What ran (our session's profiled first call; every node on CPUExecutionProvider unless said):", ""]
    for r in rows:
        if r["threads"] == args.threads[0]:
            lines.append(f"- {r['model']} {r['batch']}x{r['seq']}: {r['ops']}")
    lines += ["", "Machine (`lscpu`):", "", "```", lscpu.strip(), "```", ""]
    with open(args.out, "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
