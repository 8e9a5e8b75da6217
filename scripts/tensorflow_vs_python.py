#!/usr/bin/env python3
"""Our TensorFlow call against Python's tf.function on the same graph.

For each row (model, batch, sequence, mode, XLA or not), on the same threads:
  - ours:   `run-benchmark-graph bench CONFIG ... serve=1 export=DIR` builds the cell as the
            benchmark does (the Engine: resource variables initialised by seeded random ops, the
            token ids fed on each call, the graph cut into a function run by TFE_Execute in an
            eager context through our C API FFI, as tf.function runs it), writes that very
            graph to DIR (the built GraphDef, the feed, fetch and target names, the ids, a
            check of its first call) and then times calls when asked;
  - Python: a second process with TensorFlow's Python API (the same wheel, tensorflow-cpu
            2.21.0, in .venv-tensorflow) imports DIR's GraphDef with
            `tf.compat.v1.wrap_function` + `import_graph_def`, prunes it to a concrete function
            from the fed ids to the fetches (and, for training, the gradient ops as targets),
            which the eager runtime calls as tf.function calls its graphs; the variables'
            initialisers run once (same seeds, so the same weights: the first call's output is
            checked against ours); intra/inter-op threads set through tf.config.threading before
            any op. With XLA the graph holds the `_XlaMustCompile` StatefulPartitionedCall
            (`tf.function(jit_compile=True)`), so XLA compiles it on both sides.
Both sides: a first call (XLA compiles then; reported apart), one warm-up call, then --rounds
rounds alternating which side goes first (ours, Python, Python, ours, ...: a busy machine's drift
hits both), each round the same number of calls, each call timed apart. A side's figure is the
median of all its calls; the spread is the range of the per-round ratios (a round's median ours
/ the same round's median Python). Inference: the language-model head's logits fetched (as the
benchmark's inference cell); training: the loss fetched and every gradient computed, no
optimizer step (the original's training measurement). f32, random ids, labels = ids. Beside
the wall clock, each side's CPU time a call (user + system, all threads; a busy machine's waits
for a core do not count in it). `--python-runtime session` puts tf.compat.v1.Session (the
DirectSession our cells ran through before the function runtime) on Python's side, to tell
our FFI's cost from the runtime's.

Usage (after `make tensorflow tensorflow-python` and `cargo build --release -p run-benchmark-graph`):
    .venv-tensorflow/bin/python scripts/tensorflow_vs_python.py            # the full record
    .venv-tensorflow/bin/python scripts/tensorflow_vs_python.py --quick    # tiny configs, /tmp
Writes docs/tensorflow-vs-python.{md,json} (--out) and prints an estimate of its length first.
"""

import argparse
import importlib.util
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

