"""The Postgres server restarted (immediate mode: a crash and recovery) while `elt run` builds: one clear
line, no traceback, and a clean retry succeeds with the marts of expected.json.

Runs on a private throw-away cluster (tests/faults/private_postgres.py), never the shared server.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import CONNECTION_LOST
from core.warehouse import Warehouse
from tests.conftest import _postgres_required
from tests.dbt.conftest import rows
from tests.dbt.figures import expected_figures
from tests.faults.conftest import Watched, assert_ok, error_line, figures, run_elt
from tests.faults.private_postgres import PrivateCluster, find_bindir, private_cluster

pytestmark = pytest.mark.postgres


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    """A private Postgres cluster on a free port (skipped locally without the server programs; CI fails)."""
    bindir = find_bindir()
    if bindir is None:
        message = "initdb/pg_ctl not found (looked in /usr/lib/postgresql/*/bin and pg_config --bindir)"
        if _postgres_required():
            pytest.fail(f"{message}: the Postgres restart test must run in CI", pytrace=False)
        pytest.skip(message)
    with private_cluster(bindir) as running:
        yield running


def test_server_restart_mid_build_fails_clearly_and_a_retry_succeeds(
    cluster: PrivateCluster, sample_dir: Path, expected: dict, tmp_path: Path
) -> None:
    dbt_log = tmp_path / "dbt-logs" / "dbt.log"
    env = {
        **cluster.env(),
        "ELT_TARGET": "postgres",
        "PGDATABASE": "warehouse",
        "ELT_DUCKDB_PATH": str(tmp_path / "unused.duckdb"),
        "DBT_LOG_PATH": str(dbt_log.parent),
    }
    warehouse = Warehouse.from_env(environ={**os.environ, **env})
    run = Watched(["run", "--data-dir", str(sample_dir), "--reports-dir", str(tmp_path / "reports")], env)
    run.wait_for(
        lambda: dbt_log.is_file() and "OK created sql table model" in dbt_log.read_text(errors="replace"),
        "dbt rebuilding a table",
    )
    cluster.pg_ctl("-m", "immediate", "-w", "-t", "60", "restart")

    done = run.finish()
    last = error_line(done)
    print(last)  # for the record (pytest -s)
    assert done.returncode == 1, run.output()
    assert [line for line in done.stderr.splitlines() if line.startswith("error:")] == [last]
    where = re.escape(warehouse.describe())
    assert re.fullmatch(
        rf"error: (dbt build failed|warehouse error) on {where}( \(nothing published\))?:"
        rf" {re.escape(CONNECTION_LOST)}.+",
        last,
    )

    # The load was committed before the build began; the run is on record with it.
    (failed,) = rows(warehouse, "select * from audit.runs")
    held = rows(warehouse, "select distinct _load_id as id from raw.sales")
    assert [r["id"] for r in held] == [failed["load_id"]] and failed["rows_loaded"] == 85_152
    # dbt finishes its remaining nodes (they fail fast) and the run then records itself `failed`, unless the
    # server was still starting up at that moment: then the row stays `running` and the retry marks it
    # `interrupted`. Which one depends on how fast the server comes back.
    if failed["status"] == "failed":
        assert failed["error"] == last.removeprefix("error: ") and failed["finished_at"] is not None
    else:
        assert (failed["status"], failed["finished_at"]) == ("running", None)

    assert_ok(run_elt("run", "--data-dir", str(sample_dir), "--reports-dir", str(tmp_path / "reports"), env=env))
    first, retry = rows(warehouse, "select * from audit.runs order by started_at")
    assert first["status"] == ("failed" if failed["status"] == "failed" else "interrupted")
    assert retry["status"] == "success" and retry["tests_failed"] == 0
    assert figures(warehouse) == expected_figures(expected)
