"""Overhead benchmark: `elt run` against the bare tools, a no-op run, a one-file change, and Airflow
(docs/benchmarks.md).

For each scale (default 1 and 10) the data is generated once (seed 42, untimed); for each target, each
warehouse a fresh scratch one (bench/scratch.py; Postgres databases dropped at the end):
  ours      wall seconds of `elt run --force` in a subprocess, its
            seconds per step from audit.runs and its data contract's seconds from its output
  floor     the bare tools on another fresh warehouse: the bare bulk load of bench/load.py (timed), then
            `elt load` (untimed: raw as the project expects it, audit tables included), then a plain
            `dbt build` of the project in a subprocess (timed); floor = bare load s + dbt build s
  no-op     `elt run` again on ours' warehouse, nothing changed
  changed   `elt run` on the same warehouse from a copy of the data whose Stores.csv renames one store
Ratios and goals: ours / floor <= 1.15; data contract / ours' total (sum of its steps) <= 10% at scale 1;
no-op <= 2 s; changed / ours (no goal); Postgres build / DuckDB build (build_seconds of ours) <= 1.5 at
scale 10. With --airflow, at scale 1 on DuckDB: `airflow dags test elt_pipeline` as `make airflow-test` runs
it (fresh AIRFLOW_HOME, `airflow db migrate` untimed), its wall seconds / ours <= 1.5 and the dbt task
group's span (task_instance in the metadata DB) / ours' build seconds <= 1.3. When the scale-1 part is what
`make bench-quick` runs (both targets, --airflow), its wall seconds <= 180 (issue 22, goal 6).
Usage: python bench/overhead.py [--scales 1 10] [--targets duckdb postgres] [--airflow] [--json FILE]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from load import floor_duckdb, floor_postgres
from scratch import drop_database, scratch_env

from core.audit import STEPS
from core.dbt_project import OFFLINE_ENV
from core.warehouse import Warehouse
from ingestion.generator import generate

PROJECT_DIR = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CONTRACT = re.compile(r"data contract checked in ([0-9.]+) s")
RUN_LINE = re.compile(r"^run (\S+) (succeeded|FAILED)", re.MULTILINE)
SUMMARY_LINE = re.compile(r"^\s+(\w+)\s+([0-9.]+|-)\s+(.*)$")
AIRFLOW_TIMEOUT_S = 1800.0  # `airflow dags test` taking longer than this counts as failed
RENAMED = " (renamed)"  # appended to one store's State in the changed copy of the data

# Goals (docs/benchmarks.md): (what, comparison, bound, at which scale: None = every scale)
GOAL_OURS_FLOOR = 1.15  # ours / floor
GOAL_CONTRACT_SHARE = 0.10  # data contract seconds / ours' total, at scale 1
GOAL_NOOP_S = 2.0  # wall seconds of a run with nothing changed
GOAL_PG_DUCKDB = 1.5  # Postgres build / DuckDB build, at scale 10
GOAL_AIRFLOW_WALL = 1.5  # `airflow dags test` / ours, scale 1 DuckDB
GOAL_AIRFLOW_DBT = 1.3  # dbt task group's span / ours' build seconds
GOAL_QUICK_S = 180.0  # wall seconds of `make bench-quick`: this script at scale 1, both targets, --airflow


@dataclass
class EltRun:
    """One `elt run` subprocess: its wall seconds, its steps (audit.runs) and its summary notes (stdout)."""

    wall_seconds: float
    ok: bool
    run_id: str | None = None
    seconds: dict[str, float | None] = field(default_factory=dict)  # step -> seconds (audit.runs), None: not run
    contract_seconds: float | None = None
    notes: dict[str, str] = field(default_factory=dict)  # step -> its line of the summary table
    error: str | None = None  # the tail of the output of a run that failed

    @property
    def total(self) -> float:
        """Seconds of its steps added up (as bench/pipeline.py's total)."""
        return sum(s for s in self.seconds.values() if s)


@dataclass
class TargetResult:
    """Every figure of one scale and target."""

    scale: int
    target: str
    rows: int
    megabytes: float
    ours: EltRun
    noop: EltRun
    changed: EltRun
    bare_load_seconds: float
    dbt_build_seconds: float
    dbt_build_ok: bool

    @property
    def floor(self) -> float:
        """Bare bulk load + plain `dbt build`, seconds."""
        return self.bare_load_seconds + self.dbt_build_seconds


def extra_env(workdir: Path) -> dict[str, str]:
    """Telemetry off for every tool (the scratch env puts every folder an `elt` command writes in workdir)."""
    return {
        **OFFLINE_ENV,
        "GX_ANALYTICS_ENABLED": "false",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
    }


def elt_run(env: dict[str, str], target: str, data_dir: Path, reports_dir: Path, force: bool = False) -> EltRun:
    """`elt run` as a user runs it, in a subprocess; wall seconds, then its steps read from audit.runs."""
    command = [sys.executable, "-m", "elt.cli", "run", *(["--force"] if force else [])]
    command += ["--data-dir", str(data_dir), "--reports-dir", str(reports_dir)]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=PROJECT_DIR, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    found = RUN_LINE.search(done.stdout)
    run = EltRun(wall_seconds=wall, ok=done.returncode == 0, run_id=found.group(1) if found else None)
    if not run.ok:
        run.error = f"exit {done.returncode}: {done.stdout[-1500:]}\n{done.stderr[-1500:]}".strip()
    contract = CONTRACT.search(done.stdout)
    run.contract_seconds = float(contract.group(1)) if contract else None
    table = done.stdout.rsplit("  step ", 1)[-1] if "  step " in done.stdout else ""
    for line in table.splitlines():
        matched = SUMMARY_LINE.match(line)
        if matched and matched.group(1) in ("load", "build"):
            run.notes[matched.group(1)] = matched.group(3).strip()
    if run.run_id:
        conn = Warehouse.from_env(target, environ=env).connect(read_only=True)
        try:
            columns = ", ".join(f"{step}_seconds" for step in STEPS)
            found_rows = conn.execute(f"select {columns} from audit.runs where run_id = ?", (run.run_id,))
        finally:
            conn.close()
        if found_rows:
            run.seconds = {s: None if v is None else float(v) for s, v in zip(STEPS, found_rows[0], strict=True)}
    return run


def rename_one_store(data_dir: Path, into: Path) -> str:
    """A copy of data_dir in `into` whose Stores.csv gives the first physical store (StoreKey != 0) another
    State, same header and every other row as it was; returns what it changed, for the record."""
    shutil.copytree(data_dir, into)
    path = into / "Stores.csv"
    raw = path.read_bytes()
    newline = "\r\n" if b"\r\n" in raw else "\n"
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))
    header, body = rows[0], rows[1:]
    key, state = header.index("StoreKey"), header.index("State")
    row = next(r for r in body if r and r[key].strip() != "0")
    before = row[state]
    row[state] = before + RENAMED
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator=newline).writerows([header, *body])
    path.write_bytes(out.getvalue().encode("utf-8"))
    return f"StoreKey {row[key]}: State {before!r} -> {row[state]!r}"


