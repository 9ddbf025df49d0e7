"""`make bench`: run every benchmark one after the other, then write bench/RESULTS.md from their results.

  load       bench/load.py: `elt load` vs the bare bulk path vs pandas to_sql, scale 1 and 10
  pipeline   bench/pipeline.py: `elt run` per step and its peak RSS at scale 1, 10, 30 and 100, DuckDB and Postgres
  api        bench/api.py: 10 and 50 clients for 20 s each against a live `elt serve` (2 workers), DuckDB
             and Postgres in turn, with the API goals checked
  dag        bench/dag_parse.py: parse time of the Airflow DAG
  dashboard  bench/dashboard.py: server time of every dashboard page at scale 1, DuckDB and Postgres
  overhead   bench/overhead.py: `elt run` vs the bare tools, a no-op run, a one-file change, Postgres vs
             DuckDB build, and `airflow dags test` vs `elt run`, scale 1 and 10, with their goals
  spark      bench/pipeline.py --targets duckdb spark: `elt run` on Spark (local session) beside DuckDB, scale
             1 and 10, per step (docs/scaling-out.md quotes it)
Each writes JSON into bench/out/; RESULTS.md is rendered from those files, with the optimisations kept in
bench/optimisations.md (measured before/after, written by hand) and the machine it ran on. A section whose
JSON is not in bench/out/ is kept as RESULTS.md has it, so `--only api` re-measures the API section alone.
Usage: python bench/results.py [--only load pipeline api dag dashboard overhead spark] [--render-only] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "out"
RESULTS = BENCH / "RESULTS.md"
OPTIMISATIONS = BENCH / "optimisations.md"
LOAD_GOAL = 1.3  # ours / floor
API_CLIENTS, API_SECONDS = (10, 50), 20.0

COMMANDS = {
    "load": ["load.py", "--scales", "1", "10", "--repeat", "3"],
    "pipeline": ["pipeline.py", "--scales", "1", "10", "30", "100"],
    "api": ["api.py", "--targets", "duckdb", "postgres", "--clients", *map(str, API_CLIENTS)]
    + ["--seconds", str(API_SECONDS), "--workers", "2"],
    "dag": ["dag_parse.py"],
    "dashboard": ["dashboard.py", "--targets", "duckdb", "postgres"],
    "overhead": ["overhead.py", "--scales", "1", "10", "--airflow"],
    "spark": ["pipeline.py", "--scales", "1", "10", "--targets", "duckdb", "spark"],
}
QUICK = {  # a smoke run of the whole chain (small scales, short loads): not for RESULTS.md figures
    "load": ["load.py", "--scales", "1", "--repeat", "1", "--skip-pandas"],
    "pipeline": ["pipeline.py", "--scales", "1"],
    "api": ["api.py", "--targets", "duckdb", "--clients", "5", "--seconds", "2", "--workers", "1"],
    "dag": ["dag_parse.py", "--modes", "watcher"],
    "dashboard": ["dashboard.py", "--targets", "duckdb", "--repeat", "3", "--warmup", "1"],
    "overhead": ["overhead.py", "--scales", "1"],
    "spark": ["pipeline.py", "--scales", "1", "--targets", "duckdb", "spark"],
}


def run(name: str, quick: bool) -> float:
    """One benchmark script, its table on the terminal, its JSON into bench/out/; returns seconds taken."""
    command = [sys.executable, str(BENCH / (QUICK if quick else COMMANDS)[name][0])]
    command += (QUICK if quick else COMMANDS)[name][1:] + ["--json", str(OUT / f"{name}.json")]
    print(f"\n=== {name}: {' '.join(command[1:])}", flush=True)
    (OUT / f"{name}.json").unlink(missing_ok=True)  # results of an earlier run must not pass for this one's
    started = time.perf_counter()
    done = subprocess.run(command, env={**os.environ, "DO_NOT_TRACK": "1"})
    seconds = time.perf_counter() - started
    if not (OUT / f"{name}.json").is_file():
        raise SystemExit(f"{name} benchmark failed (exit {done.returncode}) and wrote no results")
    return seconds


def machine() -> str:
    """The machine the figures come from."""
    import duckdb
    import psycopg2

    from core.warehouse import Warehouse

    conn = Warehouse.from_env("postgres", environ={**os.environ, "PGDATABASE": "postgres"}).connect()
    try:
        pg = conn.scalar("show server_version")
    finally:
        conn.close()
    cpu = _cpu_model()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB RAM, {platform.system()} {platform.release()};"
        f" Python {platform.python_version()}, DuckDB {duckdb.__version__}, PostgreSQL {pg} on 127.0.0.1"
        f" (psycopg2 {psycopg2.__version__.split()[0]})"
    )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _load(name: str) -> dict | None:
    path = OUT / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _x(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}×"


def _s(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


SECTIONS = {  # benchmark -> the start of its section's heading in RESULTS.md
    "load": "## Load:",
    "pipeline": "## Pipeline:",
    "api": "## API under load",
    "dag": "## Airflow DAG parse time",
    "dashboard": "## Dashboard pages",
    "overhead": "## Overhead, no-op and changed-file runs",
    "spark": "## Spark beside DuckDB",
}


def previous_sections(text: str) -> dict[str, list[str]]:
    """The lines of each benchmark's section in an earlier RESULTS.md (heading to the next `## `)."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("## "):
            name = next((n for n, heading in SECTIONS.items() if line.startswith(heading)), None)
            current = found.setdefault(name, []) if name else None
        if current is not None:
            current.append(line)
    return found


