#!/usr/bin/env python3
"""Side-by-side forward-pass speed: transformers' eager PyTorch against run-benchmark.

Both run the same cells (same config, batch, sequence length, fp32, no attention mask, random
input_ids) with the same intra-op thread count. Each cell is measured in --rounds rounds that
alternate which side goes first (A B, B A, ...), so drift on a busy machine hits both alike;
a side's figure is the median over rounds of its median of --runs timed calls after --warmup
calls.

Usage (after `make build`; needs `pip install transformers` in .venv, as `make fixtures` does):
    .venv/bin/python scripts/compare_transformers.py --threads 2 \
        --batch-sizes 8 --sequence-lengths 8 32 128 512 --out docs/comparison.md

Models are NAME=KEY=VALUE,... overrides of transformers' BertConfig(), as the seed's example:
the default is bert-base, bert-384-hid (hidden_size=384) and bert-6-lay (num_hidden_layers=6).

With --generate N, greedy generation instead (issue 8): the embedded configs of
--generate-models (configs/<org>--<name>.json; random weights, fp32), batch --batch-sizes,
prompt --sequence-lengths, exactly N new tokens, through transformers' `generate(do_sample=False,
max_new_tokens=N, min_new_tokens=N)` with its dynamic and its static cache, and through
`run-benchmark --generate N`. Both sides read the clock at every new token inside a request
(transformers: a logits processor, called once per step when that step's logits exist): TTFT
is the first reading, TPOT = (last - first) / (N - 1); a side's figure is the median over
--runs requests after --warmup, rounds alternating (transformers dynamic, static, ours; then
the reverse), median over rounds. The load average is read before and after each cell, since
a shared machine's other work moves every figure:
    .venv/bin/python scripts/compare_transformers.py --threads 2 --generate 64 \
        --batch-sizes 1 --sequence-lengths 32 --out-generation /tmp/generation.md
The issue's target (fp32, batch 1, prompt 32, 64 new tokens): TPOT ours / best of
transformers' caches <= 0.8, and TTFT ours / theirs <= 1.
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

import torch
import transformers
from transformers import BertConfig, BertModel

DEFAULT_MODELS = ["bert-base=", "bert-384-hid=hidden_size=384", "bert-6-lay=num_hidden_layers=6"]


def parse_model(spec):
    name, _, overrides = spec.partition("=")
    values = {}
    for pair in filter(None, overrides.split(",")):
        key, _, value = pair.partition("=")
        values[key] = json.loads(value)
    return name, values


def time_transformers(overrides, batch, seq, warmup, runs):
    torch.manual_seed(0)
    config = BertConfig(**overrides, attn_implementation="sdpa")
    model = BertModel(config).eval()
    input_ids = torch.randint(config.vocab_size, (batch, seq))
    samples = []
    with torch.no_grad():
        for i in range(warmup + runs):
            start = time.perf_counter()
            model(input_ids)
            if i >= warmup:
                samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def time_ours(binary, name, overrides, batch, seq, threads, warmup, runs):
    spec = name + "=bert-base" + (":" + ",".join(f"{k}={json.dumps(v)}" for k, v in overrides.items()) if overrides else "")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.json")
        subprocess.run(
            [binary, "--models", spec, "--batch-sizes", str(batch), "--sequence-lengths", str(seq),
             "--no-memory", "--threads", str(threads), "--warmup", str(warmup), "--runs", str(runs),
             "--export-json", out],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        with open(out) as f:
            export = json.load(f)
    row, = export["rows"]
    if row["status"] != "ok":
        raise RuntimeError(f"{name} {batch}x{seq}: {row.get('reason')}")
    return row["speed"]["stats"]["median"]


DEFAULT_GENERATE_MODELS = ["openai-community/gpt2", "HuggingFaceTB/SmolLM2-135M", "Qwen/Qwen3-0.6B"]


def embedded_config(model_id):
    path = os.path.join(os.path.dirname(__file__), "..", "configs", model_id.replace("/", "--") + ".json")
    with open(path) as f:
        return json.load(f)


class Clock(transformers.LogitsProcessor):
    """Reads the clock each time a step's logits exist (once per new token)."""

    def __init__(self):
        self.readings = []

    def __call__(self, input_ids, scores):
        self.readings.append(time.perf_counter())
        return scores


