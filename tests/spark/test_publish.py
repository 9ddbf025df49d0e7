"""Write-audit-publish and the run's bookkeeping on Spark (orchestration/publish.py, export.py, lineage.py,
run_log.py, run_audit.py, changes.py, readiness.py), on build schemas made with SQL as dbt-spark makes them
(unquoted names, views that name their tables).

Spark publishes by copy: each build table is copied next to its published name and swapped in by rename,
and each view is recreated from its text with the build schemas renamed (a Spark view names its tables).
One warehouse folder per test process; every test starts from an empty catalog (only `default`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from core.audit import ensure_audit_tables
from core.warehouse import Connection, Warehouse
from ingestion.contract import SOURCES_BY_NAME
from orchestration import changes, lineage, run_audit, run_log
from orchestration.export import export_reports
from orchestration.publish import (
    BUILD_SUFFIX,
    PUBLISHING_SUFFIX,
    IncompleteBuild,
    Relation,
    build_schemas_of,
    prepare_build,
    publish,
    publish_artifacts,
    references,
    relations_of,
    retarget,
    schemas_of,
    view_definitions,
)
from orchestration.readiness import NotReady, require_loaded, tables_in
from tests.spark.conftest import spark_warehouse

pytestmark = pytest.mark.spark

BUILD_NAMES = [("staging__build", "stg_sales"), ("marts__build", "fct_sales"), ("marts__build", "dim_stores")]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("spark-publish")


@pytest.fixture(scope="module")
def warehouse(folder: Path) -> Warehouse:
    return spark_warehouse(
        folder / "warehouse",
        ELT_DBT_TARGET_ROOT=str(folder / "target"),
        ELT_LINEAGE_DIR=str(folder / "lineage"),
        ELT_LOCK_TIMEOUT="10",
    )


@pytest.fixture
def conn(warehouse: Warehouse) -> Iterator[Connection]:
    """The module's warehouse with an empty catalog (every database but `default` dropped)."""
    connection = warehouse.connect()
    for schema in sorted(schemas_of(connection) - {"default"}):
        connection.execute(f"drop schema `{schema}` cascade")
    yield connection
    connection.close()


def manifest(*nodes: tuple[str, str, str]) -> dict:
    """A manifest with these models as (name, custom schema, materialization)."""
    return {
        "nodes": {
            f"model.retail_elt.{name}": {
                "name": name,
                "resource_type": "model",
                "config": {"schema": schema, "materialized": materialized},
            }
            for name, schema, materialized in nodes
        }
    }


PROJECT = manifest(
    ("stg_sales", "staging", "view"),
    ("fct_sales", "marts", "incremental"),
    ("dim_stores", "marts", "table"),
    ("sales_by_store", "reports", "view"),
    ("top_store", "reports", "view"),
)


def make_raw(conn: Connection, quantities: list[int]) -> None:
    """raw.sales: one line per quantity, stores alternating 1 and 2."""
    conn.execute("create schema if not exists raw")
    conn.execute("drop table if exists raw.sales")
    values = ", ".join(f"('{i}', '{1 + i % 2}', '{q}')" for i, q in enumerate(quantities))
    conn.execute(f"create table raw.sales using parquet as select * from values {values} as t(line, store, quantity)")


def make_build(conn: Connection) -> None:
    """The build schemas as dbt-spark leaves them: a staging view over raw, two tables over it, and report
    views over the tables and over each other, written as dbt-spark writes them (unquoted) or in backticks,
    with literals that spell a build relation (a Spark string may be in double quotes)."""
    for schema in ("staging", "marts", "reports"):
        conn.execute(f"create schema if not exists {schema}{BUILD_SUFFIX}")
    conn.execute(
        "create or replace view staging__build.stg_sales as select cast(line as int) as line,"
        " cast(store as int) as store_key, cast(quantity as int) as quantity from raw.sales"
    )
    conn.execute(
        "create table marts__build.fct_sales using parquet as select line, store_key, quantity,"
        " cast(quantity * 1.25 as decimal(12,2)) as amount, date'2024-03-01' + line as order_date"
        " from staging__build.stg_sales"
    )
    conn.execute(
        "create table marts__build.dim_stores using parquet as"
        " select * from values (1, 'North'), (2, 'South, \"old\"') as t(store_key, region)"
    )
    conn.execute(
        "create or replace view reports__build.sales_by_store as"
        " select d.region, sum(f.quantity) as units, 'marts__build.fct_sales' as note,"
        ' "staging__build.stg_sales" as note2'
        " from `marts__build`.`fct_sales` f join marts__build.dim_stores as d on d.store_key = f.store_key"
        " group by d.region -- reads marts__build.fct_sales"
    )
    conn.execute(
        "create or replace view reports__build.top_store as"
        " select region from reports__build.sales_by_store order by units desc limit 1"
    )


