# Every target sets itself up: a fresh clone needs only Python 3.11+ and these commands.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch 2.13 is what these machines install offline; a user with a
# GPU may set TORCH='torch==2.14.1' (any 2.4 <= version < 2.15 works).
TORCH ?= torch==2.13.0
OPTIMIZERS ?= sgd,momentum,adagrad,adamomentum
RUNS ?= outputs/multirun
ARGS ?=

.PHONY: help venv test test-all bench bench-optim reproduce-ptb reproduce-ner report tensorboard clean

help:
	@echo "make test            install into $(VENV) and run the test suite"
	@echo "make reproduce-ptb   Penn Treebank, Table 1 and Figure 1 (OPTIMIZERS=$(OPTIMIZERS))"
	@echo "make reproduce-ner   Chinese NER, Figure 2 (needs OntoNotes; see README)"
	@echo "make report          rebuild results/ tables and figures from run directories (RUNS=...)"
	@echo "make bench-optim     time one optimizer step on the PTB model's parameters"
	@echo "make bench           trainer throughput against a bare PyTorch loop"
	@echo "make tensorboard     serve the run directories under outputs/"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed; run make with PYTHON=python3.11 (or newer)")'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

venv: $(VENV)/.installed

test: venv
	$(BIN)/python -m pytest -q $(ARGS)

bench-optim: venv
	$(BIN)/python scripts/bench_optim.py $(ARGS)

bench: venv
	$(BIN)/python scripts/bench_train.py $(ARGS)

reproduce-ptb: venv
	$(BIN)/python -m adamomentum.train --multirun task=ptb optimizer=$(OPTIMIZERS) \
		hydra.sweep.dir=outputs/reproduce-ptb progress=false $(ARGS)
	$(BIN)/python -m adamomentum.report --task ptb --out results/ptb outputs/reproduce-ptb

reproduce-ner: venv
	$(BIN)/python -m adamomentum.train --multirun task=ner optimizer=$(OPTIMIZERS) \
		hydra.sweep.dir=outputs/reproduce-ner progress=false $(ARGS)
	$(BIN)/python -m adamomentum.report --task ner --out results/ner outputs/reproduce-ner

report: venv
	$(BIN)/python -m adamomentum.report --out results/report $(RUNS)

tensorboard: venv
	$(BIN)/tensorboard --logdir outputs --bind_all

clean:
	rm -rf $(VENV) .pytest_cache
