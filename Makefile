# Every target sets itself up: a fresh clone needs only Python 3.11+ and these commands. `make help` lists the
# targets and variables from their `##` comments.
## PYTHON: the Python 3.11+ that makes the virtual environment
PYTHON ?= python3
## VENV: the virtual environment's folder
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch 2.13 is what these machines install offline; a user with a
# GPU may set TORCH='torch==2.14.1'.
## TORCH: the torch requirement installed (any 2.4 <= version < 2.15)
TORCH ?= torch==2.13.0

## PTB_DIR: the Penn Treebank folder, ptb.{train,valid,test}.txt (downloaded there when missing)
PTB_DIR ?= data/ptb
## MSRA_DIR: the MSRA NER folder, msra_train.txt and msra_test.txt (the stand-in for OntoNotes)
MSRA_DIR ?= data/msra
## ARGS: more overrides for every run (python -m adamomentum.train ...), or options for pytest and the benches
ARGS ?=
## OPTIMIZERS: reproduce-ptb and reproduce-ner train these, comma-separated
OPTIMIZERS ?= sgd,momentum,adagrad,adamomentum
## RESULTS_OVERWRITE: 1 lets a report target rewrite a committed results folder
RESULTS_OVERWRITE ?= 0
# The Penn Treebank config reads its folder from the environment (conf/data/ptb.yaml:
# ${oc.env:PTB_DIR,data/ptb}), so the targets, the tests and a plain `python -m adamomentum.train` share one
# name for it; the NER targets, the benches and the tests read MSRA_DIR.
export PTB_DIR MSRA_DIR
# The corpus tests skip only where their variable is unset: a default folder that does not hold its corpus (a
# fresh clone has neither) reaches them unset, so that they skip with the reason instead of failing.
unset_if_missing = $(if $(filter file,$(origin $(1))),$(if $(wildcard $($(1))/$(2)),,-u $(1)))
TEST_ENV = env $(call unset_if_missing,PTB_DIR,ptb.train.txt) $(call unset_if_missing,MSRA_DIR,msra_train.txt)

## PTB_SWEEP: reproduce-ptb's run folders
PTB_SWEEP ?= outputs/reproduce-ptb
## PTB_OUT: reproduce-ptb's report
PTB_OUT ?= outputs/report-ptb
## NER_SWEEP: reproduce-ner's run folders
NER_SWEEP ?= outputs/reproduce-ner
## NER_OUT: reproduce-ner's report
NER_OUT ?= outputs/report-ner

.PHONY: help venv test lint bench bench-optim reproduce-ptb reproduce-ner reproduce-ner-msra report refuse-committed \
	tensorboard clean campaign campaign-status study reproduce-ptb-verdict reproduce-ner-verdict study-ptb-seeds \
	study-ptb-lr-sweep study-ptb-data-scale study-ner-seeds

help: ## this list
	@echo "Targets:"
	@awk -F':.*## ' '/^[a-z][a-z0-9-]*:.*## / {printf "  make %-24s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "Variables (make TARGET NAME=value):"
	@awk '/^## [A-Z_]+: / {sub(/^## /, ""); name = $$0; sub(/:.*/, "", name); sub(/^[A-Z_]+: /, ""); \
		printf "  %-20s %s\n", name, $$0}' $(MAKEFILE_LIST)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else \
		"Python 3.11+ is needed; run make with PYTHON=python3.11 (or newer)")'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[experiments,test,cluster,lint]"
	touch $@

venv: $(VENV)/.installed ## install everything into .venv (every target does it first)

test: venv ## install and run the test suite (the corpus tests run where PTB_DIR and MSRA_DIR hold the corpora)
	$(TEST_ENV) $(BIN)/python -m pytest -q $(ARGS)

lint: venv ## ruff (lint, and the format check) and mypy, as CI runs them
	$(BIN)/ruff check src tests scripts
	$(BIN)/ruff format --check src tests scripts
	$(BIN)/mypy

