"""The raw data contract (Great Expectations) on both warehouses: generated data passes; a broken file
stops the run with exit 2 naming the expectations and leaves raw and the marts as they were; a
warning-level breach loads, with the warning recorded. The load keeps GX's result of every validation;
the Data Docs step after it renders GX's page of each (a refused file's too) and lists it in the index,
in a folder of its own that `dbt clean` leaves alone."""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.data_docs import DataDocs
from core.dbt_project import PROJECT_DIR
from core.settings import Settings
from core.warehouse import Warehouse
from ingestion.contract import SOURCES
from ingestion.data_docs import IndexEntry, publish_data_docs, read_entries
from ingestion.expectations import SUITES
from ingestion.loader import load
from ingestion.validation import gx_run_name
from orchestration.dbt import run_dbt
from tests.dbt.conftest import copy_sample, elt, rows


@pytest.fixture(autouse=True)
def data_docs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's Data Docs in a folder of its own (ELT_DATA_DOCS_DIR, also for the `elt` it runs)."""
    folder = tmp_path / "data_docs"
    monkeypatch.setenv("ELT_DATA_DOCS_DIR", str(folder))
    return folder


def page_text(docs: DataDocs, entry: IndexEntry) -> str:
    """The words of GX's Data Docs page of one validation (tags and runs of spaces removed)."""
    markup = (docs.site / entry.page).read_text(encoding="utf-8")
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", markup))


def stored_results(docs: DataDocs) -> list[tuple[str, str]]:
    """(suite, GX run name) of every validation result kept in the results folder."""
    return sorted(path.relative_to(docs.results).parts[:2] for path in docs.results.rglob("*.json"))


def rendered_pages(docs: DataDocs) -> dict[Path, str]:
    """The words of GX's pages of the site (tags left out: GX writes the time of rendering and random ids
    into attributes)."""
    return {
        page: re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.read_text(encoding="utf-8")))
        for page in docs.site.rglob("*.html")
        if page != docs.index
    }


def test_generated_data_passes_its_contract(warehouse: Warehouse, sample_dir: Path, data_docs_dir: Path) -> None:
    out = io.StringIO()
    result = load(warehouse, sample_dir, out=out)
    assert result.warnings == 0 and result.validation_seconds > 0
    checked = rows(
        warehouse,
        "select file, count(*) as n, sum(case when success then 0 else 1 end) as failed from audit.validations"
        f" where load_id = '{result.load_id}' group by file order by file",
    )
    assert {r["file"]: r["n"] for r in checked} == {f.source.file: len(SUITES[f.source.name]) for f in result.files}
    assert all(r["failed"] == 0 for r in checked)
    assert "contract: 24 expectations, 0 failed, 0 warning(s)" in out.getvalue()  # Sales.csv
    assert "data docs" not in out.getvalue()

    # The load kept GX's results in the target's Data Docs folder and rendered nothing: that is the next step's.
    docs = DataDocs.of(warehouse)
    assert docs.root == data_docs_dir.resolve() / warehouse.target
    run_name = gx_run_name(result.load_id)
    assert stored_results(docs) == sorted((f"raw_{s.name}", run_name) for s in SOURCES)
    assert list(docs.site.iterdir()) == [] and not docs.index.exists() and read_entries(docs) == []

    # GX Data Docs: a page per file validated, one per suite, and the index listing them newest first.
    published = publish_data_docs(warehouse, result.load_id)
    assert (published.load_id, published.index) == (result.load_id, docs.index) and published.seconds > 0
    entries = read_entries(docs)
    assert entries == published.entries
    assert [(e.file, e.load_id, e.status, e.evaluated, e.errors) for e in entries] == [
        (s.file, result.load_id, "passed", len(SUITES[s.name]), []) for s in SOURCES
    ]
    assert all(e.page.startswith(f"validations/raw_{e.source}/{run_name}/") for e in entries)
    sales = next(e for e in entries if e.source == "sales")
    assert "Expectation Suite: raw_sales Data asset: None Status: Succeeded" in page_text(docs, sales)
    assert "Evaluated Expectations 24 Successful Expectations 24 Unsuccessful Expectations 0" in page_text(docs, sales)
    assert sorted(p.name for p in (docs.site / "expectations").iterdir()) == sorted(
        f"raw_{s.name}.html" for s in SOURCES
    )
    suite = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", (docs.site / "expectations/raw_sales.html").read_text()))
    assert "This Expectation suite currently contains 24 total Expectations across 9 columns." in suite
    index = docs.index.read_text(encoding="utf-8")
    assert index.count('class="passed-row"') == 5 and "cdn" not in index.lower() and "<script" not in index
    assert all(f'href="{e.page}"' in index for e in entries)

    again = load(warehouse, sample_dir, sources=["stores"])  # a later load adds to the index once published
    assert read_entries(docs) == entries
    publish_data_docs(warehouse, again.load_id)
    entries = read_entries(docs)
    assert [(e.file, e.load_id) for e in entries[-2:]] == [
        ("Exchange_Rates.csv", result.load_id),
        ("Stores.csv", again.load_id),
    ]
    assert all((docs.site / e.page).is_file() for e in entries)
    index = docs.index.read_text(encoding="utf-8")
    assert index.index(again.load_id) < index.index(result.load_id)  # newest first

    # Idempotent: publishing a load again renders the same pages and lists each validation once.
    pages = rendered_pages(docs)
    assert publish_data_docs(warehouse, result.load_id).entries == entries[:5]
    assert read_entries(docs) == entries
    assert rendered_pages(docs) == pages
    assert docs.index.read_text(encoding="utf-8").count("<tr class=") == 6


