"""`python -m tests.spark.snapshot <spark dir> <out.pickle>`: what the Spark tests compare, read in a process of
its own and written as a pickle (Decimals, dates and timestamps kept).

Derby lets one process open a Spark warehouse at a time, and a process keeps it until it exits; so the tests read
a finished warehouse through this short-lived process instead of opening it themselves (any test worker may then
compare, and the warehouse stays free for the next `elt` run on it).
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path
from typing import Any

from core.warehouse import Warehouse
from tests.dbt.figures import warehouse_figures
from tests.dbt.test_marts import MART_KEYS, RUN_SPECIFIC
from tests.reports_contract import AUDIT_VIEWS, REPORTS


def snapshot(warehouse: Warehouse) -> dict[str, Any]:
    """{"figures": expected.json's figures from SQL, "marts": {mart: rows ordered by its key}, "reports": {report:
    rows ordered by its key} (not those over the audit tables),
    "runs": audit.runs rows, "nodes": [(run_id, resource type, status, count)] from audit.node_results}."""
    conn = warehouse.connect()
    try:
        marts = {}
        for mart, keys in MART_KEYS.items():
            columns, found = conn.fetch(f"select * from marts.{mart} order by {', '.join(keys)}")
            marts[mart] = [{k: v for k, v in zip(columns, row, strict=True) if k not in RUN_SPECIFIC} for row in found]
        reports = {}
        for report, keys in REPORTS.items():
            if report not in AUDIT_VIEWS:
                columns, found = conn.fetch(f"select * from reports.{report} order by {', '.join(keys)}")
                reports[report] = [dict(zip(columns, row, strict=True)) for row in found]
        columns, runs = conn.fetch("select * from audit.runs order by started_at")
        nodes = conn.execute(
            "select run_id, resource_type, status, count(*) from audit.node_results group by 1, 2, 3 order by 1, 2, 3"
        )
        return {
            "figures": warehouse_figures(conn),
            "marts": marts,
            "reports": reports,
            "runs": [dict(zip(columns, row, strict=True)) for row in runs],
            "nodes": nodes,
        }
    finally:
        conn.close()


if __name__ == "__main__":
    folder, out = Path(sys.argv[1]), Path(sys.argv[2])
    data = snapshot(Warehouse.from_env("spark", {"ELT_SPARK_DIR": str(folder)}))
    out.write_bytes(pickle.dumps(data))
