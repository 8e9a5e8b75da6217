#!/usr/bin/env bash
# A virtual environment with the original tool: transformers 4.44.2 (the last releases still
# ship PyTorchBenchmark) on the same torch as ours, with psutil so that it measures memory.
# Usage: scripts/original_venv.sh [DIR]   (default .venv-original); prints DIR/bin/python.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="${1:-.venv-original}"
TORCH_VERSION="${TORCH_VERSION:-2.13.0}"
if [ ! -x "$DIR/bin/python" ]; then
    python3 -m venv "$DIR"
fi
"$DIR/bin/pip" install --disable-pip-version-check --progress-bar off -q \
    "torch==$TORCH_VERSION" "transformers==4.44.2" psutil "numpy<2.3" >&2
"$DIR/bin/python" -c "from transformers import PyTorchBenchmark, PyTorchBenchmarkArguments" >&2
echo "$DIR/bin/python"
