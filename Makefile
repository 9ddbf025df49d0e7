# Two commands for a newcomer: `make run` and `make test`. Everything else builds on `setup`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DATA   ?= $(or $(ELT_DATA_DIR),data/sample)
TARGET ?= $(or $(ELT_TARGET),duckdb)
DOCS_PORT ?= 8081

export DO_NOT_TRACK := 1

.PHONY: setup run docs test lint format bench clean

setup: $(STAMP)  ## create .venv and install the project (editable, with dev tools); no-op when up to date

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

run: setup  ## elt run on the embedded DuckDB: sample data (if missing), load, build, report CSVs, dbt docs
	$(BIN)/elt run --data-dir $(DATA)

docs: setup  ## serve the dbt docs site of the last build on http://127.0.0.1:8081 (run `make run` first)
	cd dbt_project && ../$(BIN)/dbt docs generate --target $(TARGET) --quiet
	cd dbt_project && ../$(BIN)/dbt docs serve --target $(TARGET) --host 127.0.0.1 --port $(DOCS_PORT) --no-browser

test: setup  ## the whole test suite, DuckDB and Postgres
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: setup  ## load benchmark: our loader vs bare COPY/read_csv vs pandas to_sql, scale 1 and 10
	$(BIN)/python bench/load.py

clean:
	rm -rf warehouse dbt_project/target dbt_project/logs data/reports
