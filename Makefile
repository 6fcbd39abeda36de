# Quick start: `make run` (set up, then process the bundled questions) and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
PORT := 3000

.PHONY: install run test docs-check dev check-inputs bench bench-incremental bench-deck profile quality clean

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

install: $(INSTALLED)

## Register partitions and materialize all four assets for every question in MKSAP_DATA_DIR, in one run.
run: $(INSTALLED)
	$(BIN)/mksap init
	$(BIN)/mksap run

## The whole test suite, in parallel.
test: $(INSTALLED)
	$(BIN)/python -m pytest -n auto

## Every shell command of README.md and docs/UI.md, run in a sandbox with its effect checked (about 1.5 minutes).
docs-check: $(INSTALLED)
	$(BIN)/python -m mksap_assets_tests.docs_check

## The Dagster UI (webserver + daemon) on http://127.0.0.1:3000 (`make dev PORT=3001`: another port), on the
## project's instance.
dev: $(INSTALLED)
	$(BIN)/mksap init
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p $(PORT)

## Extraction at scale against the fake Messages API, then the sync path at the API's rate limits (500 questions
## against a fake with Fable 5.x Start-tier limits, about 4 minutes), then Dagster's bookkeeping per storage (stock
## SQLite, pooled SQLite, PostgreSQL), then batch mode against sync mode; each appends to benchmarks/results.md
## (about 25 minutes).
bench: $(INSTALLED)
	$(BIN)/python benchmarks/bench_extraction.py
	$(BIN)/python benchmarks/bench_extraction.py --questions 500 --limits fable-start
	$(BIN)/python benchmarks/bench_event_log.py
	$(BIN)/python benchmarks/bench_batch.py

## Where the CPU goes: py-spy samples a 400-question benchmark from outside, every process (the run's, its engine,
## its validation worker, the fake API), only threads holding the GIL.
profile: $(INSTALLED)
	mkdir -p benchmarks/work
	$(BIN)/py-spy record --subprocesses --gil --rate 100 --format raw -o benchmarks/work/profile.raw -- \
		$(BIN)/python benchmarks/bench_extraction.py --questions 400 --baseline-sample 5
	$(BIN)/python benchmarks/profile_summary.py benchmarks/work/profile.raw

## Change detection at scale: idle sensor tick and one edited question, end to end (about 10 minutes).
bench-incremental: $(INSTALLED)
	$(BIN)/python benchmarks/bench_incremental.py

## Statement identity across a re-extraction: the corpus replayed twice (../shared/model_responses, then a reworded
## rerun kept outside the repository: RERUN=<dir>, default ../reworded_mr); appends to benchmarks/results.md.
bench-deck: $(INSTALLED)
	$(BIN)/python benchmarks/bench_deck.py $(if $(RERUN),--rerun $(RERUN))

## Statement quality on the real corpus (../shared): model_responses and the original outputs replayed through the
## Claude path, and the offline extractor; writes benchmarks/quality.md (a few minutes).
quality: $(INSTALLED)
	$(BIN)/python benchmarks/quality.py

check-inputs: $(INSTALLED)
	$(BIN)/mksap check-inputs

clean:
	rm -rf data/output data/store .dagster_home
