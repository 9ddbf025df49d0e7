"""Rejected raw records (marts.rejected_records), by source and source row."""

from __future__ import annotations

from api.db import fetch_dicts, where_equal
from api.schemas import RejectedRecord
from core.warehouse import Connection


def rejected_page(
    conn: Connection, *, source: str | None, reason: str | None, limit: int, offset: int
) -> tuple[list[RejectedRecord], int]:
    """One page of the records rejected from `source` for `reason` (None: any), by source, source row and
    reason, and how many match."""
    where, params = where_equal(source=source, reason=reason)
    total = conn.scalar(f"select count(*) from marts.rejected_records{where}", params)
    rows = fetch_dicts(
        conn,
        "select source, source_row, natural_key, reason, raw_record, load_id from marts.rejected_records"
        f"{where} order by source, source_row, reason limit ? offset ?",
        (*params, limit, offset),
    )
    return [RejectedRecord(**row) for row in rows], int(total)