# The SLURM path of docs/cluster.md on a one-node cluster this machine starts and stops (scripts/slurm_local.sh:
# root, Debian's slurm-wlm and munge, installed where missing); skipped with the reason where it cannot start.
# About 6 minutes. The cluster is stopped however pytest ends; on failure its logs stay in the folder named.
.PHONY: test-slurm
test-slurm: venv ## the SLURM tests: sweep, time-out, preemption on a local one-node cluster (root)
	@dir=$$(mktemp -d /tmp/adamomentum-slurm.XXXXXX); \
	trap 'status=$$?; scripts/slurm_local.sh stop "$$dir" 2>/dev/null || status=1; \
		if [ $$status = 0 ]; then rm -rf "$$dir"; else echo "the test cluster: $$dir (logs in log/)" >&2; fi; \
		exit $$status' EXIT; \
	trap 'exit 130' INT TERM; \
	ADAMOMENTUM_TEST_SLURM=$$dir $(BIN)/python -m pytest -q tests/test_slurm.py $(ARGS)

bench-optim: venv ## time one optimizer step of each path on the PTB model's parameters
	$(BIN)/python scripts/bench_optim.py $(ARGS)

bench: venv ## the speed targets: trainer vs a plain loop, memory, bf16 vs float32, subnormals, NER
	$(BIN)/python scripts/bench_train.py --data-dir $(PTB_DIR) --msra-dir $(MSRA_DIR) $(ARGS)

# On a GPU the optimizers train concurrently, one process each: a batch-20 2x256 LSTM fills a
# small part of it. PARALLEL=1 forces that, PARALLEL=0 runs them one after another.
## PARALLEL: reproduce-ptb trains its optimizers side by side (1), in turn (0), or side by side on a GPU only (auto)
PARALLEL ?= auto
reproduce-ptb: venv ## Penn Treebank, Table 1 and Figure 1, into PTB_SWEEP; report into PTB_OUT
	@$(MAKE) --no-print-directory refuse-committed OUT=$(PTB_OUT) VARIABLE=PTB_OUT
	@if [ "$(PARALLEL)" = 1 ] || { [ "$(PARALLEL)" = auto ] && \
		$(BIN)/python -c 'import sys, torch; sys.exit(not torch.cuda.is_available())'; }; then \
		pids=""; \
		for opt in $$(echo "$(OPTIMIZERS)" | tr , ' '); do \
			$(BIN)/python -m adamomentum.train --multirun task=ptb optimizer=$$opt \
				hydra.sweep.dir=$(PTB_SWEEP) progress=false $(ARGS) & pids="$$pids $$!"; \
		done; \
		status=0; for pid in $$pids; do wait $$pid || status=1; done; exit $$status; \
	else \
		$(BIN)/python -m adamomentum.train --multirun task=ptb optimizer=$(OPTIMIZERS) \
			hydra.sweep.dir=$(PTB_SWEEP) progress=false $(ARGS); \
	fi
	$(BIN)/python -m adamomentum.report --task ptb --out $(PTB_OUT) $(PTB_SWEEP)

reproduce-ner: venv ## Chinese NER, Figure 2, on OntoNotes (licensed; see docs/experiments.md); report into NER_OUT
	@$(MAKE) --no-print-directory refuse-committed OUT=$(NER_OUT) VARIABLE=NER_OUT
	$(BIN)/python -m adamomentum.train --multirun task=ner optimizer=$(OPTIMIZERS) \
		hydra.sweep.dir=$(NER_SWEEP) progress=false $(ARGS)
	$(BIN)/python -m adamomentum.report --task ner --out $(NER_OUT) $(NER_SWEEP)

# The stand-in for OntoNotes: MSRA (column files), train capped at the paper's 14,700 sentences, on the
# per-token mean loss of the committed results/ner-msra (the NER verdict below uses the language model's).
# NER_MSRA_OUT=results/ner-msra RESULTS_OVERWRITE=1 rewrites the committed folder.
## NER_MSRA_OUT: reproduce-ner-msra's report
NER_MSRA_OUT ?= outputs/report-ner-msra
reproduce-ner-msra: ## the NER stand-in on MSRA_DIR (per-token mean loss, as results/ner-msra); report into NER_MSRA_OUT
	@$(MAKE) --no-print-directory refuse-committed OUT=$(NER_MSRA_OUT) VARIABLE=NER_MSRA_OUT
	$(MAKE) reproduce-ner NER_SWEEP=outputs/reproduce-ner-msra NER_OUT=$(NER_MSRA_OUT) \
		ARGS="data.source=columns data.data_dir=$(MSRA_DIR) data.max_train_sentences=14700 task.loss_reduction=mean $(ARGS)"

