#!/usr/bin/env bash
# The roofline figure of docs/measurements.md and the check of the dry run's time per call
# against measured times: bert-base prefill cells and gpt2 / SmolLM2-135M / Qwen3-0.6B decode
# cells, small batch and sequence values (a few minutes on 2 cores).
#
#   scripts/roofline_sweep.sh [OUT_DIR]   (default docs/roofline)
#
# Writes OUT_DIR/{prefill,decode}.json (the sweeps), OUT_DIR/roofline.{png,svg}
# (plot --roofline), OUT_DIR/dry-run.txt and OUT_DIR/estimate-check.md (estimated against
# measured seconds per call), and OUT_DIR/lscpu.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=target/release/run-benchmark
OUT=${1:-docs/roofline}
mkdir -p "$OUT"
date -u '+%Y-%m-%d %H:%M UTC' > "$OUT/date.txt"
lscpu > "$OUT/lscpu.txt"
cat /proc/loadavg >> "$OUT/date.txt"
PREFILL=(--models google-bert/bert-base-uncased --batch-sizes 1 4 --sequence-lengths 32 128
         --no-memory --max-time 8)
DECODE=(--models openai-community/gpt2 HuggingFaceTB/SmolLM2-135M Qwen/Qwen3-0.6B
        --batch-sizes 1 --sequence-lengths 8 --generate 8 --no-inference --no-memory
        --max-time 15)
# The dry run first (it calibrates, and the measured sweeps reuse that calibration).
COLUMNS=250 "$BIN" "${PREFILL[@]}" --dry-run > "$OUT/dry-run.txt"
COLUMNS=250 "$BIN" "${DECODE[@]}" --dry-run >> "$OUT/dry-run.txt"
"$BIN" "${PREFILL[@]}" --export-json "$OUT/prefill.json"
"$BIN" "${DECODE[@]}" --export-json "$OUT/decode.json"
for f in png svg; do
  "$BIN" plot --roofline "$OUT/prefill.json" "$OUT/decode.json" -o "$OUT/roofline.$f"
done
python3 - "$OUT" <<'PY'
import json, re, sys
out = sys.argv[1]
units = {"s": 1.0, "ms": 1e-3, "µs": 1e-6, "ns": 1e-9}
def seconds(text):
    m = re.match(r"([0-9.]+) (s|ms|µs|ns)", text.strip())
    return float(m.group(1)) * units[m.group(2)] if m else None
estimated = {}
header = None
for line in open(f"{out}/dry-run.txt"):
    if not line.startswith("|"):
        continue
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if cells[0] == "Model Name":
        header = cells
        continue
    row = dict(zip(header, cells))
    key = (row["Model Name"], int(row["Batch Size"]), int(row["Seq Length"]), row["Mode"].split()[0])
    estimated[key] = (seconds(row["Per call"]), row["GFLOP/call"], row["GB/call"])
lines = ["| Model | Batch | Seq | Mode | GFLOP/call | GB/call | Estimated per call | Measured per call | Measured / estimated |",
         "| :--- | ---: | ---: | :--- | ---: | ---: | ---: | ---: | ---: |"]
for name in ("prefill", "decode"):
    for row in json.load(open(f"{out}/{name}.json"))["rows"]:
        c = row["cell"]
        if row["status"] != "ok":
            continue
        key = (c["model"], c["batch_size"], c["sequence_length"], c["mode"])
        est = estimated.get(key)
        measured = row["speed"]["seconds"]
        if est is None or est[0] is None:
            continue
        lines.append(f"| {key[0]} | {key[1]} | {key[2]} | {key[3]} | {est[1]} | {est[2]} | "
                     f"{est[0]*1e3:.1f} ms | {measured*1e3:.1f} ms | {measured/est[0]:.2f} |")
open(f"{out}/estimate-check.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
