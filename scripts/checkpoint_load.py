#!/usr/bin/env python3
"""Issue 29: does `--weights pretrained` load a bf16 checkpoint in about the time its bytes take
to read? Writes a Llama-style checkpoint (model.safetensors, bf16, random normal values at
transformers' initialisation scale: never zeros) for an embedded config, then measures, in one
sitting and alternating:

- reading the file's bytes (Python's readinto over the whole file, page cache warm), and
- run-benchmark's load of it (`ran.pretrained.load_seconds`: mapping the file, copying every
  tensor into the bf16 model, counting subnormals), from a one-cell run.

The page cache cannot be dropped here (no root write to /proc/sys/vm/drop_caches in this
sandbox), so both sides read warm pages: the comparison is of our load path against the plain
read of the same bytes from memory. Needs numpy (the .venv-tensorflow of `make
tensorflow-python` has it).

    .venv-tensorflow/bin/python scripts/checkpoint_load.py            # TinyLlama-1.1B, 2.05 GiB
    .venv-tensorflow/bin/python scripts/checkpoint_load.py --config configs/HuggingFaceTB--SmolLM2-135M.json --rounds 2
"""

import argparse
import datetime
import json
import os
import pathlib
import statistics
import subprocess
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent


def llama_tensors(config):
    """(name, shape) of a LlamaForCausalLM checkpoint, as transformers names them."""
    h = config["hidden_size"]
    heads = config["num_attention_heads"]
    kv = config.get("num_key_value_heads", heads)
    head_dim = config.get("head_dim", h // heads)
    inter = config["intermediate_size"]
    vocab = config["vocab_size"]
    out = [("model.embed_tokens.weight", (vocab, h))]
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        out += [
            (p + "self_attn.q_proj.weight", (heads * head_dim, h)),
            (p + "self_attn.k_proj.weight", (kv * head_dim, h)),
            (p + "self_attn.v_proj.weight", (kv * head_dim, h)),
            (p + "self_attn.o_proj.weight", (h, heads * head_dim)),
            (p + "mlp.gate_proj.weight", (inter, h)),
            (p + "mlp.up_proj.weight", (inter, h)),
            (p + "mlp.down_proj.weight", (h, inter)),
            (p + "input_layernorm.weight", (h,)),
            (p + "post_attention_layernorm.weight", (h,)),
        ]
    out.append(("model.norm.weight", (h,)))
    if not config.get("tie_word_embeddings", False):
        out.append(("lm_head.weight", (vocab, h)))
    return out


def bf16_bits(rng, count, std):
    """bf16 bit patterns of normal(0, std) values (float32 rounded to nearest even)."""
    f = (rng.standard_normal(count, dtype=np.float32) * np.float32(std)).view(np.uint32)
    rounded = f + np.uint32(0x7FFF) + ((f >> np.uint32(16)) & np.uint32(1))
    return (rounded >> np.uint32(16)).astype(np.uint16)


def write_checkpoint(config, folder):
    rng = np.random.default_rng(0)
    tensors = llama_tensors(config)
    header, offset = {}, 0
    for name, shape in tensors:
        size = 2 * int(np.prod(shape))
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    header["__metadata__"] = {"format": "pt"}
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    path = folder / "model.safetensors"
    with open(path, "wb") as f:
        f.write(len(blob).to_bytes(8, "little"))
        f.write(blob)
        for name, shape in tensors:
            count = int(np.prod(shape))
            if name.endswith("norm.weight"):
                f.write(np.full(count, 0x3F80, dtype=np.uint16).tobytes())  # 1.0, as initialised
            else:
                std = config.get("initializer_range", 0.02)
                for start in range(0, count, 1 << 26):
                    f.write(bf16_bits(rng, min(1 << 26, count - start), std).tobytes())
    (folder / "config.json").write_text(json.dumps(config))
    return path


def read_seconds(path):
    buffer = bytearray(64 << 20)
    view = memoryview(buffer)
    start = time.perf_counter()
    with open(path, "rb", buffering=0) as f:
        while f.readinto(view):
            pass
    return time.perf_counter() - start


def load_seconds(binary, folder, out):
    subprocess.run(
        [str(binary), "--models", str(folder), "--weights", "pretrained", "--dtypes", "bf16",
         "--batch-sizes", "1", "--sequence-lengths", "8", "--no-memory", "--runs", "1",
         "--threads", "2", "--quiet", "--export-json", str(out)],
        check=True, stdout=subprocess.DEVNULL,
    )
    row = json.loads(out.read_text())["rows"][0]
    pretrained = row["speed"]["ran"]["pretrained"]
    return pretrained["load_seconds"], pretrained["checkpoint_bytes"], pretrained


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/TinyLlama--TinyLlama-1.1B-Chat-v1.0.json")
    parser.add_argument("--binary", default=str(ROOT / "target/release/run-benchmark"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "docs/checkpoint-load.json"))
    args = parser.parse_args()
    config = json.loads((ROOT / args.config).read_text())
    assert config["model_type"] == "llama", "this script writes Llama-style checkpoints only"
    with tempfile.TemporaryDirectory(dir=os.environ.get("CHECKPOINT_DIR", "/tmp")) as tmp:
        folder = pathlib.Path(tmp) / "model"
        folder.mkdir()
        started = datetime.datetime.now(datetime.timezone.utc)
        path = write_checkpoint(config, folder)
        size = path.stat().st_size
        read_seconds(path)  # bring every page into the cache once
        reads, loads, last = [], [], None
        for _ in range(args.rounds):
            reads.append(read_seconds(path))
            seconds, tensor_bytes, last = load_seconds(args.binary, folder, pathlib.Path(tmp) / "run.json")
            loads.append(seconds)
        ended = datetime.datetime.now(datetime.timezone.utc)
    cpu = next(l.split(":", 1)[1].strip() for l in subprocess.run(
        ["lscpu"], capture_output=True, text=True).stdout.splitlines() if l.startswith("Model name"))
    read, load = statistics.median(reads), statistics.median(loads)
    record = {
        "started": started.isoformat(timespec="seconds"),
        "ended": ended.isoformat(timespec="seconds"),
        "machine": cpu,
        "load_average_end": os.getloadavg()[0],
        "config": args.config,
        "file_bytes": size,
        "tensor_bytes": tensor_bytes,
        "read_seconds": reads,
        "load_seconds": loads,
        "read_gb_per_s": size / read / 1e9,
        "load_gb_per_s": tensor_bytes / load / 1e9,
        "load_over_read": load / read,
        "pretrained": last,
    }
    out = pathlib.Path(args.out)
    out.write_text(json.dumps(record, indent=2) + "\n")
    out.with_suffix(".md").write_text(
        "# Loading a bf16 checkpoint against reading its bytes\n\n"
        f"Measured {record['started']} to {record['ended']} on {cpu} (2 threads), load average at the "
        f"end {record['load_average_end']:.1f}, by `scripts/checkpoint_load.py --config {args.config}`: "
        "a Llama-style model.safetensors in bf16 (random normal values, norms at 1.0) written for the "
        "embedded config, then, alternating over "
        f"{args.rounds} rounds, a plain read of the file's bytes (page cache warm: the sandbox cannot "
        "drop it) and run-benchmark's `--weights pretrained --dtypes bf16` load "
        "(`ran.pretrained.load_seconds`: mapping, copying every tensor into the model, counting "
        "subnormals). Medians.\n\n"
        "| checkpoint | read s | load s | read GB/s | load GB/s | load / read |\n"
        "|---|---|---|---|---|---|\n"
        f"| {size / 2**30:.2f} GiB | {read:.3f} | {load:.3f} | {record['read_gb_per_s']:.2f} | "
        f"{record['load_gb_per_s']:.2f} | {record['load_over_read']:.2f} |\n\n"
        f"Every round: read {', '.join(f'{s:.3f}' for s in reads)} s; load "
        f"{', '.join(f'{s:.3f}' for s in loads)} s. Subnormal values found: {last['subnormal']} "
        f"of {last['values']}.\n"
    )
    print(out.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