def contents(conn: Connection, relation: str) -> list[tuple]:
    return sorted(conn.execute(f"select * from {relation}"))


# ----------------------------------------------------------------------------------------------- publish


def test_publish_replaces_tables_and_retargets_views(conn: Connection, warehouse: Warehouse) -> None:
    # What is published before: an older fct_sales, a view in the place of dim_stores, a table that the build
    # no longer has, and a copy an interrupted publish left behind.
    make_raw(conn, [3, 4, 5, 6])
    conn.execute("create schema marts")
    conn.execute("create table marts.fct_sales using parquet as select 1 as line")
    conn.execute("create view marts.dim_stores as select 1 as store_key")
    conn.execute("create table marts.gone using parquet as select 1 as x")
    conn.execute(f"create table marts.gone{PUBLISHING_SUFFIX} using parquet as select 1 as x")
    make_build(conn)
    built = {r.name: contents(conn, f"{r.schema}.{r.name}") for r in relations_of(conn, build_schemas_of(conn))}

    published = publish(warehouse)

    assert (published.schemas, published.relations, published.dropped) == (["marts", "reports", "staging"], 5, 1)
    assert build_schemas_of(conn) == []
    assert relations_of(conn, ["marts", "reports", "staging"]) == [
        Relation("marts", "dim_stores", "table"),
        Relation("marts", "fct_sales", "table"),
        Relation("reports", "sales_by_store", "view"),
        Relation("reports", "top_store", "view"),
        Relation("staging", "stg_sales", "view"),
    ]
    for relation in ("marts.fct_sales", "marts.dim_stores", "reports.sales_by_store", "staging.stg_sales"):
        assert contents(conn, relation) == built[relation.split(".")[1]], relation
    assert contents(conn, "marts.fct_sales")[0] == (0, 1, 3, Decimal("3.75"), date(2024, 3, 1))
    assert conn.execute("select * from reports.top_store") == [('South, "old"',)]
    assert conn.execute("select units, note, note2 from reports.sales_by_store order by units") == [
        (8, "marts__build.fct_sales", "staging__build.stg_sales"),
        (10, "marts__build.fct_sales", "staging__build.stg_sales"),
    ]
    # The views read the published tables: a change there shows through them.
    conn.execute("insert into marts.fct_sales select 9, 1, 100, 1.00, date'2024-01-01'")
    assert conn.execute("select units from reports.sales_by_store order by units") == [(10,), (108,)]
    views = [Relation("reports", "sales_by_store", "view"), Relation("reports", "top_store", "view")]
    for view, text in view_definitions(conn, views).items():
        assert references(text, BUILD_NAMES + [("reports__build", "sales_by_store")], "spark") == set(), view
    assert "'marts__build.fct_sales'" in view_definitions(conn, views[:1])[views[0]]


