"""Rejected raw records (marts.rejected_records): why each was refused, with the raw record."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.deps import Conn, Paging
from api.queries.rejected import rejected_page
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
    items, total = rejected_page(
        conn,
        source=source,
        reason=reason.replace("\x00", "") if reason else None,
        limit=paging.page_size,
        offset=paging.offset,
    )
    return Page(items=items, page=paging.page, page_size=paging.page_size, total=total)
