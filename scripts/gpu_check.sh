#!/usr/bin/env bash
# The few-minute check a machine with NVIDIA GPUs runs (CI has none): builds run-benchmark,
# measures a tiny sweep on cuda:0 (speed and memory), then the same sweep with --devices over
# every GPU, and checks that every cell has a result, that speed figures are positive, that
# the GPU memory figures are nonzero, and that --devices kept the plan's order.
# Ends with one line: "gpu_check: PASS ..." (exit 0) or "gpu_check: FAIL: why" (exit 1).
#   scripts/gpu_check.sh            # builds with `make build` first
#   BIN=path/to/run-benchmark scripts/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."

fail() {
    echo "gpu_check: FAIL: $*"
    exit 1
}

command -v nvidia-smi >/dev/null || fail "nvidia-smi not found: no NVIDIA driver here"
gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ')
((gpus > 0)) || fail "nvidia-smi lists no GPU"
echo "gpu_check: $gpus GPU(s): $(nvidia-smi --query-gpu=name --format=csv,noheader | sort | uniq -c | xargs)"

bin=${BIN:-target/release/run-benchmark}
if [[ -z ${BIN:-} ]]; then
    make build >/dev/null || fail "make build failed"
fi
[[ -x $bin ]] || fail "$bin is not an executable"

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
sweep=(--models tests/fixtures/tiny-bert.json "wide=tests/fixtures/tiny-bert.json:hidden_size=64"
    --batch-sizes 1 4 --sequence-lengths 16 64 --runs 5)

"$bin" "${sweep[@]}" --device cuda:0 --export-json "$out/cuda.json" >"$out/cuda.log" 2>&1 ||
    fail "the sweep on cuda:0 failed: $(tail -3 "$out/cuda.log")"
devices=$(seq -s, -f 'cuda:%g' 0 $((gpus - 1)))
"$bin" "${sweep[@]}" --devices "$devices" --export-json "$out/devices.json" >"$out/devices.log" 2>&1 ||
    fail "the sweep on --devices $devices failed: $(tail -3 "$out/devices.log")"

# The checks read the exports with Python's json (python3 is on every such machine).
python3 - "$out/cuda.json" "$out/devices.json" "$devices" <<'PY' || exit 1
import json, sys

def fail(why):
    print(f"gpu_check: FAIL: {why}")
    sys.exit(1)

single, spread = (json.load(open(p)) for p in sys.argv[1:3])
for name, export in (("cuda:0", single), ("--devices", spread)):
    rows = export["rows"]
    if not rows:
        fail(f"{name}: no cells")
    for row in rows:
        cell = row["cell"]
        what = f"{name}: {cell['model']} batch {cell['batch_size']} sequence {cell['sequence_length']} {cell['metric']}"
        if row["status"] != "ok":
            fail(f"{what} is N/A: {row.get('reason')}")
        if cell["metric"] == "speed" and not row["speed"]["seconds"] > 0:
            fail(f"{what}: time {row['speed']['seconds']}")
        if cell["metric"] == "memory":
            gpu = row["memory"].get("gpu") or {}
            peak = (gpu.get("allocator") or {}).get("peak_allocated", 0)
            if not gpu.get("device_used_bytes") or not peak:
                fail(f"{what}: GPU memory figures are zero or missing: {gpu}")
key = lambda e: [(r["cell"]["model"], r["cell"]["batch_size"], r["cell"]["sequence_length"], r["cell"]["metric"]) for r in e["rows"]]
if key(single) != key(spread):
    fail("--devices changed the cells or their order")
if spread["environment"].get("devices", "").split(" (")[0] != sys.argv[3].replace(",", ", "):
    fail(f"the environment's devices entry is {spread['environment'].get('devices')!r}")
print(f"gpu_check: PASS ({len(single['rows'])} cells on cuda:0 and on --devices {sys.argv[3]}, GPU memory figures nonzero)")
PY