def test_a_selection_build_keeps_the_rest_and_an_incomplete_one_publishes_nothing(
    conn: Connection, warehouse: Warehouse
) -> None:
    make_raw(conn, [1, 2])
    make_build(conn)
    publish(warehouse)
    published_before = {r: contents(conn, f"{r.schema}.{r.name}") for r in relations_of(conn, ["marts", "reports"])}
    conn.execute("create schema leftover__build")  # a failed build's schema: dropped, never published

    # A build of everything copies only the incremental model (fct_sales), by value.
    prepared = prepare_build(warehouse, PROJECT)
    assert prepared.dropped == ["leftover__build"]
    assert prepared.copied == [Relation("marts", "fct_sales", "table")]
    assert relations_of(conn, build_schemas_of(conn)) == [Relation("marts__build", "fct_sales", "table")]
    assert contents(conn, "marts__build.fct_sales") == published_before[Relation("marts", "fct_sales", "table")]

    # A build of selected nodes starts from a copy of everything, views retargeted at the build schemas.
    prepared = prepare_build(warehouse, PROJECT, copy_all=True)
    assert len(prepared.copied) == 5 and schemas_of(conn) >= {"marts__build", "reports__build", "staging__build"}
    copy = Relation("reports__build", "sales_by_store", "view")
    text = view_definitions(conn, [copy])[copy]
    assert "`marts__build`.`fct_sales`" in text and "'marts__build.fct_sales'" in text
    # The selection rebuilds fct_sales from new raw lines; dbt dropped a view on the way.
    make_raw(conn, [7, 7, 7])
    conn.execute("drop table marts__build.fct_sales")
    conn.execute(
        "create table marts__build.fct_sales using parquet as select line, store_key, quantity,"
        " cast(quantity * 1.25 as decimal(12,2)) as amount, date'2024-03-01' + line as order_date"
        " from staging__build.stg_sales"
    )
    conn.execute("drop view reports__build.top_store")
    publish(warehouse, expected=prepared.copied)
    assert build_schemas_of(conn) == []
    after = {r: contents(conn, f"{r.schema}.{r.name}") for r in relations_of(conn, ["marts", "reports"])}
    assert set(after) == set(published_before)
    assert after[Relation("marts", "dim_stores", "table")] == published_before[Relation("marts", "dim_stores", "table")]
    assert conn.execute("select sum(quantity) from marts.fct_sales") == [(21,)]
    assert conn.execute("select * from reports.top_store") == [("North",)]  # 14 units to South's 7 now

    # A selection build that lost a table it started from publishes nothing, and stays for inspection.
    prepared = prepare_build(warehouse, PROJECT, copy_all=True)
    conn.execute("drop table marts__build.dim_stores")
    conn.execute("insert into marts__build.fct_sales select 50, 1, 50, 1.00, date'2024-01-01'")
    before = {r: contents(conn, f"{r.schema}.{r.name}") for r in relations_of(conn, ["marts", "reports", "staging"])}
    with pytest.raises(IncompleteBuild, match="marts.*dim_stores"):
        publish(warehouse, expected=prepared.copied)
    assert {r: contents(conn, f"{r.schema}.{r.name}") for r in relations_of(conn, ["marts", "reports", "staging"])} == (
        before
    )
    assert build_schemas_of(conn) == ["marts__build", "reports__build", "staging__build"]


def test_the_next_build_finishes_an_interrupted_publish(conn: Connection, warehouse: Warehouse) -> None:
    # A publish killed between dropping marts.fct_sales and renaming its copy, with dim_stores's copy made.
    conn.execute("create schema marts")
    conn.execute(f"create table marts.fct_sales{PUBLISHING_SUFFIX} using parquet as select 1 as line, 5 as quantity")
    conn.execute("create table marts.dim_stores using parquet as select 1 as store_key")
    conn.execute(f"create table marts.dim_stores{PUBLISHING_SUFFIX} using parquet as select 2 as store_key")
    conn.execute("create schema marts__build")

    prepared = prepare_build(warehouse, PROJECT)

    assert prepared.dropped == ["marts__build"]
    assert relations_of(conn, ["marts"]) == [
        Relation("marts", "dim_stores", "table"),
        Relation("marts", "fct_sales", "table"),
    ]
    assert conn.execute("select * from marts.fct_sales") == [(1, 5)]
    assert conn.execute("select * from marts.dim_stores") == [(1,)]
    assert conn.execute("select * from marts__build.fct_sales") == [(1, 5)]  # the incremental copy


