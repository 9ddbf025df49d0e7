"""Progress on a terminal (orchestration/progress.py): in a real pseudo-terminal, `elt load` names the file whose
data contract is being checked and `elt build` shows its nodes done out of the nodes selected; piped, neither
appears (the CLI tests check piped output too)."""

from __future__ import annotations

import fcntl
import io
import json
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from core.dbt_project import build_target_path
from core.warehouse import Warehouse
from ingestion import loader
from orchestration import dbt, progress
from tests.api.conftest import BuiltApi
from tests.conftest import PerTarget

_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def in_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run `elt <args>` with a pseudo-terminal (160 x 40) as its stdin, stdout and stderr; its exit code and
    all it wrote, escape sequences removed (every redraw stays, each after a carriage return)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    process = subprocess.Popen(
        [Path(sys.executable).parent / "elt", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**os.environ, **env, "TERM": "xterm-256color"},
        close_fds=True,
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 900  # a safety net only: reading ends when the command closes the terminal
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 60)
            if not ready:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the command ended and closed its side
                break
            if not data:
                break
            chunks.append(data)
        code = process.wait(timeout=300)
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
    return code, _ESCAPES.sub("", b"".join(chunks).decode("utf-8", "replace"))


@pytest.fixture
def copy_of_built(built_apis: PerTarget[BuiltApi], tmp_path: Path) -> dict[str, str]:
    """The environment of a copy of the session's DuckDB warehouse built by `elt run` (its file, its dbt
    artifacts and partial-parse state), so that builds here leave the shared one as it was."""
    built = built_apis.get("duckdb")
    source = Path(built.env["ELT_DUCKDB_PATH"])
    shutil.copy(source, tmp_path / "warehouse.duckdb")
    shutil.copytree(built.target_path.parent, tmp_path / "target")
    return {
        **built.env,
        "ELT_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb"),
        "ELT_DBT_TARGET_ROOT": str(tmp_path / "target"),
        "ELT_DATA_DOCS_DIR": str(tmp_path / "data_docs"),
        "ELT_LINEAGE_DIR": str(tmp_path / "lineage"),
    }


def test_a_terminal_sees_the_contract_check_and_the_build_nodes(copy_of_built: dict[str, str], sample_dir: Path):
    code, shown = in_terminal(["load", "--only", "stores", "--data-dir", str(sample_dir)], copy_of_built)
    assert code == 0, shown[-3000:]
    assert "checking the data contract of Stores.csv..." in shown
    assert re.search(r"^\s+contract: 9 expectations, 0 failed", shown, re.M)  # the plain lines as ever

    code, shown = in_terminal(["build", "--select", "stg_stores"], copy_of_built)
    assert code == 0, shown[-3000:]
    warehouse = Warehouse.from_env(environ={**os.environ, **copy_of_built})
    results = json.loads((build_target_path(warehouse) / "run_results.json").read_text())["results"]
    total = len(results)  # the selected nodes: stg_stores and its tests
    assert total == 8
    redraws = re.split(r"[\r\n]+", shown)
    counts = [(int(m[1]), int(m[2])) for line in redraws if (m := re.search(r"dbt build .*nodes (\d+)/(\d+)", line))]
    assert {of for _, of in counts} == {total}
    assert counts[-1] == (total, total) and min(done for done, _ in counts) < total  # seen going, then done
    assert re.search(r"dbt build .*nodes \d+/8 +stg_stores \(model\)", shown)  # the node running
    assert "Completed successfully" in shown  # dbt's own lines still print, above the progress line
    assert re.search(r"dbt source freshness .*nodes 5/5", shown)  # the freshness check after publishing


def test_nothing_is_shown_when_the_output_is_not_a_terminal() -> None:
    with progress.showing(io.StringIO()) as shown:
        assert shown is False
        assert dbt._watchers.get() == () and loader._status_hook.get() is None
