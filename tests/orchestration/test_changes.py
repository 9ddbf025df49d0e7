"""`elt run` redoes only what changed since the published build (orchestration/changes.py), on both targets.

Each test starts from a copy of the session's one good `elt run` of the sample, with its published dbt
artifacts, as a user's warehouse is after `make run`. What is asserted is what was skipped and what was
rebuilt (the run's audit rows, its loads, its dbt nodes), never how long it took: the ratios are in bench/.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.dbt_project import manifest_path
from ingestion.contract import SOURCES
from tests.dbt.conftest import rows
from tests.dbt.figures import expected_figures
from tests.faults.conftest import Built, GoldenWarehouses, assert_ok, figures, golden, run_elt  # noqa: F401

ALL_MODELS = 36  # models of the project (test_pipeline: a whole build)
CHANGED_STORE = 1  # StoreKey of the store whose State the changed Stores.csv renames


@pytest.fixture
def user_warehouse(target: str, golden: GoldenWarehouses, tmp_path: Path) -> Iterator[Built]:  # noqa: F811
    """A copy of the good build with its published artifacts; logs, reports and lineage in this test's folder."""
    for built in golden.clone(target, tmp_path / "warehouse", artifacts=True):
        built.env.update(
            DBT_LOG_PATH=str(tmp_path / "logs"),
            ELT_LINEAGE_DIR=str(tmp_path / "lineage"),
            ELT_DATA_DOCS_DIR=str(tmp_path / "data_docs"),
        )
        yield built


def elt_run(built: Built, data_dir: Path, reports: Path, *flags: str) -> str:
    """`elt run` in a subprocess; it must succeed. Returns its stdout (the summary table)."""
    done = run_elt("run", *flags, "--data-dir", str(data_dir), "--reports-dir", str(reports), env=built.env)
    assert_ok(done)
    return done.stdout


def last_run(built: Built) -> dict:
    return rows(built.warehouse, "select * from audit.runs order by started_at desc limit 1")[0]


def raw_loads(built: Built) -> dict[str, str]:
    """raw table -> the one load id it holds."""
    held = {}
    for source in SOURCES:
        (found,) = rows(built.warehouse, f"select distinct _load_id as id from raw.{source.name}")
        held[source.name] = found["id"]
    return held


def summary_note(stdout: str, step: str) -> str:
    """The result column of one step in the run's summary table."""
    match = re.search(rf"^  {step} +\d+\.\d\d  (.*)$", stdout, re.M)
    assert match, f"no {step} line in:\n{stdout}"
    return match.group(1)


def descendants(manifest: dict, source: str) -> set[str]:
    """Names of the models downstream of the raw table `source` in a manifest (dbt's child_map)."""
    found: set[str] = set()
    todo = [f"source.retail_elt.raw.{source}"]
    while todo:
        for child in manifest["child_map"].get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return {manifest["nodes"][uid]["name"] for uid in found if uid.startswith("model.")}


def built_models(built: Built, run_id: str) -> set[str]:
    found = rows(
        built.warehouse,
        f"select name from audit.node_results where run_id = '{run_id}' and resource_type = 'model'",
    )
    return {r["name"] for r in found}


def recorded_day(built: Built) -> str:
    day = rows(built.warehouse, "select max(digest) as day from audit.build_inputs where input = 'build_date'")
    return day[0]["day"]