def test_retarget_and_artifacts_speak_spark(tmp_path: Path) -> None:
    sql = (
        "select 'it\\'s marts__build.fct_sales' as s, \"marts__build.fct_sales\" as d, f.a"
        " from marts__build.fct_sales f join `staging__build`.`stg_sales` using (k) -- marts__build.fct_sales"
    )
    schemas = {"marts__build": "marts", "staging__build": "staging"}
    assert retarget(sql, schemas, BUILD_NAMES, "spark") == (
        "select 'it\\'s marts__build.fct_sales' as s, \"marts__build.fct_sales\" as d, f.a"
        " from `marts`.fct_sales f join `staging`.`stg_sales` using (k) -- marts__build.fct_sales"
    )
    assert references(sql, BUILD_NAMES, "spark") == {BUILD_NAMES[0], BUILD_NAMES[1]}
    # dbt-spark's artifacts name relations unquoted.
    build, published = tmp_path / "build", tmp_path / "published"
    build.mkdir()
    node = {
        "schema": "marts__build",
        "relation_name": "marts__build.fct_sales",
        "compiled_code": "select * from staging__build.stg_sales where s = 'marts__build.x'",
    }
    (build / "manifest.json").write_text(json.dumps({"nodes": {"model.x.fct_sales": node}}))
    publish_artifacts(build, published)
    assert json.loads((published / "manifest.json").read_text())["nodes"]["model.x.fct_sales"] == {
        "schema": "marts",
        "relation_name": "marts.fct_sales",
        "compiled_code": "select * from staging.stg_sales where s = 'marts__build.x'",
    }


def test_lineage_names_spark_datasets_by_the_warehouse_folder(tmp_path: Path) -> None:
    warehouse = spark_warehouse(tmp_path / "w")  # never opened: naming needs no session
    processor = lineage._ArtifactProcessor(warehouse, tmp_path, "elt")
    processor.extract_adapter_type(processor.warehouse_profile)
    processor.extract_dataset_namespace(processor.warehouse_profile)
    # The dbt nodes' datasets and the loader's raw tables share the namespace, so the graph connects.
    assert processor.dataset_namespace == f"spark://{tmp_path / 'w'}"
    assert lineage.raw_table(warehouse, SOURCES_BY_NAME["sales"]) == (processor.dataset_namespace, "raw.sales")


# ------------------------------------------------------------------------------------------------- export

REPORT = (
    "select * from values"
    " (1, 'plain', cast(2.50 as decimal(12,2)), date'2024-02-29', timestamp_ntz'2024-02-29 13:04:05', 0.1d, true,"
    "  cast(1234567.1234567890 as decimal(38,10))),"
    " (2, 'a, \"quoted\"\nline', cast(-0.05 as decimal(12,2)), date'1999-12-31', timestamp_ntz'2024-01-01 00:00:00',"
    "  1e20d, false, cast(0 as decimal(38,10))),"
    " (3, '', null, null, null, null, null, null),"
    " (4, null, cast(0 as decimal(12,2)), date'2024-01-01', timestamp_ntz'2024-01-01 00:00:00.5', -1.5d, true,"
    "  cast(-1 as decimal(38,10)))"
    " as t(id, label, amount, day, seen_at, ratio, flag, big)"
)
DUCKDB_REPORT = (
    "select * from (values"
    " (1, 'plain', 2.50::decimal(12,2), date '2024-02-29', timestamp '2024-02-29 13:04:05', 0.1::double, true,"
    "  1234567.1234567890::decimal(38,10)),"
    " (2, 'a, \"quoted\"' || chr(10) || 'line', -0.05::decimal(12,2), date '1999-12-31',"
    "  timestamp '2024-01-01 00:00:00', 1e20::double, false, 0::decimal(38,10)),"
    " (3, '', null, null, null, null, null, null),"
    " (4, null, 0::decimal(12,2), date '2024-01-01', timestamp '2024-01-01 00:00:00.5', -1.5::double, true,"
    "  -1::decimal(38,10))"
    ") as t(id, label, amount, day, seen_at, ratio, flag, big)"
)


