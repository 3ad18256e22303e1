# Trợ lý Sở Công Thương — Online Friday. `make run` and `make test` work on a fresh machine with python3.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run chat test lint format bench bench-complaints bench-qa bench-cases bench-broadcast bench-areas bench-console bench-duplicates bench-topics clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m bot run

chat: $(STAMP)
	$(PY) -m bot chat

# One pytest-xdist worker per CPU (idle workers take tests from busy ones); each worker has its own PostgreSQL
# database when TEST_DATABASE_URL is set. `-m "not processes"` leaves out the tests that start processes.
test: $(STAMP)
	$(PY) -m pytest -n auto --dist worksteal

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(STAMP)
	$(PY) -m tests.benchmarks.bench_telegram

bench-complaints: $(STAMP)
	$(PY) -m tests.benchmarks.bench_complaints

bench-qa: $(STAMP)
	$(PY) -m tests.benchmarks.bench_qa

bench-cases: $(STAMP)
	$(PY) -m tests.benchmarks.bench_cases

bench-duplicates: $(STAMP)
	$(PY) -m tests.benchmarks.bench_duplicates

bench-topics: $(STAMP)
	$(PY) -m tests.benchmarks.bench_topics

bench-broadcast: $(STAMP)
	$(PY) -m tests.benchmarks.bench_broadcast

bench-areas: $(STAMP)
	$(PY) -m tests.benchmarks.bench_areas

bench-console: $(STAMP)
	$(PY) -m tests.benchmarks.bench_console

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
