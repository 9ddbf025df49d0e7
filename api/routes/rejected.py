"""Rejected raw records (marts.rejected_records): why each was refused, with the raw record."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.db import fetch_dicts, where_equal
from api.deps import Conn, Paging
from api.schemas import Page, RejectedRecord

router = APIRouter(tags=["rejected"])

Source = Literal["customers", "products", "stores", "sales", "exchange_rates"]


@router.get("/rejected", response_model=Page[RejectedRecord])
def list_rejected(
    conn: Conn,
    paging: Paging,
    source: Annotated[Source | None, Query()] = None,
    reason: Annotated[str | None, Query(max_length=64, description="e.g. invalid_key, orphan_customer")] = None,
) -> Page[RejectedRecord]:
    """Rejected records by source and source row; filter by `source` and `reason`."""
    where, params = where_equal(source=source, reason=reason.replace("\x00", "") if reason else None)
    total = conn.scalar(f"select count(*) from marts.rejected_records{where}", params)
    rows = fetch_dicts(
        conn,
        "select source, source_row, natural_key, reason, raw_record, load_id from marts.rejected_records"
        f"{where} order by source, source_row, reason limit ? offset ?",
        (*params, paging.page_size, paging.offset),
    )
    return Page(
        items=[RejectedRecord(**row) for row in rows], page=paging.page, page_size=paging.page_size, total=total
    )