def report_manifest(target_root: Path, target: str) -> None:
    """A published manifest.json naming one report, `tiny`, whose key is `id`."""
    node = {
        "name": "tiny",
        "resource_type": "model",
        "package_name": "retail_elt",
        "fqn": ["retail_elt", "reports", "tiny"],
        "config": {"schema": "reports", "meta": {"key": "id"}},
    }
    path = target_root / target / "manifest.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"metadata": {"project_name": "retail_elt"}, "nodes": {"model.retail_elt.tiny": node}}))


def test_export_writes_the_same_bytes_as_duckdb(conn: Connection, warehouse: Warehouse, folder: Path) -> None:
    conn.execute("create schema reports")
    conn.execute(f"create table reports.tiny using parquet as {REPORT}")
    report_manifest(folder / "target", "spark")
    duck = Warehouse.from_env(
        "duckdb", {"ELT_DUCKDB_PATH": str(folder / "duck.duckdb"), "ELT_DBT_TARGET_ROOT": str(folder / "target")}
    )
    duck_conn = duck.connect()
    try:
        duck_conn.execute("create schema if not exists reports")
        duck_conn.execute(f"create or replace table reports.tiny as {DUCKDB_REPORT}")
    finally:
        duck_conn.close()
    report_manifest(folder / "target", "duckdb")

    assert export_reports(warehouse, folder / "spark-csv") == {"tiny": 4}
    assert export_reports(duck, folder / "duckdb-csv") == {"tiny": 4}

    written = (folder / "spark-csv" / "tiny.csv").read_bytes()
    assert written == (folder / "duckdb-csv" / "tiny.csv").read_bytes()
    assert written.decode().splitlines()[:3] == [
        "id,label,amount,day,seen_at,ratio,flag,big",
        "1,plain,2.50,2024-02-29,2024-02-29 13:04:05,0.1,true,1234567.1234567890",
        '2,"a, ""quoted""',
    ]
    assert [p.name for p in (folder / "spark-csv").iterdir()] == ["tiny.csv"]  # no partial file left


# ------------------------------------------------------------------------------ readiness, audit, lineage


def test_readiness_on_a_folder_never_opened(tmp_path: Path) -> None:
    fresh = spark_warehouse(tmp_path / "never-opened")
    with pytest.raises(NotReady, match="nothing loaded yet on spark:"):
        require_loaded(fresh)
    assert not (tmp_path / "never-opened" / "metastore_db").exists()  # checked without opening it


