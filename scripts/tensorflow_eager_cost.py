#!/usr/bin/env python3
"""What TensorFlow's eager mode costs: the same graph as one function (tf.function's way, the
`tensorflow` framework) against its ops executed one at a time (`tensorflow-eager`, the
original's eager_mode), per model, mode and size, in one sitting.

Each row runs `run-benchmark-graph bench CONFIG ... eager=0|1` (the benchmark's build and
call; `seconds` = the minimum over `--repeat` runs of `--number` calls, `call_rss_bytes` = the
peak resident growth during one call), alternating which goes first. Writes a Markdown table
and a JSON record (date, `lscpu` model name, load average, every figure).

Usage (after `make tensorflow` and `cargo build --release -p run-benchmark-graph`):
    python3 scripts/tensorflow_eager_cost.py [--out docs/tensorflow-eager.md]
"""

import argparse
import json
import os
import platform
import subprocess
import time

# The same models, binary and checkout as our call against Python's (scripts/ is on the path).
from tensorflow_vs_python import BINARY, MODELS, ROOT  # noqa: E402
ROWS = [("inference", 1, 32), ("inference", 8, 128), ("training", 1, 32)]


def bench(args, config, mode, batch, seq, eager):
    command = [args.binary, "bench", os.path.join(ROOT, config), f"batch={batch}", f"seq={seq}",
               f"mode={mode}", f"threads={args.threads}", f"eager={eager}",
               f"repeat={args.repeat}", f"number={args.number}"]
    out = subprocess.run(command, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "tensorflow-eager.md"))
    parser.add_argument("--binary", default=BINARY)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--number", type=int, default=3)
    args = parser.parse_args()
    started = time.time()
    rows = []
    for name, config in MODELS.items():
        for mode, batch, seq in ROWS:
            load = os.getloadavg()[0]
            order = [0, 1] if len(rows) % 2 == 0 else [1, 0]
            got = {eager: bench(args, config, mode, batch, seq, eager) for eager in order}
            row = {"model": name, "mode": mode, "batch": batch, "seq": seq,
                   "function_s": got[0]["seconds"], "eager_s": got[1]["seconds"],
                   "ratio": got[1]["seconds"] / got[0]["seconds"],
                   "function_call_mib": got[0]["call_rss_bytes"] / 2**20,
                   "eager_call_mib": got[1]["call_rss_bytes"] / 2**20,
                   "function_loss": got[0]["loss"], "eager_loss": got[1]["loss"],
                   "load_before_after": [load, os.getloadavg()[0]], "raw": got}
            rows.append(row)
            print(f"{name} {mode} {batch}x{seq}: function {row['function_s']:.4f} s, "
                  f"eager {row['eager_s']:.4f} s, eager / function {row['ratio']:.2f}", flush=True)
    finished = time.time()
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model_name = next((l.split(":", 1)[1].strip() for l in lscpu.splitlines() if l.startswith("Model name")), "?")
    fmt = lambda t: time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))  # noqa: E731
    with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
        json.dump({"started": fmt(started), "finished": fmt(finished), "machine": model_name,
                   "platform": platform.platform(), "threads": args.threads, "rows": rows}, f, indent=1)
    loads = [l for r in rows for l in r["load_before_after"]]
    lines = [
        "# TensorFlow: eager mode against the graph function",
        "",
        f"Recorded {fmt(started)} to {fmt(finished)} by `scripts/tensorflow_eager_cost.py` on {model_name} "
        f"({os.cpu_count()} CPUs), {args.threads} intra-op thread(s), 1 inter-op thread; load average "
        f"{min(loads):.1f} to {max(loads):.1f}. Seconds: the minimum over {args.repeat} runs of {args.number} calls "
        "(`run-benchmark-graph bench`); MiB: peak resident growth during one call. f32, random weights and ids; "
        "training: forward, loss and every gradient, no optimizer step. Function: the graph run as one function "
        "(`tensorflow`, as tf.function); eager: its ops one at a time (`tensorflow-eager`, the original's "
        "eager_mode). Every figure in the JSON beside this file.",
        "",
        "| Model | Mode | Batch | Seq | Function (s) | Eager (s) | Eager / function | Function MiB | Eager MiB | Loss function, eager |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        loss = "" if r["function_loss"] is None else f"{r['function_loss']:.6f}, {r['eager_loss']:.6f}"
        lines.append(f"| {r['model']} | {r['mode']} | {r['batch']} | {r['seq']} | {r['function_s']:.4f} | "
                     f"{r['eager_s']:.4f} | {r['ratio']:.2f} | {r['function_call_mib']:.0f} | "
                     f"{r['eager_call_mib']:.0f} | {loss} |")
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
