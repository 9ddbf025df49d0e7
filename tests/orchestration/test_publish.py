"""Write-audit-publish on both targets, through the `elt` command line as a user runs it.

A build whose error-severity test fails publishes nothing: the marts, the reports and the API's answers
stay those of the last good build, the run is recorded `failed` naming the test, and the failed build's
schemas stay for inspection until the next build drops them. A clean run then publishes the new data.
`elt build --select` builds on copies of every published relation, so it publishes a complete set.

The failure is a singular test planted in a copy of the dbt project (tests/orchestration/wap_support.py): it
fails on every build, whatever the cleaning rules make of the data.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.config import ApiConfig
from api.main import create_app
from core.warehouse import Warehouse
from orchestration.publish import (
    BUILD_SUFFIX,
    Relation,
    incremental_relations,
    managed_schemas,
    publish_artifacts,
    references,
    retarget,
)
from tests.api.conftest import API_KEY, KEY
from tests.conftest import warehouse_env
from tests.dbt.conftest import rows
from tests.dbt.figures import expected_figures, warehouse_figures
from tests.faults.conftest import Built, built, golden  # noqa: F401 - fixtures: a copy of one good `elt run`
from tests.orchestration.wap_support import (
    PLANTED_TEST,
    TABLE_REPORTS,
    build_schemas,
    content,
    project_with_failing_test,
    with_changed_quantities,
)
from tests.reports_contract import REPORTS


def elt(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`elt <args>` in a subprocess, whatever its exit code."""
    return subprocess.run(
        [sys.executable, "-m", "elt.cli", *args], env={**os.environ, **env}, capture_output=True, text=True
    )


