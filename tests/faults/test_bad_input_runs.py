"""Every bad input of docs/loading.md through `elt run`, on a warehouse that holds a good build: exit 2 with
the one-line error `elt load` gives, and nothing lost (raw, marts and the earlier run as they were)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.dbt.conftest import copy_sample, rows
from tests.dbt.figures import expected_figures
from tests.faults.conftest import Built, error_line, figures, run_elt
from tests.ingestion.test_loader import BAD_INPUTS, raw_snapshot


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_stops_elt_run_with_exit_2_and_loses_nothing(
    case: str, built: Built, sample_dir: Path, expected: dict, tmp_path: Path
) -> None:
    mutate, file, message, line, column = BAD_INPUTS[case]
    before = raw_snapshot(built.warehouse)
    runs_before = rows(built.warehouse, "select * from audit.runs order by started_at")
    bad = copy_sample(sample_dir, tmp_path / "bad")
    mutate(bad)
    reports = tmp_path / "reports"

    done = run_elt("run", "--data-dir", str(bad), "--reports-dir", str(reports), env=built.env)

    # The same line `elt load` prints for this file (tests/ingestion/test_loader.py pins that one).
    where = str(bad / file) + (f":{line}" if line else "") + (f", column {column}" if column else "")
    last = error_line(done)
    assert done.returncode == 2, done.stdout[-3000:] + done.stderr
    assert re.fullmatch(rf"error: {message} \({re.escape(where)}\)", last), last
    assert raw_snapshot(built.warehouse) == before
    assert figures(built.warehouse) == expected_figures(expected)
    assert not reports.exists()  # nothing exported

    runs = rows(built.warehouse, "select * from audit.runs order by started_at")
    assert runs[:-1] == runs_before  # the good run's record untouched
    failed = runs[-1]
    assert (failed["trigger"], failed["command"], failed["status"]) == ("cli", "run", "failed")
    assert failed["error"] == last.removeprefix("error: ")
    assert failed["finished_at"] is not None and failed["load_id"] is None and failed["build_seconds"] is None
    loads = rows(
        built.warehouse,
        f"select file, error from audit.loads where load_id <> '{built.golden_load_id}' and status = 'failed'",
    )
    assert [(r["file"], r["error"]) for r in loads] == [(file, failed["error"])]