def measure_floor(target: str, workdir: Path, data_dir: Path) -> tuple[float, float, bool]:
    """Bare bulk load seconds and plain `dbt build` seconds on a fresh warehouse (and whether dbt passed).

    Raw is loaded by `elt load` (untimed) between the two, as the project's sources expect it."""
    workdir.mkdir(parents=True, exist_ok=True)
    env, database = scratch_env(target, workdir)
    env.update(extra_env(workdir))
    warehouse = Warehouse.from_env(target, environ=env)
    try:
        if database:
            warehouse.ensure_postgres_database()
        bare = floor_duckdb if target == "duckdb" else floor_postgres
        started = time.perf_counter()
        bare(warehouse, data_dir)
        bare_seconds = time.perf_counter() - started
        loaded = subprocess.run(
            [sys.executable, "-m", "elt.cli", "load", "--data-dir", str(data_dir)],
            cwd=PROJECT_DIR,
            env=env,
            capture_output=True,
            text=True,
        )
        if loaded.returncode != 0:
            raise SystemExit(f"elt load failed for the floor on {target}:\n{loaded.stdout[-2000:]}{loaded.stderr}")
        command = [str(BIN / "dbt"), "build", "--project-dir", "dbt_project", "--profiles-dir", "dbt_project"]
        command += ["--target", target, "--target-path", str(workdir / "dbt-target")]
        started = time.perf_counter()
        built = subprocess.run(command, cwd=PROJECT_DIR, env=env, capture_output=True, text=True)
        dbt_seconds = time.perf_counter() - started
        if built.returncode != 0:
            print(f"  plain dbt build failed on {target} (exit {built.returncode}):\n{built.stdout[-1500:]}")
        return bare_seconds, dbt_seconds, built.returncode == 0
    finally:
        if database:
            drop_database(env)