def ok(done: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    """The process exited 0 (else: its output, for the failure message)."""
    assert done.returncode == 0, f"exit {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def api_answers(warehouse: Warehouse, target_path: Path) -> dict[str, Any]:
    """What the API answers: each report's first page (GET /reports/<name>) and whole CSV, and fct_sales's
    definition (schema and relation from the published manifest)."""
    settings = ApiConfig(api_key=API_KEY, warehouse=warehouse, dbt_target_path=target_path)
    answers: dict[str, Any] = {}
    with TestClient(create_app(settings)) as client:
        for name in REPORTS:
            page = client.get(f"/reports/{name}", params={"page_size": 500}, headers=KEY)
            whole = client.get(f"/reports/{name}.csv", headers=KEY)
            assert page.status_code == whole.status_code == 200, (name, page.text[:300], whole.text[:300])
            answers[name] = {"page": page.json(), "csv": whole.text}
        model = client.get("/models/fct_sales", headers=KEY)
        assert model.status_code == 200, model.text[:300]
        answers["fct_sales"] = model.json()["definition"]
    return answers


def artifacts_name_published_schemas(target_path: Path) -> None:
    """manifest.json, run_results.json and catalog.json (where written) name no build schema; fct_sales is in
    `marts`."""
    for name in ("manifest.json", "run_results.json", "catalog.json"):
        if name == "catalog.json" and not (target_path / name).is_file():  # `elt build` writes no docs
            continue
        text = (target_path / name).read_text(encoding="utf-8")
        assert not re.search(rf'\\"\w+{BUILD_SUFFIX}\\"\.', text), name
        assert f'"schema": "marts{BUILD_SUFFIX}"' not in text, name
    node = json.loads((target_path / "manifest.json").read_text())["nodes"]["model.retail_elt.fct_sales"]
    assert node["schema"] == "marts" and '"marts"."fct_sales"' in node["relation_name"]


def truncated_sample(sample_dir: Path, destination: Path) -> Path:
    """The sample with only the first two thirds of its sales lines: the `last good build` before the new data."""
    destination.mkdir()
    for path in sample_dir.iterdir():
        text = path.read_text(encoding="utf-8")
        if path.name == "Sales.csv":
            header, *lines = text.splitlines(keepends=True)
            text = header + "".join(lines[: len(lines) * 2 // 3])
        (destination / path.name).write_text(text, encoding="utf-8")
    return destination


@pytest.fixture
def env(target: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A fresh warehouse of `target` with an artifacts folder of its own."""
    for values in warehouse_env(target, tmp_path):
        yield {**values, "ELT_DBT_TARGET_ROOT": str(tmp_path / "target")}


def test_a_failed_run_publishes_nothing_and_the_next_clean_run_publishes(
    target: str, env: dict[str, str], sample_dir: Path, expected: dict, tmp_path: Path
) -> None:
    warehouse = Warehouse.from_env(environ={**os.environ, **env})
    published_path = tmp_path / "target" / target
    old_data = truncated_sample(sample_dir, tmp_path / "old-data")
    ok(elt("run", "--data-dir", str(old_data), "--reports-dir", str(tmp_path / "reports-old"), env=env))
    before = content(warehouse)
    answers_before = api_answers(warehouse, published_path)
    manifest_before = (published_path / "manifest.json").read_bytes()
    assert before["marts.fct_sales"][0] < expected["sales"]["lines"]

    # The new data with a test that fails: exit 1, and readers keep the last good build.
    planted = {**env, "ELT_DBT_PROJECT_DIR": str(project_with_failing_test(tmp_path / "planted-project"))}
    failed = elt("run", "--data-dir", str(sample_dir), "--reports-dir", str(tmp_path / "reports-failed"), env=planted)
    assert failed.returncode == 1, failed.stdout[-3000:] + failed.stderr
    assert "Traceback" not in failed.stderr
    assert re.search(rf"^error: dbt build failed on .*\(nothing published\): {PLANTED_TEST}", failed.stderr, re.M)
    assert re.search(r"^  build .*; not published$", failed.stdout, re.M)
    assert content(warehouse) == before
    *_, run = rows(warehouse, "select * from audit.runs order by started_at")
    assert (run["status"], run["tests_failed"]) == ("failed", 1) and PLANTED_TEST in run["error"]
    failing = rows(
        warehouse, f"select name from audit.node_results where run_id = '{run['run_id']}' and status = 'fail'"
    )
    assert [f["name"] for f in failing] == [PLANTED_TEST]
    # The failed build is in the build schemas, with the new lines, for inspection.
    assert build_schemas(warehouse) == [f"{s}{BUILD_SUFFIX}" for s in ("intermediate", "marts", "reports", "staging")]
    assert (
        rows(warehouse, f"select count(*) as n from marts{BUILD_SUFFIX}.fct_sales")[0]["n"]
        == (expected["sales"]["lines"])
    )
    assert (published_path / "manifest.json").read_bytes() == manifest_before  # the artifacts served are unchanged
    assert not (tmp_path / "reports-failed").exists()
    answers = api_answers(warehouse, published_path)
    for name in [*TABLE_REPORTS, "fct_sales"]:
        assert answers[name] == answers_before[name], name
    summary = answers["dag_execution_summary"]["page"]["items"]  # a view over audit: shows the failed run
    assert [r["status"] for r in summary] == ["success", "failed"]

    # A leftover of the failed build is never published; the next clean run publishes the new data.
    conn = warehouse.connect()
    try:
        conn.execute(f"create table marts{BUILD_SUFFIX}.leftover as select 1 as x")
    finally:
        conn.close()
    ok(elt("run", "--data-dir", str(sample_dir), "--reports-dir", str(tmp_path / "reports-new"), env=env))
    conn = warehouse.connect(read_only=True)
    try:
        assert warehouse_figures(conn) == expected_figures(expected)
    finally:
        conn.close()
    assert build_schemas(warehouse) == []
    assert rows(warehouse, "select count(*) as n from information_schema.tables where table_name = 'leftover'") == [
        {"n": 0}
    ]
    after = content(warehouse)
    assert after["marts.fct_sales"][0] == expected["sales"]["lines"] and after != before
    artifacts_name_published_schemas(published_path)
    answers = api_answers(warehouse, published_path)
    for name in TABLE_REPORTS:
        assert answers[name]["page"]["total"] == after[f"reports.{name}"][0], name
    assert answers["customer_summary"] != answers_before["customer_summary"]
    assert answers["fct_sales"]["schema_name"] == "marts"


def test_a_build_of_selected_nodes_publishes_a_complete_set_or_nothing(
    built: Built,  # noqa: F811 - the fixture imported above
    sample_dir: Path,
    tmp_path: Path,
) -> None:
    env = {**built.env, "ELT_DBT_TARGET_ROOT": str(tmp_path / "target")}
    warehouse = built.warehouse
    data_dir = with_changed_quantities(sample_dir, tmp_path / "data")
    ok(elt("load", "--only", "sales", "--data-dir", str(data_dir), env=env))
    before = content(warehouse)
    units = "select sum(quantity) as n from marts.fct_sales"
    units_before = rows(warehouse, units)[0]["n"]

    planted = {**env, "ELT_DBT_PROJECT_DIR": str(project_with_failing_test(tmp_path / "planted-project"))}
    failed = elt("build", "--select", "stg_sales+", env=planted)
    assert failed.returncode == 1 and PLANTED_TEST in failed.stderr, failed.stderr[-3000:]
    assert content(warehouse) == before
    # The build started from a copy of every published relation, those it did not select too.
    assert (
        rows(warehouse, f"select count(*) as n from marts{BUILD_SUFFIX}.dim_products")[0]["n"]
        == (before["marts.dim_products"][0])
    )

    # stg_audit__runs is rebuilt and dag_execution_summary, a view on it, is not: dbt drops the view on the
    # way on Postgres (cascade), and the published set must have it all the same.
    ok(elt("build", "--select", "stg_sales+", "stg_audit__runs", env=env))
    after = content(warehouse)
    assert set(after) == set(before)
    for unchanged in ("marts.dim_products", "marts.dim_stores"):
        assert after[unchanged] == before[unchanged], unchanged
    assert rows(warehouse, units)[0]["n"] != units_before  # the selected models were published
    summary = rows(warehouse, "select command, status from reports.dag_execution_summary order by run_id")
    assert summary[-2:] == [{"command": "build", "status": "failed"}, {"command": "build", "status": "success"}]
    assert build_schemas(warehouse) == []
    artifacts_name_published_schemas(tmp_path / "target" / built.warehouse.target)


# -------------------------------------------------------------------------------------- no warehouse


def test_retarget_renames_qualified_names_of_known_relations_only() -> None:
    known = [("marts__build", "fct_sales"), ("staging__build", "stg_sales"), ("reports__build", "v")]
    schemas_ = {"marts__build": "marts", "staging__build": "staging", "reports__build": "reports"}
    sql = (
        "CREATE VIEW reports__build.v AS SELECT 'marts__build.fct_sales' AS s, marts__build.x, f.a"
        ' FROM "w"."marts__build"."fct_sales" AS f JOIN staging__build.stg_sales USING (k) -- marts__build.fct_sales'
    )
    assert retarget(sql, schemas_, known) == (
        "CREATE VIEW \"reports\".v AS SELECT 'marts__build.fct_sales' AS s, marts__build.x, f.a"
        ' FROM "w"."marts"."fct_sales" AS f JOIN "staging".stg_sales USING (k) -- marts__build.fct_sales'
    )
    assert references(sql, known) == set(known)
    assert references(retarget(sql, schemas_, known), known) == set()


def test_schemas_and_incremental_models_come_from_the_manifest() -> None:
    def node(name: str, schema: str | None, materialized: str = "table", kind: str = "model") -> dict:
        return {"name": name, "resource_type": kind, "config": {"schema": schema, "materialized": materialized}}

    manifest = {
        "nodes": {
            "a": node("fct_sales", "marts", "incremental"),
            "b": node("stg_x", "staging", "view"),
            "c": node("stg_audit", "audit"),
            "d": node("unique_x", "dbt_test__audit", "test", kind="test"),
            "e": node("plain", None),
            "f": node("snap", "snapshots", "snapshot", kind="snapshot"),
        }
    }
    assert managed_schemas(manifest) == ["marts", "staging"]
    assert incremental_relations(manifest) == [Relation("marts", "fct_sales", "table")]


def test_published_artifacts_name_the_published_schemas(tmp_path: Path) -> None:
    build, published = tmp_path / "build", tmp_path / "published"
    build.mkdir()
    node = {
        "schema": "marts__build",
        "relation_name": '"w"."marts__build"."fct_sales"',
        "compiled_code": 'select * from "w"."staging__build"."stg_sales" where s = \'marts__build\'',
        "config": {"schema": "marts"},
    }
    (build / "manifest.json").write_text(json.dumps({"nodes": {"model.x.fct_sales": node}}))
    (build / "run_results.json").write_text(json.dumps({"results": [{"relation_name": node["relation_name"]}]}))
    publish_artifacts(build, published)
    manifest = json.loads((published / "manifest.json").read_text())
    assert manifest["nodes"]["model.x.fct_sales"] == {
        "schema": "marts",
        "relation_name": '"w"."marts"."fct_sales"',
        "compiled_code": 'select * from "w"."staging"."stg_sales" where s = \'marts__build\'',
        "config": {"schema": "marts"},
    }
    assert json.loads((published / "run_results.json").read_text())["results"][0]["relation_name"] == (
        '"w"."marts"."fct_sales"'
    )