# TensorFlow's INFO lines (oneDNN, XLA's "compiled cluster") stay out of the output; ours sets it too.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target", "release", "run-benchmark-graph")
MODELS = {
    "bert-base": "configs/bert-base.json",
    "gpt2": "configs/openai-community--gpt2.json",
    "SmolLM2-135M": "configs/HuggingFaceTB--SmolLM2-135M.json",
}
# Tiny configs of the three families for --quick (a check of the script, not a measurement).
QUICK_MODELS = {
    "tiny-bert": {"model_type": "bert", "vocab_size": 99, "hidden_size": 32, "num_hidden_layers": 2,
                  "num_attention_heads": 4, "intermediate_size": 37},
    "tiny-gpt2": {"model_type": "gpt2", "vocab_size": 99, "n_embd": 32, "n_layer": 2, "n_head": 4},
    "tiny-llama": {"model_type": "llama", "vocab_size": 99, "hidden_size": 32, "intermediate_size": 37,
                   "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2},
}
# (mode, xla, [(batch, seq), ...]): the default sitting, sized to about 7 minutes on a quiet
# 2-core machine. Inference on the issue's four sizes; training and XLA at 1x32 only (a
# training step at 8x32 is ~3 s a call on 2 cores, and the first training call through
# Python's function runtime adds ~10-20 s of graph optimisation: --all-sizes runs every size
# in every mode, about 11 minutes).
SIZES = [(1, 32), (1, 128), (8, 32), (8, 128)]
PLAN = [
    ("inference", False, SIZES),
    ("training", False, [(1, 32)]),
    ("inference", True, [(1, 32)]),
]
# --quick: one row per mode and family, 2x8 (model, mode, xla).
QUICK_ROWS = [("tiny-bert", "inference", False), ("tiny-gpt2", "training", False),
              ("tiny-llama", "inference", True), ("tiny-bert", "training", True)]
# The estimate printed first: each side's calls (first, warm-up, rounds x calls) at
# ESTIMATE_GFLOPS, plus a row's fixed costs (our build, Python's import and function tracing,
# the first calls' graph optimisation), measured on this 2-core machine in --quick runs and
# single rows; the record keeps the real start and end to correct them.
ESTIMATE_GFLOPS = 60.0
ESTIMATE_OVERHEAD = {"inference": 8.0, "training": 15.0}
ESTIMATE_XLA_OVERHEAD = 8.0


def forward_flops(config, batch, seq):
    """Matrix-product FLOPs of one forward call with the head (a rough count)."""
    h = config.get("hidden_size") or config.get("n_embd") or 768
    layers = config.get("num_hidden_layers") or config.get("n_layer") or 12
    inner = config.get("intermediate_size") or config.get("n_inner") or 4 * h
    vocab = config.get("vocab_size") or 30522
    gated = config.get("model_type") in ("llama", "mistral", "qwen2", "qwen3")
    per_token = 2 * layers * (4 * h * h + (3 if gated else 2) * h * inner) + 2 * h * vocab
    return batch * seq * (per_token + 4 * layers * seq * h)


def estimate_seconds(rows, args):
    total = 0.0
    for _, config, mode, xla, batch, seq in rows:
        flops = forward_flops(config, batch, seq) * (3 if mode == "training" else 1)
        call = flops / (ESTIMATE_GFLOPS * 1e9)
        calls = max(1, math.ceil(args.round_seconds / call)) * args.rounds + 2
        total += 2 * calls * call + ESTIMATE_OVERHEAD[mode] + (ESTIMATE_XLA_OVERHEAD if xla else 0.0)
    return total


def python_side(threads, runtime):
    """The Python process: imports TensorFlow while our side builds, then, given the export's
    folder on stdin, imports the graph, initialises, checks, and times on request. `runtime`:
    "function" (the baseline) or "session" (tf.compat.v1.Session, the DirectSession our C API
    call also runs: a diagnosis of where a difference lies)."""
    import numpy as np
    import tensorflow as tf

    # Before any op: the same threads as our session's ConfigProto (intra N, inter 1).
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    directory = sys.stdin.readline().strip()
    with open(os.path.join(directory, "manifest.json")) as f:
        manifest = json.load(f)
    started = time.perf_counter()
    graph_def = tf.compat.v1.GraphDef()
    with open(os.path.join(directory, "graph.pb"), "rb") as f:
        graph_def.ParseFromString(f.read())
    ids = [np.fromfile(os.path.join(directory, f["file"]), dtype="<i8").reshape(f["shape"])
           for f in manifest["feeds"]]
    if runtime == "session":
        graph = tf.Graph()
        with graph.as_default():
            tf.compat.v1.import_graph_def(graph_def, name="")
        config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=threads, inter_op_parallelism_threads=1)
        session = tf.compat.v1.Session(graph=graph, config=config)
        session.run([graph.get_operation_by_name(n) for n in manifest["init"]])
        run = session.make_callable(
            [graph.get_tensor_by_name(n) for n in manifest["fetches"]]
            + [graph.get_operation_by_name(n) for n in manifest["targets"]],
            [graph.get_tensor_by_name(f["name"]) for f in manifest["feeds"]])
        values = ids
        call = lambda *v: run(*v)  # noqa: E731
    else:
        wrapped = tf.compat.v1.wrap_function(lambda: tf.compat.v1.import_graph_def(graph_def, name=""), [])
        graph = wrapped.graph
        init = wrapped.prune([], [graph.get_operation_by_name(n) for n in manifest["init"]])
        feeds = [graph.get_tensor_by_name(f["name"]) for f in manifest["feeds"]]
        fetches = [graph.get_tensor_by_name(n) for n in manifest["fetches"]]
        targets = [graph.get_operation_by_name(n) for n in manifest["targets"]]
        call = wrapped.prune(feeds, fetches + targets)
        init()
        values = [tf.constant(v) for v in ids]
    build = time.perf_counter() - started
    start = time.perf_counter()
    out = call(*values)
    first_call = time.perf_counter() - start
    first = np.asarray(out[0]).astype(np.float64).ravel()
    check = manifest["check"]
    expected_first = np.array(check["first"])
    start = time.perf_counter()
    call(*values)
    warmup = time.perf_counter() - start
    ready = {
        "tensorflow": tf.__version__,
        "threads": {"intra": tf.config.threading.get_intra_op_parallelism_threads(),
                    "inter": tf.config.threading.get_inter_op_parallelism_threads()},
        "build_seconds": build,
        "first_call_seconds": first_call,
        "warmup_seconds": warmup,
        "elements": int(first.size),
        "check_first_max_abs_diff": float(np.abs(first[: expected_first.size] - expected_first).max()),
        "check_sum_rel_diff": abs(first.sum() - check["sum"]) / max(abs(check["sum"]), 1e-30),
    }
    print(json.dumps(ready), flush=True)
    for line in sys.stdin:
        samples = []
        cpu = time.process_time()
        before = resource.getrusage(resource.RUSAGE_SELF)
        for _ in range(int(line)):
            start = time.perf_counter()
            call(*values)
            samples.append(time.perf_counter() - start)
        n = max(1, int(line))
        cpu = (time.process_time() - cpu) / n
        after = resource.getrusage(resource.RUSAGE_SELF)
        print(json.dumps({"samples": samples, "cpu_seconds": cpu,
                          "system_seconds": (after.ru_stime - before.ru_stime) / n,
                          "minor_faults": (after.ru_minflt - before.ru_minflt) / n}), flush=True)


