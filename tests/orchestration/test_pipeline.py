"""`elt run` end to end on both targets: generate-if-empty, load, build, export, docs, run audit, exit codes."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.dbt_project import build_target_path, target_path
from core.warehouse import Warehouse
from tests.conftest import warehouse_env
from tests.dbt.conftest import rows
from tests.orchestration.wap_support import PLANTED_TEST, project_with_failing_test
from tests.reports_contract import REPORTS


def elt(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """The `elt` command line in a subprocess, whatever its exit code."""
    return subprocess.run(
        [sys.executable, "-m", "elt.cli", *args], env={**os.environ, **env}, capture_output=True, text=True
    )


@pytest.fixture
def env(target: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A fresh warehouse of each target, with its own reports folder."""
    for values in warehouse_env(target, tmp_path):
        yield {**values, "ELT_REPORTS_DIR": str(tmp_path / "reports")}


def csv_rows(path: Path) -> int:
    with path.open(newline="", encoding="utf-8") as fh:
        return sum(1 for _ in csv.reader(fh)) - 1


def test_elt_run_twice_from_an_empty_folder(env: dict[str, str], tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    # A dbt target folder of its own (no partial-parse state yet), and a temporary folder to see what is left.
    # The folder of a parse ahead whose `elt` was killed (no process has that pid): the next one removes it.
    (tmp_path / "tmp" / "elt-parse-ahead-999999999-dead").mkdir(parents=True)
    env = {**env, "ELT_DBT_TARGET_ROOT": str(tmp_path / "target"), "TMPDIR": str(tmp_path / "tmp")}
    env["ELT_PARSE_AHEAD"] = "true"  # the suite turns it off elsewhere (tests/conftest.py)
    first = elt("run", "--data-dir", str(data_dir), "--sample", env=env)  # --sample: the folder is made and filled
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr
    # dbt parsed the project for the build while the files loaded (orchestration/dbt.py ParseAhead): the build's
    # own parse, in a target folder with no partial-parse state of its own, found every file parsed already.
    warehouse = Warehouse.from_env(environ={**os.environ, **env})
    perf = json.loads((build_target_path(warehouse) / "perf_info.json").read_text(encoding="utf-8"))
    assert (perf["is_partial_parse_enabled"], perf["parsed_path_count"]) == (True, 0), perf
    assert not list((tmp_path / "tmp").iterdir())  # its own folder and the orphan's are gone
    assert sorted(p.name for p in data_dir.iterdir()) == sorted(
        ["Customers.csv", "Products.csv", "Stores.csv", "Sales.csv", "Exchange_Rates.csv", "expected.json"]
    )
    # The summary table: every step with its seconds, rows per mart, the verdict.
    for step in ("generate", "load", "build", "export", "docs", "total"):
        assert re.search(rf"^  {step} +\d+\.\d\d", first.stdout, re.M), step
    assert re.search(r"^  fct_sales +62,884$", first.stdout, re.M)
    assert re.search(r"^run \S+ succeeded on ", first.stdout, re.M)
    print(re.search(r"^  total.*$", first.stdout, re.M).group(0))  # pipeline seconds, for the record

    reports_dir = Path(env["ELT_REPORTS_DIR"])
    for name in REPORTS:
        table_rows = rows(warehouse, f"select count(*) as n from reports.{name}")[0]["n"]
        assert csv_rows(reports_dir / f"{name}.csv") == table_rows, name
    docs = target_path(warehouse)
    static = (docs / "static_index.html").read_text(encoding="utf-8")
    assert (docs / "index.html").is_file() and (docs / "catalog.json").is_file()
    assert "customer_segmentation" in static  # the manifest is embedded: opens from disk
    assert not re.search(r"""<(script|link)[^>]+(src|href)=["']https?://""", static)  # no CDN

    # Files there: loaded, not replaced. --force: reloaded and rebuilt although they did not change.
    second = elt("run", "--force", "--data-dir", str(data_dir), "--sample", env=env)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr
    assert not list((tmp_path / "tmp").iterdir())
    # The run's log says the first build used the parse ahead; the second started none (the state was there).
    said = "elt: dbt parse ahead used: the build adopted its partial-parse state"
    query = "select r.run_id, count(l.message) as n from audit.runs r left join audit.run_logs l"
    query += f" on l.run_id = r.run_id and l.message = '{said}' group by r.run_id order by r.run_id"
    assert [r["n"] for r in rows(warehouse, query)] == [1, 0]
    runs = rows(warehouse, "select * from audit.runs order by run_id")
    assert [(r["trigger"], r["command"], r["status"]) for r in runs] == [("cli", "run", "success")] * 2
    for run in runs:
        assert run["rows_loaded"] == 85_152 and run["models_built"] == 36 and run["tests_failed"] == 0
        assert all(run[f"{step}_seconds"] is not None for step in ("load", "build", "export", "docs"))
        assert run["seconds"] >= run["build_seconds"] > 0
        nodes = rows(warehouse, f"select count(*) as n from audit.node_results where run_id = '{run['run_id']}'")
        assert nodes[0]["n"] == run["models_built"] + run["tests_passed"]
    summary = rows(warehouse, "select run_id, status from reports.dag_execution_summary order by run_id")
    assert [r["status"] for r in summary] == ["success", "success"]
    # The exported summary was written during the second run: it shows that run as still running.
    with (reports_dir / "dag_execution_summary.csv").open(newline="") as fh:
        assert [r["status"] for r in csv.DictReader(fh)] == ["success", "running"]

    again = elt("export", "--out", str(tmp_path / "again"), env=env)
    assert again.returncode == 0, again.stderr
    for name in REPORTS:
        if name != "dag_execution_summary":
            assert (tmp_path / "again" / f"{name}.csv").read_bytes() == (reports_dir / f"{name}.csv").read_bytes()


def test_a_failing_test_fails_the_run_and_is_recorded(env: dict[str, str], sample_dir: Path, tmp_path: Path) -> None:
    # No cell of the data can fail a test any more (a bad value is a reject or a flag), so the failing test
    # is planted in a copy of the project.
    project = project_with_failing_test(tmp_path / "project")
    failed = elt("run", "--data-dir", str(sample_dir), env={**env, "ELT_DBT_PROJECT_DIR": str(project)})
    assert failed.returncode == 1, failed.stdout[-3000:] + failed.stderr
    assert re.search(rf"^error: dbt build failed on .*{PLANTED_TEST}", failed.stderr, re.M)
    assert "Traceback" not in failed.stderr
    assert re.search(r"^run \S+ FAILED on ", failed.stdout, re.M)
    assert re.search(r"^  export +- +not run$", failed.stdout, re.M)

    warehouse = Warehouse.from_env(environ={**os.environ, **env})
    run = rows(warehouse, "select * from audit.runs")
    assert [(r["status"], r["tests_failed"]) for r in run] == [("failed", 1)]
    assert PLANTED_TEST in run[0]["error"]
    failing = rows(warehouse, "select name, status, failures from audit.node_results where status = 'fail'")
    assert [(f["status"], f["failures"]) for f in failing] == [("fail", 1)]
    assert not Path(env["ELT_REPORTS_DIR"]).exists()  # nothing exported from a failed build


def test_a_refused_file_stops_the_parse_ahead(env: dict[str, str], sample_dir: Path, tmp_path: Path) -> None:
    # The load fails while dbt parses ahead for the build: the run exits 2 naming the file, and the parse's
    # process and temporary folder are gone with it (orchestration/dbt.py ParseAhead.close).
    data = tmp_path / "data"
    shutil.copytree(sample_dir, data)
    stores = data / "Stores.csv"
    stores.write_text(stores.read_text(encoding="utf-8").replace("StoreKey", "StoreKee", 1), encoding="utf-8")
    (tmp_path / "tmp").mkdir()
    env = {**env, "ELT_PARSE_AHEAD": "true", "TMPDIR": str(tmp_path / "tmp")}
    done = elt("run", "--data-dir", str(data), env=env)
    assert done.returncode == 2 and "Stores.csv" in done.stderr, done.stdout[-2000:] + done.stderr
    assert not list((tmp_path / "tmp").iterdir())
