"""First-run rough edges of the `elt` command line and the Makefile: a mistyped data folder, an output path
that is a file, a warehouse with nothing loaded or built yet, a bad setting for any command, the ports of
`make api` and `make docs`. Each is one line on stderr and exit code 2, with nothing made or changed."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from elt.cli import main
from tests.api.conftest import BuiltApi
from tests.conftest import PerTarget

PROJECT = Path(__file__).resolve().parents[2]
COMMANDS = {  # every command, with arguments that would work on a good setting
    "generate": ["generate", "--out", "{tmp}/generated"],
    "load": ["load", "--data-dir", "{tmp}/data"],
    "build": ["build"],
    "run": ["run", "--data-dir", "{tmp}/data"],
    "export": ["export", "--out", "{tmp}/reports"],
    "serve": ["serve", "--dev", "--port", "1"],
}
BAD_SETTINGS = {
    "ELT_TARGET": ("snowflake", "error: ELT_TARGET must be 'duckdb', 'postgres' or 'spark', got 'snowflake'"),
    "PGPORT": ("x", "error: PGPORT must be a valid integer, unable to parse string as an integer, got 'x'"),
    "ELT_LOCK_TIMEOUT": ("soon", "error: ELT_LOCK_TIMEOUT must be a valid number"),
}


def one_error(capsys: pytest.CaptureFixture[str]) -> str:
    """The one line the command wrote on stderr (asserting there is exactly one, and no traceback)."""
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_run_of_a_folder_that_does_not_exist_stops_before_anything(
    wh_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mistyped = tmp_path / "sampel"
    assert main(["run", "--data-dir", str(mistyped), "--reports-dir", str(tmp_path / "reports")]) == 2
    assert one_error(capsys) == f"error: no such folder: {mistyped} (--sample generates the sample data there)"
    assert not mistyped.exists() and not (tmp_path / "reports").exists()
    assert not Path(wh_env["ELT_DUCKDB_PATH"]).exists()  # not even a warehouse file, nor a run recorded
    (tmp_path / "empty").mkdir()
    assert main(["run", "--data-dir", str(tmp_path / "empty")]) == 2
    expected = f"error: none of the five CSV files in {tmp_path / 'empty'} (--sample generates the sample data there)"
    assert one_error(capsys) == expected
    assert list((tmp_path / "empty").iterdir()) == [] and not Path(wh_env["ELT_DUCKDB_PATH"]).exists()


def test_load_of_a_folder_that_does_not_exist_says_no_such_folder(
    wh_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["load", "--data-dir", str(tmp_path / "nowhere")]) == 2
    assert one_error(capsys) == f"error: no such folder: {tmp_path / 'nowhere'}"
    (tmp_path / "a-file").write_text("x")
    assert main(["load", "--data-dir", str(tmp_path / "a-file")]) == 2
    assert one_error(capsys) == f"error: not a folder: {tmp_path / 'a-file'}"


def test_an_output_path_that_is_a_file_is_one_line(
    wh_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = tmp_path / "report.csv"
    a_file.write_text("keep me\n")
    assert main(["export", "--out", str(a_file)]) == 2
    assert one_error(capsys) == f"error: not a folder: {a_file}"
    assert main(["export", "--out", str(a_file / "reports")]) == 2
    assert one_error(capsys) == f"error: not a folder: {a_file} (in {a_file / 'reports'})"
    assert main(["generate", "--out", str(a_file)]) == 2
    assert one_error(capsys) == f"error: not a folder: {a_file}"
    assert main(["run", "--data-dir", str(a_file), "--sample"]) == 2
    assert one_error(capsys) == f"error: not a folder: {a_file}"
    assert a_file.read_text() == "keep me\n"


@pytest.mark.parametrize("target", ["duckdb"])  # the path is DuckDB's; the rule is the CLI's
def test_a_warehouse_path_under_a_file_is_one_line(
    wh_env: dict[str, str], tmp_path: Path, sample_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    (tmp_path / "a-file").write_text("x")
    monkeypatch.setenv("ELT_DUCKDB_PATH", str(tmp_path / "a-file" / "warehouse.duckdb"))
    assert main(["load", "--data-dir", str(sample_dir)]) == 2
    assert one_error(capsys) == f"error: not a folder: {tmp_path / 'a-file'}"


def test_export_and_build_on_a_fresh_warehouse_say_what_to_run_first(
    wh_env: dict[str, str], target: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    from core.warehouse import Warehouse

    warehouse = Warehouse.from_env()
    monkeypatch.setenv("ELT_DBT_TARGET_ROOT", str(tmp_path / "target"))
    assert main(["export", "--out", str(tmp_path / "reports")]) == 2
    no_manifest = tmp_path / "target" / target / "manifest.json"
    assert one_error(capsys) == (
        f"error: nothing built yet on {warehouse.describe()} (no dbt manifest at {no_manifest}):"
        " run a build first (`elt run`, or `elt load` then `elt build`)"
    )
    assert main(["build"]) == 2
    assert one_error(capsys) == (
        f"error: nothing loaded yet on {warehouse.describe()}: run a load first (`elt run`, or `elt load`)"
    )
    assert not (tmp_path / "reports").exists()


def test_export_with_a_manifest_but_no_build_says_run_a_build_first(
    wh_env: dict[str, str],
    target: str,
    built_apis: PerTarget[BuiltApi],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch,
) -> None:
    # What `dbt parse` leaves (the Airflow DAG parses before any build): a manifest, and no report table.
    from core.warehouse import Warehouse

    built = built_apis.get("duckdb")  # its manifest lists the reports of either target
    (tmp_path / "target" / target).mkdir(parents=True)
    shutil.copy(built.target_path / "manifest.json", tmp_path / "target" / target / "manifest.json")
    monkeypatch.setenv("ELT_DBT_TARGET_ROOT", str(tmp_path / "target"))
    warehouse = Warehouse.from_env()
    warehouse.connect().close()  # the warehouse exists (the DuckDB file, the Postgres database), empty
    assert main(["export", "--out", str(tmp_path / "reports")]) == 2
    assert one_error(capsys) == (
        f"error: nothing built yet on {warehouse.describe()}: run a build first (`elt run`, or `elt load` then"
        " `elt build`)"
    )
    assert not (tmp_path / "reports").exists()


@pytest.mark.parametrize("variable", sorted(BAD_SETTINGS))
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_bad_setting_is_exit_2_and_one_line_for_every_command(
    command: str, variable: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    value, message = BAD_SETTINGS[variable]
    monkeypatch.setenv(variable, value)
    args = [arg.format(tmp=tmp_path) for arg in COMMANDS[command]]
    assert main(args) == 2, command
    assert one_error(capsys).startswith(message)
    assert list(tmp_path.iterdir()) == []  # nothing made


def test_a_bad_target_setting_stops_the_console_script_like_the_option() -> None:
    elt = Path(sys.executable).parent / "elt"
    env = {**os.environ, "ELT_TARGET": "snowflake"}
    by_setting = subprocess.run([elt, "serve", "--dev"], env=env, capture_output=True, text=True, timeout=300)
    by_option = subprocess.run([elt, "export", "--target", "snowflake"], capture_output=True, text=True, timeout=300)
    assert (by_setting.returncode, by_option.returncode) == (2, 2)
    assert by_setting.stderr == "error: ELT_TARGET must be 'duckdb', 'postgres' or 'spark', got 'snowflake'\n"
    assert "invalid choice: 'snowflake'" in by_option.stderr


# ---------------------------------------------------------------- Makefile


def make(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`make` in the project with this venv as the one set up (`setup` installs nothing)."""
    command = ["make", "--no-print-directory", "-o", f"{sys.prefix}/.installed", *args, f"VENV={sys.prefix}"]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ELT_", "DATA", "TARGET"))}
    return subprocess.run(command, cwd=PROJECT, env={**clean, **(env or {})}, capture_output=True, text=True)


