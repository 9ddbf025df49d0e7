"""For the write-audit-publish tests: a dbt project whose build always fails, and what readers see.

The failure does not depend on any cell of the data (the cleaning rules may turn any bad cell into a
reject): a singular test planted in a copy of the project always returns a row. It is a test of
anomaly_detection, a report nothing else is built from, so dbt builds every model and runs every other
test before the build fails.
`ELT_DBT_PROJECT_DIR` points `elt` (and the Airflow DAG) at the copy; the project in the repository is
never touched.
"""

from __future__ import annotations

import csv
import hashlib
import io
import shutil
from pathlib import Path

from core.dbt_project import PROJECT_DIR
from core.warehouse import Warehouse
from orchestration.publish import build_schemas_of
from tests.reports_contract import AUDIT_VIEWS, MARTS, REPORTS

# The views over audit (AUDIT_VIEWS) are current whenever they are read (they show a failed run itself), so
# they are not compared.
TABLE_REPORTS = [name for name in REPORTS if name not in AUDIT_VIEWS]
PUBLISHED_RELATIONS = [f"marts.{m}" for m in MARTS] + [f"reports.{r}" for r in TABLE_REPORTS]

PLANTED_TEST = "assert_planted_failure"
PLANTED_SQL = """-- Planted by the write-audit-publish tests: one row, so it fails on every build.
select count(*) as anomalies from {{ ref('anomaly_detection') }}
"""


def project_copy(destination: Path) -> Path:
    """A copy of dbt_project/ without its artifacts and logs, for a test to change (point ELT_DBT_PROJECT_DIR at it)."""
    shutil.copytree(PROJECT_DIR, destination, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    return destination


def project_with_failing_test(destination: Path) -> Path:
    """A copy of dbt_project/ (without its artifacts and logs) plus tests/assert_planted_failure.sql."""
    project_copy(destination)
    (destination / "tests" / f"{PLANTED_TEST}.sql").write_text(PLANTED_SQL, encoding="utf-8")
    return destination


def content(warehouse: Warehouse, relations: list[str] = PUBLISHED_RELATIONS) -> dict[str, tuple[int, str]]:
    """Each relation's row count and a hash of its sorted rows (default: every mart and table report)."""
    conn = warehouse.connect(read_only=True)
    try:
        found = {}
        for relation in relations:
            lines = sorted(repr(row) for row in conn.execute(f"select * from {relation}"))
            found[relation] = (len(lines), hashlib.sha256("\n".join(lines).encode()).hexdigest())
        return found
    finally:
        conn.close()


def build_schemas(warehouse: Warehouse) -> list[str]:
    """The build schemas the warehouse holds."""
    conn = warehouse.connect(read_only=True)
    try:
        return build_schemas_of(conn)
    finally:
        conn.close()


def with_changed_quantities(sample_dir: Path, destination: Path, every: int = 1000) -> Path:
    """A copy of the sample folder whose Sales.csv has the quantity of every `every`th line changed."""
    shutil.copytree(sample_dir, destination)
    with (sample_dir / "Sales.csv").open(newline="", encoding="utf-8") as fh:
        header, *lines = list(csv.reader(fh))
    for line in lines[::every]:
        line[7] = str(int(line[7]) % 10 + 1)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *lines])
    (destination / "Sales.csv").write_text(out.getvalue(), encoding="utf-8")
    return destination