def render(durations: dict[str, float], previous: str = "") -> str:
    """RESULTS.md from bench/out/*.json; a section without results there is taken from `previous`."""
    parts = ["# Benchmark results", ""]
    old_header = previous.split("\n## ", 1)[0].splitlines()[1:]
    if durations:  # sections re-measured now: the line naming them is written anew below
        old_header = [line for line in old_header if not line.startswith("Sections re-measured")]
    while old_header and not old_header[-1].strip():
        old_header.pop()
    while old_header and not old_header[0].strip():
        old_header.pop(0)
    if set(durations) >= set(COMMANDS) or not old_header:
        total = sum(durations.values())
        each = ", ".join(f"{name} {seconds / 60:.1f} min" for name, seconds in durations.items())
        parts += [
            f"Written by `make bench` (`python bench/results.py`) on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
            f"Machine: {machine()}. The benchmarks ran one after the other; nothing else was running.",
            "",
            f"`make bench` took {total / 60:.1f} min ({each}).",
            "",
        ]
    elif durations:  # some sections re-measured alone (--only): the whole run's header stays; each dates itself
        again = ", ".join(sorted(durations))
        parts += [*old_header, "", f"Sections re-measured alone since: {again} (each says when).", ""]
    else:  # --render-only: the header as it was
        parts += [*old_header, ""]
    kept = previous_sections(previous)
    renderers = {
        "load": _load_section,
        "pipeline": _pipeline_section,
        "api": _api_section,
        "dag": _dag_section,
        "dashboard": _dashboard_section,
        "overhead": _overhead_section,
        "spark": _spark_section,
    }
    for name, section in renderers.items():
        data = _load(name)
        parts += section(data) if data else kept.get(name, [])
    if OPTIMISATIONS.is_file():
        parts += [OPTIMISATIONS.read_text(encoding="utf-8").rstrip(), ""]
    return "\n".join(parts)


