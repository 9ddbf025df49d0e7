"""The WATCHER producer's XCom writes: after `producer_writes_only_read_events` (called by the DAG file),
Cosmos' own log parser writes a node's dbt event once, when the node has finished, only for a node with a
task of its own, and still writes every status (which the node tasks wait for) and the error events.

The log lines go through Cosmos' real parser (`store_dbt_resource_status_from_log`, the function its
producer calls for every dbt event); only the task instance is a recorder of the XCom writes, which the
producer would send to Airflow's API. If a Cosmos upgrade moves the event list this relies on, these
tests fail instead of the producer silently writing every event again.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

MODEL = "model.retail_elt.fct_sales"
OWN_TEST = "test.retail_elt.assert_fct_orders_reconcile_with_fct_sales"  # a test of several models: own task
MODEL_TEST = "test.retail_elt.not_null_fct_sales_order_number.1a2b3c"  # reported with its model's tests


def dbt_group(*watched: str) -> SimpleNamespace:
    """The shape of a DbtTaskGroup the function reads: its tasks, each watching one node."""
    tasks = {node: SimpleNamespace(model_unique_id=node) for node in watched}
    return SimpleNamespace(children={"producer": SimpleNamespace(task_id="dbt.dbt_producer_watcher"), **tasks})


class RecordedXComs:
    """Stands in for the producer's task instance: the keys it was asked to write, in order."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    def xcom_push(self, key: str, value: Any) -> None:
        self.keys.append(key)

    def xcom_pull(self, **_: Any) -> None:
        return None


def dbt_line(event: str, status: str, unique_id: str = MODEL, resource_type: str = "model") -> str:
    """A dbt `--log-format json` line of a node event, in the shape dbt 1.11 writes (and Cosmos parses)."""
    node_info = {
        "unique_id": unique_id,
        "node_status": status,
        "resource_type": resource_type,
        "node_path": "marts/fct_sales.sql",
        "node_started_at": "2026-12-02T10:00:00",
        "node_finished_at": "2026-12-02T10:00:01" if event == "NodeFinished" else "",
    }
    return json.dumps({"info": {"name": event, "msg": f"{event} {unique_id}"}, "data": {"node_info": node_info}})


@pytest.fixture(autouse=True)
def _airflow_home(airflow_home: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Airflow reads its home when first imported in a process, and keeps it: Cosmos (which imports Airflow)
    is imported here only inside the tests, after the suite's migrated Airflow home is set, so a test of
    the DAG that runs later in the same worker finds its metadata database."""
    for key, value in airflow_home.items():
        monkeypatch.setenv(key, value)


def producer_writes_only_read_events(group: SimpleNamespace) -> None:
    from orchestration.airflow_tasks import producer_writes_only_read_events as keep_read_events

    keep_read_events(group)


def parse_event(line: str, ti: RecordedXComs, project_dir: Path) -> None:
    """One dbt log line through Cosmos' parser, as its producer hands it over during a build."""
    from cosmos.operators._watcher.base import store_dbt_resource_status_from_log

    extra = {"context": {"ti": ti}, "project_dir": str(project_dir)}
    store_dbt_resource_status_from_log(line, extra, should_generate_model_uris=False)


@pytest.fixture()
def recorded(tmp_path: Path) -> RecordedXComs:
    producer_writes_only_read_events(dbt_group(MODEL, OWN_TEST))
    ti = RecordedXComs()
    for event, status in [
        ("NodeStart", "started"),
        ("NodeCompiling", "compiling"),
        ("NodeExecuting", "executing"),
        ("NodeFinished", "success"),
    ]:
        parse_event(dbt_line(event, status), ti, tmp_path)
    return ti


def test_a_node_s_dbt_event_is_written_once_when_it_finished(recorded: RecordedXComs) -> None:
    event_key = "model__retail_elt__fct_sales_dbt_event"
    assert recorded.keys.count(event_key) == 1  # Cosmos alone writes it four times, three never read
    # ... before its status, which the node's task waits for and then reads the event.
    assert recorded.keys.index(event_key) < recorded.keys.index("model__retail_elt__fct_sales_status")


def test_error_events_are_still_written(tmp_path: Path) -> None:
    producer_writes_only_read_events(dbt_group(MODEL, OWN_TEST))
    ti = RecordedXComs()
    line = json.loads(dbt_line("RunResultError", "error"))
    parse_event(json.dumps(line), ti, tmp_path)
    assert ti.keys == ["model__retail_elt__fct_sales_dbt_event", "model__retail_elt__fct_sales_status"]


def test_a_data_test_s_event_is_written_only_when_a_task_of_its_own_reads_it(tmp_path: Path) -> None:
    producer_writes_only_read_events(dbt_group(MODEL, OWN_TEST))
    ti = RecordedXComs()
    for test in (OWN_TEST, MODEL_TEST):
        parse_event(dbt_line("NodeFinished", "pass", test, "test"), ti, tmp_path)
    own_key, model_test_key = (test.replace(".", "__") for test in (OWN_TEST, MODEL_TEST))
    assert f"{own_key}_dbt_event" in ti.keys and f"{own_key}_status" in ti.keys
    assert f"{model_test_key}_dbt_event" not in ti.keys  # nobody reads it: its model's test task reads the model's