def test_a_load_that_kept_no_result_publishes_nothing(warehouse: Warehouse) -> None:
    published = publish_data_docs(warehouse, "20260101T000000.000000Z-000000")
    assert published.entries == [] and not DataDocs.of(warehouse).root.exists()


def test_a_docs_folder_that_cannot_be_written_does_not_stop_the_load(
    wh_env: dict[str, str], sample_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "taken").write_text("a file where the docs folder should be", encoding="utf-8")
    monkeypatch.setenv("ELT_DATA_DOCS_DIR", str(tmp_path / "taken" / "gx"))
    warehouse = Warehouse.from_env(environ={**os.environ, **wh_env})
    out = io.StringIO()
    result = load(warehouse, sample_dir, sources=["stores"], out=out)
    where = tmp_path / "taken" / "gx" / warehouse.target / "data_docs"
    assert result.rows == 67
    assert f"warning: data docs not written: [Errno 20] Not a directory: '{where}'" in out.getvalue()
    assert rows(warehouse, "select count(*) as n from raw.stores")[0]["n"] == 67
    assert publish_data_docs(warehouse, result.load_id).entries == []  # its result stayed in memory

    # `elt load`: the results are kept but the index cannot be written: the load stands, the step only warns.
    monkeypatch.setenv("ELT_DATA_DOCS_DIR", str(tmp_path / "docs"))
    warehouse = Warehouse.from_env(environ={**os.environ, **wh_env})
    docs = DataDocs.of(warehouse)
    docs.entries_file.mkdir(parents=True)  # a folder where the index's entries should be
    done = elt("load", "--data-dir", str(sample_dir), "--only", "stores", env=wh_env)
    assert "swapped 1 file(s), 67 rows into raw" in done.stdout
    warning = f"warning: data docs not written to {docs.site}: [Errno 21] Is a directory: '{docs.entries_file}'"
    assert warning in done.stdout and "data docs of the contract" not in done.stdout
    ((suite, run_name),) = stored_results(docs)
    assert suite == "raw_stores" and not docs.index.exists()
    with pytest.raises(IsADirectoryError):
        publish_data_docs(warehouse, run_name.removeprefix("load-"))


def _break_sales(path: Path) -> int:
    """A third of the lines get currency XYZ, one line a blank customer key; returns the data lines."""
    with path.open(newline="", encoding="utf-8") as fh:
        lines = list(csv.reader(fh))
    header, data = lines[0], lines[1:]
    for i, line in enumerate(data):
        if i % 3 == 0:
            line[8] = "XYZ"
    data[1][4] = ""
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows([header, *data])
    return len(data)


