# Two commands do everything on a fresh machine: `make bench` and `make test`.
# Each creates .venv with the pinned tools first if it is missing or stale.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: bench bench-openblas bench-freethreaded quick full publish compare test clean

$(STAMP): requirements/tools.txt pyproject.toml
	@echo "[make] creating $(VENV) with the pinned tools"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements/tools.txt -e .
	@touch $(STAMP)

## the benchmarks over the whole numpy matrix, then the site
bench: $(STAMP)
	$(BIN)/npthreads bench --profile default

## the OpenBLAS axis: numpy 2.4.6 with each OpenBLAS build swapped in, and its own wheel
bench-openblas: $(STAMP)
	$(BIN)/npthreads bench --profile default --axis openblas

## the free-threaded axis: numpy 2.1.3-2.4.6 on CPython 3.13t, the GIL off and on;
## finds python3.13t (PATH, pyenv, the cache) or builds it once (~3 min, Debian/apt)
bench-freethreaded: $(STAMP)
	$(BIN)/npthreads bench --profile default --axis freethreaded

## a smoke run: tiny grid, two environments, results under .asv/quick
quick: $(STAMP)
	$(BIN)/npthreads bench --profile quick

## adds the tutorial's own sizes (gigabytes; skipped where memory is short)
full: $(STAMP)
	$(BIN)/npthreads bench --profile full

publish: $(STAMP)
	$(BIN)/npthreads publish

## every test, the real-asv and browser ones included
test: $(STAMP)
	sh tools/install-browser.sh
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .asv

## compare two environments or commits, e.g. ARGS="--from numpy==2.3.5 --to numpy==2.4.6"
compare: $(STAMP)
	$(BIN)/npthreads compare $(ARGS)

## the tutorial's S1-S7 re-measured on this machine, with verdicts (a few minutes)
.PHONY: seed advise
seed: $(STAMP)
	$(BIN)/npthreads seed $(ARGS)

## Python threads x BLAS threads advice, measured now (under a minute), e.g. ARGS="--workload dot"
advise: $(STAMP)
	$(BIN)/npthreads advise $(ARGS)
