"""Where one page of a list stands among the others, and the links around it: the report tables and the
rejected records.

A page past the end (`?page=99999`) is no error, as in the API (200, no items): the pager says the page holds
no rows and links to the last page that does. A list with no rows at all (nothing matches the filters) has
one page, which holds nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Pager:
    """Page `page` (from 1) of `total` rows, `page_size` a page, and the URLs of the pages around it (None
    where there is no such page or it is this one)."""

    page: int
    page_size: int
    total: int
    first: str | None
    previous: str | None
    next: str | None
    last: str | None

    @property
    def pages(self) -> int:
        """Pages the rows fill; 1 when there are none."""
        return max(1, math.ceil(self.total / self.page_size))

    @property
    def empty(self) -> bool:
        """True when no row matches at all."""
        return self.total == 0

    @property
    def beyond(self) -> bool:
        """True for a page past the last one that holds rows (its rows are none)."""
        return self.total > 0 and self.page > self.pages

    @property
    def first_row(self) -> int:
        """Number (from 1) of the page's first row; 0 when the page holds none."""
        return 0 if self.empty or self.beyond else (self.page - 1) * self.page_size + 1

    @property
    def last_row(self) -> int:
        """Number of the page's last row; 0 when the page holds none."""
        return 0 if self.empty or self.beyond else min(self.total, self.page * self.page_size)


def pager(page: int, page_size: int, total: int, url: Callable[[int], str]) -> Pager:
    """The pager of page `page` of `total` rows, `page_size` a page; `url(n)` is the URL of page n. Past the end
    there is no previous or next page, only the first and the last."""
    pages = max(1, math.ceil(total / page_size))

    def link(target: int) -> str | None:
        return url(target) if 1 <= target <= pages and target != page else None

    return Pager(
        page=page,
        page_size=page_size,
        total=total,
        first=link(1),
        previous=link(page - 1) if page <= pages else None,
        next=link(page + 1),
        last=link(pages),
    )