def recipe(done: subprocess.CompletedProcess, program: str) -> list[str]:
    """The words of the command line `make -n` printed for `program` (e.g. `bin/elt`)."""
    assert done.returncode == 0, done.stderr
    return next(line.split() for line in done.stdout.splitlines() if line.startswith(f"{sys.prefix}/{program} "))


def test_make_run_passes_sample_only_for_the_default_data_folder() -> None:
    elt = ["bin/elt", "run", "--target", "duckdb", "--data-dir"]
    assert recipe(make("-n", "run"), "bin/elt")[1:] == [*elt[1:], "data/sample", "--sample"]
    assert recipe(make("-n", "run", "DATA=./data/sample"), "bin/elt")[-1] == "--sample"
    assert recipe(make("-n", "run", "DATA=my/data"), "bin/elt")[1:] == [*elt[1:], "my/data"]  # must exist
    assert recipe(make("-n", "run", env={"ELT_DATA_DIR": "/srv/csv"}), "bin/elt")[-1] == "/srv/csv"


def test_make_api_and_make_docs_take_their_port() -> None:
    api = recipe(make("-n", "api", "API_PORT=9123", "ELT_API_KEY=k"), "bin/elt")
    assert api[1:] == ["serve", "--target", "duckdb", "--port", "9123"]
    assert recipe(make("-n", "api"), "bin/elt")[1:] == ["serve", "--target", "duckdb", "--port", "8000", "--dev"]
    dry = make("-n", "docs", "DOCS_PORT=9124", env={"ELT_DBT_TARGET_ROOT": "/srv/target"})
    served = ["-m", "http.server", "9124", "--bind", "127.0.0.1", "--directory", "/srv/target/duckdb"]
    assert recipe(dry, "bin/python")[1:] == served
    assert "dbt docs generate" not in dry.stdout  # it serves the last build's site, as it says


def test_make_docs_without_a_build_says_make_run_first(tmp_path: Path) -> None:
    done = make("docs", env={"ELT_DBT_TARGET_ROOT": str(tmp_path / "target")})
    assert done.returncode != 0
    assert f"no dbt docs of a duckdb build in {tmp_path / 'target' / 'duckdb'}: run `make run` first" in done.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_make_docs_serves_the_last_build_on_docs_port(built_apis: PerTarget[BuiltApi]) -> None:
    built = built_apis.get("duckdb")
    port = _free_port()
    env = {"ELT_DBT_TARGET_ROOT": str(built.target_path.parent)}
    command = ["make", "--no-print-directory", "-o", f"{sys.prefix}/.installed", "docs", f"DOCS_PORT={port}"]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ELT_")}
    server = subprocess.Popen(
        [*command, f"VENV={sys.prefix}"],
        cwd=PROJECT,
        env={**clean, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        manifest = _wait_for(f"http://127.0.0.1:{port}/manifest.json", server)
        assert json.loads(manifest) == json.loads((built.target_path / "manifest.json").read_text())
        assert b"<html" in _wait_for(f"http://127.0.0.1:{port}/index.html", server).lower()
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=60)


def _wait_for(url: str, server: subprocess.Popen) -> bytes:
    """The body of `url` once the server answers (polled; fails if make ended or after 5 minutes)."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"make docs exited {server.returncode}: {server.stdout.read().decode()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                return response.read()
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"nothing answered on {url}")