# A verdict: $(1) the experiment (conf/experiment/$(1).yaml), $(2) runs at a time, $(3) the corpus, $(4) the
# variable naming the report folder. Relaunching skips finished runs and resumes the others; the report
# leaves out the runs still training.
define verdict
	@$(MAKE) --no-print-directory refuse-committed OUT=$($(4)) VARIABLE=$(4)
	$(BIN)/python -m adamomentum.train experiment=$(1) scale=$(SCALE) hydra/launcher=joblib hydra.launcher.n_jobs=$(2) \
		data.data_dir=$(3) progress=false $(ARGS)
	$(BIN)/python -m adamomentum.report --finished --out $($(4)) outputs/study/$(1)-$(SCALE)
endef

# The Penn Treebank verdict (issue #13): 19 full runs, JOBS at a time, each with cores / JOBS threads.
## JOBS: reproduce-ptb-verdict's runs at a time
JOBS ?= 2
## PTB_VERDICT_OUT: reproduce-ptb-verdict's report
PTB_VERDICT_OUT ?= outputs/report-ptb-verdict
reproduce-ptb-verdict: venv ## the Penn Treebank verdict: 19 runs over seeds and accumulator starts (JOBS at a time)
	$(call verdict,ptb_verdict,$(JOBS),$(PTB_DIR),PTB_VERDICT_OUT)

# The NER verdict on the MSRA stand-in (issue #16): 18 runs of 30 epochs, NER_JOBS at a time (each with
# cores / NER_JOBS threads).
## NER_JOBS: reproduce-ner-verdict's runs at a time
NER_JOBS ?= 1
## NER_VERDICT_OUT: reproduce-ner-verdict's report
NER_VERDICT_OUT ?= outputs/report-ner-verdict
reproduce-ner-verdict: venv ## the NER verdict on the MSRA stand-in: 18 runs (NER_JOBS at a time)
	$(call verdict,ner_verdict,$(NER_JOBS),$(MSRA_DIR),NER_VERDICT_OUT)

# Issue 34's campaign: the abstract's claims and a fair comparison, one experiment config per section, in
# the issue's order. LANES processes (one thread each on a CPU) work through the list side by side: each
# trains the runs no other lane holds (a lock in each run directory), so no lane waits at a section's end.
# Relaunching skips finished runs and resumes unfinished ones from their checkpoints.
# ptb_bf16 runs only on a CPU with bf16 instructions (elsewhere training refuses bf16, and the lanes skip it).
## CAMPAIGN: the campaign's experiment configs, in order
CAMPAIGN ?= ptb_same_schedule ptb_more_seeds ptb_bf16 ptb_data_scale_claim ptb_lr_tuning ptb_adam
## LANES: the campaign's processes side by side
LANES ?= 2
HAS_BF16 = $(BIN)/python -c 'import sys, torch; from adamomentum.process import bf16_refusal; \
	sys.exit(bf16_refusal(torch.device("cpu")) is not None)'
## CAMPAIGN_OUT: the campaign's report, with the verdict's runs (make reproduce-ptb-verdict) that its claims need
CAMPAIGN_OUT ?= outputs/report-campaign
campaign: venv ## issue 34: same schedule, seeds, bf16, data scale, lr tuning, Adam (LANES at a time), into CAMPAIGN_OUT
	@$(MAKE) --no-print-directory refuse-committed OUT=$(CAMPAIGN_OUT) VARIABLE=CAMPAIGN_OUT
	@pids=""; for lane in $$(seq $(LANES)); do \
		( for experiment in $(CAMPAIGN); do \
			if [ $$experiment = ptb_bf16 ] && ! $(HAS_BF16); then \
				echo "lane $$lane: ptb_bf16 skipped, this CPU has no bf16 instructions"; continue; \
			fi; \
			$(BIN)/python -m adamomentum.train experiment=$$experiment data.data_dir=$(PTB_DIR) threads=1 \
				progress=false $(ARGS) || exit 1; \
		done ) & pids="$$pids $$!"; \
	done; status=0; for pid in $$pids; do wait $$pid || status=1; done; exit $$status
	@[ -d outputs/study/ptb_verdict-full ] || echo "campaign: no outputs/study/ptb_verdict-full (make" \
		"reproduce-ptb-verdict): the report's claims lack their full share, section 3 its seeds 0-2" >&2
	@sweeps=$$(for d in outputs/study/ptb_verdict-full $(CAMPAIGN:%=outputs/study/%-full); do \
		[ -d $$d ] && echo $$d; done); \
	if [ -z "$$sweeps" ]; then echo "campaign: no runs to report" >&2; \
	else $(BIN)/python -m adamomentum.report --finished --out $(CAMPAIGN_OUT) $$sweeps; fi

