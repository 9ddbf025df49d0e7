"""Two `elt run`s started together on one warehouse queue on the warehouse lock: one waits (saying so) and
runs after the other, never interleaved; a third that may wait only 2 s gives up with exit 1 and a clear
message. Afterwards raw holds exactly one load per table and the marts equal expected.json."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.warehouse import Warehouse
from ingestion.contract import SOURCES
from tests.conftest import warehouse_env
from tests.dbt.conftest import rows
from tests.dbt.figures import expected_figures
from tests.faults.conftest import Watched, assert_ok, error_line, figures, run_elt

WAITING = "waiting: another run holds the warehouse lock on"


@pytest.fixture
def empty(target: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A fresh, empty warehouse of each target."""
    yield from warehouse_env(target, tmp_path)


def test_runs_started_together_queue_on_the_lock(
    empty: dict[str, str], sample_dir: Path, expected: dict, tmp_path: Path
) -> None:
    warehouse = Warehouse.from_env(environ={**os.environ, **empty})
    patient = {**empty, "ELT_LOCK_TIMEOUT": "300"}  # long enough to wait out a whole run (15-60 s here)
    first, second = (
        # --force: the run that waits must load and build too, not find the other's build of the same files.
        Watched(["run", "--force", "--data-dir", str(sample_dir), "--reports-dir", str(tmp_path / name)], patient)
        for name in ("reports-a", "reports-b")
    )
    first.wait_for(lambda: first.printed(WAITING, "stderr") or second.printed(WAITING, "stderr"), "a run waiting")

    # While one run holds the lock, a run that may wait 2 s gives up: exit 1, one clear line, no trace left.
    hasty = run_elt(
        "run",
        *("--data-dir", str(sample_dir), "--reports-dir", str(tmp_path / "reports-c")),
        env={**empty, "ELT_LOCK_TIMEOUT": "2"},
    )
    assert hasty.returncode == 1
    assert error_line(hasty) == f"error: another run holds the warehouse lock on {warehouse.describe()} (waited 2 s)"

    done = [first.finish(), second.finish()]
    for outcome in done:
        assert_ok(outcome)
        assert "Traceback" not in outcome.stderr
    assert [WAITING in outcome.stderr for outcome in done].count(True) == 1  # exactly one of them waited

    runs = rows(warehouse, "select * from audit.runs order by finished_at")
    assert [(r["command"], r["status"]) for r in runs] == [("run", "success")] * 2  # the hasty run never started
    earlier, later = runs
    loads = rows(
        warehouse,
        "select load_id, status, count(*) as n, min(started_at) as began from audit.loads group by 1, 2 order by 4",
    )
    assert [(r["load_id"], r["status"], r["n"]) for r in loads] == [
        (earlier["load_id"], "loaded", 5),
        (later["load_id"], "loaded", 5),
    ]
    # One after the other, never at the same time: the waiting run began loading (under the lock) only after
    # the other had finished. (audit.runs.started_at is when a run was started, so it includes the wait.)
    assert loads[1]["began"] >= earlier["finished_at"]
    for source in SOURCES:
        held = rows(warehouse, f"select _load_id as id, count(*) as n from raw.{source.name} group by 1")
        assert [(r["id"], r["n"]) for r in held] == [(later["load_id"], expected["files"][source.file]["rows"])]
    assert figures(warehouse) == expected_figures(expected)
    nodes = rows(warehouse, "select run_id, count(*) as n from audit.node_results group by 1 order by 1")
    assert [(r["run_id"], r["n"]) for r in nodes] == sorted(  # run ids order by start, runs by finish
        (run["run_id"], run["models_built"] + run["tests_passed"]) for run in runs
    )
    assert re.search(r"^run \S+ succeeded on ", done[0].stdout, re.M)
