"""Answers computed from one unchanging state of the warehouse, reused while that state lasts.

DuckDB: a file that the API holds open read-only cannot change: no other process can write it meanwhile.
Each time the API opens it again (after a writer, or after idling) it is a new snapshot, and answers
of the old one are dropped.

Postgres: a report table's rows change only when a build replaces the table. dbt creates a new table and
renames it over the old one, and publishing renames each build schema over its published one
(orchestration/publish.py), so a replaced table has a new oid (and a truncated one a new file node).
The oids and file nodes of the report relations, read from pg_class once per request (an index lookup),
name the state: the first request after a build or a publish sees new ones and drops the old answers.
The reports that are views (the run summary and the quality scorecard read the audit tables, which every
run writes in place) have their rows read afresh each time; only their column lists are kept.

Answers are bounded in number and in rows held, so that many distinct pages cannot fill the memory.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

from core.warehouse import Connection

V = TypeVar("V")

# The report relations of the `reports` schema, by name: (name, kind, oid, file node), one index lookup.
REPORT_RELATIONS = (
    "select relname::text, relkind::text, oid::bigint, relfilenode::bigint from pg_catalog.pg_class"
    " where relnamespace = to_regnamespace('reports') and relname = any(?::name[]) order by relname"
)
FIXED_KINDS = ("r", "p")  # tables (plain, partitioned): their rows change only when they are replaced


class ReadCache:
    """A bounded LRU of answers for the current state: at most `size` answers and `max_weight` in all."""

    def __init__(self, size: int = 512, max_weight: int = 100_000):
        self.size = size
        self.max_weight = max_weight
        self._snapshot: Hashable | None = None
        self._answers: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._weight = 0
        self._lock = threading.Lock()

    def get_or_compute(
        self,
        snapshot: Hashable | None,
        key: Hashable,
        compute: Callable[[], V],
        weight: Callable[[V], int] | None = None,
    ) -> V:
        """The cached answer for `key` in `snapshot`, else `compute()` (cached if it returns).

        `snapshot` None: computed, never cached. `weight`: what the answer costs to keep (e.g. its rows;
        default 1); an answer heavier than `max_weight` is not kept, and the oldest answers make way.
        """
        if snapshot is None:
            return compute()
        with self._lock:
            if snapshot != self._snapshot:
                self._snapshot, self._answers, self._weight = snapshot, OrderedDict(), 0
            elif key in self._answers:
                self._answers.move_to_end(key)
                return self._answers[key][0]
        value = compute()
        cost = max(1, weight(value)) if weight else 1
        with self._lock:
            if snapshot == self._snapshot and cost <= self.max_weight:
                if key in self._answers:  # computed meanwhile by another request too
                    self._weight -= self._answers.pop(key)[1]
                self._answers[key] = (value, cost)
                self._weight += cost
                while len(self._answers) > self.size or self._weight > self.max_weight:
                    self._weight -= self._answers.popitem(last=False)[1][1]
        return value


@dataclass(frozen=True)
class ReportsState:
    """The state report answers are cached under on one connection.

    `key` names it (None: nothing may be cached); `fixed` are the reports whose rows cannot change while
    `key` holds. Column lists may be cached under `key` for every report.
    """

    key: Hashable | None
    fixed: frozenset[str]

    def rows_key(self, name: str) -> Hashable | None:
        """What answers from the rows of report `name` are cached under (None: read them afresh)."""
        return self.key if name in self.fixed else None


def reports_state(conn: Connection, names: Collection[str]) -> ReportsState:
    """The state of the reports `names` (the manifest's) as `conn` sees it now: DuckDB's open snapshot (every
    report fixed), or on Postgres the (name, kind, oid, file node) of each report relation, with the tables
    fixed and the views not.

    Postgres: one catalog query (raises psycopg2.Error if the connection fails).
    """
    if conn.target == "duckdb":
        if conn.snapshot is None:
            return ReportsState(None, frozenset())
        return ReportsState(("duckdb", conn.snapshot), frozenset(names))
    relations = tuple(conn.execute(REPORT_RELATIONS, (sorted(names),)))
    fixed = frozenset(name for name, kind, _, _ in relations if kind in FIXED_KINDS)
    return ReportsState(("postgres", relations), fixed)
