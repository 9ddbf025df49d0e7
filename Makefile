# Two commands for a newcomer: `make run` and `make test`. Everything else builds on `setup`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DATA   ?= $(or $(ELT_DATA_DIR),data/sample)

export DO_NOT_TRACK := 1

.PHONY: setup run test lint format bench clean

setup: $(STAMP)  ## create .venv and install the project (editable, with dev tools); no-op when up to date

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

run: setup  ## sample data (if missing) -> load -> dbt build, on the embedded DuckDB
	test -f $(DATA)/Sales.csv || $(BIN)/elt generate --out $(DATA)
	$(BIN)/elt load --data-dir $(DATA)
	$(BIN)/elt build

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