def measure_target(scale: int, target: str, workdir: Path, data_dir: Path, changed_dir: Path) -> TargetResult:
    """ours, no-op and changed on one fresh warehouse (in that order), then the floor on another."""
    ours_dir = workdir / f"ours-{target}"
    ours_dir.mkdir(parents=True)
    env, database = scratch_env(target, ours_dir)
    env.update(extra_env(ours_dir))
    reports = ours_dir / "reports"
    try:
        ours = elt_run(env, target, data_dir, reports, force=True)
        if not ours.ok:
            raise SystemExit(f"elt run failed at scale {scale} on {target}:\n{ours.error}")
        noop = elt_run(env, target, data_dir, reports, force=False)
        changed = elt_run(env, target, changed_dir, reports, force=False)
    finally:
        if database:
            drop_database(env)
    bare, dbt_s, dbt_ok = measure_floor(target, workdir / f"floor-{target}", data_dir)
    expected = json.loads((data_dir / "expected.json").read_text(encoding="utf-8"))
    return TargetResult(
        scale=scale,
        target=target,
        rows=sum(f["rows"] for f in expected["files"].values()),
        megabytes=sum(f["bytes"] for f in expected["files"].values()) / 1e6,
        ours=ours,
        noop=noop,
        changed=changed,
        bare_load_seconds=bare,
        dbt_build_seconds=dbt_s,
        dbt_build_ok=dbt_ok,
    )


def airflow_env(workdir: Path, data_dir: Path) -> dict[str, str]:
    """The environment `make airflow-test` gives `airflow` (the Makefile's AIRFLOW_ENV, ELT_AIRFLOW_RETRIES=0),
    with its home, warehouse, reports, Data Docs, lineage and dbt artifacts in `workdir`."""
    env, _ = scratch_env("duckdb", workdir)
    env.update(extra_env(workdir))
    port = "8080"
    base_url = f"http://localhost:{port}"
    env.update(
        {
            "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
            "AIRFLOW_HOME": str(workdir / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_DIR / "orchestration" / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__API__PORT": port,
            "AIRFLOW__API__BASE_URL": f"{base_url}/",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base_url}/execution/",
            "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "300",
            "AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT": "360",
            "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "60",
            "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
            "AIRFLOW__COSMOS__ENABLE_WATCHER_RELIABLE_RETRY": "False",
            "AIRFLOW__COSMOS__CACHE_DIR": str(workdir / "airflow" / "cosmos"),  # not the machine's shared one
            "ELT_DATA_DIR": str(data_dir),
            "ELT_REPORTS_DIR": str(workdir / "reports"),
            "ELT_TARGET": "duckdb",
            "ELT_AIRFLOW_RETRIES": "0",
        }
    )
    env.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)  # the metadata DB: AIRFLOW_HOME/airflow.db (sqlite)
    return env


