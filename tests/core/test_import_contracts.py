"""The import rules of docs/architecture.md hold, and each contract catches a break of its rule.

`lint-imports` (import-linter) checks the contracts of pyproject.toml's [tool.importlinter] on the tree
itself; then on a copy of the packages with one import planted against one rule, it must fail and name
that rule's contract.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONTRACTS = {
    c["id"]: c["name"]
    for c in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
}
PACKAGES = ("core", "ingestion", "orchestration", "api", "elt")


def lint_imports(cwd: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    """`lint-imports` in `cwd` (its packages and pyproject.toml), of the given contract ids (default all)."""
    only = [arg for contract in contracts for arg in ("--contract", contract)]
    command = [str(LINT_IMPORTS), "--no-cache", *only]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)


def test_the_tree_keeps_every_contract() -> None:
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in done.stdout


# (module file to write or extend, the import planted there, the contract it breaks)
BREAKS = [
    ("api/planted.py", "import orchestration.pipeline", "api-needs-only-core"),
    ("core/planted.py", "import ingestion.contract", "layers"),
    ("orchestration/planted.py", "import api.main", "layers"),
    ("ingestion/validation.py", "import ingestion.data_docs", "ingestion-modules"),
]


@pytest.mark.parametrize(("module", "planted", "contract"), BREAKS, ids=[f"{b[1]} in {b[0]}" for b in BREAKS])
def test_a_planted_import_against_a_rule_breaks_its_contract(
    module: str, planted: str, contract: str, tmp_path: Path
) -> None:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    target = tmp_path / module
    target.write_text((target.read_text() if target.exists() else "") + f"\n{planted}  # planted\n")
    done = lint_imports(tmp_path, contract)
    assert done.returncode == 1, done.stdout
    assert "Contracts: 0 kept, 1 broken." in done.stdout
    assert f"{module.removesuffix('.py').replace('/', '.')} -> {planted.removeprefix('import ')}" in done.stdout
