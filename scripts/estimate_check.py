#!/usr/bin/env python3
"""Checks the memory estimate (src/estimate.rs, the figure the fit check and --dry-run use)
against the measured peak: for each case the binary measures one memory cell (--no-speed,
--export-json) and the export holds both the cell's estimated_peak_bytes and its measured
peak_rss_bytes (VmHWM of the child). The estimate should be within 10% of the peak and,
where it cannot be exact, above it (the fit check exists to stop an out-of-memory kill).

Memory figures hold on a busy machine (only speed does not), so this runs anywhere.

Usage: python3 scripts/estimate_check.py [--binary target/release/run-benchmark]
       [--out docs/estimate-check.md] [--quick] [--only REGEX] [--pause-file PATH]

--only remeasures the cases whose row ("model | mode | batch | sequence | dtype") matches
REGEX and puts them in place of their rows in the existing --out table, keeping the others
as measured then (each remeasured row's note says when). --pause-file waits before each case
while PATH exists (e.g. a file that says someone is timing on this machine).
"""

import argparse
import datetime
import json
import os
import re
import subprocess
import tempfile
import time

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


HEADER = "| Model | Mode | Batch | Sequence | Dtype | Estimate MiB | Peak MiB | Estimate / peak | Note |"


def recorded_rows(path):
    """The rows of an existing table, by name ("model | mode | batch | seq | dtype"), in order."""
    rows = {}
    if not os.path.exists(path):
        return rows
    for line in open(path).read().splitlines():
        if line.startswith("| ") and line != HEADER:
            cols = [c.strip() for c in line.strip("|").split("|")]
            rows[" | ".join(cols[:5])] = line
    return rows


def summary(lines):
    """Largest deviation and the rows under their peak, over every measured row."""
    worst, under = 0.0, []
    for line in lines:
        cols = [c.strip() for c in line.strip("|").split("|")]
        try:
            ratio = float(cols[7])
        except ValueError:
            continue
        worst = max(worst, abs(ratio - 1))
        if ratio < 1:
            under.append(" | ".join(cols[:5]))
    return worst, under


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="target/release/run-benchmark")
    ap.add_argument("--out", default="docs/estimate-check.md")
    ap.add_argument("--quick", action="store_true", help="the small cases only")
    ap.add_argument("--only", metavar="REGEX",
                    help="remeasure the matching rows, keep the others of --out as they are")
    ap.add_argument("--pause-file", metavar="PATH",
                    help="before each case, wait while this file exists")
    args = ap.parse_args()
    only = re.compile(args.only) if args.only else None
    kept = recorded_rows(args.out) if only else {}
    if only and not kept:
        ap.error(f"--only updates the table in {args.out}, which has none")
    mib = 1024 * 1024
    now = datetime.datetime.now(datetime.timezone.utc)
    lines = []
    for i, (model, mode, batch, seq, extra) in enumerate(CASES):
        if args.quick and i not in QUICK:
            continue
        dtype = "bf16" if "--bf16" in extra else "f32"
        name = f"{model} | {mode} | {batch} | {seq} | {dtype}"
        if only and not only.search(name):
            if name in kept:
                lines.append(kept[name])
            continue
        while args.pause_file and os.path.exists(args.pause_file):
            time.sleep(20)
        memory, why = measure(args.binary, model, mode, batch, seq, extra)
        note = f"remeasured {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC" \
            if only else ""
        if memory is None:
            lines.append(f"| {name} | N/A | N/A | N/A | {' '.join(why)} {note} |")
            print(lines[-1], flush=True)
            continue
        est, peak = memory["estimated_peak_bytes"], memory["peak_rss_bytes"]
        lines.append(f"| {name} | {est / mib:.0f} | {peak / mib:.0f} | {est / peak:.3f} | {note} |")
        print(lines[-1], flush=True)
    worst, under = summary(lines)
    after = []
    if only:
        old = open(args.out).read()
        before = old.split("\n" + HEADER)[0]
        # What follows the table's summary line (notes written by hand) stays.
        tail = old.split("\nLargest deviation:", 1)[1].split("\n", 1)
        after = tail[1].strip("\n").splitlines() if len(tail) > 1 else []
        paragraphs = [p for p in before.strip("\n").split("\n\n")
                      if not p.startswith("Rows whose note says")]
        paragraphs.append(
            "Rows whose note says *remeasured* were measured again then, on "
            f"{lscpu_model()} ({os.cpu_count()} cores), by `python3 scripts/estimate_check.py "
            "--only`; the others are as first measured. Each row's estimate is the one made "
            "when it was measured; `recorded_peaks_are_under_their_estimates_within_10_percent` "
            "(src/estimate.rs) holds today's estimate against every peak here.")
        intro = "\n\n".join(paragraphs).splitlines()
    else:
        intro = [
            "# Memory estimate against the measured peak",
            "",
            f"Measured {now:%Y-%m-%d %H:%M} UTC on {lscpu_model()} ({os.cpu_count()} cores), "
            "by `python3 scripts/estimate_check.py`. Estimate: the cell's `estimated_peak_bytes` "
            "(what `--dry-run` and the fit check use); peak: the child's resident peak "
            "(VmHWM, `peak_rss_bytes`), one memory cell each, `--no-speed`. "
            "Generation cells make 16 new tokens. MiB.",
        ]
    text = [
        *intro,
        "",
        HEADER,
        "|---|---|---|---|---|---|---|---|---|",
        *lines,
        "",
        f"Largest deviation: {100 * worst:.1f}%. Under the peak: "
        + (", ".join(under) if under else "none") + ".",
        *([""] + after if after else []),
        "",
    ]
    with open(args.out, "w") as f:
        f.write("\n".join(text))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
