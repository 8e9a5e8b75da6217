#!/usr/bin/env python3
"""Writes <fixture>/facts.json beside each parity fixture's config.json: transformers'
`num_parameters()` of the module `architectures[0]` names, built on the meta device (no
weights are read or written, so the fixtures' own files are untouched).

Usage: python scripts/parity_facts.py tests/fixtures/parity
(needs transformers, as `make fixtures`; tests/parameter_counts.rs reads the files.)
"""

import json
import os
import sys

import torch
import transformers


def main(root):
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name, "config.json")
        if not os.path.isfile(path):
            continue
        with open(path) as f:
            config_json = json.load(f)
        architectures = config_json.get("architectures") or []
        if not architectures or not hasattr(transformers, architectures[0]):
            print(f"{name}: skipped (no transformers class for {architectures})")
            continue
        config = transformers.AutoConfig.for_model(**config_json)
        with torch.device("meta"):
            model = getattr(transformers, architectures[0])(config)
        facts = {
            "transformers_version": transformers.__version__,
            "architecture": architectures[0],
            "num_parameters": model.num_parameters(),
        }
        with open(os.path.join(root, name, "facts.json"), "w") as f:
            json.dump(facts, f, indent=2)
            f.write("\n")
        print(f"{name}: {architectures[0]} {facts['num_parameters']}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/parity")
