"""`elt run` killed with SIGKILL (no clean-up runs) during its load step and during `dbt build`, on a
warehouse holding a good build: nothing is lost, the killed run stays `running` in audit.runs until the
next run marks it `interrupted`, and that next run succeeds with the marts of expected.json."""

from __future__ import annotations

import signal
from pathlib import Path

from ingestion.contract import SOURCES
from tests.dbt.conftest import rows
from tests.dbt.figures import expected_figures
from tests.faults.conftest import Built, Watched, assert_ok, figures, run_elt, without_load_ids
from tests.ingestion.test_loader import raw_snapshot

INTERRUPTED = "the run process ended before it finished"


def run_args(sample_dir: Path, tmp_path: Path, name: str) -> list[str]:
    """`elt run --force` of the session sample with a reports folder of its own (forced: the warehouse already
    holds a build of these files, and each test needs every step to run)."""
    return ["run", "--force", "--data-dir", str(sample_dir), "--reports-dir", str(tmp_path / name)]


def raw_load_ids(built: Built) -> set[str]:
    """The distinct load ids over all five raw tables."""
    found = rows(built.warehouse, " union ".join(f"select distinct _load_id as id from raw.{s.name}" for s in SOURCES))
    return {r["id"] for r in found}


def runs(built: Built) -> list[dict]:
    """audit.runs, oldest first."""
    return rows(built.warehouse, "select * from audit.runs order by started_at")


def rerun_succeeds(built: Built, sample_dir: Path, tmp_path: Path, expected: dict, killed_run_id: str) -> None:
    """The next `elt run` succeeds, marks the killed run `interrupted`, and the marts equal expected.json."""
    assert_ok(run_elt(*run_args(sample_dir, tmp_path, "reports-retry"), env=built.env))
    golden, killed, retry = runs(built)
    assert (golden["run_id"], golden["status"]) == (built.golden_run_id, "success")
    assert (killed["run_id"], killed["status"], killed["error"]) == (killed_run_id, "interrupted", INTERRUPTED)
    assert retry["status"] == "success" and retry["rows_loaded"] == 85_152 and retry["tests_failed"] == 0
    assert raw_load_ids(built) == {retry["load_id"]}
    assert figures(built.warehouse) == expected_figures(expected)


def test_sigkill_during_the_load_step(built: Built, sample_dir: Path, expected: dict, tmp_path: Path) -> None:
    before = raw_snapshot(built.warehouse)
    run = Watched(run_args(sample_dir, tmp_path, "reports-killed"), built.env)
    # The first file is staged inside the load's transaction; the contract checks (and the import of Great
    # Expectations) of the five files follow, several seconds before anything is swapped into raw.
    run.wait_for(lambda: run.printed("staged for raw.customers"), "the first file staged")
    run.kill()
    assert run.proc.returncode == -signal.SIGKILL
    assert not run.printed("swapped")

    assert raw_snapshot(built.warehouse) == before
    assert figures(built.warehouse) == expected_figures(expected)
    golden, killed = runs(built)
    assert golden["run_id"] == built.golden_run_id
    # Left as it was when the process died: `running`, never finished, no load id (the load never returned).
    assert (killed["status"], killed["finished_at"], killed["load_id"], killed["load_seconds"]) == (
        "running",
        None,
        None,
        None,
    )
    loads = rows(
        built.warehouse,
        f"select status, count(*) as n from audit.loads where load_id <> '{built.golden_load_id}' group by status",
    )
    assert [(r["status"], r["n"]) for r in loads] == [("running", 5)]

    rerun_succeeds(built, sample_dir, tmp_path, expected, killed["run_id"])
    loads = rows(built.warehouse, "select status, count(*) as n from audit.loads group by status order by status")
    assert [(r["status"], r["n"]) for r in loads] == [("interrupted", 5), ("loaded", 10)]


def test_sigkill_during_dbt_build(built: Built, sample_dir: Path, expected: dict, tmp_path: Path) -> None:
    before = raw_snapshot(built.warehouse)
    dbt_log = tmp_path / "dbt-logs" / "dbt.log"
    run = Watched(run_args(sample_dir, tmp_path, "reports-killed"), {**built.env, "DBT_LOG_PATH": str(dbt_log.parent)})

    def tables_rebuilt() -> bool:  # dbt has replaced at least one table: the build is well under way
        return dbt_log.is_file() and "OK created sql table model" in dbt_log.read_text(errors="replace")

    run.wait_for(tables_rebuilt, "dbt rebuilding a table")
    run.kill()
    assert run.proc.returncode == -signal.SIGKILL

    golden, killed = runs(built)
    assert golden["run_id"] == built.golden_run_id
    # Load and validate finished and were recorded; the build never was.
    assert (killed["status"], killed["finished_at"], killed["build_seconds"]) == ("running", None, None)
    assert killed["load_seconds"] > 0 and killed["validate_seconds"] is not None and killed["rows_loaded"] == 85_152
    # The load was committed before the build began: raw holds it, with the same rows as before.
    assert raw_load_ids(built) == {killed["load_id"]}
    assert without_load_ids(raw_snapshot(built.warehouse)) == without_load_ids(before)
    # Every model dbt finished is committed and every one it had begun is rolled back, from the same rows:
    # the marts still show the figures of expected.json.
    assert figures(built.warehouse) == expected_figures(expected)

    rerun_succeeds(built, sample_dir, tmp_path, expected, killed["run_id"])