def generate_transformers(model_id, batch, prompt, new_tokens, warmup, runs, cache):
    """Median TTFT and TPOT of `runs` greedy requests after `warmup`, in seconds."""
    torch.manual_seed(0)
    values = embedded_config(model_id)
    config = transformers.AutoConfig.for_model(**values)
    config._attn_implementation = "sdpa"
    # from_config would take the config's torch_dtype (bfloat16 for SmolLM2 and Qwen3): fp32,
    # as run-benchmark's side.
    model = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.float32).eval()
    assert all(p.dtype == torch.float32 for p in model.parameters()), model_id
    input_ids = torch.randint(config.vocab_size, (batch, prompt))
    ttft, tpot = [], []
    with torch.no_grad():
        for i in range(warmup + runs):
            clock = Clock()
            start = time.perf_counter()
            model.generate(
                input_ids, attention_mask=torch.ones_like(input_ids), do_sample=False,
                max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                eos_token_id=None, pad_token_id=0, cache_implementation=cache,
                logits_processor=transformers.LogitsProcessorList([clock]),
            )
            if i >= warmup:
                r = clock.readings
                assert len(r) == new_tokens, len(r)
                ttft.append(r[0] - start)
                tpot.append((r[-1] - r[0]) / (new_tokens - 1))
    return statistics.median(ttft), statistics.median(tpot)


