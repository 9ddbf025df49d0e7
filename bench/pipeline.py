"""Pipeline benchmark: `elt run` at several scales on both warehouses, seconds per step from audit.runs.

For each scale (default 1 10 30; `make bench` adds 100) the sample is generated once (seed 42, untimed);
for each target a fresh warehouse (DuckDB file / database elt_bench_<random>, dropped at the end) runs
`elt run` as a user would, in a subprocess. Reported per run: seconds of load (of which the data
contract), validate, build, export and docs, the total, the peak resident memory (RSS) of the `elt run`
process, and the five slowest dbt models (audit.node_results). Then the growth of each step per 10x of
data: seconds(scale 10s) / seconds(s); linear is 10x.

The pipeline runs in that one process (dbt and DuckDB in-process), so its peak RSS is the pipeline's; the
Postgres server's memory is not counted. It is that child's own ru_maxrss, from os.wait4 on its pid
(Linux: the max over the process and any children it waited for), not RUSAGE_CHILDREN, which is the max
over every child so far. A run that fails is recorded (with its peak RSS) and the benchmark goes on.
Usage: python bench/pipeline.py [--scales 1 10 30] [--targets duckdb postgres spark] [--json FILE]
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
RSS_GOAL_MIB = 4096.0  # peak RSS of every `elt run`, at every scale
GROWTH_GOAL = (10, 100, 10.0)  # the whole run's seconds from scale 10 to 100: at most 10x (linear)
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
    peak_rss_mib: float
    ok: bool = True
    error: str | None = None
    slowest_models: list[tuple[str, float]] = field(default_factory=list)

    @property
    def goal(self) -> float | None:
        """The goal for the whole run at this scale and target, if the issue set one."""
        return GOALS_S.get((self.target, self.scale))


@dataclass
class Measured:
    """A finished subprocess: exit code, output, wall seconds and its own peak RSS."""

    returncode: int
    stdout: str
    stderr: str
    wall_seconds: float
    peak_rss_mib: float


def run_measured(command: list[str], env: dict[str, str], workdir: Path, cwd: Path = PROJECT_DIR) -> Measured:
    """Run `command` to its end and measure that process alone: os.wait4 on its pid gives its own rusage
    (ru_maxrss in KiB on Linux), unlike RUSAGE_CHILDREN, the max over every child waited for so far.
    Output goes through files in `workdir` so nothing blocks on a full pipe while we wait."""
    out_path, err_path = workdir / "run.stdout", workdir / "run.stderr"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it again
    return Measured(
        returncode=proc.returncode,
        stdout=out_path.read_text(encoding="utf-8", errors="replace"),
        stderr=err_path.read_text(encoding="utf-8", errors="replace"),
        wall_seconds=wall,
        peak_rss_mib=usage.ru_maxrss / 1024,
    )


def last_line(text: str) -> str:
    """The last non-empty line of some output, at most 300 characters (for a failed run's error)."""
    lines = text.strip().splitlines()
    return lines[-1].strip()[-300:] if lines else ""


def run_once(scale: int, target: str, data_dir: Path, workdir: Path, rows: int, megabytes: float) -> PipelineRun:
    """`elt run` into a fresh warehouse; the step seconds recorded in audit.runs and the run's peak RSS."""
    full_env, database = scratch_env(target, workdir)
    try:
        done = run_measured(
            [sys.executable, "-m", "elt.cli", "run", "--data-dir", str(data_dir)]
            + ["--reports-dir", str(workdir / f"reports-{target}")],
            full_env,
            workdir,
        )
        wall = done.wall_seconds
        if done.returncode != 0:
            output = f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            print(f"elt run failed at scale {scale} on {target} (exit {done.returncode}):\n{output}", file=sys.stderr)
            return PipelineRun(
                scale=scale,
                target=target,
                rows=rows,
                megabytes=megabytes,
                seconds={},
                total=0.0,
                contract_seconds=None,
                wall_seconds=wall,
                peak_rss_mib=done.peak_rss_mib,
                ok=False,
                error=f"exit {done.returncode}: {last_line(done.stderr) or last_line(done.stdout) or 'no output'}",
            )
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
            peak_rss_mib=done.peak_rss_mib,
            slowest_models=[(name, float(s)) for name, s in slowest],
        )
    finally:
        if database:
            drop_database(full_env)