def measure_airflow(workdir: Path, data_dir: Path, manifest: Path | None) -> dict:
    """`airflow dags test elt_pipeline` on a fresh DuckDB warehouse: wall seconds, success, and the span of
    the dbt task group (first dbt.* task start to last dbt.* task end) from the metadata DB.

    `manifest` (ours' published manifest.json) is copied to where the DAG reads it, untimed, as after a
    `make run`; without it the DAG file runs `dbt parse` itself (inside the timed run)."""
    workdir.mkdir(parents=True)
    env = airflow_env(workdir, data_dir)
    if manifest is not None and manifest.is_file():
        (workdir / "target" / "duckdb").mkdir(parents=True, exist_ok=True)
        shutil.copy2(manifest, workdir / "target" / "duckdb" / "manifest.json")
    airflow = str(BIN / "airflow")
    migrated = subprocess.run([airflow, "db", "migrate"], cwd=PROJECT_DIR, env=env, capture_output=True, text=True)
    if migrated.returncode != 0:
        error = f"airflow db migrate: exit {migrated.returncode}: {migrated.stderr[-1500:]}"
        empty: dict = {"tasks": 0, "task_states": {}, "dbt_tasks": 0, "dbt_span_seconds": None}
        return {"wall_seconds": None, "ok": False, **empty, "error": error}
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [airflow, "dags", "test", "elt_pipeline"],
            cwd=PROJECT_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=AIRFLOW_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as exc:
        done = subprocess.CompletedProcess(exc.cmd, -1, f"timed out after {AIRFLOW_TIMEOUT_S:.0f} s", "")
    wall = time.perf_counter() - started
    db = sqlite3.connect(workdir / "airflow" / "airflow.db")
    try:
        found = db.execute("select run_id from dag_run where dag_id = 'elt_pipeline' order by id desc").fetchone()
        tasks = (
            db.execute(
                "select task_id, state, start_date, end_date from task_instance where dag_id = 'elt_pipeline'"
                " and run_id = ?",
                (found[0],),
            ).fetchall()
            if found
            else []
        )
    finally:
        db.close()
    dbt_tasks = [t for t in tasks if t[0].startswith("dbt.") and t[2] and t[3]]
    span = None
    if dbt_tasks:
        first = min(_timestamp(t[2]) for t in dbt_tasks)
        last = max(_timestamp(t[3]) for t in dbt_tasks)
        span = (last - first).total_seconds()
    states: dict[str, int] = {}
    for task in tasks:
        states[str(task[1])] = states.get(str(task[1]), 0) + 1
    ok = done.returncode == 0 and bool(tasks) and set(states) == {"success"}
    return {
        "wall_seconds": wall,
        "ok": ok,
        "tasks": len(tasks),
        "task_states": states,
        "dbt_tasks": len(dbt_tasks),
        "dbt_span_seconds": span,
        "profile": task_profile(tasks, done.stdout + done.stderr + _task_logs(workdir / "airflow" / "logs")),
        "error": None if ok else f"exit {done.returncode}: {done.stdout[-1500:]}\n{done.stderr[-1500:]}".strip(),
    }


def task_profile(tasks: list[tuple], output: str) -> dict:
    """Where a `dags test` run's time went: every task's seconds (start to end, from the metadata DB), their
    sum (`dags test` runs the tasks one after another, so wall minus the sum is its own start, the DAG's
    parse and the gaps between tasks), the sum per kind (the WATCHER producer, the dbt model tasks that read
    its results, the rest) and the log lines that say how the producer's dbt parsed the project."""
    timed = sorted(
        (
            (task_id, (_timestamp(end) - _timestamp(start)).total_seconds())
            for task_id, _, start, end in tasks
            if start and end
        ),
        key=lambda item: -item[1],
    )
    kinds = {"producer": 0.0, "dbt model tasks": 0.0, "other tasks": 0.0}
    for task_id, seconds in timed:
        kind = (
            "producer"
            if task_id.endswith("_producer_watcher")
            else "dbt model tasks"
            if task_id.startswith("dbt.")
            else "other tasks"
        )
        kinds[kind] += seconds
    parse_lines = list(
        dict.fromkeys(
            re.sub(
                r"^.*?(Partial parse|Unable to do partial parsing|partial parsing|Performance info)", r"\1", line
            ).strip()[:200]
            for line in output.splitlines()
            if re.search(r"partial.pars|Performance info", line, re.IGNORECASE)
        )
    )[:6]
    return {
        "task_seconds_total": sum(seconds for _, seconds in timed),
        "by_kind_seconds": kinds,
        "slowest_tasks": [[task_id, round(seconds, 2)] for task_id, seconds in timed[:8]],
        "producer_parse_lines": parse_lines,
    }


def _task_logs(folder: Path) -> str:
    """The task log files `dags test` wrote (Airflow 3: one JSON object per line), as plain text lines."""
    lines = []
    for path in sorted(folder.rglob("*.log")) if folder.is_dir() else []:
        for line in path.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                lines.append(line)
            else:
                lines.append(str(record.get("event", line)) if isinstance(record, dict) else line)
    return "\n" + "\n".join(lines)


