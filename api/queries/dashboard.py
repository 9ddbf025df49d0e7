"""The dashboard's own reads: what its charts draw (each over a whole report, aggregated in SQL where a chart
shows totals) and the counts beside its tables. Fixed statements, no client text; the report tables are
read only when the served build's manifest has them (the callers check `known`).

Everything a table of the dashboard lists page by page comes from the REST routes' own queries instead
(api.routes.reports, api.queries.runs, api.queries.rejected), so the pages and the API agree.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from api.db import fetch_dicts
from api.queries.runs import SUMMARY_COLUMNS
from api.schemas import RunSummary
from core.warehouse import Connection

TOP_PRODUCTS = 15  # bars of the top products chart


def daily_revenue(conn: Connection) -> list[tuple[date, Decimal, Decimal | None]]:
    """Every day of reports.sales_trends_daily: (date_day, revenue_usd, revenue_usd_7d_avg), by day."""
    return conn.execute(
        "select date_day, revenue_usd, revenue_usd_7d_avg from reports.sales_trends_daily order by date_day"
    )


def segment_sizes(conn: Connection) -> list[tuple[str, int]]:
    """Customers per RFM segment of reports.customer_segmentation, the largest first."""
    rows = conn.execute(
        "select segment, count(*) as customers from reports.customer_segmentation"
        " group by segment order by customers desc, segment"
    )
    return [(segment, int(customers)) for segment, customers in rows]


def top_products(conn: Connection, limit: int = TOP_PRODUCTS) -> list[tuple[int, str, Decimal]]:
    """The `limit` products of reports.product_performance with the most revenue: (product_key,
    product_name, revenue_usd), the highest first (ties by key)."""
    return conn.execute(
        "select product_key, product_name, revenue_usd from reports.product_performance"
        " order by revenue_usd desc, product_key limit ?",
        (limit,),
    )


def revenue_per_m2(conn: Connection) -> list[tuple[int, str, Decimal]]:
    """(store_key, store_name, revenue_per_m2) of every physical store (the online store has no floor area,
    so no value), the highest first."""
    return conn.execute(
        "select store_key, store_name, revenue_per_m2 from reports.store_performance"
        " where revenue_per_m2 is not null order by revenue_per_m2 desc, store_key"
    )


def day_anomalies(conn: Connection) -> list[tuple[str, float, float]]:
    """The days reports.anomaly_detection flags: (entity_key = the date as text, revenue_usd, z_score)."""
    rows = conn.execute(
        "select entity_key, value, z_score from reports.anomaly_detection where entity = 'day' order by entity_key"
    )
    return [(str(key), float(value), float(z)) for key, value, z in rows]


def anomaly_counts(conn: Connection) -> list[tuple[str, int]]:
    """How many outliers reports.anomaly_detection holds per entity (`day`, `order_line`)."""
    rows = conn.execute("select entity, count(*) from reports.anomaly_detection group by entity order by entity")
    return [(entity, int(n)) for entity, n in rows]


def rejected_counts(conn: Connection) -> list[tuple[str, str, int]]:
    """(source, reason, records) of marts.rejected_records, by source and reason."""
    rows = conn.execute(
        "select source, reason, count(*) from marts.rejected_records group by source, reason order by source, reason"
    )
    return [(source, reason, int(n)) for source, reason, n in rows]


def scorecard(conn: Connection) -> list[dict[str, object]]:
    """Every row of reports.data_quality_scorecard (one per source file), by source: read once. On Postgres it
    is a view over the audit and intermediate tables that costs about 0.1 s a read, so the overview does not
    page and count it as a report page does."""
    return fetch_dicts(conn, "select * from reports.data_quality_scorecard order by source")


def run_history(conn: Connection, limit: int) -> list[tuple[datetime, str, float | None, int | None, str]]:
    """The last `limit` runs that have a start time, oldest first: (started_at, run_id, seconds,
    rows_loaded, status)."""
    rows = conn.execute(
        "select started_at, run_id, seconds, rows_loaded, status from audit.runs where started_at is not null"
        " order by started_at desc, run_id desc limit ?",
        (limit,),
    )
    return list(reversed(rows))


def latest_tested_run(conn: Connection) -> RunSummary | None:
    """The newest run that recorded test results (a build, or a run that built), or None."""
    rows = fetch_dicts(
        conn,
        f"select {SUMMARY_COLUMNS} from audit.runs where tests_passed is not null"
        " order by started_at desc, run_id desc limit 1",
    )
    return RunSummary(**rows[0]) if rows else None