def _load_section(data: dict | None) -> list[str]:
    if not data:
        return []
    lines = [
        "## Load: `elt load` vs the bare bulk path vs pandas",
        "",
        f"Median of {data['repeat']} runs (pandas once), seed 42. *ours* is `elt load`: header contract,",
        "`_source_row`/`_load_id`, one transaction, swap, audit rows, and the raw data contract (Great",
        "Expectations on the staged rows; GX already imported). *floor* is a bare `COPY FROM STDIN` (Postgres)",
        "or `CREATE TABLE AS SELECT * FROM read_csv(all_varchar)` (DuckDB). *bulk* is ours without the",
        f"contract's validation time. Goal: ours / floor ≤ {LOAD_GOAL}×.",
        "",
        "| scale | target | rows | MB | ours s | of which contract s | floor s | pandas s | ours / floor"
        " | bulk / floor | pandas / ours |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in data["results"]:
        ours, floor, contract, pandas_s = r["ours"], r["floor"], r["contract"], r["pandas"]
        lines.append(
            f"| {r['scale']} | {r['target']} | {r['rows']:,} | {r['megabytes']:.1f} | {ours:.2f} | {contract:.2f}"
            f" | {floor:.2f} | {_s(pandas_s, 1)} | {_x(ours / floor)} | {_x((ours - contract) / floor)}"
            f" | {_x(pandas_s / ours if pandas_s else None, 0)} |"
        )
    met = [r for r in data["results"] if r["ours"] / r["floor"] <= LOAD_GOAL]
    bulk_met = [r for r in data["results"] if (r["ours"] - r["contract"]) / r["floor"] <= LOAD_GOAL]
    lines += [
        "",
        f"Goal ours / floor ≤ {LOAD_GOAL}×: met in {len(met)} of {len(data['results'])} cases with the contract,"
        f" {len(bulk_met)} of {len(data['results'])} for the bulk path alone.",
        "",
    ]
    return lines


def _pipeline_section(data: dict | None) -> list[str]:
    if not data:
        return []
    steps = ("load", "validate", "build", "export", "docs")
    rss_goal = data.get("rss_goal_mib", 4096.0)
    lines = [
        "## Pipeline: `elt run` per step",
        "",
        "One `elt run` per scale and target into a fresh warehouse, in a subprocess as a user runs it (data",
        "generated beforehand, untimed). Seconds per step from `audit.runs`; *contract* is the part of the",
        "load spent on the data contract (it includes importing Great Expectations, about 3 s). *RSS* is",
        "the peak resident memory of that `elt run` process (dbt and DuckDB run inside it; the Postgres",
        "server's memory is not counted), from `os.wait4` on it alone. The runs went in the order shown: the",
        "first one also pays for a cold start (modules and dbt's project read from disk for the first time),",
        "which is why scale 1 on DuckDB can take as long as scale 10.",
        "",
        "| scale | target | rows | " + " | ".join(steps) + " | total | contract | RSS MiB | goal | |",
        "|---:|---|---:|" + "---:|" * (len(steps) + 4) + "---|",
    ]
    for r in data["runs"]:
        goal = r.get("goal")
        rss = r.get("peak_rss_mib")
        rss_cell = "–" if rss is None else f"{rss:,.0f}" + ("" if rss <= rss_goal else " **over**")
        if not r.get("ok", True):
            lines.append(
                f"| {r['scale']} | {r['target']} | {r['rows']:,} | "
                + " | ".join(["–"] * len(steps))
                + f" | **failed** after {r['wall_seconds']:.0f} s | – | {rss_cell} | – | {_cell(r.get('error'))} |"
            )
            continue
        verdict = "" if goal is None else ("met" if r["total"] <= goal else "**missed**")
        lines.append(
            f"| {r['scale']} | {r['target']} | {r['rows']:,} | "
            + " | ".join(_s(r["seconds"][s]) for s in steps)
            + f" | **{r['total']:.1f}** | {_s(r['contract_seconds'])} | {rss_cell}"
            f" | {'–' if goal is None else f'≤ {goal:.0f}'} | {verdict} |"
        )
    lines += [
        "",
        "Growth per 10× of data (seconds at the larger scale over the smaller, per 10× of rows; linear is",
        "10×, less is better than linear because fixed costs such as dbt's start-up do not grow):",
        "",
        "| target | scales | " + " | ".join(steps) + " | total |",
        "|---|---|" + "---:|" * (len(steps) + 1),
    ]
    for g in data["growth"]:
        lines.append(
            f"| {g['target']} | {g['from']} → {g['to']} | " + " | ".join(_x(g[s], 1) for s in (*steps, "total")) + " |"
        )
    worst = max((g["total"] for g in data["growth"] if g["total"]), default=None)
    lines += [
        "",
        f"Goal ≤ linear: the largest growth of a whole run is {_x(worst, 1)} per 10×"
        f" ({'met' if worst is not None and worst <= 10 else 'missed'}).",
        "",
    ]
    lines += _pipeline_scale_goals(data, rss_goal)
    lines += [
        "",
        "Slowest dbt models (seconds in `audit.node_results`), the next place to optimise:",
        "",
        "| scale | target | 1st | 2nd | 3rd |",
        "|---:|---|---|---|---|",
    ]
    for r in data["runs"]:
        models = [f"`{name}` {s:.2f}" for name, s in r["slowest_models"][:3]]
        lines.append(f"| {r['scale']} | {r['target']} | " + " | ".join(models + ["–"] * (3 - len(models))) + " |")
    return lines + [""]


def _spark_section(data: dict | None) -> list[str]:
    """`elt run` on Spark beside DuckDB on the same files (bench/pipeline.py --targets duckdb spark)."""
    if not data:
        return []
    steps = ("load", "validate", "build", "export", "docs")
    runs = {(r["scale"], r["target"]): r for r in data["runs"]}
    lines = [
        "## Spark beside DuckDB: `elt run` per step",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. One `elt run` per scale into a fresh warehouse of each",
        "target, in a subprocess, on the same generated files (seed 42): DuckDB, then Spark (dbt-spark's",
        "`session` method: a local SparkSession, `local[2]`, in `elt`'s process; its JVM start and a new Derby",
        "catalog are part of the load step). Seconds per step from `audit.runs`; *RSS* is the `elt run`",
        "process's peak (Spark's JVM is a child process of it, counted only if `os.wait4` reports it).",
        "",
        "| scale | target | rows | " + " | ".join(steps) + " | total | wall | RSS MiB |",
        "|---:|---|---:|" + "---:|" * (len(steps) + 3),
    ]
    for r in data["runs"]:
        if not r.get("ok", True):
            lines.append(
                f"| {r['scale']} | {r['target']} | {r['rows']:,} | "
                + " | ".join(["–"] * len(steps))
                + f" | **failed** | {r['wall_seconds']:.0f} | – |"
            )
            continue
        lines.append(
            f"| {r['scale']} | {r['target']} | {r['rows']:,} | "
            + " | ".join(_s(r["seconds"][s]) for s in steps)
            + f" | **{r['total']:.1f}** | {r['wall_seconds']:.1f} | {r['peak_rss_mib']:,.0f} |"
        )
    lines += ["", "| scale | Spark / DuckDB, whole run | Spark / DuckDB, dbt build |", "|---:|---:|---:|"]
    for scale in data["scales"]:
        duck, spark = runs.get((scale, "duckdb")), runs.get((scale, "spark"))
        if duck and spark and duck.get("ok", True) and spark.get("ok", True):
            whole = spark["wall_seconds"] / duck["wall_seconds"]
            build = spark["seconds"]["build"] / duck["seconds"]["build"] if duck["seconds"]["build"] else None
            lines.append(f"| {scale} | {_x(whole, 1)} | {_x(build, 1)} |")
    lines += [
        "",
        "Slowest dbt models on Spark: "
        + "; ".join(
            f"scale {r['scale']}: " + ", ".join(f"`{name}` {s:.1f} s" for name, s in r["slowest_models"][:3])
            for r in data["runs"]
            if r["target"] == "spark" and r.get("ok", True)
        )
        + ".",
        "",
    ]
    return lines


def _pipeline_scale_goals(data: dict, rss_goal: float) -> list[str]:
    """Issue 22's scale-100 goals: peak RSS of every run, `elt run` completes at 100, growth 10 → 100."""
    runs = data["runs"]
    targets = data.get("targets") or sorted({r["target"] for r in runs})
    measured = sorted({r["scale"] for r in runs})
    with_rss = [r for r in runs if r.get("peak_rss_mib") is not None]
    lines = ["| goal (issue 22, scale 100) | measured | |", "|---|---|---|"]
    if with_rss:
        top = max(with_rss, key=lambda r: r["peak_rss_mib"])
        met = all(r["peak_rss_mib"] <= rss_goal for r in with_rss)
        lines.append(
            f"| peak RSS of every `elt run` ≤ {rss_goal / 1024:.0f} GiB | {top['peak_rss_mib']:,.0f} MiB at most"
            f" (scale {top['scale']}, {top['target']}) | {'met' if met else '**missed**'} |"
        )
    else:
        lines.append(f"| peak RSS of every `elt run` ≤ {rss_goal / 1024:.0f} GiB | – | not measured |")
    for target in targets:
        at = {r["scale"]: r for r in runs if r["target"] == target}
        big, small = at.get(100), at.get(10)
        if big is None:
            done, verdict = "not measured", "not measured"
        elif big.get("ok", True):
            done, verdict = f"{big['total']:.0f} s, {big.get('peak_rss_mib') or 0:,.0f} MiB", "met"
        else:
            done, verdict = f"failed: {_cell(big.get('error'))}", "**missed**"
        lines.append(f"| `elt run` completes at scale 100 on {target} | {done} | {verdict} |")
        ok = big and small and big.get("ok", True) and small.get("ok", True) and small["total"] > 0
        factor = big["total"] / small["total"] if ok else None
        lines.append(
            f"| whole run, scale 10 → 100 on {target}: ≤ 10× | {_x(factor, 1)} |"
            f" {'not measured' if factor is None else ('met' if factor <= 10 else '**missed**')} |"
        )
    if 100 not in measured:
        lines += [
            "",
            f"**Scale 100 was not measured in this run** (scales {', '.join(map(str, measured))}): whether",
            "`elt run` completes there, its peak RSS and its growth from scale 10 to 100 are unknown.",
            "`make bench` runs it.",
        ]
    return lines


def _cell(text: str | None) -> str:
    """Free text made safe for one markdown table cell."""
    return "–" if not text else " ".join(text.split()).replace("|", "\\|")[:200]


def _api_section(data: dict | None) -> list[str]:
    if not data:
        return []
    workers = sorted({r["workers"] for r in data["results"]})
    lines = [
        "## API under load",
        "",
        f"Measured {data['measured_at']} on {data['machine']}, {data['seconds_per_level']:g} s per level.",
        "",
        f"`GET {data['path']}` with the API key, closed loop: each client sends its next request when the",
        "last one is answered. The clients are threads of a second process on the same machine (they share",
        f"its cores with the servers); `elt serve --workers {', '.join(map(str, workers))}` per target, each on a",
        "warehouse built by `elt run` at scale 1. Both servers run throughout and the targets take turns at",
        "each client count, so a slower spell of the machine falls on both.",
        "",
        "| target | workers | clients | seconds | requests | req/s | p50 ms | p95 ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in data["results"]:
        lines.append(
            f"| {r['target']} | {r['workers']} | {r['clients']} | {r['seconds']:.0f} | {r['requests']:,}"
            f" | {r['requests'] / r['seconds']:.0f} | {_s(r['p50_ms'], 1)} | {_s(r['p95_ms'], 1)} | {r['errors']} |"
        )
    errors = sum(r["errors"] for r in data["results"])
    lines += ["", f"Errors (must be 0): {errors}.", "", "| goal (from the API issue) | measured | |", "|---|---|---|"]
    for goal in data["goals"]:
        verdict = {True: "met", False: "**missed**", None: "not measured"}[goal["met"]]
        lines.append(f"| {goal['text']} | {goal['measured']} | {verdict} |")
    return lines + [""]


def _dag_section(data: dict | None) -> list[str]:
    if not data:
        return []
    lines = [
        "## Airflow DAG parse time",
        "",
        "| target | Cosmos mode | tasks | cold s | warm s |",
        "|---|---|---:|---:|---:|",
    ]
    for r in data["results"]:
        lines.append(f"| {r['target']} | {r['mode']} | {r['tasks']} | {r['cold']:.2f} | {r['warm']:.2f} |")
    return lines + ["", f"Goal: < {data['goal']:.0f} s cold.", ""]


def _dashboard_section(data: dict | None) -> list[str]:
    if not data:
        return []
    lines = [
        f"## Dashboard pages (measured {data['measured_at']})",
        "",
        f"Server time of each page over HTTP, {data['repeat']} requests each after a warm-up, scale 1.",
        "",
        "| page | target | KiB | first ms | p50 ms | p95 ms |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in data["results"]:
        lines.append(
            f"| {r['page']} | {r['target']} | {r['bytes'] / 1024:.0f} | {r['first_ms']:.1f} | {r['p50_ms']:.1f}"
            f" | {r['p95_ms']:.1f} |"
        )
    slow = [r for r in data["results"] if r["p95_ms"] >= data["goal_ms"]]
    verdict = "met" if not slow else "missed by " + ", ".join(f"{r['page']} ({r['target']})" for r in slow)
    return lines + ["", f"Goal: every page p95 < {data['goal_ms']:g} ms: {verdict}.", ""]


def _overhead_section(data: dict | None) -> list[str]:
    if not data:
        return []
    ours = "`elt run --force`"
    lines = [
        f"## Overhead, no-op and changed-file runs (measured {data['measured_at']})",
        "",
        f"Issue 22's ratios, side by side in one run, seed 42. *ours* is the wall time of {ours} in a",
        "subprocess into a fresh warehouse (load, Data Docs, validate, build, export, docs); *build* and",
        "*contract* are its build step (audit.runs) and its data contract (its output). *floor* is the bare",
        "tools on another fresh warehouse: the bare bulk load of the load benchmark plus a plain `dbt build`",
        "of the same project in a subprocess (raw loaded by `elt load` in between, untimed). *no-op* is",
        "`elt run` again on ours' warehouse, nothing changed; *changed* is `elt run` on a copy of the data",
        f"whose Stores.csv renames one store: {_changed_file(data)}. The first run pays a cold start.",
        "",
        "| scale | target | rows | ours s | build s | contract s | bare load s | dbt build s | floor s | no-op s"
        " | changed s |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in data["results"]:
        failed = {name: "" if r[name]["ok"] else " (failed)" for name in ("noop", "changed")}
        lines.append(
            f"| {r['scale']} | {r['target']} | {r['rows']:,} | {r['ours']['wall_seconds']:.1f}"
            f" | {_s(r['ours']['seconds'].get('build'), 1)} | {_s(r['ours']['contract_seconds'])}"
            f" | {r['bare_load_seconds']:.2f} | {r['dbt_build_seconds']:.1f}{'' if r['dbt_build_ok'] else ' (failed)'}"
            f" | {r['floor']:.1f} | {r['noop']['wall_seconds']:.2f}{failed['noop']}"
            f" | {r['changed']['wall_seconds']:.1f}{failed['changed']} |"
        )
    if data.get("airflow"):
        a = data["airflow"]
        lines += [
            "",
            f"Airflow (scale 1, DuckDB, as `make airflow-test`): `airflow dags test elt_pipeline` took"
            f" {_s(a['wall_seconds'], 1)} s ({a['tasks']} tasks{'' if a['ok'] else ', **failed**'}), its dbt task"
            f" group {_s(a['dbt_span_seconds'], 1)} s from the first dbt task's start to the last one's end;"
            f" ours {a['ours_wall_seconds']:.1f} s, of which build {_s(a['ours_build_seconds'], 1)} s.",
        ]
        lines += _airflow_profile(a)
    lines += ["", "| ratio | scale | target | measured | goal (issue 22) | |", "|---|---:|---|---:|---:|---|"]
    for row in data["ratios"]:
        unit = row.get("unit", "x")
        verdict = {True: "met", False: "**missed**", None: "" if row["goal"] is None else "not measured"}[row["met"]]
        lines.append(
            f"| {row['name']} | {row['scale'] or '–'} | {row['target'] or 'both'} | {_unit(row['value'], unit)}"
            f" | {'–' if row['goal'] is None else '≤ ' + _unit(row['goal'], unit)} | {verdict} |"
        )
    goals = [row for row in data["ratios"] if row["goal"] is not None]
    met = sum(1 for row in goals if row["met"])
    missed = ", ".join(
        f"{row['name']} at scale {row['scale']}{' on ' + row['target'] if row['target'] else ''}"
        for row in goals
        if not row["met"]
    )
    lines += ["", f"Goals met: {met} of {len(goals)}" + (f"; missed or not measured: {missed}." if missed else "."), ""]
    lines += ["What the no-op and changed-file runs did (their summary lines):", ""]
    for r in data["results"]:
        for name in ("noop", "changed"):
            notes = r[name]["notes"]
            lines.append(
                f"- scale {r['scale']} {r['target']}, {'no-op' if name == 'noop' else 'changed'}: load"
                f" {notes.get('load', '–')}; build {notes.get('build', '–')}"
            )
    return lines + [""]


def _changed_file(data: dict) -> str:
    changes = data.get("changed_file") or {}
    return next(iter(changes.values()), "one State changed")


def _unit(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    return {"x": f"{value:.2f}×", "%": f"{value:.1%}", "s": f"{value:.2f} s"}[unit]


def _airflow_profile(a: dict) -> list[str]:
    """Where the `dags test` run's time went (bench/overhead.py `task_profile`), as lines under its sentence."""
    profile = a.get("profile")
    if not profile or a.get("wall_seconds") is None:
        return []
    kinds = profile["by_kind_seconds"]
    outside = a["wall_seconds"] - profile["task_seconds_total"]
    slowest = ", ".join(f"`{task}` {seconds:.1f} s" for task, seconds in profile["slowest_tasks"])
    lines = [
        "",
        f"Where that run's time went (task instances' start and end; `dags test` runs the tasks one after"
        f" another): {profile['task_seconds_total']:.1f} s in tasks, of which the WATCHER producer (its"
        f" `dbt build`) {kinds['producer']:.1f} s, the dbt model tasks (each reads the producer's result)"
        f" {kinds['dbt model tasks']:.1f} s and the other tasks {kinds['other tasks']:.1f} s; {outside:.1f} s"
        f" outside any task (`dags test`'s start, the DAG's parse, the gaps between tasks). Slowest: {slowest}.",
    ]
    if profile["producer_parse_lines"]:
        lines += ["", "How the dbt processes of that run parsed the project (their log lines):", ""]
        lines += [f"- {line}" for line in profile["producer_parse_lines"]]
    return lines


def main() -> None:
    """Run the benchmarks (all, or --only some), then write RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=list(COMMANDS), default=list(COMMANDS))
    parser.add_argument("--render-only", action="store_true", help="only write RESULTS.md from bench/out/")
    parser.add_argument("--quick", action="store_true", help="small smoke run; writes bench/out/ but not RESULTS.md")
    args = parser.parse_args()
    durations: dict[str, float] = {}
    if (OUT / "durations.json").is_file() and not args.quick:
        durations = json.loads((OUT / "durations.json").read_text(encoding="utf-8"))
    if not args.render_only:
        OUT.mkdir(exist_ok=True)
        for name in args.only:
            durations[name] = run(name, args.quick)
        if not args.quick:
            (OUT / "durations.json").write_text(json.dumps(durations), encoding="utf-8")
    if args.quick:
        print(f"\nquick run done in {sum(durations.values()):.0f} s; RESULTS.md left as it was")
        return
    previous = RESULTS.read_text(encoding="utf-8") if RESULTS.is_file() else ""
    RESULTS.write_text(render(durations, previous), encoding="utf-8")
    print(f"\nwrote {RESULTS}" + (f" after {sum(durations.values()) / 60:.1f} min" if durations else ""))


if __name__ == "__main__":
    main()
