#!/usr/bin/env python3
"""Checks the memory estimate (src/estimate.rs, the figure the fit check and --dry-run use)
against the measured peak: for each case the binary measures one memory cell (--no-speed,
--export-json) and the export holds both the cell's estimated_peak_bytes and its measured
peak_rss_bytes (VmHWM of the child). The estimate should be within 10% of the peak and,
where it cannot be exact, above it (the fit check exists to stop an out-of-memory kill).

Memory figures hold on a busy machine (only speed does not), so this runs anywhere.

Usage: python3 scripts/estimate_check.py [--binary target/release/run-benchmark]
       [--out docs/estimate-check.md] [--quick]
"""

import argparse
import datetime
import json
import os
import subprocess
import tempfile

# (model, mode, batch, sequence length, extra flags). Modes: inference, training,
# training-adamw, generation (16 new tokens).
CASES = [
    ("bert-base-uncased", "inference", 8, 128, []),
    ("bert-base-uncased", "training", 8, 128, []),
    ("bert-base-uncased", "training-adamw", 8, 128, []),
    ("distilbert/distilbert-base-uncased", "inference", 8, 512, []),
    ("openai-community/gpt2", "inference", 8, 128, []),
    ("openai-community/gpt2", "training", 4, 128, []),
    ("openai-community/gpt2", "generation", 1, 32, []),
    ("EleutherAI/pythia-160m", "training", 1, 64, []),
    ("HuggingFaceTB/SmolLM2-135M", "training", 1, 16, []),
    ("HuggingFaceTB/SmolLM2-135M", "training-adamw", 1, 16, []),
    ("google-t5/t5-small", "training", 4, 64, []),
    ("google/vit-base-patch16-224", "inference", 4, 224, []),
    ("Qwen/Qwen3-0.6B", "inference", 1, 128, []),
    ("Qwen/Qwen3-0.6B", "training", 1, 16, []),
    ("Qwen/Qwen3-0.6B", "generation", 1, 16, []),
    ("Qwen/Qwen3-0.6B", "training", 1, 16, ["--bf16"]),
    ("google/gemma-3-1b-it", "training", 1, 16, []),
    ("google/gemma-3-1b-it", "inference", 1, 16, []),
]
QUICK = {0, 1, 4, 5, 6, 9}


def flags(mode):
    new_tokens = 16
    return {
        "inference": [],
        "training": ["--training", "--no-inference"],
        "training-adamw": ["--training", "--no-inference", "--optimizer", "adamw"],
        "generation": ["--generate", str(new_tokens), "--no-inference"],
    }[mode]


def measure(binary, model, mode, batch, seq, extra):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "r.json")
        cmd = [binary, "--models", model, "--batch-sizes", str(batch), "--sequence-lengths",
               str(seq), "--no-speed", "--export-json", out, *flags(mode), *extra]
        run = subprocess.run(cmd, capture_output=True, text=True)
        if run.returncode != 0 or not os.path.exists(out):
            return None, run.stderr.strip().splitlines()[-1:] or ["failed"]
        rows = json.load(open(out))["rows"]
    for row in rows:
        memory = row.get("memory") or (row.get("generation") or {}).get("memory")
        if row.get("status") == "ok" and memory and memory.get("estimated_peak_bytes"):
            return memory, None
        if row.get("status") != "ok":
            return None, [str(row.get("reason", row.get("status")))]
    return None, ["no memory row"]


def lscpu_model():
    for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
        if line.startswith("Model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="target/release/run-benchmark")
    ap.add_argument("--out", default="docs/estimate-check.md")
    ap.add_argument("--quick", action="store_true", help="the small cases only")
    args = ap.parse_args()
    mib = 1024 * 1024
    lines = []
    worst = 0.0
    under = []
    for i, (model, mode, batch, seq, extra) in enumerate(CASES):
        if args.quick and i not in QUICK:
            continue
        memory, why = measure(args.binary, model, mode, batch, seq, extra)
        dtype = "bf16" if "--bf16" in extra else "f32"
        name = f"{model} | {mode} | {batch} | {seq} | {dtype}"
        if memory is None:
            lines.append(f"| {name} | N/A | N/A | N/A | {' '.join(why)} |")
            print(lines[-1], flush=True)
            continue
        est, peak = memory["estimated_peak_bytes"], memory["peak_rss_bytes"]
        ratio = est / peak
        worst = max(worst, abs(ratio - 1))
        if ratio < 1:
            under.append(name)
        lines.append(f"| {name} | {est / mib:.0f} | {peak / mib:.0f} | {ratio:.3f} | |")
        print(lines[-1], flush=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    text = [
        "# Memory estimate against the measured peak",
        "",
        f"Measured {now:%Y-%m-%d %H:%M} UTC on {lscpu_model()} ({os.cpu_count()} cores), "
        "by `python3 scripts/estimate_check.py`. Estimate: the cell's `estimated_peak_bytes` "
        "(what `--dry-run` and the fit check use); peak: the child's resident peak "
        "(VmHWM, `peak_rss_bytes`), one memory cell each, `--no-speed`. "
        "Generation cells make 16 new tokens. MiB.",
        "",
        "| Model | Mode | Batch | Sequence | Dtype | Estimate MiB | Peak MiB | Estimate / peak | Note |",
        "|---|---|---|---|---|---|---|---|---|",
        *lines,
        "",
        f"Largest deviation: {100 * worst:.1f}%. Under the peak: "
        + (", ".join(under) if under else "none") + ".",
        "",
    ]
    with open(args.out, "w") as f:
        f.write("\n".join(text))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
