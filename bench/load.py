"""Load benchmark: `elt load` vs the bare bulk path vs pandas read_csv + to_sql, side by side in one run.

For each scale (default 1 and 10) and each warehouse, on the same generated files:
  ours    `ingestion.loader.load`: header contract, _source_row/_load_id, one transaction, swap, audit
  floor   the bare bulk path: Postgres `COPY ... FROM STDIN` into plain text tables (psycopg2), DuckDB
          `CREATE TABLE AS SELECT * FROM read_csv(..., all_varchar = true)`
  pandas  the naive way: `pandas.read_csv(dtype=str)` + `DataFrame.to_sql` (SQLAlchemy, default method)
Prints seconds (median of --repeat runs; pandas once) and the ratios ours/floor and pandas/ours.
`ours` includes the raw data contract (GX validation of the staged rows, in the load's transaction);
its share is printed too, so the bulk path itself can be compared with the floor.
Usage: python bench/load.py [--scales 1 10] [--repeat 3] [--targets duckdb postgres] [--skip-pandas] [--json F]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from scratch import drop_database, scratch_env

from core.warehouse import Warehouse
from ingestion.contract import SOURCES
from ingestion.generator import generate
from ingestion.loader import load

os.environ.setdefault("DO_NOT_TRACK", "1")


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median wall seconds of `repeat` calls."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def floor_duckdb(warehouse: Warehouse, data_dir: Path) -> None:
    """Bare DuckDB: one CTAS from read_csv per file, all text."""
    import duckdb

    con = duckdb.connect(str(warehouse.duckdb_path))
    con.execute("create schema if not exists bench_floor")
    for s in SOURCES:
        con.execute(
            f"create or replace table bench_floor.{s.name} as"
            " select * from read_csv(?, header = true, all_varchar = true)",
            [str(data_dir / s.file)],
        )
    con.close()


def floor_postgres(warehouse: Warehouse, data_dir: Path) -> None:
    """Bare Postgres: COPY FROM STDIN into fresh plain text tables, one transaction."""
    import psycopg2

    con = psycopg2.connect(**warehouse.postgres.connect_kwargs())
    cur = con.cursor()
    cur.execute("create schema if not exists bench_floor")
    for s in SOURCES:
        cur.execute(f"drop table if exists bench_floor.{s.name}")
        cur.execute(f"create table bench_floor.{s.name} ({', '.join(f'{c} text' for c in s.columns)})")
        with (data_dir / s.file).open("rb") as fh:
            cur.copy_expert(f"copy bench_floor.{s.name} from stdin (format csv, header true)", fh)
    con.commit()
    con.close()


def naive_pandas(warehouse: Warehouse, data_dir: Path) -> None:
    """The naive way: pandas read_csv + to_sql through SQLAlchemy."""
    import pandas as pd
    import sqlalchemy as sa

    if warehouse.target == "duckdb":
        engine = sa.create_engine(f"duckdb:///{warehouse.duckdb_path}")
    else:
        pg = warehouse.postgres
        engine = sa.create_engine(f"postgresql+psycopg2://{pg.user}:{pg.password}@{pg.host}:{pg.port}/{pg.dbname}")
    with engine.begin() as conn:
        conn.execute(sa.text("create schema if not exists bench_pandas"))
    for s in SOURCES:
        frame = pd.read_csv(data_dir / s.file, dtype=str, keep_default_na=False)
        frame.to_sql(s.name, engine, schema="bench_pandas", if_exists="replace", index=False)
    engine.dispose()


def make_warehouse(target: str, workdir: Path) -> tuple[Warehouse, Callable[[], None]]:
    """A fresh warehouse for the benchmark and a function that removes it."""
    env, database = scratch_env(target, workdir)
    warehouse = Warehouse.from_env(target, environ=env)
    if database is None:
        return warehouse, lambda: None
    warehouse.ensure_postgres_database()
    return warehouse, lambda: drop_database(env)


def measure(target: str, workdir: Path, data_dir: Path, repeat: int, with_pandas: bool) -> tuple:
    """Seconds for ours, of which the data contract, the floor and pandas (None if skipped), on one fresh
    warehouse. The first load of the process (which imports Great Expectations) is a warm-up, untimed."""
    warehouse, drop = make_warehouse(target, workdir)
    floor_fn = floor_duckdb if target == "duckdb" else floor_postgres
    contract: list[float] = []

    def ours_load() -> None:
        contract.append(load(warehouse, data_dir, out=None).validation_seconds)

    try:
        load(warehouse, data_dir, sources=["stores"], out=None)  # imports GX once, as a long-lived process has
        ours = timed(ours_load, repeat)
        floor = timed(lambda: floor_fn(warehouse, data_dir), repeat)
        pandas_s = timed(lambda: naive_pandas(warehouse, data_dir), 1) if with_pandas else None
    finally:
        drop()
    return ours, statistics.median(contract), floor, pandas_s


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--targets", nargs="+", default=["duckdb", "postgres"])
    parser.add_argument("--skip-pandas", action="store_true")
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args()

    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    header = f"{'scale':>5} {'target':<9} {'rows':>10} {'MB':>7} {'ours s':>8} {'contract':>8} {'floor s':>8}"
    header += f" {'pandas s':>9} {'ours/floor':>10} {'bulk/floor':>10} {'pandas/ours':>11}"
    print(header)
    print("-" * len(header))
    results = []
    for scale in args.scales:
        with tempfile.TemporaryDirectory(prefix=f"elt-bench-{scale}-") as tmp:
            workdir = Path(tmp)
            data_dir = workdir / "data"
            expected = generate(data_dir, scale=scale, seed=42)
            rows = sum(f["rows"] for f in expected["files"].values())
            mb = sum(f["bytes"] for f in expected["files"].values()) / 1e6
            for target in args.targets:
                ours, contract, floor, pandas_s = measure(target, workdir, data_dir, args.repeat, not args.skip_pandas)
                pandas_text = f"{pandas_s:>9.2f}" if pandas_s is not None else f"{'-':>9}"
                ratio_text = f"{pandas_s / ours:>10.1f}x" if pandas_s is not None else f"{'-':>11}"
                print(
                    f"{scale:>5} {target:<9} {rows:>10,} {mb:>7.1f} {ours:>8.3f} {contract:>8.3f} {floor:>8.3f}"
                    f" {pandas_text} {ours / floor:>9.2f}x {(ours - contract) / floor:>9.2f}x {ratio_text}",
                    flush=True,
                )
                results.append(
                    {
                        "scale": scale,
                        "target": target,
                        "rows": rows,
                        "megabytes": mb,
                        "ours": ours,
                        "contract": contract,
                        "floor": floor,
                        "pandas": pandas_s,
                    }
                )
    print("ours = elt load (contract check, _source_row, _load_id, one transaction, swap, audit.loads);")
    print("floor = bare COPY FROM STDIN (Postgres) / CTAS from read_csv (DuckDB); goal: ours/floor <= 1.3x")
    print("bulk = ours without the data contract's validation time")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"repeat": args.repeat, "results": results}, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
