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
# The scale-out tests' tools: kubernetes-validate (tests/kubernetes.rs) in a venv of its own.
KUBERNETES_VALIDATE_VERSION ?= 1.37.0
TOOLS_VENV := .venv-tools
TOOLS_STAMP := $(TOOLS_VENV)/.kubernetes-validate-$(KUBERNETES_VALIDATE_VERSION)
# TensorFlow's C API for the graph child (crates/graph-child): two files of the PyPI wheel,
# never needed to build, only to run TensorFlow cells.
TENSORFLOW_VERSION ?= 2.21.0
TENSORFLOW_DIR := .frameworks/tensorflow-$(TENSORFLOW_VERSION)
TENSORFLOW_STAMP := $(TENSORFLOW_DIR)/.complete

.PHONY: all setup build bench test scale-out-deps fixtures lint generated clean-venv tensorflow onnxruntime onnxruntime-python tensorflow-python

all: build

setup: $(STAMP)

$(STAMP):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check --progress-bar off torch==$(TORCH_VERSION)
	ln -sfn "$$($(VENV)/bin/python -c 'import os, torch; print(os.path.dirname(torch.__file__))')" $(LIBTORCH_LINK)
	touch $@

build: setup
	$(CARGO) build --release --workspace

# The seed's headline job on the embedded bert-base-uncased config: no network, no weights.
bench: build
	$(BIN) --models bert-base-uncased

# Slurm and munge for tests/slurm.rs (apt-get, as root), kubernetes-validate for
# tests/kubernetes.rs; each test skips with one line where its tool is missing.
scale-out-deps: $(TOOLS_STAMP)
	scripts/scale_out_deps.sh

$(TOOLS_STAMP):
	$(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/pip install --disable-pip-version-check --progress-bar off kubernetes-validate==$(KUBERNETES_VALIDATE_VERSION)
	touch $@

# Only libtensorflow_cc.so.2 (the C API) and libtensorflow_framework.so.2 (found beside it
# through its $$ORIGIN runpath) are kept; the wheel stays in .frameworks/cache for a rerun.
tensorflow: $(TENSORFLOW_STAMP)

$(TENSORFLOW_STAMP): $(STAMP)
	mkdir -p .frameworks/cache $(TENSORFLOW_DIR)
	$(VENV)/bin/pip download --disable-pip-version-check --progress-bar off --no-deps \
		--only-binary=:all: --dest .frameworks/cache tensorflow-cpu==$(TENSORFLOW_VERSION)
	$(VENV)/bin/python scripts/extract_tensorflow.py \
		.frameworks/cache/tensorflow_cpu-$(TENSORFLOW_VERSION)-*.whl $(TENSORFLOW_DIR)
	touch $@

# Python's TensorFlow for scripts/tensorflow_vs_python.py (our session call against Python's
# tf.function on the same exported graph): the same wheel as `make tensorflow` (reused from
# .frameworks/cache when that target ran first) in a venv of its own. Not needed by `make test`.
TF_VENV := .venv-tensorflow
tensorflow-python: $(TF_VENV)/.tensorflow-$(TENSORFLOW_VERSION)

$(TF_VENV)/.tensorflow-$(TENSORFLOW_VERSION):
	$(PYTHON) -m venv $(TF_VENV)
	$(TF_VENV)/bin/pip install --disable-pip-version-check --progress-bar off \
		--find-links .frameworks/cache tensorflow-cpu==$(TENSORFLOW_VERSION) numpy
	touch $@

# ONNX Runtime's CPU library from the PyPI wheel, loaded at run time by run-benchmark-graph (the ort
# crate's load-dynamic: building never needs it, nothing downloads at build time). Only the one file
# is kept; an installed binary finds it through RUN_BENCHMARK_ONNXRUNTIME instead.
ORT_VERSION ?= 1.31.1
ORT_LIB := .frameworks/onnxruntime-$(ORT_VERSION)/libonnxruntime.so.$(ORT_VERSION)

onnxruntime: $(ORT_LIB)

$(ORT_LIB): $(STAMP)
	$(VENV)/bin/pip download --disable-pip-version-check --progress-bar off --no-deps --only-binary=:all: \
		--dest .frameworks/cache onnxruntime==$(ORT_VERSION)
	mkdir -p $(@D)
	$(VENV)/bin/python -c 'import glob, shutil, sys, zipfile; \
		whl = zipfile.ZipFile(glob.glob(".frameworks/cache/onnxruntime-$(ORT_VERSION)-*.whl")[0]); \
		src = whl.open("onnxruntime/capi/libonnxruntime.so.$(ORT_VERSION)"); \
		shutil.copyfileobj(src, open(sys.argv[1] + ".part", "wb"))' $@
	mv $@.part $@

# Python's own onnxruntime (same wheel) for scripts/onnxruntime_vs_python.py only; tests never need it.
ORT_VENV := .venv-onnxruntime
onnxruntime-python: $(ORT_VENV)/.onnxruntime-$(ORT_VERSION)

$(ORT_VENV)/.onnxruntime-$(ORT_VERSION):
	$(PYTHON) -m venv $(ORT_VENV)
	$(ORT_VENV)/bin/pip install --disable-pip-version-check --progress-bar off onnxruntime==$(ORT_VERSION) numpy
	touch $@

# Everything runs in the release profile, so torch-sys is compiled once for both targets.
# The workspace's graph child needs TensorFlow's and ONNX Runtime's libraries to test its backend.
test: setup scale-out-deps tensorflow onnxruntime
	$(CARGO) build --release --workspace
	$(CARGO) test --release --workspace --no-fail-fast

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
	$(CARGO) fmt --all --check
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings

# Regenerates tests/fixtures/parity with transformers itself (needs PyPI, not the Hub).
fixtures: setup
	$(VENV)/bin/pip install --disable-pip-version-check --progress-bar off transformers==$(TRANSFORMERS_VERSION) safetensors
	$(VENV)/bin/python scripts/parity_oracle.py tests/fixtures/parity
	$(VENV)/bin/python scripts/parity_facts.py tests/fixtures/parity

clean-venv:
	rm -rf $(VENV) $(LIBTORCH_LINK) $(TOOLS_VENV)
