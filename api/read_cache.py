"""Answers computed from one unchanging state of the warehouse, reused while that state lasts.

A DuckDB file that the API holds open read-only cannot change: no other process can write it meanwhile.
Each time the API opens it again (after a writer, or after idling) it is a new snapshot, and answers
of the old one are dropped. Postgres connections have no such snapshot: their answers are never cached.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

V = TypeVar("V")


class ReadCache:
    """A bounded LRU of answers for the current snapshot."""

    def __init__(self, size: int = 512):
        self.size = size
        self._snapshot: Hashable | None = None
        self._answers: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_compute(self, snapshot: Hashable | None, key: Hashable, compute: Callable[[], V]) -> V:
        """The cached answer for `key` in `snapshot`, else `compute()` (cached if it returns)."""
        if snapshot is None:
            return compute()
        with self._lock:
            if snapshot != self._snapshot:
                self._snapshot, self._answers = snapshot, OrderedDict()
            elif key in self._answers:
                self._answers.move_to_end(key)
                return self._answers[key]
        value = compute()
        with self._lock:
            if snapshot == self._snapshot:
                self._answers[key] = value
                if len(self._answers) > self.size:
                    self._answers.popitem(last=False)
        return value
