"""GET /metrics: the API's Prometheus metrics (api/metrics.py, docs/monitoring.md). No API key needed, as for
/health: Prometheus scrapes it, and it holds counts, durations and statuses only (no path, host, error text,
run id or value of the data)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.metrics import ApiMetrics

router = APIRouter(tags=["metrics"])

FORMATS = {
    "text/plain": {"schema": {"type": "string"}},  # Prometheus' text format (the default)
    "application/openmetrics-text": {"schema": {"type": "string"}},  # when the Accept header asks for it
}


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"description": "the metrics, in Prometheus' text format or OpenMetrics", "content": FORMATS}},
)
def metrics(request: Request) -> Response:
    """Request counts and latencies per route, and the pipeline's gauges read from the warehouse's audit
    tables now (absent, with `elt_warehouse_up 0`, while the warehouse cannot be read)."""
    scraped: ApiMetrics = request.app.state.metrics
    body, content_type = scraped.exposition(request.headers.get("accept"))
    return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})
