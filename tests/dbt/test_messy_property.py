"""Property: no cell value in any column of any file makes `elt run` fail, on both targets.

Hypothesis plants arbitrary values (huge integers, negatives, floats, exponents, unicode, blanks, null
spellings, far dates, dates with a time, long strings, money-looking text) into cells of every raw column
of the generated sample (seed 7), many cells per example in distinct rows across the five files, and runs
`elt run` on the result. Every example must end in one of two ways:

- exit 0, with every raw row accounted for (raw = clean + exact duplicates + rejected, per source) and the
  figures (sources, sales, status flags) equal to tests/dbt/oracle.py's for exactly those files;
- exit 2, with one `error: ...` line naming the refused file, and raw, the marts and the built reports as
  the previous good run left them (a NUL byte, for one, makes Postgres refuse the file).

Exit 1 (a build that fails on a value) is never acceptable. Each example is a whole `elt run` (20-60 s),
so there are few examples with many planted cells each, a fixed seed and no shrinking. Every example
starts from the same warehouse: one good `elt run` of the unmodified sample per target, restored from a
copy before each example (a file copy on DuckDB, a template database on Postgres). So each example is a
second run over a first, as in production (fct_sales is incremental and must still equal the oracle's
figures), and it fails the same way when Hypothesis replays it. The planted cells are printed on failure
(`note`).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from core.warehouse import Warehouse
from ingestion.contract import SOURCES
from tests.conftest import _drop_database, copy_database
from tests.dbt.conftest import TARGETS
from tests.dbt.messy import (
    CsvEdit,
    isolated_env,
    messy_figures,
    output,
    read,
    reports_digest,
    row_conservation,
    run_elt,
)
from tests.dbt.oracle import NULL_SPELLINGS, truth
from tests.faults.conftest import GoldenWarehouses, golden  # noqa: F401 - the session's good run, copied
from tests.ingestion.test_loader import raw_snapshot

EXAMPLES = 3  # per target; each is one `elt run` (the suite's time budget: docs/operations.md)
COLUMNS = [(source.file, column) for source in SOURCES for column in source.header]

# ---- values ------------------------------------------------------------------------------------------
_dates = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))
_near_dates = st.dates(min_value=date(1985, 1, 1), max_value=date.today() + timedelta(days=400))


def _date_text(day: date, shape: int) -> str:
    y, m, d = f"{day.year:04d}", day.month, day.day
    return [
        f"{m}/{d}/{y}",
        f"{m:02d}/{d:02d}/{y}",
        f"{y}-{m:02d}-{d:02d}",
        f"{d:02d}-{m:02d}-{y}",
        f"{d:02d}/{m:02d}/{y}",
    ][shape]


_time_suffix = st.builds(
    lambda sep, h, mi, s, frac, ampm, zone: (
        f"{sep}{h}:{mi:02d}"
        + (f":{s:02d}" + frac if s is not None else "")
        + (f" {ampm}" if ampm else "")
        + (zone or "")
    ),
    st.sampled_from([" ", "T"]),
    st.integers(0, 23),
    st.integers(0, 59),
    st.none() | st.integers(0, 59),
    st.sampled_from(["", ".5", ".123456"]),
    st.sampled_from(["", "", "AM", "PM"]),
    st.sampled_from(["", "", "Z", "+02:00", "+05:30"]),
)


def _any_case(text: str) -> st.SearchStrategy[str]:
    return st.lists(st.booleans(), min_size=len(text), max_size=len(text)).map(
        lambda flips: "".join(c.upper() if f else c.lower() for c, f in zip(text, flips, strict=True))
    )


VALUES = st.one_of(
    st.integers(-(10**30), 10**30).map(str),  # huge integers, negatives
    st.integers(-5, 2000).map(str),
    st.builds(lambda n, zeros: f"{n}." + "0" * zeros, st.integers(-3, 3000), st.integers(0, 3)),  # 2.0, 2.
    st.builds(lambda n, tail: f"{n}.{tail}", st.integers(0, 3000), st.sampled_from(["5", "25", "001", "999999"])),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.builds(lambda m, e: f"{m}e{e}", st.integers(-9, 9), st.integers(-5, 20)),  # 1e3
    st.text(st.characters(exclude_categories=("Cs",)), max_size=40),  # any unicode: NUL, quotes, line breaks
    st.sampled_from(["", " ", "\t", " \t "]),
    st.sampled_from(NULL_SPELLINGS).flatmap(_any_case),
    st.builds(_date_text, _dates, st.integers(0, 4)),  # far dates
    st.builds(lambda d, s, t: _date_text(d, s) + t, _near_dates, st.integers(0, 4), _time_suffix),  # with a time
    st.builds(lambda d: d.strftime("%d-%b-%Y"), _near_dates),  # 12-Nov-2025
    st.text(st.characters(min_codepoint=32, max_codepoint=0x2FFF), min_size=500, max_size=3000),  # long strings
    st.builds(  # money-looking text
        lambda sign, dollars, cents, comma, pad: (
            f"{sign}{'$' if pad != 'none' else ''}{dollars:,}".replace(",", "" if not comma else ",")
            + (f".{cents}" if cents is not None else "")
            + (" " if pad == "space" else "")
        ),
        st.sampled_from(["", "", "-"]),
        st.integers(0, 10**13),
        st.none() | st.sampled_from(["0", "00", "5", "99", "999"]),
        st.booleans(),
        st.sampled_from(["none", "dollar", "space"]),
    ),
    st.sampled_from(["USD", "usd", " EUR ", "XYZ", "US", "EURO", "GBP\t"]),  # currency-looking text
)


@st.composite
def planted_cells(draw: st.DrawFn) -> list[tuple[str, str, float, str]]:
    """10-20 cells: (file, column, where in the file 0..1, value), across several files."""
    cells = draw(
        st.lists(
            st.tuples(st.sampled_from(COLUMNS), st.floats(0, 1, exclude_max=True), VALUES),
            min_size=10,
            max_size=20,
        )
    )
    return [(file, column, where, value) for (file, column), where, value in cells]


def plant(data_dir: Path, cells: list[tuple[str, str, float, str]]) -> list[tuple[str, int, str, str, str]]:
    """Write the cells into the copy in `data_dir` (one per row: a later cell on a taken row is dropped);
    returns what was planted: (file, source_row, column, old value, new value)."""
    edits = {s.file: CsvEdit(data_dir / s.file) for s in SOURCES}
    planted = []
    taken: set[tuple[str, int]] = set()
    for file, column, where, value in cells:
        edit = edits[file]
        row = 1 + int(where * edit.rows)
        if (file, row) in taken:
            continue
        taken.add((file, row))
        planted.append((file, row, column, edit.set(row, column, value), value))
    for file in {p[0] for p in planted}:
        edits[file].write()
    return planted


# ---- one warehouse per target, restored to the same good run before each example ----------------------
@dataclass
class State:
    """A warehouse of one target, what the good run of the sample left in it, and how to go back there."""

    target: str
    env: dict[str, str]
    warehouse: Warehouse
    workdir: Path
    raw: dict = field(default_factory=dict)
    figures: dict = field(default_factory=dict)
    reports: dict = field(default_factory=dict)
    examples: int = 0
    exits: dict[int, int] = field(default_factory=dict)
    refusals: list[str] = field(default_factory=list)  # the error line of each exit 2

    @property
    def _copy(self) -> str:
        return str(self.workdir / "baseline.duckdb") if self.target == "duckdb" else f"{self.env['PGDATABASE']}_base"

    def save(self) -> None:
        """Remember the warehouse as it is now (and what it shows) to restore it before each example."""
        self.raw = raw_snapshot(self.warehouse)
        self.figures = read(self.warehouse, messy_figures)
        self.reports = read(self.warehouse, reports_digest)
        if self.target == "duckdb":
            shutil.copyfile(self.env["ELT_DUCKDB_PATH"], self._copy)
        else:
            copy_database(self.env["PGDATABASE"], self._copy)

    def restore(self) -> None:
        if self.target == "duckdb":
            Path(self.env["ELT_DUCKDB_PATH"] + ".wal").unlink(missing_ok=True)
            shutil.copyfile(self._copy, self.env["ELT_DUCKDB_PATH"])
        else:
            _drop_database(self.env["PGDATABASE"])
            copy_database(self._copy, self.env["PGDATABASE"])
        # fct_sales is incremental and keeps lines missing from a later file (a file may be a delta), so a
        # planted key would leave the old line beside the oracle's figures of the planted file alone.
        # Emptied, the example's build starts from the planted file only.
        conn = self.warehouse.connect()
        try:
            conn.execute("delete from marts.fct_sales")
        finally:
            conn.close()

    def drop_copy(self) -> None:
        if self.target == "postgres":
            _drop_database(self._copy)


@pytest.fixture(scope="module", params=TARGETS)
def state(
    request: pytest.FixtureRequest,
    sample_dir: Path,
    golden: GoldenWarehouses,  # noqa: F811 - the fixture imported above
    tmp_path_factory: pytest.TempPathFactory,
    target_available,
) -> Iterator[State]:
    """A warehouse of each target holding a good `elt run` of the unmodified sample (a copy of the session's
    good run, tests/faults/conftest.py), saved for restoring."""
    target_available(request.param)
    workdir = tmp_path_factory.mktemp(f"property-{request.param}")
    started = time.monotonic()
    for built in golden.clone(request.param, workdir / "warehouse"):
        env = isolated_env(built.env, workdir)
        found = State(request.param, env, built.warehouse, workdir)
        found.save()
        try:
            assert found.figures == truth(sample_dir).figures()
            yield found
        finally:
            found.drop_copy()
        print(f"\n{request.param}: {found.examples} examples, exits {found.exits}, {time.monotonic() - started:.0f} s")
        for refusal in found.refusals:
            print(f"  refused: {refusal}")


def _differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two nested dicts differ, as `path: a != b` lines."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [
            line
            for k in sorted(a.keys() | b.keys(), key=str)
            for line in _differences(a.get(k), b.get(k), f"{path}.{k}")
        ]
    return [] if a == b else [f"{path}: warehouse {a!r} != oracle {b!r}"]


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: each example is a whole run
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
@given(cells=planted_cells())
def test_no_cell_value_makes_elt_run_fail(state: State, sample_dir: Path, cells) -> None:
    data_dir = state.workdir / "data"
    shutil.rmtree(data_dir, ignore_errors=True)
    shutil.copytree(sample_dir, data_dir)
    (data_dir / "expected.json").unlink()
    planted = plant(data_dir, cells)
    for file, row, column, old, new in planted:
        note(f"{file}:{row} {column}: {old!r} -> {new!r}")
    state.examples += 1
    state.restore()

    done = run_elt("run", "--data-dir", str(data_dir), "--reports-dir", str(state.workdir / "reports"), env=state.env)
    state.exits[done.returncode] = state.exits.get(done.returncode, 0) + 1
    note(f"elt run on {state.target}: exit {done.returncode}")
    assert done.returncode in (0, 2), output(done)
    assert "Traceback" not in done.stdout + done.stderr, output(done)

    if done.returncode == 2:
        errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and errors == done.stderr.strip().splitlines()[-1:], output(done)
        assert any(source.file in errors[0] for source in SOURCES), errors[0]
        note(f"refused: {errors[0]}")
        state.refusals.append(errors[0])
        assert raw_snapshot(state.warehouse) == state.raw
        assert read(state.warehouse, lambda conn: conn.scalar("select count(*) from marts.fct_sales")) == 0
        assert read(state.warehouse, reports_digest) == state.reports
        return

    conservation = read(state.warehouse, row_conservation)
    found, wanted = read(state.warehouse, messy_figures), truth(data_dir).figures()
    kept_all = all(raw == kept for raw, kept in conservation.values())
    if found != wanted or not kept_all:
        note(f"row conservation (raw, clean + duplicates + rejected): {conservation}")
        note("differences:\n" + "\n".join(_differences(found, wanted)))
        rebuilt = run_elt("build", "--full-refresh", env=state.env)
        after = read(state.warehouse, messy_figures) if rebuilt.returncode == 0 else None
        note(f"after `elt build --full-refresh` (exit {rebuilt.returncode}): equal to the oracle: {after == wanted}")
        if after is not None and after != wanted:
            note("differences after it:\n" + "\n".join(_differences(after, wanted)))
    assert kept_all, conservation
    assert found == wanted