def generate_ours(binary, model_id, batch, prompt, new_tokens, threads, warmup, runs):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.json")
        subprocess.run(
            [binary, "--models", model_id, "--batch-sizes", str(batch), "--sequence-lengths",
             str(prompt), "--generate", str(new_tokens), "--no-inference", "--no-memory",
             "--threads", str(threads), "--warmup", str(warmup), "--runs", str(runs),
             "--export-json", out],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        with open(out) as f:
            export = json.load(f)
    (_, result), = export["rows"]
    if result["status"] != "speed":
        raise RuntimeError(f"{model_id}: {result}")
    g = result["generation"]
    return g["ttft"]["median"], g["tpot"]["median"]


def load_average():
    """The 1-minute load average, as `uptime` shows it."""
    return os.getloadavg()[0]


def compare_generation(args):
    header = ("| model | batch | prompt | N | TTFT transformers (dynamic / static) ms | TTFT ours ms "
              "| TTFT ours / best theirs | TPOT transformers (dynamic / static) ms | TPOT ours ms "
              "| TPOT ours / best theirs | load average (before / after) |")
    rule = "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    print(header)
    print(rule)
    rows = []
    n = args.generate
    started = time.strftime("%Y-%m-%d %H:%M %Z")
    for model_id in args.generate_models:
        for batch in args.batch_sizes:
            for prompt in args.sequence_lengths:
                load_before = load_average()
                got = {"dynamic": [], "static": [], "ours": []}
                for round_ in range(args.rounds):
                    sides = [
                        lambda: got["dynamic"].append(generate_transformers(
                            model_id, batch, prompt, n, args.warmup, args.runs, "dynamic")),
                        lambda: got["static"].append(generate_transformers(
                            model_id, batch, prompt, n, args.warmup, args.runs, "static")),
                        lambda: got["ours"].append(generate_ours(
                            args.binary, model_id, batch, prompt, n, args.threads, args.warmup,
                            args.runs)),
                    ]
                    for side in sides if round_ % 2 == 0 else reversed(sides):
                        side()
                med = {k: (statistics.median(a for a, _ in v), statistics.median(b for _, b in v))
                       for k, v in got.items()}
                best_ttft = min(med["dynamic"][0], med["static"][0])
                best_tpot = min(med["dynamic"][1], med["static"][1])
                ms = lambda x: f"{1e3 * x:.1f}"
                row = (f"| {model_id} | {batch} | {prompt} | {n} "
                       f"| {ms(med['dynamic'][0])} / {ms(med['static'][0])} | {ms(med['ours'][0])} "
                       f"| {med['ours'][0] / best_ttft:.2f} "
                       f"| {ms(med['dynamic'][1])} / {ms(med['static'][1])} | {ms(med['ours'][1])} "
                       f"| {med['ours'][1] / best_tpot:.2f} "
                       f"| {load_before:.1f} / {load_average():.1f} |")
                print(row, flush=True)
                rows.append(row)
    if args.out_generation:
        cpu = subprocess.run(["sh", "-c", "lscpu | grep 'Model name'"], capture_output=True,
                             text=True).stdout.split(":", 1)[-1].strip()
        with open(args.out_generation, "w") as f:
            f.write(
                f"Measured {started} to {time.strftime('%H:%M %Z')} by "
                f"`scripts/compare_transformers.py --generate {n}` on {cpu or platform.machine()}, "
                f"{os.cpu_count()} CPUs, {args.threads} intra-op threads, fp32, random weights, "
                f"transformers {transformers.__version__} (`AutoModelForCausalLM`, SDPA attention, "
                f"`cache_implementation` dynamic and static), torch {torch.__version__}. Each side: "
                f"the median of {args.runs} requests after {args.warmup} warm-up, in "
                f"{args.rounds} rounds alternating the order, median over rounds; a ratio below 1 "
                f"means run-benchmark is faster.\n\n"
                + header + "\n" + rule + "\n" + "\n".join(rows) + "\n"
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default="target/release/run-benchmark")
    parser.add_argument("--models", nargs="+", default=DEFAULT_MODELS)
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[8])
    parser.add_argument("--sequence-lengths", nargs="+", type=int, default=[8, 32, 128, 512])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", help="also write the table as Markdown to this file")
    parser.add_argument("--generate", type=int, metavar="N",
                        help="compare greedy generation of N new tokens instead")
    parser.add_argument("--generate-models", nargs="+", default=DEFAULT_GENERATE_MODELS)
    parser.add_argument("--out-generation", help="write the generation table to this file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.generate:
        return compare_generation(args)

    rows = []
    header = "| model | batch | seq | transformers s | run-benchmark s | ratio (ours / theirs) |"
    print(header)
    print("|---|---:|---:|---:|---:|---:|")
    for spec in args.models:
        name, overrides = parse_model(spec)
        for batch in args.batch_sizes:
            for seq in args.sequence_lengths:
                theirs_rounds, ours_rounds = [], []
                for round_ in range(args.rounds):
                    sides = [
                        lambda: theirs_rounds.append(
                            time_transformers(overrides, batch, seq, args.warmup, args.runs)),
                        lambda: ours_rounds.append(
                            time_ours(args.binary, name, overrides, batch, seq, args.threads,
                                      args.warmup, args.runs)),
                    ]
                    for side in sides if round_ % 2 == 0 else reversed(sides):
                        side()
                theirs = statistics.median(theirs_rounds)
                ours = statistics.median(ours_rounds)
                row = f"| {name} | {batch} | {seq} | {theirs:.4f} | {ours:.4f} | {ours / theirs:.3f} |"
                print(row, flush=True)
                rows.append(row)

    if args.out:
        with open(args.out, "w") as f:
            f.write(
                f"# Forward pass: run-benchmark against transformers\n\n"
                f"Measured {time.strftime('%Y-%m-%d')} by `scripts/compare_transformers.py` on "
                f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
                f"{args.threads} intra-op threads, fp32, transformers {transformers.__version__} "
                f"(eager `BertModel`, SDPA attention), torch {torch.__version__}. Each side: the "
                f"median of {args.runs} calls after {args.warmup} warm-up calls, in {args.rounds} "
                f"rounds alternating which side goes first, median over rounds; a ratio below 1 "
                f"means run-benchmark's forward pass is faster.\n\n"
                + header + "\n|---|---:|---:|---:|---:|---:|\n" + "\n".join(rows) + "\n"
            )


if __name__ == "__main__":
    sys.exit(main())
