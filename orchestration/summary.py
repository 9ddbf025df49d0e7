"""The short table `elt run` prints at the end: seconds per step, rows per mart, tests passed/failed."""

from __future__ import annotations

from typing import TextIO

from core.audit import STEPS
from orchestration.pipeline import RunResult


def print_summary(result: RunResult, out: TextIO) -> None:
    """Seconds and outcome of each step, rows per mart, and one closing line with the run's status."""
    run = result.run
    print("", file=out)
    print(f"  {'step':<10} {'seconds':>8}  result", file=out)
    for step in STEPS:
        if step in run.seconds_per_step:
            print(f"  {step:<10} {run.seconds_per_step[step]:>8.2f}  {result.notes.get(step, 'failed')}", file=out)
        else:
            print(f"  {step:<10} {'-':>8}  not run", file=out)
    print(f"  {'total':<10} {sum(run.seconds_per_step.values()):>8.2f}", file=out)
    if result.mart_rows:
        print("", file=out)
        print(f"  {'mart':<22} {'rows':>10}", file=out)
        for mart, rows in result.mart_rows.items():
            print(f"  {mart:<22} {rows:>10,}", file=out)
    verdict = "succeeded" if result.success else "FAILED"
    print(f"\nrun {run.run_id} {verdict} on {result.warehouse.describe()}", file=out)
