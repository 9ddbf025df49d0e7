"""DAG parse time of orchestration/dags/elt_pipeline.py as Airflow's DagBag measures it (goal: under 2 s).

For each target and Cosmos mode, a fresh Python process imports Airflow (not timed: the DAG processor has
it loaded), then parses the DAGs folder three times and reports DagBag's own duration for the file:
  cold  the first parse: imports Cosmos and the project's modules, renders the dbt graph from the manifest
        (what a DAG-processor child does for each parse)
  warm  the median of the next two (modules already imported)
The manifest is written once beforehand (`dbt parse`), as `elt build` or the Docker image does.
Usage: python bench/dag_parse.py [--targets duckdb postgres] [--modes watcher local]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

DAGS_FOLDER = Path(__file__).resolve().parents[1] / "orchestration" / "dags"
GOAL_SECONDS = 2.0

CHILD = """
import json, statistics, sys
import airflow  # noqa: F401  (loaded in the DAG processor already: not part of the parse time)
from airflow.dag_processing.dagbag import DagBag

durations = []
for _ in range(3):
    bag = DagBag(dag_folder=sys.argv[1])
    assert not bag.import_errors, bag.import_errors
    durations.append(sum(stat.duration.total_seconds() for stat in bag.dagbag_stats))
tasks = len(bag.dags["elt_pipeline"].tasks)
print(json.dumps({"cold": durations[0], "warm": statistics.median(durations[1:]), "tasks": tasks}))
"""


def measure(target: str, mode: str, airflow_home: Path) -> dict:
    """Parse durations of one configuration, in a fresh process."""
    env = {
        **os.environ,
        "ELT_TARGET": target,
        "ELT_COSMOS_MODE": mode,
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "DO_NOT_TRACK": "1",
    }
    done = subprocess.run([sys.executable, "-c", CHILD, str(DAGS_FOLDER)], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"parsing failed for {target}/{mode}:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    """Print parse seconds per target and mode; exit 1 if a cold parse misses the goal."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", nargs="+", default=["duckdb", "postgres"])
    parser.add_argument("--modes", nargs="+", default=["watcher", "local"])
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args()

    from core.warehouse import Warehouse
    from orchestration.dbt import ensure_manifest

    for target in args.targets:
        ensure_manifest(Warehouse.from_env(target))
    print(f"DAG parse time of elt_pipeline ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)")
    print(f"  {'target':<9} {'mode':<8} {'tasks':>5} {'cold s':>7} {'warm s':>7}  goal < {GOAL_SECONDS:g} s")
    missed = False
    results = []
    with tempfile.TemporaryDirectory(prefix="airflow-home-") as home:
        for target in args.targets:
            for mode in args.modes:
                found = measure(target, mode, Path(home))
                results.append({"target": target, "mode": mode, **found})
                ok = found["cold"] < GOAL_SECONDS
                missed |= not ok
                print(
                    f"  {target:<9} {mode:<8} {found['tasks']:>5} {found['cold']:>7.2f} {found['warm']:>7.2f}"
                    f"  {'ok' if ok else 'MISSED'}"
                )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"goal": GOAL_SECONDS, "results": results}, indent=1), encoding="utf-8")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
