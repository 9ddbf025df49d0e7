"""OpenLineage events (orchestration/lineage.py): those `elt run` wrote for the session's built warehouse, on
both targets; the same events sent to a real HTTP receiver; and that emitting never fails a step.

Every event is checked against what the OpenLineage packages ship: no installed package (nor any on the
package index: openlineage-python, openlineage-integration-common, openlineage-dbt, the Airflow provider)
ships the core OpenLineage.json schema, so each event is rebuilt from the client's own generated classes
(generated from that schema: their validators check UUIDs, times and URIs, and their fields must match
exactly), and each facet with a schema shipped in openlineage-integration-common (openlineage/common/schema)
is validated against it with jsonschema (its reference to the core spec left out).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import pkgutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import attr
import jsonschema
import openlineage.client.generated as generated
import pytest
from openlineage.client.event_v2 import Dataset, InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.generated.base import BaseFacet
from openlineage.client.serde import Serde
from openlineage.common.provider.dbt import facets as dbt_facets

from core.dbt_project import marts
from core.errors import InputError, one_line
from core.warehouse import Warehouse
from ingestion.contract import LOAD_ID_COLUMN, SOURCE_ROW_COLUMN, SOURCES
from orchestration import lineage, publish
from orchestration.pipeline import RunResult, load_step
from orchestration.run_audit import RunRecord

CORE_SPEC = "https://openlineage.io/spec/"
SHIPPED_SCHEMAS = Path(importlib.import_module("openlineage.common.schema").__file__).parent


# --- validation against what the packages ship ---------------------------------------------------------------


def _facet_classes() -> dict[str, type]:
    """The client's generated facet classes (and the dbt integration's), by the `_schemaURL` they write."""
    modules = [
        importlib.import_module(f"{generated.__name__}.{m.name}") for m in pkgutil.iter_modules(generated.__path__)
    ]
    found = {}
    for module in [*modules, dbt_facets]:
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, BaseFacet) and attr.has(value):
                found[value._get_schema()] = value
    return found


FACET_CLASSES = _facet_classes()


def _without_core_refs(schema: Any) -> Any:
    """The schema with every reference to the core OpenLineage.json (not shipped) left out of its `allOf`s."""
    if isinstance(schema, dict):
        kept = {key: _without_core_refs(value) for key, value in schema.items()}
        if "allOf" in kept:
            kept["allOf"] = [part for part in kept["allOf"] if not str(part.get("$ref", "")).startswith(CORE_SPEC)]
        return kept
    if isinstance(schema, list):
        return [_without_core_refs(value) for value in schema]
    return schema


SHIPPED_FACET_SCHEMAS = {
    path.name: jsonschema.Draft202012Validator(
        _without_core_refs(json.loads(path.read_text())), format_checker=jsonschema.FormatChecker()
    )
    for path in SHIPPED_SCHEMAS.glob("*.json")
}


def _facets(found: dict[str, Any] | None, validated: set[str]) -> dict[str, Any]:
    """Each facet rebuilt from its generated class (every field known, required ones present), and validated
    against its shipped schema if it has one (its name added to `validated`)."""
    rebuilt = {}
    for key, facet in (found or {}).items():
        url = facet["_schemaURL"]
        assert url in FACET_CLASSES, f"facet {key}: no generated class writes {url}"
        fields = {name: value for name, value in facet.items() if name not in ("_producer", "_schemaURL")}
        rebuilt[key] = FACET_CLASSES[url](**fields, producer=facet["_producer"])
        shipped = SHIPPED_FACET_SCHEMAS.get(url.rsplit("/", 1)[-1])
        if shipped is not None:
            shipped.validate({key: facet})
            validated.add(key)
    return rebuilt


def _dataset(found: dict[str, Any], kind: type, own_facets: str, validated: set[str]) -> Dataset:
    """An input or output dataset rebuilt from its class (a plain Dataset when it has no input or output facets,
    as the dbt integration writes its models' inputs)."""
    common = {
        "namespace": found["namespace"],
        "name": found["name"],
        "facets": _facets(found.get("facets"), validated),
    }
    if own_facets not in found:
        return Dataset(**common)
    return kind(**common, **{own_facets: _facets(found[own_facets], validated)})


def validate(event: dict[str, Any], validated: set[str]) -> None:
    """The event, rebuilt from the client's generated classes, serialises back to exactly itself."""
    rebuilt = RunEvent(
        eventType=RunState(event["eventType"]),
        eventTime=event["eventTime"],
        producer=event["producer"],
        run=Run(runId=event["run"]["runId"], facets=_facets(event["run"].get("facets"), validated)),
        job=Job(
            namespace=event["job"]["namespace"],
            name=event["job"]["name"],
            facets=_facets(event["job"].get("facets"), validated),
        ),
        inputs=[_dataset(d, InputDataset, "inputFacets", validated) for d in event["inputs"]],
        outputs=[_dataset(d, OutputDataset, "outputFacets", validated) for d in event["outputs"]],
    )
    assert Serde.to_dict(rebuilt) == event


# --- reading the events --------------------------------------------------------------------------------------


def _events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _elt_run_id(warehouse: Warehouse) -> str:
    """The run id of the `elt run` that built the warehouse (API tests may have added builds since)."""
    conn = warehouse.connect(read_only=True)
    try:
        return conn.scalar("select run_id from audit.runs where command = 'run' order by started_at limit 1")
    finally:
        conn.close()


def _names(datasets: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(d["namespace"], d["name"]) for d in datasets}


def _namespace_and_database(env: dict[str, str], target: str) -> tuple[str, str]:
    """The dataset namespace and database name the OpenLineage dbt integration gives the warehouse of `env`."""
    if target == "postgres":
        host, port = (
            env.get("PGHOST", os.environ.get("PGHOST", "127.0.0.1")),
            env.get("PGPORT", os.environ.get("PGPORT", "5432")),
        )
        return f"postgres://{host}:{port}", env["PGDATABASE"]
    return f"duckdb://{env['ELT_DUCKDB_PATH']}", Path(env["ELT_DUCKDB_PATH"]).stem


def _completed(events: list[dict[str, Any]], job: str) -> dict[str, Any]:
    found = [e for e in events if e["job"]["name"] == job and e["eventType"] == "COMPLETE"]
    assert len(found) == 1, f"{len(found)} COMPLETE events of job {job}"
    return found[0]


# --- the events of `elt run` ---------------------------------------------------------------------------------


def test_elt_run_events_name_every_raw_table_and_mart_with_their_inputs(
    target: str, built_apis, sample_dir: Path, expected: dict
) -> None:
    built = built_apis.get(target)
    run_id = _elt_run_id(built.warehouse)
    path = Path(built.env["ELT_LINEAGE_DIR"]) / target / f"{run_id}.jsonl"
    events = _events(path)
    assert "__build" not in path.read_text(encoding="utf-8")  # the published relations only
    validated: set[str] = set()
    for event in events:
        validate(event, validated)
    assert validated == {"dbt_node", "dbt_run", "dbt_version"}

    # One pipeline run: each event's parent is it, each node's run started and completed, nothing failed.
    assert {
        (e["run"]["facets"]["parent"]["job"]["name"], e["run"]["facets"]["parent"]["run"]["runId"]) for e in events
    } == {("elt.run", events[0]["run"]["facets"]["parent"]["run"]["runId"])}
    assert {
        tag["value"] for e in events for tag in e["run"]["facets"]["tags"]["tags"] if tag["key"] == "elt_run_id"
    } == {run_id}
    states = {}
    for event in events:
        states.setdefault(event["run"]["runId"], []).append(event["eventType"])
    assert {tuple(s) for s in states.values()} == {("START", "COMPLETE")}

    namespace, database = _namespace_and_database(built.env, target)
    # Each raw table: the output of its file's load, with the file as input, its columns and row count.
    raw_tables = set()
    for source in SOURCES:
        figures = expected["files"][source.file]
        load = _completed(events, f"{database}.raw.{source.name}.load")
        assert _names(load["inputs"]) == {("file", str((sample_dir / source.file).resolve()))}
        assert _names(load["outputs"]) == {(namespace, f"{database}.raw.{source.name}")}
        read, written = load["inputs"][0], load["outputs"][0]
        assert read["inputFacets"]["inputStatistics"]["rowCount"] == figures["rows"]
        assert read["inputFacets"]["inputStatistics"]["size"] == figures["bytes"]
        assert read["facets"]["version"]["datasetVersion"] == figures["sha256"]
        assert [f["name"] for f in read["facets"]["schema"]["fields"]] == list(source.header)
        assert written["outputFacets"]["outputStatistics"]["rowCount"] == figures["rows"]
        columns = [f["name"] for f in written["facets"]["schema"]["fields"]]
        assert columns == [*source.columns, SOURCE_ROW_COLUMN, LOAD_ID_COLUMN]
        raw_tables |= _names(load["outputs"])

    # The graph connects: the raw tables dbt reads are exactly those the loads wrote (same namespace, name).
    dbt_inputs = {d for e in events if e["producer"] != lineage.PRODUCER for d in _names(e["inputs"])}
    assert {d for d in dbt_inputs if ".raw." in d[1]} == raw_tables

    # Each mart: the output of its model's run, its inputs what it depends on in the manifest, as published.
    manifest = json.loads((built.target_path / "manifest.json").read_text(encoding="utf-8"))
    nodes = {**manifest["nodes"], **manifest["sources"]}
    assert len(marts(manifest)) == 8
    for mart in marts(manifest):
        node = manifest["nodes"][f"model.retail_elt.{mart}"]
        wanted = {
            (
                namespace,
                f"{nodes[p]['database']}.{publish.published_schema(nodes[p]['schema'])}"
                f".{nodes[p].get('alias') or nodes[p]['name']}",
            )
            for p in node["depends_on"]["nodes"]
        }
        run = _completed(events, f"{database}.marts.retail_elt.{mart}.build.run")
        assert _names(run["outputs"]) == {(namespace, f"{database}.marts.{mart}")}
        assert _names(run["inputs"]) == wanted


# --- sending to OPENLINEAGE_URL ------------------------------------------------------------------------------


class _Receiver(BaseHTTPRequestHandler):
    """Keeps each POST's path and JSON body in `server.received`; answers `server.status`."""

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((self.path, json.loads(body)))  # type: ignore[attr-defined]
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def receiver() -> Iterator[ThreadingHTTPServer]:
    """A real HTTP server on a free loopback port, in a thread, keeping what it receives."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.received, server.status = [], 200  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def _warehouse(built, tmp_path: Path, **env: str) -> Warehouse:
    return Warehouse.from_env(environ={**os.environ, **built.env, "ELT_LINEAGE_DIR": str(tmp_path), **env})


def test_openlineage_url_gets_the_same_events(target: str, built_apis, receiver, tmp_path: Path) -> None:
    built = built_apis.get(target)
    url = f"http://127.0.0.1:{receiver.server_port}"
    warehouse = _warehouse(built, tmp_path, OPENLINEAGE_URL=url)
    run = RunRecord(trigger="test", command="build", target=target)
    count = lineage.emit_dbt_nodes(warehouse, run, built.target_path)
    written = _events(lineage.events_file(warehouse, run.run_id))
    assert count == len(written) == 148  # 36 models and 38 tested models (and singular tests): START, COMPLETE
    assert [path for path, _ in receiver.received] == ["/api/v1/lineage"] * count
    assert [event for _, event in receiver.received] == written


def test_an_endpoint_that_refuses_costs_one_request_and_a_warning(
    built_apis, receiver, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    built = built_apis.get("duckdb")
    receiver.status = 400
    warehouse = _warehouse(built, tmp_path, OPENLINEAGE_URL=f"http://127.0.0.1:{receiver.server_port}")
    run = RunRecord(trigger="test", command="build", target="duckdb")
    with caplog.at_level(logging.WARNING):
        count = lineage.emit_dbt_nodes(warehouse, run, built.target_path)
    assert count == len(_events(lineage.events_file(warehouse, run.run_id))) == 148  # the file has them all
    assert len(receiver.received) == 1
    assert (
        f"148 OpenLineage event(s) of 74 dbt node run(s) not sent to http://127.0.0.1:{receiver.server_port}"
        in caplog.text
    )


# --- never failing the run -----------------------------------------------------------------------------------


def test_emitting_never_fails_and_can_be_turned_off(
    built_apis, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = built_apis.get("duckdb")
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the lineage folder should be")
    run = RunRecord(trigger="test", command="build", target="duckdb")
    with caplog.at_level(logging.WARNING):
        assert lineage.emit_dbt_nodes(_warehouse(built, blocked), run, built.target_path) == 0
    assert f"OpenLineage events of the dbt nodes in {built.target_path} not emitted" in caplog.text

    monkeypatch.setenv("OPENLINEAGE_DISABLED", "true")
    warehouse = _warehouse(built, tmp_path / "lineage")
    assert lineage.emit_dbt_nodes(warehouse, run, built.target_path) == 0
    assert not lineage.events_file(warehouse, run.run_id).parent.exists()


def test_a_refused_load_emits_start_and_fail(warehouse: Warehouse, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "Stores.csv").write_text("StoreKey,Country\n1,France\n", encoding="utf-8")
    result = RunResult(RunRecord(trigger="test", command="load", target=warehouse.target), warehouse)
    with pytest.raises(InputError) as refused:
        load_step(result, data_dir, sources=["stores"])
    events = _events(lineage.events_file(warehouse, result.run.run_id))
    validated: set[str] = set()
    for event in events:
        validate(event, validated)
    database = warehouse.postgres.dbname if warehouse.target == "postgres" else warehouse.duckdb_path.stem
    assert [(e["eventType"], e["job"]["name"]) for e in events] == [
        ("START", f"{database}.raw.stores.load"),
        ("FAIL", f"{database}.raw.stores.load"),
    ]
    assert events[1]["run"]["facets"]["errorMessage"]["message"] == one_line(str(refused.value))
    assert _names(events[1]["inputs"]) == {("file", str((data_dir / "Stores.csv").resolve()))}


def test_the_artifacts_of_a_dags_dbt_task_give_the_published_relations(
    target: str, built_apis, warehouse: Warehouse, tmp_path: Path
) -> None:
    """What Cosmos' callback (`airflow_tasks.record_node_results`) emits after a dbt invocation of the DAG: its
    artifacts name the build schemas (`marts__build`), its events the published relations, as events of the
    DAG's run, found by its id in audit.runs."""
    from orchestration import airflow_tasks, pipeline

    cosmos_target = tmp_path / "cosmos-project" / airflow_tasks.COSMOS_TARGET_DIR
    cosmos_target.mkdir(parents=True)
    build = built_apis.get(target).target_path / "build"  # the build's own artifacts, as dbt wrote them
    for name in publish.ARTIFACTS:
        (cosmos_target / name).write_bytes((build / name).read_bytes())
    assert '"marts__build"' in (cosmos_target / "manifest.json").read_text(encoding="utf-8")
    run_id = "manual__lineage-test"
    pipeline.begin_run(warehouse, run_id, airflow_tasks.TRIGGER, airflow_tasks.COMMAND)

    assert lineage.emit_dbt_nodes(warehouse, run_id, cosmos_target) == 148

    text = lineage.events_file(warehouse, run_id).read_text(encoding="utf-8")
    assert "__build" not in text
    events = [json.loads(line) for line in text.splitlines()]
    assert {e["run"]["facets"]["parent"]["job"]["name"] for e in events} == {"elt.dag"}
    database = json.loads((build / "manifest.json").read_text())["nodes"]["model.retail_elt.fct_sales"]["database"]
    fct_sales = _completed(events, f"{database}.marts.retail_elt.fct_sales.build.run")
    assert {d["name"] for d in fct_sales["outputs"]} == {f"{database}.marts.fct_sales"}


def test_elt_load_alone_emits_the_events_of_its_files(
    wh_env: dict[str, str], warehouse: Warehouse, sample_dir: Path, expected: dict
) -> None:
    """`elt load` (no run record) emits each file's START and COMPLETE under the job `elt.load`, in the file
    named by its load id, with the rows loaded."""
    from tests.dbt.conftest import elt

    elt("load", "--only", "stores", "--data-dir", str(sample_dir), env=wh_env)
    conn = warehouse.connect(read_only=True)
    try:
        load_id = conn.scalar("select max(load_id) from audit.loads")
    finally:
        conn.close()
    events = _events(lineage.events_file(warehouse, load_id))
    validated: set[str] = set()
    for event in events:
        validate(event, validated)
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    assert {e["run"]["facets"]["parent"]["job"]["name"] for e in events} == {"elt.load"}
    stats = events[1]["outputs"][0]["outputFacets"]["outputStatistics"]
    assert stats["rowCount"] == expected["files"]["Stores.csv"]["rows"]
