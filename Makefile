# Two commands for a newcomer: `make run` and `make test`. Everything else builds on `setup`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DATA   ?= $(or $(ELT_DATA_DIR),data/sample)
TARGET ?= $(or $(ELT_TARGET),duckdb)
DOCS_PORT ?= 8081

export DO_NOT_TRACK := 1

.PHONY: setup run docs test lint format bench api airflow airflow-test clean

# Airflow runs from the project: its DAGs folder, a home in .airflow/, no examples, no telemetry,
# parallelism sane for 2 cores; the DAG's tasks find the data and the warehouse by absolute paths;
# the venv's bin first on PATH, for the `airflow` processes that `airflow standalone` starts.
AIRFLOW_HOME ?= $(CURDIR)/.airflow
AIRFLOW_PORT ?= 8080
AIRFLOW_ENV := PATH=$(CURDIR)/$(BIN):$$PATH AIRFLOW_HOME=$(AIRFLOW_HOME) AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/orchestration/dags \
	AIRFLOW__CORE__LOAD_EXAMPLES=False AIRFLOW__CORE__PARALLELISM=4 AIRFLOW__API__PORT=$(AIRFLOW_PORT) \
	AIRFLOW__COSMOS__ENABLE_TELEMETRY=False AIRFLOW__COSMOS__ENABLE_WATCHER_RELIABLE_RETRY=False \
	ELT_DATA_DIR=$(abspath $(DATA)) ELT_REPORTS_DIR=$(abspath $(or $(ELT_REPORTS_DIR),data/reports)) \
	ELT_DUCKDB_PATH=$(abspath $(or $(ELT_DUCKDB_PATH),warehouse/warehouse.duckdb)) \
	ELT_DATA_DOCS_DIR=$(abspath $(or $(ELT_DATA_DOCS_DIR),data_docs)) ELT_TARGET=$(TARGET)

setup: $(STAMP)  ## create .venv and install the project (editable, with dev tools); no-op when up to date

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

run: setup  ## elt run (DuckDB unless TARGET=postgres): sample data (if missing), load, Data Docs, build, report CSVs, dbt docs
	$(BIN)/elt run --target $(TARGET) --data-dir $(DATA)

docs: setup  ## serve the dbt docs site of the last build on http://127.0.0.1:8081 (run `make run` first)
	cd dbt_project && ../$(BIN)/dbt docs generate --target $(TARGET) --quiet
	cd dbt_project && ../$(BIN)/dbt docs serve --target $(TARGET) --host 127.0.0.1 --port $(DOCS_PORT) --no-browser

test: setup  ## the import contracts (lint-imports), then the whole test suite, DuckDB and Postgres
	$(BIN)/lint-imports
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: setup  ## every benchmark (load, pipeline at scale 1/10/30, API under load, DAG parse, dashboard pages) -> bench/RESULTS.md
	$(BIN)/python bench/results.py

api: setup  ## the REST API and dashboard on http://127.0.0.1:8000 (dashboard /, OpenAPI UI /docs); without ELT_API_KEY a dev key is printed
	$(BIN)/elt serve --target $(TARGET) $(if $(ELT_API_KEY),,--dev)

airflow: setup  ## Airflow UI with the elt_pipeline DAG on http://localhost:8080 (user admin); Ctrl-C stops it
	$(AIRFLOW_ENV) $(BIN)/airflow db migrate >/dev/null
	@echo "Airflow UI:  http://localhost:$(AIRFLOW_PORT)  (user admin, password in $(AIRFLOW_HOME)/simple_auth_manager_passwords.json.generated)"
	@echo "DAG:         elt_pipeline on $(TARGET) (trigger it with the play button; Graph view shows the dbt graph)"
	$(AIRFLOW_ENV) $(BIN)/airflow standalone

airflow-test: setup  ## one run of the whole DAG without a scheduler: airflow dags test elt_pipeline
	$(AIRFLOW_ENV) $(BIN)/airflow db migrate >/dev/null
	$(AIRFLOW_ENV) ELT_AIRFLOW_RETRIES=0 $(BIN)/airflow dags test elt_pipeline

clean:
	rm -rf warehouse dbt_project/target dbt_project/logs data/reports data_docs .airflow
