"""Pipeline benchmark: `elt run` at several scales on both warehouses, seconds per step from audit.runs.

For each scale (default 1 10 30) the sample is generated once (seed 42, untimed); for each target a
fresh warehouse (DuckDB file / database elt_bench_<random>, dropped at the end) runs `elt run` as a
user would, in a subprocess. Reported per run: seconds of load (of which the data contract), validate,
build, export and docs, the total, and the five slowest dbt models (audit.node_results). Then the
growth of each step per 10x of data: seconds(scale 10s) / seconds(s); linear is 10x.
Usage: python bench/pipeline.py [--scales 1 10 30] [--targets duckdb postgres] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from scratch import drop_database, scratch_env

from core.warehouse import Warehouse
from ingestion.generator import generate

PROJECT_DIR = Path(__file__).resolve().parents[1]
STEPS = ("load", "validate", "build", "export", "docs")
GOALS_S = {("duckdb", 1): 15.0, ("postgres", 1): 30.0, ("duckdb", 10): 60.0}  # whole `elt run`, seconds
CONTRACT = re.compile(r"data contract checked in ([0-9.]+) s")


@dataclass
class PipelineRun:
    """One `elt run`: its seconds per step and its slowest models."""

    scale: int
    target: str
    rows: int
    megabytes: float
    seconds: dict[str, float]
    total: float
    contract_seconds: float | None
    wall_seconds: float
    slowest_models: list[tuple[str, float]] = field(default_factory=list)

    @property
    def goal(self) -> float | None:
        """The goal for the whole run at this scale and target, if the issue set one."""
        return GOALS_S.get((self.target, self.scale))


def run_once(scale: int, target: str, data_dir: Path, workdir: Path, rows: int, megabytes: float) -> PipelineRun:
    """`elt run` into a fresh warehouse; the step seconds recorded in audit.runs."""
    full_env, database = scratch_env(target, workdir)
    try:
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "elt.cli", "run", "--data-dir", str(data_dir)]
            + ["--reports-dir", str(workdir / f"reports-{target}")],
            cwd=PROJECT_DIR,
            env=full_env,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
        if done.returncode != 0:
            output = f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            raise SystemExit(f"elt run failed at scale {scale} on {target}:\n{output}")
        warehouse = Warehouse.from_env(target, environ=full_env)
        conn = warehouse.connect(read_only=True)
        try:
            columns = ", ".join(f"{step}_seconds" for step in STEPS)
            run_id, *values = conn.execute(
                f"select run_id, {columns} from audit.runs order by started_at desc limit 1"
            )[0]
            slowest = conn.execute(
                "select name, execution_seconds from audit.node_results where run_id = ? and resource_type = 'model'"
                " order by execution_seconds desc limit 5",
                (run_id,),
            )
        finally:
            conn.close()
        seconds = {step: float(value or 0.0) for step, value in zip(STEPS, values, strict=True)}
        contract = CONTRACT.search(done.stdout)
        return PipelineRun(
            scale=scale,
            target=target,
            rows=rows,
            megabytes=megabytes,
            seconds=seconds,
            total=sum(seconds.values()),
            contract_seconds=float(contract.group(1)) if contract else None,
            wall_seconds=wall,
            slowest_models=[(name, float(s)) for name, s in slowest],
        )
    finally:
        if database:
            drop_database(full_env)


def growth(runs: list[PipelineRun]) -> list[dict]:
    """Per target and step: the factor per 10x of data between consecutive scales (10x is linear)."""
    rows = []
    for target in sorted({r.target for r in runs}):
        mine = sorted((r for r in runs if r.target == target), key=lambda r: r.scale)
        for small, big in zip(mine, mine[1:], strict=False):
            per_10x = 1 / math.log10(big.scale / small.scale)  # factor ** per_10x is the growth per 10x
            row = {"target": target, "from": small.scale, "to": big.scale}
            for step in (*STEPS, "total"):
                a = small.total if step == "total" else small.seconds[step]
                b = big.total if step == "total" else big.seconds[step]
                row[step] = (b / a) ** per_10x if a > 0.005 else None
            rows.append(row)
    return rows


def main() -> None:
    """Run the benchmark, print the tables, optionally write them as JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10, 30])
    parser.add_argument("--targets", nargs="+", default=["duckdb", "postgres"])
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args()

    print(f"machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}", flush=True)
    head = f"{'scale':>5} {'target':<9} {'rows':>10} " + " ".join(f"{s:>8}" for s in STEPS)
    print(head + f" {'total':>8} {'contract':>8} {'goal':>6}")
    runs: list[PipelineRun] = []
    for scale in args.scales:
        with tempfile.TemporaryDirectory(prefix=f"elt-bench-pipeline-{scale}-") as tmp:
            workdir = Path(tmp)
            expected = generate(workdir / "data", scale=scale, seed=42)
            rows = sum(f["rows"] for f in expected["files"].values())
            megabytes = sum(f["bytes"] for f in expected["files"].values()) / 1e6
            for target in args.targets:
                run = run_once(scale, target, workdir / "data", workdir, rows, megabytes)
                runs.append(run)
                goal = f"{run.goal:>6.0f}" if run.goal else f"{'-':>6}"
                steps = " ".join(f"{run.seconds[s]:>8.2f}" for s in STEPS)
                contract = f"{run.contract_seconds:>8.2f}" if run.contract_seconds is not None else f"{'-':>8}"
                print(f"{scale:>5} {target:<9} {rows:>10,} {steps} {run.total:>8.2f} {contract} {goal}", flush=True)
    print("\ngrowth per 10x of data (linear = 10.0x):")
    for row in growth(runs):
        factors = " ".join(f"{s}={row[s]:.1f}x" if row[s] else f"{s}=-" for s in (*STEPS, "total"))
        print(f"  {row['target']:<9} scale {row['from']}->{row['to']}: {factors}")
    print("\nslowest models:")
    for run in runs:
        shown = ", ".join(f"{name} {s:.2f} s" for name, s in run.slowest_models[:3])
        print(f"  scale {run.scale} {run.target}: {shown}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"runs": [asdict(r) | {"goal": r.goal} for r in runs], "growth": growth(runs)}
        args.json.write_text(json.dumps(payload, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
