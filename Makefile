# run-benchmark: set-up, build, benchmark, test.
# `make bench` and `make test` are all a fresh machine needs: they install libtorch from the
# PyPI wheel torch==$(TORCH_VERSION) into a project-local virtual environment on first use.

TORCH_VERSION ?= 2.13.0
# transformers is only needed to regenerate parity fixtures (`make fixtures`), never for tests.
TRANSFORMERS_VERSION ?= 4.57.1
PYTHON ?= python3
VENV := .venv
# A stable link to the wheel's torch folder; .cargo/config.toml points LIBTORCH here.
LIBTORCH_LINK := libtorch
STAMP := $(VENV)/.torch-$(TORCH_VERSION)
CARGO ?= cargo
BIN := target/release/run-benchmark

.PHONY: all setup build bench test fixtures lint generated clean-venv

all: build

setup: $(STAMP)

$(STAMP):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check --progress-bar off torch==$(TORCH_VERSION)
	ln -sfn "$$($(VENV)/bin/python -c 'import os, torch; print(os.path.dirname(torch.__file__))')" $(LIBTORCH_LINK)
	touch $@

build: setup
	$(CARGO) build --release

# The seed's headline job on the embedded bert-base-uncased config: no network, no weights.
bench: build
	$(BIN) --models bert-base-uncased

# Everything runs in the release profile, so torch-sys is compiled once for both targets.
test: setup
	$(CARGO) test --release --no-fail-fast

# Shell completions and the man page, from the clap definition; tests/generated.rs checks
# that the committed copies are current.
generated: build
	mkdir -p completions docs
	$(BIN) completions bash > completions/run-benchmark.bash
	$(BIN) completions zsh > completions/_run-benchmark
	$(BIN) completions fish > completions/run-benchmark.fish
	$(BIN) completions powershell > completions/_run-benchmark.ps1
	$(BIN) completions elvish > completions/run-benchmark.elv
	$(BIN) man > docs/run-benchmark.1
	$(BIN) man plot > docs/run-benchmark-plot.1
	$(BIN) man compare > docs/run-benchmark-compare.1
	$(BIN) man merge > docs/run-benchmark-merge.1
	$(BIN) man history > docs/run-benchmark-history.1
	$(BIN) schema > docs/export-schema.json

lint: setup
	$(CARGO) fmt --check
	$(CARGO) clippy --release --all-targets -- -D warnings

# Regenerates tests/fixtures/parity with transformers itself (needs PyPI, not the Hub).
fixtures: setup
	$(VENV)/bin/pip install --disable-pip-version-check --progress-bar off transformers==$(TRANSFORMERS_VERSION) safetensors
	$(VENV)/bin/python scripts/parity_oracle.py tests/fixtures/parity

clean-venv:
	rm -rf $(VENV) $(LIBTORCH_LINK)
