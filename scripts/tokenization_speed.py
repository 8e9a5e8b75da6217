#!/usr/bin/env python3
"""Tokenization speed and padding share, as `run-benchmark --input-text` measures them.

Writes a corpus (2000 passages of 5 to 200 words, seeded), trains a WordPiece (BERT's
pipeline, vocabulary 8000) and a byte-level BPE (GPT-2's, vocabulary 8000) on it with the
`tokenizers` library, then runs run-benchmark on tiny BERT and GPT-2 configs (hidden 32) with
that text, batch 8, sequences 32 and 128, and prints the tokenization section and the padding
notes from the JSON export: encode rates each passage alone and in batches of 8, the crate's
parallelism off and on, measured in one run (compare the ratios, not the absolute figures).

Usage: .venv/bin/python scripts/tokenization_speed.py [--bin target/release/run-benchmark]
(needs the PyPI package `tokenizers`, which the venv of `make fixtures` has; no Hub).
"""

import argparse
import json
import os
import random
import subprocess
import tempfile

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from tokenizers import trainers

WORDS = (
    "the of and to in a is that for it as was with be by on not he this are or his from at "
    "which but have an they you were her she there been one all we their has would when if "
    "model benchmark memory speed token sequence batch attention encoder decoder training "
    "inference latency throughput padding language transformer layer hidden vocabulary "
    "Paris Tokyo données café naïve über 2024 3.14 e-mail state-of-the-art, (see above); "
).split()


def corpus(path, passages=2000, seed=0):
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(passages):
            n = rng.randint(5, 200)
            f.write(" ".join(rng.choice(WORDS) for _ in range(n)) + ".\n")


def wordpiece(text, out):
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer()
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.train([text], trainers.WordPieceTrainer(
        vocab_size=8000, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
        show_progress=False))
    tok.post_processor = processors.BertProcessing(
        ("[SEP]", tok.token_to_id("[SEP]")), ("[CLS]", tok.token_to_id("[CLS]")))
    tok.save(out)


def bpe(text, out):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train([text], trainers.BpeTrainer(
        vocab_size=8000, special_tokens=["<|endoftext|>"], show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.save(out)


def model_folder(root, name, config):
    folder = os.path.join(root, name)
    os.makedirs(folder)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f)
    return folder


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", default="target/release/run-benchmark")
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="tokenization-speed-")
    text = os.path.join(root, "corpus.txt")
    corpus(text)
    bert = model_folder(root, "tiny-bert", {
        "model_type": "bert", "architectures": ["BertModel"], "vocab_size": 8000,
        "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
        "intermediate_size": 64, "max_position_embeddings": 512})
    wordpiece(text, os.path.join(bert, "tokenizer.json"))
    gpt2 = model_folder(root, "tiny-gpt2", {
        "model_type": "gpt2", "architectures": ["GPT2Model"], "vocab_size": 8000,
        "n_embd": 32, "n_layer": 2, "n_head": 4, "n_positions": 512})
    bpe(text, os.path.join(gpt2, "tokenizer.json"))
    export = os.path.join(root, "out.json")
    subprocess.run([
        args.bin, "--models", f"bert={bert}", f"gpt2={gpt2}", "--input-text", text,
        "--batch-sizes", "8", "--sequence-lengths", "32", "128", "--no-memory",
        "--min-time", "2", "--export-json", export, "--quiet"], check=True,
        stdout=subprocess.DEVNULL)
    with open(export) as f:
        sweep = json.load(f)
    print("| tokenizer | encode | parallelism | threads | passages | tokens | median s/call "
          "| passages/s | tokens/s | IQR/median |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for cell, result in sweep["tokenization"]:
        encode = "single" if cell["batch_size"] is None else f"batch {cell['batch_size']}"
        parallel = "on" if cell["parallel"] else "off"
        if result["status"] != "speed":
            print(f"| {cell['model']} | {encode} | {parallel} | N/A: {result['reason']} |")
            continue
        s = result["speed"]["seconds"]
        stats = result["speed"]["stats"]
        iqr = stats["iqr"] / stats["median"]
        print(f"| {cell['model']} | {encode} | {parallel} | {result['threads']} | "
              f"{cell['passages']} | {result['tokens']} | {s:.5f} | {cell['passages'] / s:.0f} "
              f"| {result['tokens'] / s:.0f} | {iqr:.2f} |")
    print()
    seen = set()
    for cell, _ in sweep["rows"]:
        key = (cell["model"], cell["batch_size"], cell["sequence_length"])
        if key in seen:
            continue
        seen.add(key)
        inputs = cell["inputs"]
        total = cell["batch_size"] * cell["sequence_length"]
        print(f"- {key[0]} batch {key[1]} sequence {key[2]}: {inputs['padding_tokens']} of "
              f"{total} tokens padding ({100 * inputs['padding_tokens'] / total:.1f}%), "
              f"{inputs['truncated_rows']} of {key[1]} rows truncated")


if __name__ == "__main__":
    main()
