#!/usr/bin/env bash
# What --profile costs, and what it shows, on this machine (docs/profile.md records a run):
#  1. a part's scope while nothing is recorded (the cost every unprofiled call pays);
#  2. the profiled call against the unprofiled call, alternated in one child, for
#     bert-base (batch 1, sequence 128) in inference and training, with the breakdown by kind.
# Run from the repository root after `make setup` (or with LIBTORCH set):
#   scripts/profile_overhead.sh [OUT_DIR]
set -euo pipefail
out=${1:-profile-overhead}
mkdir -p "$out"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(lscpu | grep 'Model name' | sed 's/ \+/ /g'), $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
cargo build --release --quiet
echo
echo "1. a scope with no profile recorded (a loop with and without one):"
cargo test --release --quiet --lib scope_cost_when_not_profiling -- --ignored --nocapture 2>/dev/null \
    | grep 'scope off'
echo
echo "2. bert-base, batch 1, sequence 128, 2 threads, 10 unprofiled calls alternated with 10 profiled:"
target/release/run-benchmark --models bert-base --batch-sizes 1 --sequence-lengths 128 \
    --no-memory --training --threads 2 --runs 10 --profile -q \
    --export-json "$out/bert-base.json" --export-markdown "$out/bert-base.md" > /dev/null
python3 - "$out/bert-base.json" <<'PY'
import json, sys
export = json.load(open(sys.argv[1]))
for row in export["rows"]:
    cell, result = row["cell"], row["speed"]
    p = result["profile"]
    parts = sum(e["seconds"] for e in p["entries"])
    kinds = {}
    for e in p["entries"]:
        kinds[e["part"]] = kinds.get(e["part"], 0.0) + e["seconds"]
    print(f"{cell['mode']}: unprofiled {p['call_seconds']*1e3:.1f} ms, profiled "
          f"{p['profiled_seconds']*1e3:.1f} ms ({100*(p['profiled_seconds']/p['call_seconds']-1):+.1f}%), "
          f"recorder {p['recorder_seconds']*1e3:.2f} ms, parts sum {parts*1e3:.1f} ms "
          f"({100*(parts/p['call_seconds']-1):+.1f}% of unprofiled), {p['scopes_per_call']} parts per call, "
          f"timed calls median {result['seconds']*1e3:.1f} ms")
    for kind, s in sorted(kinds.items(), key=lambda k: -k[1]):
        print(f"    {kind:18} {s*1e3:8.2f} ms {100*s/parts:5.1f}%")
PY
