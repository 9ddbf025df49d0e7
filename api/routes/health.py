"""GET /health: is the warehouse reachable, and how did the last run end (no API key needed)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from api.db import WarehouseReader, fetch_dicts
from api.deps import get_reader
from api.schemas import Health, LastRun
from ingestion.errors import WarehouseBusy, WarehouseError

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
def health(reader: Annotated[WarehouseReader, Depends(get_reader)], response: Response) -> Health:
    """`ok` with the last run; `busy` while a load or build writes to DuckDB; 503 `unreachable` otherwise."""
    warehouse = reader.warehouse
    try:
        with reader.connection() as conn:
            conn.execute("select 1")
            exists = conn.scalar(
                "select count(*) from information_schema.tables where table_schema = 'audit' and table_name = 'runs'"
            )
            last = (
                fetch_dicts(
                    conn,
                    "select run_id, status, trigger, command, started_at, finished_at from audit.runs"
                    " order by started_at desc limit 1",
                )
                if exists
                else []
            )
    except WarehouseBusy as exc:
        return Health(status="busy", target=warehouse.target, warehouse=warehouse.describe(), detail=str(exc))
    except WarehouseError as exc:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Health(status="unreachable", target=warehouse.target, warehouse=warehouse.describe(), detail=str(exc))
    return Health(
        status="ok",
        target=warehouse.target,
        warehouse=warehouse.describe(),
        last_run=LastRun(**last[0]) if last else None,
    )
