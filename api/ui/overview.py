"""GET /ui/: the overview. The last runs (status, duration, trigger; each a link to its page), run durations and
rows loaded over time, the tests of the latest build, the data quality scorecard and each source's freshness.

The runs are read by the query of GET /runs and the freshness through the route of GET /sources, so the
page shows what the API answers; the scorecard is the report's rows, read once (api.queries.dashboard.scorecard).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.artifacts import ArtifactMissing
from api.deps import Artifacts, Conn, Pagination
from api.queries import dashboard as queries
from api.queries.runs import runs_page
from api.routes import reports, sources
from api.ui import charts
from api.ui.formatting import number, seconds, when
from api.ui.routing import PageRoute
from api.ui.templating import render

router = APIRouter(route_class=PageRoute)

LAST_RUNS = 15  # rows of the runs table
CHARTED_RUNS = 100  # runs in the charts
SCORECARD = "data_quality_scorecard"


@router.get("/ui/", response_class=HTMLResponse)
def overview(request: Request, artifacts: Artifacts, conn: Conn) -> HTMLResponse:
    """The overview page."""
    runs, total_runs = runs_page(conn, status=None, trigger=None, limit=LAST_RUNS, offset=0)
    ran = total_runs > 0  # else a warehouse nothing ran on yet: no audit tables, the page says how to start
    known, freshness = set(), []
    if ran:
        try:
            known = reports.manifest_reports(artifacts)
            freshness = sources.list_sources(artifacts, conn, Pagination(1, 500)).items
        except ArtifactMissing:  # no build yet: no manifest, no reports, no sources
            pass
    scorecard = queries.scorecard(conn) if ran and SCORECARD in known else None
    return render(
        request,
        "overview.html",
        runs=runs,
        total_runs=total_runs,
        charts=_run_charts(queries.run_history(conn, CHARTED_RUNS) if ran else []),
        tested=queries.latest_tested_run(conn) if ran else None,
        scorecard=scorecard,
        sources=freshness,
    )


def _run_charts(history: list) -> list[charts.XYChart]:
    """Seconds per run and rows loaded per run, over the runs' start times."""
    if not history:
        return []
    times = [started for started, *_ in history]
    keys = [run_id for _, run_id, *_ in history]
    ticks = charts.time_ticks(times)
    durations = [float(s) if s is not None else None for _, _, s, _, _ in history]
    loaded = [float(r) if r is not None else None for _, _, _, r, _ in history]
    tips = [f"{run_id} ({status}), {when(started)}" for started, run_id, _, _, status in history]
    return [
        charts.xy_chart(
            "chart-run-seconds",
            "Run duration",
            times,
            [
                charts.Series(
                    "seconds",
                    "dots",
                    "dot seconds",
                    durations,
                    [f"{tip}: {seconds(v)}" for tip, v in zip(tips, durations, strict=True)],
                ),
            ],
            keys,
            ticks,
            y_format=lambda v: f"{v:g} s",
        ),
        charts.xy_chart(
            "chart-rows-loaded",
            "Rows loaded",
            times,
            [
                charts.Series(
                    "rows loaded",
                    "dots",
                    "dot rows",
                    loaded,
                    [
                        f"{tip}: {number(int(v)) if v is not None else ''} rows"
                        for tip, v in zip(tips, loaded, strict=True)
                    ],
                ),
            ],
            keys,
            ticks,
        ),
    ]
