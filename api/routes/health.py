"""GET /health: is the warehouse reachable (no API key needed: load balancers call it). It says only that
and the target; which warehouse, why it is busy or unreachable and how the last run ended are at
GET /health/details, which needs the key (error texts name paths and hosts)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from api.db import WarehouseReader
from api.deps import get_reader, require_api_key
from api.queries.health import last_run, ping
from api.schemas import ErrorBody, Health, HealthDetails
from core.errors import WarehouseBusy, WarehouseError

router = APIRouter(tags=["health"])
Reader = Annotated[WarehouseReader, Depends(get_reader)]


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
def health(reader: Reader, response: Response) -> Health:
    """`ok`; `busy` while a load or build writes to DuckDB; 503 `unreachable` otherwise."""
    checked = _check(reader, response, with_last_run=False)
    return Health(status=checked.status, target=checked.target)


@router.get(
    "/health/details",
    response_model=HealthDetails,
    dependencies=[Depends(require_api_key)],
    responses={401: {"model": ErrorBody, "description": "missing or wrong X-API-Key"}, 503: {"model": HealthDetails}},
)
def health_details(reader: Reader, response: Response) -> HealthDetails:
    """/health with the warehouse, the reason it is busy or unreachable, and the last run."""
    return _check(reader, response, with_last_run=True)


def _check(reader: WarehouseReader, response: Response, with_last_run: bool) -> HealthDetails:
    """The warehouse's state (with the last run if `with_last_run`); sets 503 on `response` when it is
    unreachable."""
    warehouse = reader.warehouse
    try:
        with reader.connection() as conn:
            ping(conn)
            last = last_run(conn) if with_last_run else None
    except WarehouseBusy as exc:
        return HealthDetails(status="busy", target=warehouse.target, warehouse=warehouse.describe(), detail=str(exc))
    except WarehouseError as exc:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return HealthDetails(
            status="unreachable", target=warehouse.target, warehouse=warehouse.describe(), detail=str(exc)
        )
    return HealthDetails(
        status="ok",
        target=warehouse.target,
        warehouse=warehouse.describe(),
        last_run=last,
    )
