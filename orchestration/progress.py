"""Progress on a terminal for the steps that take long: the data contract check of each file the loader
loads (a spinner naming the file: `checking the data contract of Sales.csv...`) and every dbt invocation
(`dbt build`, `dbt source freshness`, `dbt docs generate`): a live line with the nodes done out of the
nodes selected and the node running, e.g. `dbt build ━━━━━━━━╸━━━ nodes 3/21 stg_stores (model) 0:00:04`.

The figures come from dbt's own events, through the dbtRunner callbacks of `orchestration.dbt.watching`:
the total is what dbt says it will run (`LogStartLine.total`, the selected nodes), a node is running from
its `NodeStart` to its `NodeFinished`, and a node dbt skips (`SkippingDetails`) counts as done.

All of it only when the output is a terminal (rich draws it, then wipes it: what stays on the screen is the
plain output). Piped or redirected (CI, the API's launcher, tests, Airflow) nothing is added and nothing
changes.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from ingestion.loader import reporting_status
from orchestration import dbt

_NODE_STARTED = "NodeStart"
_NODE_DONE = ("NodeFinished", "SkippingDetails")
_WITH_TOTAL = ("LogStartLine", "SkippingDetails")  # events whose data carries `total`: the nodes dbt runs


def on_terminal(stream: TextIO) -> bool:
    """True when `stream` is a terminal that can redraw a line (a tty, and $TERM is not `dumb`)."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):  # a stream without isatty, or closed
        return False
    return tty and os.environ.get("TERM", "") != "dumb"


@contextlib.contextmanager
def showing(stream: TextIO | None = None) -> Iterator[bool]:
    """For the block: the loader's contract checks as a spinner and each dbt invocation as a progress line
    on `stream` (default: sys.stdout), if it is a terminal; otherwise nothing at all. Yields whether the
    progress is shown."""
    stream = sys.stdout if stream is None else stream
    if not on_terminal(stream):
        yield False
        return
    from rich.console import Console

    console = Console(file=stream)
    with reporting_status(lambda message: console.status(message)), dbt.watching(lambda args: _watch(console, args)):
        yield True


class NodeProgress:
    """How far one dbt invocation got, from its events: the nodes it runs (`total`, None until dbt says),
    the nodes done (passed, failed or skipped) and the nodes running. dbt calls `event` from its worker
    threads: the figures are guarded by a lock."""

    def __init__(self, command: str):
        self.command = command  # `dbt build`, `dbt source freshness`, ...
        self.total: int | None = None
        self.done: set[str] = set()
        self.running: dict[str, str] = {}  # unique_id -> `name (resource type)`, in the order they started
        self._lock = threading.Lock()

    def event(self, event: Any) -> bool:
        """Take one dbt EventMsg into account; True if it changed the figures."""
        name = event.info.name
        if name != _NODE_STARTED and name not in _NODE_DONE and name not in _WITH_TOTAL:
            return False
        data = event.data
        node = getattr(data, "node_info", None)
        unique_id = getattr(node, "unique_id", "")
        with self._lock:
            if name in _WITH_TOTAL and getattr(data, "total", 0):
                self.total = int(data.total)
            if name == _NODE_STARTED and unique_id:
                self.running[unique_id] = f"{node.node_name} ({node.resource_type})"
            elif name in _NODE_DONE and unique_id:
                self.running.pop(unique_id, None)
                self.done.add(unique_id)
        return True

    def fields(self) -> dict[str, Any]:
        """The figures for the progress line: `total` (None until dbt says), `completed` (nodes done),
        `counts` (`nodes 3/21`, '' until the total is known) and `current`: the node that started last among
        those running, `stg_stores (model)`, with `+2` for the others ('' when none runs)."""
        with self._lock:
            done, running = len(self.done), list(self.running.values())
            counts = f"nodes {done}/{self.total}" if self.total is not None else ""
            current = running[-1] + (f" +{len(running) - 1}" if len(running) > 1 else "") if running else ""
            return {"total": self.total, "completed": done, "counts": counts, "current": current}


def command_of(args: list[str]) -> str:
    """The dbt command of an invocation's arguments: `dbt build`, `dbt source freshness`, `dbt docs generate`."""
    words = [args[0]] + ([args[1]] if args[0] in ("source", "docs") and len(args) > 1 else [])
    return "dbt " + " ".join(words)


@contextlib.contextmanager
def _watch(console: Any, args: list[str]) -> Iterator[Callable[[Any], None]]:
    """A transient progress line on `console` while one dbt invocation runs; yields its event callback.

    Started before dbt sets up its console log, so dbt's own lines (`elt build` without --quiet) print above
    the line instead of through it (rich stands in for sys.stdout meanwhile)."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.table import Column

    nodes = NodeProgress(command_of(args))
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(bar_width=24),
        TextColumn("{task.fields[counts]}"),
        # Only the node's name is cut on a narrow terminal: the label, bar and counts stay.
        TextColumn("{task.fields[current]}", table_column=Column(ratio=1, no_wrap=True, overflow="ellipsis")),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(nodes.command, total=None, counts="", current="")

        def on_event(event: Any) -> None:
            if nodes.event(event):
                bar.update(task, **nodes.fields())

        yield on_event