def _timestamp(text: str) -> datetime:
    """A task_instance date of the sqlite metadata DB (`2026-01-01 10:00:00.123456+00:00` or naive UTC)."""
    value = datetime.fromisoformat(str(text))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def ratio(
    name: str, value: float | None, goal: float | None, scale: int | None, target: str | None, unit: str = "x"
) -> dict:
    """One line of the ratio table: `value` against `goal` (an upper bound; None: no goal, only reported);
    unit: x (a ratio), % (a share) or s (seconds)."""
    met = None if value is None or goal is None else value <= goal
    return {"name": name, "scale": scale, "target": target, "value": value, "goal": goal, "met": met, "unit": unit}


def ratios(results: list[TargetResult], airflow: dict | None, quick_seconds: float | None = None) -> list[dict]:
    """Every ratio with its goal, from the measured runs. `quick_seconds`: how long the scale-1 part took when
    it was what `make bench-quick` runs (both targets and Airflow), else None (not reported)."""
    out = []
    for r in results:
        ours = r.ours.wall_seconds
        over_floor = ours / r.floor if r.dbt_build_ok else None
        out.append(ratio("ours / floor", over_floor, GOAL_OURS_FLOOR, r.scale, r.target))
        share = r.ours.contract_seconds / r.ours.total if r.ours.contract_seconds and r.ours.total else None
        goal = GOAL_CONTRACT_SHARE if r.scale == 1 else None
        out.append(ratio("data contract / ours total", share, goal, r.scale, r.target, "%"))
        noop = r.noop.wall_seconds if r.noop.ok else None
        out.append(ratio("no-op run, seconds", noop, GOAL_NOOP_S, r.scale, r.target, "s"))
        changed = r.changed.wall_seconds / ours if r.changed.ok else None
        out.append(ratio("changed file / ours", changed, None, r.scale, r.target))
    for scale in sorted({r.scale for r in results}):
        by_target = {r.target: r for r in results if r.scale == scale}
        if {"duckdb", "postgres"} <= set(by_target):
            pg, duck = by_target["postgres"].ours.seconds.get("build"), by_target["duckdb"].ours.seconds.get("build")
            value = pg / duck if pg and duck else None
            goal = GOAL_PG_DUCKDB if scale == 10 else None
            out.append(ratio("postgres build / duckdb build", value, goal, scale, None))
    if airflow is not None:
        wall = airflow["wall_seconds"] / airflow["ours_wall_seconds"] if airflow["ok"] else None
        out.append(ratio("airflow dags test / ours", wall, GOAL_AIRFLOW_WALL, 1, "duckdb"))
        span, build = airflow["dbt_span_seconds"], airflow["ours_build_seconds"]
        dbt = span / build if airflow["ok"] and span and build else None
        out.append(ratio("airflow dbt group / ours build", dbt, GOAL_AIRFLOW_DBT, 1, "duckdb"))
    if quick_seconds is not None:
        out.append(ratio("bench-quick's work, seconds", quick_seconds, GOAL_QUICK_S, 1, None, "s"))
    return out


def show(value: float | None, unit: str = "x") -> str:
    """A ratio (`1.23x`), a share (`12.3%`) or seconds (`1.23 s`); `-` when not measured."""
    if value is None:
        return "-"
    return {"x": f"{value:.2f}x", "%": f"{value:.1%}", "s": f"{value:.2f} s"}[unit]


def airflow_part(results: list[TargetResult], workdir: Path) -> dict | None:
    """`measure_airflow` on the scale's data, beside ours on DuckDB at scale 1 (printed); None without that run."""
    ours = next((r for r in results if r.scale == 1 and r.target == "duckdb"), None)
    if ours is None:
        print("--airflow needs the DuckDB run at scale 1 (ours) to compare with: skipped")
        return None
    manifest = workdir / "ours-duckdb" / "target" / "duckdb" / "manifest.json"
    airflow = measure_airflow(workdir / "airflow-run", workdir / "data", manifest)
    airflow |= {"ours_wall_seconds": ours.ours.wall_seconds, "ours_build_seconds": ours.ours.seconds.get("build")}
    span = show(airflow["dbt_span_seconds"], "s")
    print(
        f"airflow dags test (scale 1, duckdb): {show(airflow['wall_seconds'], 's')}, dbt task group"
        f" {span}, {airflow['tasks']} tasks {airflow['task_states']}",
        flush=True,
    )
    if not airflow["ok"]:
        print(f"  airflow run failed: {airflow['error']}")
    return airflow