def test_a_file_that_breaks_its_contract_fails_the_run_and_changes_nothing(
    wh_env: dict[str, str], warehouse: Warehouse, sample_dir: Path, tmp_path: Path
) -> None:
    data = copy_sample(sample_dir, tmp_path / "data")
    elt("run", "--data-dir", str(data), "--reports-dir", str(tmp_path / "reports"), env=wh_env)
    before_raw = rows(warehouse, "select _load_id, count(*) as n from raw.sales group by 1")
    before_fct = rows(warehouse, "select count(*) as n, sum(revenue_usd) as revenue from marts.fct_sales")

    lines = _break_sales(data / "Sales.csv")
    done = subprocess.run(  # --force: all five files are loaded again, in order, up to the one refused
        [sys.executable, "-m", "elt.cli", "run", "--force", "--data-dir", str(data)],
        env={**os.environ, **wh_env},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr
    error = done.stderr.strip().splitlines()[-1]
    assert error.startswith("error: breaks its data contract, not loaded: ") and error.endswith("Sales.csv)")
    assert f"expect_column_values_to_match_regex(currency_code): {(lines + 2) // 3:,} unexpected (33.3%)" in error
    assert "customer_key" not in error  # one blank key is that line's invalid_key, not the file's fault
    assert "Traceback" not in done.stderr
    assert f"data docs of the contract: {DataDocs.of(warehouse).index} (" in done.stdout  # the step after the load

    assert rows(warehouse, "select _load_id, count(*) as n from raw.sales group by 1") == before_raw
    assert rows(warehouse, "select count(*) as n, sum(revenue_usd) as revenue from marts.fct_sales") == before_fct
    attempt = rows(warehouse, "select load_id, file, status, error from audit.loads order by started_at desc limit 5")
    assert {r["file"]: r["status"] for r in attempt}["Sales.csv"] == "failed"
    failed = rows(
        warehouse,
        "select expectation, column_name, unexpected_count from audit.validations"
        f" where load_id = '{attempt[0]['load_id']}' and severity = 'critical' and not success order by 1, 2",
    )
    assert [(r["expectation"], r["column_name"]) for r in failed] == [
        ("expect_column_values_to_match_regex", "currency_code"),
    ]
    docs = DataDocs.of(warehouse)  # the refused file's validation has its Data Docs page too
    attempted = [(e.file, e.status) for e in read_entries(docs) if e.load_id == attempt[0]["load_id"]]
    assert attempted == [(s.file, "passed") for s in SOURCES[:3]] + [("Sales.csv", "failed")]  # then it stopped
    refused = [e for e in read_entries(docs) if e.load_id == attempt[0]["load_id"] and e.source == "sales"]
    assert [(e.status, len(e.errors)) for e in refused] == [("failed", 1)]
    assert sorted(refused[0].errors) == [
        f"expect_column_values_to_match_regex(currency_code): {(lines + 2) // 3:,} unexpected (33.3%), e.g. 'XYZ'",
    ]
    text = page_text(docs, refused[0])
    assert "Expectation Suite: raw_sales Data asset: None Status: Failed" in text and "XYZ" in text
    assert 'class="failed-row"' in docs.index.read_text(encoding="utf-8")
    run = rows(warehouse, "select * from audit.runs order by started_at desc limit 1")[0]
    assert run["status"] == "failed" and "data contract" in run["error"]
    assert (run["load_id"], run["data_docs_seconds"] > 0, run["validate_seconds"]) == (None, True, None)
    card = rows(warehouse, "select * from reports.data_quality_scorecard where source = 'sales'")[0]  # a view
    assert (card["contract_status"], card["contract_errors"], card["contract_load_id"]) == (
        "failed",
        1,
        attempt[0]["load_id"],
    )


def test_a_warning_level_breach_loads_with_the_warning_recorded(
    warehouse: Warehouse, sample_dir: Path, tmp_path: Path
) -> None:
    data = copy_sample(sample_dir, tmp_path / "data")
    stores = (data / "Stores.csv").read_text(encoding="utf-8").splitlines()
    (data / "Stores.csv").write_text("\n".join(stores[:6]) + "\n", encoding="utf-8")  # 5 stores, usually ~67
    out = io.StringIO()
    result = load(warehouse, data, sources=["stores"], out=out)
    assert result.rows == 5 and result.warnings == 1
    assert "warning: Stores.csv: expect_table_row_count_to_be_between: observed 5" in out.getvalue()
    assert rows(warehouse, "select count(*) as n from raw.stores")[0]["n"] == 5
    warned = rows(
        warehouse,
        "select expectation, severity, observed from audit.validations"
        f" where load_id = '{result.load_id}' and not success",
    )
    assert warned == [{"expectation": "expect_table_row_count_to_be_between", "severity": "warning", "observed": "5"}]
    (entry,) = publish_data_docs(warehouse, result.load_id).entries
    assert (entry.status, entry.errors, entry.warnings) == (
        "passed with 1 warning(s)",
        [],
        ["expect_table_row_count_to_be_between: observed 5"],
    )
    assert read_entries(DataDocs.of(warehouse)) == [entry]
    assert 'class="warned-row"' in DataDocs.of(warehouse).index.read_text(encoding="utf-8")


def test_dbt_clean_leaves_the_data_docs_and_their_index(sample_dir: Path, tmp_path: Path) -> None:
    """`dbt clean` empties dbt's target folder; the Data Docs are not in it (a copy of the project is cleaned)."""
    project = tmp_path / "project"
    shutil.copytree(PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    env = {"ELT_TARGET": "duckdb", "ELT_DUCKDB_PATH": str(tmp_path / "wh.duckdb"), "ELT_DBT_PROJECT_DIR": str(project)}
    warehouse = Warehouse.from_env(environ={**os.environ, **env, "ELT_DBT_TARGET_ROOT": ""})  # <project>/target
    loaded = load(warehouse, sample_dir, sources=["stores", "products"])
    (stores, products) = publish_data_docs(warehouse, loaded.load_id).entries
    assert run_dbt(warehouse, ["parse"]).success and (project / "target" / "duckdb" / "manifest.json").is_file()
    docs = DataDocs.of(warehouse)
    files = {p: p.read_bytes() for p in docs.root.rglob("*") if p.is_file()}
    assert docs.index in files and docs.site / stores.page in files and docs.site / products.page in files

    assert run_dbt(warehouse, ["clean"]).success
    assert not (project / "target").exists()
    assert {p: p.read_bytes() for p in docs.root.rglob("*") if p.is_file()} == files
    assert read_entries(docs) == [stores, products]
    # By default the Data Docs are in data_docs/<target>/, beside the dbt project, never in its target folder.
    default = DataDocs.of(Warehouse.from_settings(Settings.from_env(environ={})))
    assert default.root == Path("data_docs").resolve() / "duckdb" and not default.root.is_relative_to(PROJECT_DIR)


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(
    started=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)),
    suffix=st.text(alphabet="0123456789abcdef", min_size=6, max_size=6),
)
def test_every_load_id_renders_as_a_gx_run_name(started: datetime, suffix: str) -> None:
    """GX's page title parses the run name as a time; no load id may make that fail (a bare id such as
    `...Z-601234` parsed as an impossible UTC offset and broke a Data Docs page)."""
    from great_expectations.render.renderer.page_renderer import ValidationResultsPageRenderer

    load_id = f"{started:%Y%m%dT%H%M%S.%fZ}-{suffix}"
    run_time = started.replace(tzinfo=UTC).isoformat()
    title = ValidationResultsPageRenderer()._determine_page_title(gx_run_name(load_id), run_time, "sales", "sales")
    assert load_id in title


def test_the_load_id_that_broke_a_data_docs_page_renders() -> None:
    from great_expectations.render.renderer.page_renderer import ValidationResultsPageRenderer

    BROKE = "20261130T154106.027782Z-4653ad"  # noqa: N806
    with pytest.raises(ValueError, match="offset must be a timedelta"):  # the bare id, as before the fix
        ValidationResultsPageRenderer()._determine_page_title(BROKE, "2026-11-30T15:41:06+00:00", "sales", "sales")

    title = ValidationResultsPageRenderer()._determine_page_title(
        gx_run_name(BROKE), "2026-11-30T15:41:06+00:00", "sales", "sales"
    )
    assert title.endswith("/ load-20261130T154106.027782Z-4653ad / 2026-11-30T15:41:06+00:00")