class Side:
    """A serving process (ours or Python's): ready line first, then rounds on request."""

    def __init__(self, name, command):
        self.name = name
        self.command = command
        # stderr to a file, not a pipe nobody reads while it runs (a full pipe would block it).
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=self.stderr, text=True, env=HEAP_ENV)

    def send(self, line):
        self.process.stdin.write(f"{line}\n")
        self.process.stdin.flush()

    def reply(self):
        line = self.process.stdout.readline()
        if not line:
            self.process.kill()
            self.process.wait()
            self.stderr.seek(0)
            stderr = self.stderr.read().strip().splitlines()
            raise RuntimeError(f"{self.name} failed: {stderr[-1] if stderr else 'no output'}")
        return json.loads(line)

    def round(self, calls):
        """The round's call times, its CPU seconds a call, and its system seconds and
        minor page faults a call (a diagnostic: fresh mappings cost faults and kernel time)."""
        self.send(calls)
        reply = self.reply()
        return reply["samples"], reply["cpu_seconds"], (reply["system_seconds"], reply["minor_faults"])

    def close(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait()

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


# Both sides' glibc heap: the benchmark's speed cells keep freed memory and serve blocks up to
# 32 MiB from the heap (`retain_freed_heap` in crates/core/src/measure/memory.rs: mallopt
# M_MMAP_THRESHOLD 32 MiB, M_TRIM_THRESHOLD INT_MAX); `--heap benchmark` gives both processes
# exactly that through glibc's tunables, so the ratio compares the calls, not two allocators.
# `--heap default` leaves glibc's defaults on both sides. Set in main().
HEAP_ENV = None
BENCHMARK_HEAP = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=2147483647"


def measure(args, name, config_path, mode, xla, batch, seq, scratch):
    """One row; a side that fails makes it N/A with the reason (the other rows go on)."""
    sides = []
    try:
        return measure_row(args, name, config_path, mode, xla, batch, seq, scratch, sides)
    except RuntimeError as e:
        return {"model": name, "mode": mode, "xla": xla, "batch": batch, "seq": seq, "na": str(e)}
    finally:
        for side in sides:
            side.kill()


def measure_row(args, name, config_path, mode, xla, batch, seq, scratch, sides):
    directory = os.path.join(scratch, "export")
    ours_cmd = [args.binary, "bench", config_path, f"batch={batch}", f"seq={seq}", f"mode={mode}",
                f"xla={int(xla)}", f"threads={args.threads}", "serve=1", f"export={directory}"]
    load_before = os.getloadavg()[0]
    # Python imports TensorFlow while ours builds, then imports the graph ours wrote.
    python = Side("Python", [sys.executable, os.path.abspath(__file__), "--python-side", str(args.threads),
                             "--python-runtime", args.python_runtime])
    ours = Side("ours", ours_cmd)
    sides += [python, ours]
    ours.ready = ours.reply()
    python.send(directory)
    python.ready = python.reply()
    if args.python_against_python:
        # A/A check of the method: a second Python process in our place, on the same export.
        ours.close()
        ours = Side("Python (A/A)", python.command)
        sides.append(ours)
        ours.send(directory)
        ours.ready = ours.reply()
    with open(os.path.join(directory, "manifest.json")) as f:
        manifest = json.load(f)
    slowest = max(ours.ready["warmup_seconds"], python.ready["warmup_seconds"])
    calls = max(1, min(50, math.ceil(args.round_seconds / slowest)))
    samples = {"ours": [], "python": []}
    cpu = {"ours": [], "python": []}
    kernel = {"ours": [], "python": []}
    round_ratios = []
    for r in range(args.rounds):
        pair = [("ours", ours), ("python", python)]
        medians = {}
        for key, side in pair if r % 2 == 0 else reversed(pair):
            got, cpu_seconds, system_faults = side.round(calls)
            samples[key].extend(got)
            cpu[key].append(cpu_seconds)
            kernel[key].append(system_faults)
            medians[key] = statistics.median(got)
        round_ratios.append(medians["ours"] / medians["python"])
    ours.close()
    python.close()
    ours_s, python_s = statistics.median(samples["ours"]), statistics.median(samples["python"])
    return {
        "model": name, "mode": mode, "xla": xla, "batch": batch, "seq": seq,
        "ours_s": ours_s, "python_s": python_s, "ratio": ours_s / python_s,
        "round_ratios": round_ratios, "calls_per_round": calls, "rounds": args.rounds,
        "samples": samples,
        "ours_cpu_s": statistics.median(cpu["ours"]), "python_cpu_s": statistics.median(cpu["python"]),
        "cpu_ratio": statistics.median(cpu["ours"]) / statistics.median(cpu["python"]),
        "cpu_per_round": cpu,
        "system_seconds_and_minor_faults_per_round": kernel,
        "ours_system_s": statistics.median(k[0] for k in kernel["ours"]),
        "python_system_s": statistics.median(k[0] for k in kernel["python"]),
        "ours_minor_faults": statistics.median(k[1] for k in kernel["ours"]),
        "python_minor_faults": statistics.median(k[1] for k in kernel["python"]),
        "ours_first_call_s": ours.ready["first_call_seconds"],
        "python_first_call_s": python.ready["first_call_seconds"],
        "ours_build_s": ours.ready["build_seconds"], "python_build_s": python.ready["build_seconds"],
        "ours_threads": ours.ready["threads"], "python_threads": python.ready["threads"],
        "ours_tensorflow": ours.ready["tensorflow"], "python_tensorflow": python.ready["tensorflow"],
        "check_first_max_abs_diff": python.ready["check_first_max_abs_diff"],
        "check_sum_rel_diff": python.ready["check_sum_rel_diff"],
        "elements": python.ready["elements"], "graph_def_bytes": manifest["graph_def_bytes"],
        "load_before_after": [load_before, os.getloadavg()[0]],
    }


def batch_by_seq(text):
    """--sizes' BATCHxSEQ, e.g. 1x32."""
    parts = text.split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"{text!r} is not BATCHxSEQ (e.g. 1x32)")
    return text


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny configs of each family, written to /tmp")
    parser.add_argument("--models", nargs="+", help="a subset of " + ", ".join(MODELS))
    parser.add_argument("--modes", nargs="+", default=["inference", "training"])
    parser.add_argument("--no-xla", action="store_true", help="leave out the XLA rows")
    parser.add_argument("--sizes", nargs="+", metavar="BATCHxSEQ", type=batch_by_seq,
                        help="these sizes in every mode instead of the default plan")
    parser.add_argument("--all-sizes", action="store_true",
                        help="training and XLA at every size too (default: at 1x32 only)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="intra-op threads on both sides (inter-op 1); default all cores")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--round-seconds", type=float, default=0.6,
                        help="calls per round: enough for about this long (at least 1)")
    parser.add_argument("--binary", default=BINARY, help="the graph child")
    parser.add_argument("--out", help="Markdown record, a .json beside it (default docs/tensorflow-vs-python.md, "
                                      "/tmp/tensorflow-vs-python-quick.md with --quick)")
    parser.add_argument("--heap", choices=["benchmark", "default"], default="benchmark",
                        help="both sides' glibc heap thresholds: the benchmark speed cells' (default) or glibc's own")
    parser.add_argument("--python-against-python", action="store_true",
                        help="A/A check of the method: a second Python process takes our side")
    parser.add_argument("--python-runtime", choices=["function", "session"], default="function",
                        help="Python's side: a concrete function (tf.function's runtime, the baseline) or, to "
                             "diagnose a difference, tf.compat.v1.Session (the DirectSession our C API call runs)")
    parser.add_argument("--python-side", metavar="THREADS", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.python_side is not None:
        python_side(args.python_side, args.python_runtime)
        return
    global HEAP_ENV
    HEAP_ENV = dict(os.environ)
    HEAP_ENV.pop("GLIBC_TUNABLES", None)
    if args.heap == "benchmark":
        HEAP_ENV["GLIBC_TUNABLES"] = BENCHMARK_HEAP
    if importlib.util.find_spec("tensorflow") is None:
        sys.exit("tensorflow is not importable: run `make tensorflow-python` and use .venv-tensorflow/bin/python")
    if not os.path.exists(args.binary):
        sys.exit(f"{args.binary} is missing: run `cargo build --release -p run-benchmark-graph`")
    out = args.out or ("/tmp/tensorflow-vs-python-quick.md" if args.quick
                       else os.path.join(ROOT, "docs", "tensorflow-vs-python.md"))
    with tempfile.TemporaryDirectory() as scratch:
        if args.quick:
            models = {}
            for name, config in QUICK_MODELS.items():
                models[name] = os.path.join(scratch, f"{name}.json")
                with open(models[name], "w") as f:
                    json.dump(config, f)
        else:
            unknown = [m for m in args.models or [] if m not in MODELS]
            if unknown:
                sys.exit(f"--models: {', '.join(unknown)} unknown (known: {', '.join(MODELS)})")
            models = {m: os.path.join(ROOT, p) for m, p in MODELS.items() if not args.models or m in args.models}
        configs = {}
        for name, path in models.items():
            with open(path) as f:
                configs[name] = json.load(f)
        if args.quick:
            rows = [(name, configs[name], mode, xla, 2, 8) for name, mode, xla in QUICK_ROWS]
        else:
            plan = [(mode, xla, SIZES) for mode, xla, _ in PLAN] if args.all_sizes else PLAN
            if args.sizes:
                sizes = [tuple(int(x) for x in size.split("x")) for size in args.sizes]
                plan = [(mode, xla, sizes) for mode, xla, _ in PLAN]
            rows = [(name, configs[name], mode, xla, batch, seq)
                    for mode, xla, sizes in plan for name in models for batch, seq in sizes]
        rows = [r for r in rows if r[2] in args.modes and not (r[3] and args.no_xla)]
        estimate = estimate_seconds(rows, args)
        print(f"{len(rows)} rows, {args.threads} thread(s), {args.rounds} rounds: about "
              f"{estimate / 60:.1f} min (at {ESTIMATE_GFLOPS:.0f} GFLOP/s, an assumption for 2 cores)",
              file=sys.stderr, flush=True)
        started = time.time()
        results = []
        for name, config, mode, xla, batch, seq in rows:
            print(f"{name} {mode}{' XLA' if xla else ''} {batch}x{seq}", file=sys.stderr, flush=True)
            results.append(measure(args, name, models[name], mode, xla, batch, seq, scratch))
            # Rewritten after every row: a run cut short keeps what it measured.
            write_record(args, out, results, started, time.time())
            r = results[-1]
            if "na" in r:
                print(f"  N/A: {r['na']}", file=sys.stderr, flush=True)
                continue
            print(f"  ours {r['ours_s']:.4f} s, Python {r['python_s']:.4f} s, ratio {r['ratio']:.3f} "
                  f"(rounds {min(r['round_ratios']):.3f}-{max(r['round_ratios']):.3f})", file=sys.stderr, flush=True)
    print(f"wrote {out} and {os.path.splitext(out)[0]}.json ({(time.time() - started) / 60:.1f} min)", file=sys.stderr)


def write_record(args, out, rows, started, finished):
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model_name = next((l.split(":", 1)[1].strip() for l in lscpu.splitlines() if l.startswith("Model name")), "?")
    fmt = lambda t: time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))
    command = " ".join(["scripts/tensorflow_vs_python.py", *sys.argv[1:]])
    record = {"started": fmt(started), "finished": fmt(finished), "machine": model_name, "cpus": os.cpu_count(),
              "platform": platform.platform(), "threads": args.threads, "command": command,
              "python_runtime": args.python_runtime, "heap": args.heap,
              "python_against_python": args.python_against_python, "rows": rows}
    with open(os.path.splitext(out)[0] + ".json", "w") as f:
        json.dump(record, f, indent=1)
    loads = [l for r in rows for l in r.get("load_before_after", [])]
    lines = [
        "# TensorFlow: our call against Python's tf.function on the same graph",
        "",
        *(["**Diagnosis run: Python's side is `tf.compat.v1.Session` (`--python-runtime session`), not tf.function.**",
           ""] if args.python_runtime == "session" else []),
        *(["**A/A check of the method: a second Python process stands in our place (`--python-against-python`).**",
           ""] if args.python_against_python else []),
        f"Recorded {fmt(started)} to {fmt(finished)} by `{command}` on {model_name} ({os.cpu_count()} CPUs, "
        f"{platform.platform()}), {args.threads} intra-op thread(s) and 1 inter-op thread on both sides; "
        f"load average (1 min) {min(loads, default=0):.1f} to {max(loads, default=0):.1f} during the rows. "
        f"Every figure and every call's time in `{os.path.basename(os.path.splitext(out)[0])}.json`.",
        "",
        "Method (scripts/tensorflow_vs_python.py): our graph child builds the cell as the benchmark does and writes",
        "the built GraphDef (`run-benchmark-graph bench ... export=DIR`: variables with seeded initialisers,",
        "feed, fetch and target names, the token ids); a Python process (tensorflow-cpu 2.21.0, the same wheel as our",
        "library) imports it with `tf.compat.v1.wrap_function` + `import_graph_def`, prunes it to a concrete function",
        "(what `tf.function` calls) from the ids to the fetches, runs the initialisers (the same weights: its first",
        "output is checked against ours below) and calls it with the same ids, threads set before any op. XLA rows: the",
        "graph holds the `_XlaMustCompile` call (`tf.function(jit_compile=True)`) and both sides compile it. Both: a",
        "first call (reported apart), a warm-up call, then rounds alternating which side goes first, the same calls",
        "per round, each call timed; seconds = median of a side's calls; spread = range of the rounds' ratios.",
        "CPU s: the process's CPU time a call (user + system, all threads; median over rounds), which a busy",
        "machine's waits for a core do not inflate as they do the wall clock.",
        "Inference fetches the logits; training the loss with every gradient computed (no optimizer step).",
        "Ours runs the graph as tf.function does: cut into a graph function, executed by TFE_Execute in an eager",
        "context with the same ConfigProto passed as the call's `config_proto`.",
        ("Heap: both processes with the benchmark speed cells' glibc thresholds (`--heap benchmark`: mmap threshold "
         "32 MiB, no trimming, as `retain_freed_heap` sets them), so the ratio compares the calls, not two allocators."
         if args.heap == "benchmark" else "Heap: glibc's defaults on both sides (`--heap default`)."),
        "Sys s, faults: kernel time and minor page faults a call (medians over rounds), ours and Python's.",
        "",
        "| Model | Mode | XLA | Batch | Seq | Ours (s) | Python (s) | Ours / Python | Rounds' ratios | Calls | "
        "CPU s ours, Python | CPU ratio | Sys s ours, Python | Faults ours, Python | First call ours, Python (s) | "
        "Check: first values max abs diff, sum rel diff |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "na" in r:
            lines.append(f"| {r['model']} | {r['mode']} | {'yes' if r['xla'] else 'no'} | {r['batch']} | "
                         f"{r['seq']} | N/A | N/A | N/A: {r['na']} | | | | | | | | |")
            continue
        lines.append(
            f"| {r['model']} | {r['mode']} | {'yes' if r['xla'] else 'no'} | {r['batch']} | {r['seq']} | "
            f"{r['ours_s']:.4f} | {r['python_s']:.4f} | {r['ratio']:.3f} | "
            f"{min(r['round_ratios']):.3f}-{max(r['round_ratios']):.3f} | {r['rounds']}x{r['calls_per_round']} | "
            f"{r['ours_cpu_s']:.4f}, {r['python_cpu_s']:.4f} | {r['cpu_ratio']:.3f} | "
            f"{r['ours_system_s']:.4f}, {r['python_system_s']:.4f} | "
            f"{r['ours_minor_faults']:.0f}, {r['python_minor_faults']:.0f} | "
            f"{r['ours_first_call_s']:.2f}, {r['python_first_call_s']:.2f} | "
            f"{r['check_first_max_abs_diff']:.1e}, {r['check_sum_rel_diff']:.1e} |")
    lines += ["", "Machine (`lscpu`):", "", "```", lscpu.strip(), "```", ""]
    with open(out, "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