def test_unchanged_files_load_and_build_nothing_until_forced(
    user_warehouse: Built, sample_dir: Path, expected: dict, tmp_path: Path
) -> None:
    built = user_warehouse
    reports = tmp_path / "reports"
    loads_before = raw_loads(built)
    if recorded_day(built) != f"{datetime.now(UTC):%Y-%m-%d}":  # midnight (UTC) passed since the build
        pytest.skip("the day changed between the build and the run: everything is rebuilt, on purpose")

    stdout = elt_run(built, sample_dir, reports)

    noop = last_run(built)
    assert (noop["status"], noop["rows_loaded"], noop["load_id"], noop["models_built"]) == ("success", None, None, None)
    assert summary_note(stdout, "load") == "skipped: the 5 files are the loads raw holds (same sha256)"
    assert summary_note(stdout, "build") == (
        f"skipped: nothing changed since run {built.golden_run_id} (same files, dbt project and day);"
        " `elt run --force` rebuilds"
    )
    assert summary_note(stdout, "docs").startswith("skipped: ")  # the published docs are of that build
    assert summary_note(stdout, "export") == f"9 CSVs in {reports}"  # this folder had none: written from it
    assert rows(built.warehouse, f"select count(*) as n from audit.node_results where run_id = '{noop['run_id']}'") == [
        {"n": 0}
    ]
    assert rows(built.warehouse, "select count(distinct load_id) as n from audit.loads") == [{"n": 1}]
    assert raw_loads(built) == loads_before
    assert re.search(r"^  fct_sales +62,884$", stdout, re.M)  # the marts as published
    assert figures(built.warehouse) == expected_figures(expected)

    # Again: the reports are there now, so nothing at all is written.
    written = {p.name: p.stat().st_mtime_ns for p in reports.iterdir()}
    stdout = elt_run(built, sample_dir, reports)
    assert summary_note(stdout, "export") == f"skipped: {reports} holds the 9 CSVs of that build"
    assert {p.name: p.stat().st_mtime_ns for p in reports.iterdir()} == written

    # --force reloads every file and rebuilds everything.
    stdout = elt_run(built, sample_dir, reports, "--force")
    forced = last_run(built)
    assert (forced["rows_loaded"], forced["models_built"], forced["tests_failed"]) == (85_152, ALL_MODELS, 0)
    assert len(built_models(built, forced["run_id"])) == ALL_MODELS
    assert raw_loads(built) == {source.name: forced["load_id"] for source in SOURCES}
    assert figures(built.warehouse) == expected_figures(expected)


def test_one_changed_file_reloads_it_and_rebuilds_only_what_depends_on_it(
    user_warehouse: Built, sample_dir: Path, expected: dict, tmp_path: Path
) -> None:
    built = user_warehouse
    data = tmp_path / "data"
    shutil.copytree(sample_dir, data)
    stores = data / "Stores.csv"
    lines = stores.read_text(encoding="utf-8").splitlines(keepends=True)
    (index,) = [i for i, line in enumerate(lines) if line.startswith(f"{CHANGED_STORE},")]
    key, country, state, *rest = lines[index].split(",")
    lines[index] = ",".join([key, country, "Changed State", *rest])
    stores.write_text("".join(lines), encoding="utf-8")
    loads_before = raw_loads(built)
    manifest = json.loads(manifest_path(built.warehouse).read_text(encoding="utf-8"))

    stdout = elt_run(built, data, tmp_path / "reports")

    run = last_run(built)
    assert run["status"] == "success" and run["tests_failed"] == 0
    # Only Stores.csv was loaded, under the run's load id; the other tables keep their loads.
    loaded = rows(built.warehouse, f"select file, rows from audit.loads where load_id = '{run['load_id']}'")
    assert loaded == [{"file": "Stores.csv", "rows": expected["sources"]["stores"]["raw_rows"]}]
    assert raw_loads(built) == {**loads_before, "stores": run["load_id"]}
    assert summary_note(stdout, "load").startswith(f"{expected['sources']['stores']['raw_rows']} rows in Stores.csv")
    # dbt rebuilt exactly the models downstream of raw.stores, and they passed their tests.
    rebuilt = built_models(built, run["run_id"])
    assert rebuilt == descendants(manifest, "stores")
    assert "stg_customers" not in rebuilt and "dim_stores" in rebuilt and run["models_built"] == len(rebuilt)
    assert len(rebuilt) < ALL_MODELS
    assert summary_note(stdout, "build").endswith("(rebuilt what depends on stores)")
    # The change is published; the figures are as before.
    assert rows(built.warehouse, f"select state from marts.dim_stores where store_key = {CHANGED_STORE}") == [
        {"state": "Changed State"}
    ]
    assert figures(built.warehouse) == expected_figures(expected)  # a store's state is in none of them
