"""The `elt` console script: instant help, deterministic generate, build on both targets."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from core.warehouse import Warehouse
from elt.cli import main
from ingestion.loader import load

HEAVY = ("duckdb", "dbt", "psycopg2", "pandas", "great_expectations", "airflow", "fastapi")


def test_cli_import_pulls_in_no_heavy_module() -> None:
    code = f"import elt.cli, sys; print([m for m in {HEAVY!r} if m in sys.modules])"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


def test_console_script_help_lists_the_commands() -> None:
    proc = subprocess.run([Path(sys.executable).parent / "elt", "--help"], capture_output=True, text=True, check=True)
    for command in ("generate", "load", "build", "run", "export"):
        assert command in proc.stdout


def test_generate_same_seed_twice_gives_identical_files(tmp_path: Path) -> None:
    assert main(["generate", "--seed", "7", "--out", str(tmp_path / "a")]) == 0
    assert main(["generate", "--seed", "7", "--out", str(tmp_path / "b")]) == 0
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(
        ["Customers.csv", "Products.csv", "Stores.csv", "Sales.csv", "Exchange_Rates.csv", "expected.json"]
    )
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_build_succeeds_on_loaded_warehouse(warehouse: Warehouse, wh_env: dict, sample_dir: Path, capsys) -> None:
    load(warehouse, sample_dir, out=None)
    assert main(["build"]) == 0
    out = capsys.readouterr().out
    assert "Completed successfully" in out  # dbt's own log, plain: not a terminal, so no progress line
    assert not re.search(r"nodes \d+/\d+|━", out)


def test_load_piped_prints_its_plain_lines_only(wh_env: dict, sample_dir: Path, capsys) -> None:
    assert main(["load", "--data-dir", str(sample_dir), "--only", "stores"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^\s+contract: 9 expectations, 0 failed, 0 warning\(s\) in ", out, re.M)
    assert "checking the data contract" not in out  # the spinner is for terminals only


def test_unknown_source_is_a_clear_error(wh_env: dict, sample_dir: Path, capsys) -> None:
    assert main(["load", "--data-dir", str(sample_dir), "--only", "invoices"]) == 1
    assert capsys.readouterr().err.startswith("error: unknown source 'invoices': use one of customers, products")
