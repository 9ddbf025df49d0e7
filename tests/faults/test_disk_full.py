"""The disk fills up under a DuckDB warehouse that holds a good build: `elt run` stops with one clear line,
the warehouse keeps what it had, and a retry with room again succeeds.

"Disk full" is a file size limit on the `elt run` process (RLIMIT_FSIZE, with SIGXFSZ ignored), so every
write past the limit fails with EFBIG as a write to a full disk fails with ENOSPC; no real disk is filled.
Two limits stop the run at two different writes:

- `no_room_for_the_load` (1 MiB): the load's commit cannot write DuckDB's write-ahead log. The load is
  rolled back: raw, the marts and every audit row but the failed run's are as before.
- `no_room_for_the_build` (the database file's size): the load commits (its rows fit in the log), then the
  build (dbt, or the copies of write-audit-publish) cannot checkpoint the log into the file. raw holds the
  new load (the same rows) and the marts the same figures (nothing was published). The run's row stays
  `running` when the database refuses further writes in that process (the retry then marks it
  `interrupted`), or is `failed` with the error when the process could still write it.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from core.errors import NO_ROOM
from tests.dbt.conftest import rows
from tests.dbt.figures import expected_figures
from tests.faults.conftest import ELT, RUN_TIMEOUT, Built, assert_ok, error_line, figures, run_elt, without_load_ids
from tests.ingestion.test_loader import raw_snapshot

MIB = 1 << 20


def with_file_size_limit(limit: int) -> Callable[[], None]:
    """preexec_fn for the child: no file may grow past `limit` bytes; EFBIG instead of death by SIGXFSZ."""

    def limit_file_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return limit_file_size


@pytest.mark.parametrize("target", ["duckdb"], indirect=True)
@pytest.mark.parametrize("case", ["no_room_for_the_load", "no_room_for_the_build"])
def test_disk_full_fails_clearly_and_keeps_the_warehouse(
    case: str, built: Built, sample_dir: Path, expected: dict, tmp_path: Path
) -> None:
    database = Path(built.env["ELT_DUCKDB_PATH"])
    limit = MIB if case == "no_room_for_the_load" else database.stat().st_size
    before = raw_snapshot(built.warehouse)
    # dbt's log and artifacts go to this test's folders: only the warehouse's own writes meet the limit.
    env = {**built.env, "DBT_LOG_PATH": str(tmp_path / "dbt-logs"), "ELT_DBT_TARGET_ROOT": str(tmp_path / "dbt")}
    # --force: the copy already holds a build of these files, and the run must write to fail for want of room.
    args = ["run", "--force", "--data-dir", str(sample_dir), "--reports-dir", str(tmp_path / "reports")]

    done = subprocess.run(
        [*ELT, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        preexec_fn=with_file_size_limit(limit),
    )

    last = error_line(done)
    print(last)  # for the record (pytest -s)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr
    where = f"duckdb:{database}"
    if case == "no_room_for_the_load":
        assert last == (
            f"error: load failed: {NO_ROOM} (TransactionContext Error: Failed to commit:"
            f' Could not write file "{database}.wal": File too large)'
        )
    else:
        # DuckDB refuses every write after a failed checkpoint, so the first write of the run's own (its dbt
        # node results) usually reports it; if dbt's nodes are all that failed, the build failure says it.
        assert last.startswith(
            (f"error: warehouse error on {where}: {NO_ROOM} (", f"error: dbt build failed on {where}: {NO_ROOM}: ")
        ), last
        assert f'Could not write file "{database}": File too large' in last

    # With room again, the warehouse opens (DuckDB replays its log) and has lost nothing.
    runs = rows(built.warehouse, "select * from audit.runs order by started_at")
    golden, failed = runs
    assert (golden["run_id"], golden["status"]) == (built.golden_run_id, "success")
    if case == "no_room_for_the_load":
        assert raw_snapshot(built.warehouse) == before
        assert (failed["status"], failed["error"], failed["load_id"]) == ("failed", last.removeprefix("error: "), None)
        loads = rows(built.warehouse, "select status, count(*) as n from audit.loads group by 1 order by 1")
        assert [(r["status"], r["n"]) for r in loads] == [("failed", 5), ("loaded", 5)]
    else:
        assert without_load_ids(raw_snapshot(built.warehouse)) == without_load_ids(before)
        held = rows(built.warehouse, "select distinct _load_id as id from raw.sales")
        assert [r["id"] for r in held] == [failed["load_id"]]
        if failed["status"] == "running":
            assert (failed["finished_at"], failed["build_seconds"]) == (None, None)
        else:
            assert failed["status"] == "failed" and failed["finished_at"] is not None
            assert f'Could not write file "{database}": File too large' in failed["error"]
    assert figures(built.warehouse) == expected_figures(expected)

    assert_ok(run_elt(*args, env=env))
    first, previous, retry = rows(built.warehouse, "select * from audit.runs order by started_at")
    assert previous["status"] == ("interrupted" if failed["status"] == "running" else "failed")
    assert retry["status"] == "success" and retry["tests_failed"] == 0
    assert figures(built.warehouse) == expected_figures(expected)