def growth(runs: list[PipelineRun]) -> list[dict]:
    """Per target and step: the factor per 10x of data between consecutive scales (10x is linear), and
    from scale 10 to 100 (the goal's step) when both ran and are not consecutive. Failed runs are left out."""
    rows = []
    low, high, _ = GROWTH_GOAL
    for target in sorted({r.target for r in runs}):
        mine = sorted((r for r in runs if r.target == target and r.ok), key=lambda r: r.scale)
        pairs = list(zip(mine, mine[1:], strict=False))
        by_scale = {r.scale: r for r in mine}
        if low in by_scale and high in by_scale and (by_scale[low], by_scale[high]) not in pairs:
            pairs.append((by_scale[low], by_scale[high]))
        for small, big in pairs:
            per_10x = 1 / math.log10(big.scale / small.scale)  # factor ** per_10x is the growth per 10x
            row = {"target": target, "from": small.scale, "to": big.scale}
            for step in (*STEPS, "total"):
                a = small.total if step == "total" else small.seconds[step]
                b = big.total if step == "total" else big.seconds[step]
                row[step] = (b / a) ** per_10x if a > 0.005 else None
            rows.append(row)
    return rows


def goals(runs: list[PipelineRun], targets: list[str]) -> list[dict]:
    """The scale-100 goals: every run's peak RSS within RSS_GOAL_MIB; `elt run` completes at scale 100 on
    each target; the whole run's growth from scale 10 to 100 at most 10x. met is None when not measured."""
    low, high, most = GROWTH_GOAL
    found = [
        {
            "text": f"peak RSS of every `elt run` ≤ {RSS_GOAL_MIB / 1024:.0f} GiB",
            "measured": f"max {max((r.peak_rss_mib for r in runs), default=0):,.0f} MiB over {len(runs)} runs",
            "met": all(r.peak_rss_mib <= RSS_GOAL_MIB for r in runs) if runs else None,
        }
    ]
    for target in targets:
        at = {r.scale: r for r in runs if r.target == target}
        big = at.get(high)
        found.append(
            {
                "text": f"`elt run` completes at scale {high} on {target}",
                "measured": _measured(big),
                "met": None if big is None else big.ok,
            }
        )
        small = at.get(low)
        factor = big.total / small.total if big and small and big.ok and small.ok and small.total > 0 else None
        found.append(
            {
                "text": f"growth of the whole run from scale {low} to {high} on {target} ≤ {most:.0f}×",
                "measured": "not measured" if factor is None else f"{factor:.1f}×",
                "met": None if factor is None else factor <= most,
            }
        )
    return found


def _measured(run: PipelineRun | None) -> str:
    if run is None:
        return "not measured"
    if not run.ok:
        return f"failed ({run.error}), peak RSS {run.peak_rss_mib:,.0f} MiB"
    return f"{run.total:.0f} s, peak RSS {run.peak_rss_mib:,.0f} MiB"


def main() -> None:
    """Run the benchmark, print the tables, optionally write them as JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10, 30])
    parser.add_argument("--targets", nargs="+", default=["duckdb", "postgres"])
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args()

    print(f"machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}", flush=True)
    head = f"{'scale':>5} {'target':<9} {'rows':>10} " + " ".join(f"{s:>8}" for s in STEPS)
    print(head + f" {'total':>8} {'contract':>8} {'goal':>6} {'RSS MiB':>8}")
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
                rss = f"{run.peak_rss_mib:>8,.0f}"
                if not run.ok:
                    failed = f"FAILED after {run.wall_seconds:.0f} s ({run.error})"
                    print(f"{scale:>5} {target:<9} {rows:>10,} {failed} {rss}", flush=True)
                    continue
                steps = " ".join(f"{run.seconds[s]:>8.2f}" for s in STEPS)
                contract = f"{run.contract_seconds:>8.2f}" if run.contract_seconds is not None else f"{'-':>8}"
                line = f"{scale:>5} {target:<9} {rows:>10,} {steps} {run.total:>8.2f} {contract} {goal} {rss}"
                print(line, flush=True)
    print("\ngrowth per 10x of data (linear = 10.0x):")
    for row in growth(runs):
        factors = " ".join(f"{s}={row[s]:.1f}x" if row[s] else f"{s}=-" for s in (*STEPS, "total"))
        print(f"  {row['target']:<9} scale {row['from']}->{row['to']}: {factors}")
    print("\nslowest models:")
    for run in runs:
        shown = ", ".join(f"{name} {s:.2f} s" for name, s in run.slowest_models[:3])
        print(f"  scale {run.scale} {run.target}: {shown}")
    print("\ngoals:")
    for goal in goals(runs, args.targets):
        verdict = {True: "met", False: "MISSED", None: "not measured"}[goal["met"]]
        print(f"  {goal['text']}: {goal['measured']}" + ("" if goal["met"] is None else f" ({verdict})"))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "scales": args.scales,
            "targets": args.targets,
            "rss_goal_mib": RSS_GOAL_MIB,
            "growth_goal": {"from": GROWTH_GOAL[0], "to": GROWTH_GOAL[1], "max": GROWTH_GOAL[2]},
            "runs": [asdict(r) | {"goal": r.goal} for r in runs],
            "growth": growth(runs),
            "goals": goals(runs, args.targets),
        }
        args.json.write_text(json.dumps(payload, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
