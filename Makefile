# Two commands for a newcomer: `make run` and `make test`. Everything else builds on `setup`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DATA   ?= $(or $(ELT_DATA_DIR),data/sample)
TARGET ?= $(or $(ELT_TARGET),duckdb)
# Ports on 127.0.0.1: `make docs DOCS_PORT=9081`, `make api API_PORT=9000`.
DOCS_PORT ?= 8081
API_PORT ?= 8000
# The dbt docs of the last build of TARGET: its artifacts folder, <ELT_DBT_TARGET_ROOT or dbt_project/target>/<target>.
DOCS_DIR ?= $(abspath $(or $(ELT_DBT_TARGET_ROOT),$(or $(ELT_DBT_PROJECT_DIR),dbt_project)/target))/$(TARGET)

export DO_NOT_TRACK := 1

.PHONY: setup run docs test lint format bench bench-quick api airflow airflow-test clean

# Airflow runs from the project: its DAGs folder, a home in .airflow/, no examples, no telemetry,
# parallelism sane for 2 cores; the DAG's tasks find the data and the warehouse by absolute paths;
# the venv's bin first on PATH, for the `airflow` processes that `airflow standalone` starts.
# AIRFLOW_PORT moves the whole API server: the UI, the REST API and the execution API the tasks report to
# (Airflow 3 derives the latter from [api] base_url, which defaults to port 8080 whatever [api] port says).
# The DAG file may have to `dbt parse` for its manifest first (a fresh clone): minutes, not Airflow's 30 s;
# a task waits a minute for a busy API server (the default 5 s fails tasks on a loaded 2-core machine).
AIRFLOW_HOME ?= $(CURDIR)/.airflow
AIRFLOW_PORT ?= 8080
AIRFLOW_BASE_URL ?= http://localhost:$(AIRFLOW_PORT)
AIRFLOW_ENV := PATH=$(abspath $(BIN)):$$PATH AIRFLOW_HOME=$(AIRFLOW_HOME) AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/orchestration/dags \
	AIRFLOW__CORE__LOAD_EXAMPLES=False AIRFLOW__CORE__PARALLELISM=4 AIRFLOW__API__PORT=$(AIRFLOW_PORT) \
	AIRFLOW__API__BASE_URL=$(AIRFLOW_BASE_URL)/ AIRFLOW__CORE__EXECUTION_API_SERVER_URL=$(AIRFLOW_BASE_URL)/execution/ \
	AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT=300 AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT=360 \
	AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT=60 \
	AIRFLOW__COSMOS__ENABLE_TELEMETRY=False AIRFLOW__COSMOS__ENABLE_WATCHER_RELIABLE_RETRY=False \
	ELT_DATA_DIR=$(abspath $(DATA)) ELT_REPORTS_DIR=$(abspath $(or $(ELT_REPORTS_DIR),data/reports)) \
	ELT_DUCKDB_PATH=$(abspath $(or $(ELT_DUCKDB_PATH),warehouse/warehouse.duckdb)) \
	ELT_DATA_DOCS_DIR=$(abspath $(or $(ELT_DATA_DOCS_DIR),data_docs)) ELT_TARGET=$(TARGET) \
	ELT_LINEAGE_DIR=$(abspath $(or $(ELT_LINEAGE_DIR),lineage))

setup: $(STAMP)  ## create .venv and install the project (editable, with dev tools); no-op when up to date

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,spark]'
	touch $(STAMP)

run: setup  ## elt run (DuckDB unless TARGET=postgres): sample data (default DATA only, if missing), load, Data Docs, build, report CSVs, dbt docs; DATA=folder: your CSVs (must exist)
	$(BIN)/elt run --target $(TARGET) --data-dir $(DATA) $(if $(filter $(abspath data/sample),$(abspath $(DATA))),--sample)

docs: setup  ## serve the dbt docs site of the last `make run` (TARGET's) on http://127.0.0.1:$(DOCS_PORT) (DOCS_PORT=...: another port); Ctrl-C stops it
	@test -f $(DOCS_DIR)/index.html -a -f $(DOCS_DIR)/manifest.json -a -f $(DOCS_DIR)/catalog.json \
		|| { echo "no dbt docs of a $(TARGET) build in $(DOCS_DIR): run \`make run\` first" >&2; exit 1; }
	@echo "dbt docs of the last $(TARGET) build ($(DOCS_DIR)) on http://127.0.0.1:$(DOCS_PORT)"
	$(BIN)/python -m http.server $(DOCS_PORT) --bind 127.0.0.1 --directory $(DOCS_DIR)

test: setup  ## the import contracts (lint-imports), then the whole test suite, DuckDB and Postgres
	$(BIN)/lint-imports
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: setup  ## every benchmark (load, pipeline at scale 1/10/30/100, API under load, DAG parse, dashboard pages, overhead over the bare tools, Spark beside DuckDB at scale 1/10) -> bench/RESULTS.md
	$(BIN)/python bench/results.py

bench-quick: setup  ## the speed ratios at scale 1 (elt run vs bare tools, no-op, changed file, Airflow); prints them, leaves RESULTS.md
	$(BIN)/python bench/overhead.py --scales 1 --airflow

api: setup  ## the REST API and dashboard on http://127.0.0.1:$(API_PORT) (API_PORT=...: another port; dashboard /, OpenAPI UI /docs); without ELT_API_KEY a dev key is printed
	$(BIN)/elt serve --target $(TARGET) --port $(API_PORT) $(if $(ELT_API_KEY),,--dev)

airflow: setup  ## Airflow UI with the elt_pipeline DAG on http://localhost:8080 (AIRFLOW_PORT=...: another port; user admin); Ctrl-C stops it
	$(AIRFLOW_ENV) $(BIN)/airflow db migrate >/dev/null
	@echo "Airflow UI:  $(AIRFLOW_BASE_URL)  (user admin, password in $(AIRFLOW_HOME)/simple_auth_manager_passwords.json.generated)"
	@echo "DAG:         elt_pipeline on $(TARGET) (trigger it with the play button; Graph view shows the dbt graph)"
	$(AIRFLOW_ENV) $(BIN)/airflow standalone

airflow-test: setup  ## one run of the whole DAG without a scheduler: airflow dags test elt_pipeline
	$(AIRFLOW_ENV) $(BIN)/airflow db migrate >/dev/null
	$(AIRFLOW_ENV) ELT_AIRFLOW_RETRIES=0 $(BIN)/airflow dags test elt_pipeline

clean:
	rm -rf warehouse dbt_project/target dbt_project/logs data/reports data_docs .airflow