# Order-only: a pyproject.toml newer than the lanes' install must not reinstall packages under them.
campaign-status: | $(VENV)/.installed ## the campaign: runs finished, in flight (batch, checkpoint, lane), to run
	@$(BIN)/python scripts/campaign_status.py $(CAMPAIGN) $(ARGS)

# Studies beyond the paper (conf/experiment/): SCALE=small tries the machinery on a CPU.
## SCALE: full (the paper's size) or small (a CPU check of the machinery), for study and the verdicts
SCALE ?= full
study-ptb-seeds: ## the seed study (make study EXPERIMENT=ptb_seeds)
	$(MAKE) study EXPERIMENT=ptb_seeds
study-ptb-lr-sweep: ## the learning-rate sweep (make study EXPERIMENT=ptb_lr_sweep)
	$(MAKE) study EXPERIMENT=ptb_lr_sweep
study-ptb-data-scale: ## the data-scale study (make study EXPERIMENT=ptb_data_scale)
	$(MAKE) study EXPERIMENT=ptb_data_scale
study-ner-seeds: ## the NER seed study (make study EXPERIMENT=ner_seeds)
	$(MAKE) study EXPERIMENT=ner_seeds

# Any experiment config: make study EXPERIMENT=ptb_ablation_eps SCALE=small. The committed folders under
# results/study-small/ are rewritten only with STUDY_OUT=results/study-small/<name> RESULTS_OVERWRITE=1.
## EXPERIMENT: study's experiment config (a name in conf/experiment/)
EXPERIMENT ?= ptb_seeds
## STUDY_OUT: study's report
STUDY_OUT ?= outputs/report-study-$(SCALE)/$(EXPERIMENT)
study: venv ## any experiment config: EXPERIMENT=<conf/experiment name> SCALE=full|small, report into STUDY_OUT
	@$(MAKE) --no-print-directory refuse-committed OUT=$(STUDY_OUT) VARIABLE=STUDY_OUT
	$(BIN)/python -m adamomentum.train experiment=$(EXPERIMENT) scale=$(SCALE) progress=false $(ARGS)
	$(BIN)/python -m adamomentum.report --out $(STUDY_OUT) outputs/study/$(EXPERIMENT)-$(SCALE)

## RUNS: report's run directories
RUNS ?= outputs/multirun
## REPORT_OUT: report's output folder
REPORT_OUT ?= outputs/report
report: venv ## tables and figures from the run directories under RUNS, into REPORT_OUT
	@$(MAKE) --no-print-directory refuse-committed OUT=$(REPORT_OUT) VARIABLE=REPORT_OUT
	$(BIN)/python -m adamomentum.report --out $(REPORT_OUT) $(RUNS)

# Stops a target before it trains when OUT holds a results.md that git tracks (outside a git checkout: any
# results.md), unless RESULTS_OVERWRITE=1. VARIABLE names the target's own variable for another folder.
refuse-committed:
	@if [ "$(RESULTS_OVERWRITE)" != 1 ] && [ -e "$(OUT)/results.md" ] && \
		{ ! git rev-parse --is-inside-work-tree >/dev/null 2>&1 || \
		  git ls-files --error-unmatch "$(OUT)/results.md" >/dev/null 2>&1; }; then \
		echo "error: $(OUT) holds committed results; pass $(VARIABLE)=<another folder>," \
			"or RESULTS_OVERWRITE=1 to rewrite them" >&2; \
		exit 2; \
	fi

tensorboard: venv ## serve the run directories under outputs/
	$(BIN)/tensorboard --logdir outputs --bind_all

clean: ## remove .venv and the pytest cache
	rm -rf $(VENV) .pytest_cache