def test_run_audit_run_log_changes_and_lineage_round_trip(conn: Connection, warehouse: Warehouse) -> None:
    ensure_audit_tables(conn)
    assert tables_in(conn, "raw") == set()
    assert changes.raw_loads(conn) == {} and changes.published_build(conn) is None

    # Runs: a second run marks the first, still `running`, interrupted; the figures round-trip.
    first = run_audit.RunRecord("cli", "run", "spark", run_id="run-1", started_at=datetime(2026, 12, 3, 10))
    second = run_audit.RunRecord("cli", "build", "spark", run_id="run-2", started_at=datetime(2026, 12, 3, 11))
    run_audit.start_run(warehouse, first)
    run_audit.start_run(warehouse, second)
    second.status, second.rows_loaded, second.load_id = "success", 12, "load-1"
    second.counts = run_audit.NodeCounts(models_built=3, tests_passed=2, tests_warned=1)
    second.seconds_per_step = {"load": 1.5, "build": 2.25}
    run_audit.update_run(warehouse, second, finished=True)
    fetched = run_audit.fetch_run(warehouse, "run-2")
    assert (fetched.status, fetched.rows_loaded, fetched.load_id, fetched.counts) == (
        "success",
        12,
        "load-1",
        second.counts,
    )
    assert fetched.seconds_per_step == {"load": 1.5, "build": 2.25}
    assert run_audit.fetch_run(warehouse, "run-1").status == "interrupted"
    assert conn.execute("select count(*) from audit.runs") == [(2,)]

    # Node results from dbt's artifacts, row counts of the models read from the warehouse.
    artifacts = conn_artifacts(conn, warehouse)
    counts = run_audit.record_build(warehouse, "run-2", artifacts)
    assert (counts.models_built, counts.tests_passed, counts.tests_failed) == (1, 1, 1)
    assert run_audit.node_counts(warehouse, "run-2") == run_audit.NodeCounts(1, 0, 1, 1, 0, ["unique_x: Got 2 results"])
    assert conn.execute(
        "select name, status, row_count, failures from audit.node_results where run_id = 'run-2' order by name"
    ) == [("fct_sales", "success", 3, None), ("not_null_x", "pass", None, 0), ("unique_x", "fail", None, 2)]

    # The run's log: appended in order, numbered on.
    lines = [run_log.LogLine(datetime(2026, 12, 3, 11, 0, i), "info", f"line {i}, it's ?") for i in range(3)]
    assert run_log.store(warehouse, "run-2", lines[:2]) == 2
    assert run_log.store(warehouse, "run-2", lines[2:]) == 1
    assert conn.execute("select line_no, logged_at, message from audit.run_logs order by line_no") == [
        (i + 1, line.logged_at, line.message) for i, line in enumerate(lines)
    ]

    # Change detection: the load raw holds, the build inputs recorded (and recorded again: replaced).
    conn.execute(
        "insert into audit.loads (load_id, file, source, sha256, started_at, status)"
        " values ('load-1', ?, 'sales', 'abc', ?, 'loaded')",
        (SOURCES_BY_NAME["sales"].file, datetime(2026, 12, 3, 10)),
    )
    conn.execute("create schema raw")
    conn.execute("create table raw.sales using parquet as select 'x' as a, 'load-1' as _load_id")
    assert changes.raw_loads(conn) == {"sales": ("load-1", "abc")}
    changes.record_build_inputs(warehouse, "run-2")
    changes.record_build_inputs(warehouse, "run-2")
    recorded = changes.published_build(conn)
    assert recorded is not None and recorded.run_id == "run-2"
    assert recorded.inputs["sales"] == "abc" and recorded.inputs["customers"] is None
    assert recorded.inputs[changes.DAY_INPUT] == changes.today() and len(recorded.inputs) == 7

    # Lineage names the raw tables in the warehouse folder, with their columns.
    source = SOURCES_BY_NAME["sales"]
    assert lineage.raw_table(warehouse, source) == (f"spark://{warehouse.spark_dir}", "raw.sales")
    assert lineage._raw_columns(warehouse, [source, SOURCES_BY_NAME["stores"]]) == {
        "sales": [("a", "string"), ("_load_id", "string")]
    }


def conn_artifacts(conn: Connection, warehouse: Warehouse) -> Path:
    """dbt artifacts of a build of one model (marts.fct_sales, 3 rows) and two tests, one failing."""
    conn.execute("create schema if not exists marts__build")
    conn.execute("create table marts__build.fct_sales using parquet as select * from values (1), (2), (3) as t(x)")
    folder = Path(warehouse.spark_dir).parent / "artifacts"
    folder.mkdir(exist_ok=True)
    nodes = {
        "model.retail_elt.fct_sales": {
            "name": "fct_sales",
            "resource_type": "model",
            "relation_name": "marts__build.fct_sales",
        },
        "test.retail_elt.unique_x": {
            "name": "unique_x",
            "resource_type": "test",
            "attached_node": "model.retail_elt.fct_sales",
        },
        "test.retail_elt.not_null_x": {"name": "not_null_x", "resource_type": "test"},
    }
    timing = [{"name": "execute", "started_at": "2026-12-03T11:00:00Z", "completed_at": "2026-12-03T11:00:01.5Z"}]
    results = [
        {"unique_id": "model.retail_elt.fct_sales", "status": "success", "timing": timing, "execution_time": 1.5},
        {"unique_id": "test.retail_elt.unique_x", "status": "fail", "failures": 2, "message": "Got 2 results"},
        {"unique_id": "test.retail_elt.not_null_x", "status": "pass", "failures": 0},
    ]
    (folder / "manifest.json").write_text(json.dumps({"nodes": nodes}))
    (folder / "run_results.json").write_text(json.dumps({"metadata": {"invocation_id": "i-1"}, "results": results}))
    return folder