def main() -> None:
    """Run the benchmark, print the runs and the ratio table, optionally write them as JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--targets", nargs="+", choices=["duckdb", "postgres"], default=["duckdb", "postgres"])
    parser.add_argument("--airflow", action="store_true", help="also `airflow dags test` at scale 1 on DuckDB")
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args()

    started = time.perf_counter()
    print(f"machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print("ours = elt run --force", flush=True)
    head = f"{'scale':>5} {'target':<9} {'rows':>9} {'ours s':>7} {'build':>6} {'contract':>8} {'bare':>6}"
    print(head + f" {'dbt':>6} {'floor':>6} {'no-op':>6} {'changed':>7}")
    results: list[TargetResult] = []
    airflow: dict | None = None
    changes: dict[int, str] = {}
    quick_seconds = None  # the scale-1 part, when it is what `make bench-quick` runs
    for scale in args.scales:
        with tempfile.TemporaryDirectory(prefix=f"elt-bench-overhead-{scale}-") as tmp:
            workdir = Path(tmp)
            generate(workdir / "data", scale=scale, seed=42)
            changes[scale] = rename_one_store(workdir / "data", workdir / "data-changed")
            for target in args.targets:
                r = measure_target(scale, target, workdir, workdir / "data", workdir / "data-changed")
                results.append(r)
                contract = show(r.ours.contract_seconds, "s").removesuffix(" s")
                noop = f"{r.noop.wall_seconds:.2f}" + ("" if r.noop.ok else "!")
                changed = f"{r.changed.wall_seconds:.2f}" + ("" if r.changed.ok else "!")
                print(
                    f"{scale:>5} {target:<9} {r.rows:>9,} {r.ours.wall_seconds:>7.2f}"
                    f" {r.ours.seconds.get('build') or 0:>6.2f} {contract:>8} {r.bare_load_seconds:>6.2f}"
                    f" {r.dbt_build_seconds:>6.2f}{'' if r.dbt_build_ok else '!'} {r.floor:>6.2f} {noop:>6}"
                    f" {changed:>7}",
                    flush=True,
                )
                for name, run in (("no-op", r.noop), ("changed", r.changed)):
                    if not run.ok:
                        print(f"  {name} run failed: {run.error}")
            if args.airflow and scale == 1:
                airflow = airflow_part(results, workdir)
        if scale == 1 and args.scales[0] == 1 and args.airflow and set(args.targets) == {"duckdb", "postgres"}:
            quick_seconds = time.perf_counter() - started
    table = ratios(results, airflow, quick_seconds)
    print(f"\n{'ratio':<32} {'scale':>5} {'target':<9} {'value':>8} {'goal':>9}  verdict")
    for row in table:
        unit = row["unit"]
        goal = "-" if row["goal"] is None else "<= " + show(row["goal"], unit)
        verdict = {True: "met", False: "MISSED", None: "-" if row["goal"] is None else "not measured"}[row["met"]]
        print(
            f"{row['name']:<32} {row['scale'] or '-':>5} {row['target'] or '-':<9} {show(row['value'], unit):>8}"
            f" {goal:>9}  {verdict}"
        )
    print("\nruns' notes (load / build):")
    for r in results:
        for name, run in (("ours", r.ours), ("no-op", r.noop), ("changed", r.changed)):
            print(f"  {r.scale:>3} {r.target:<9} {name:<8} load: {run.notes.get('load', '-')}")
            print(f"  {'':>3} {'':<9} {'':<8} build: {run.notes.get('build', '-')}")
    print(f"\noverhead benchmark took {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "measured_at": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            "machine": f"{platform.node()}, {os.cpu_count()} cores",
            "changed_file": changes,
            "results": [asdict(r) | {"floor": r.floor} for r in results],
            "airflow": airflow,
            "ratios": table,
            "seconds": time.perf_counter() - started,
        }
        args.json.write_text(json.dumps(payload, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
