"""The WATCHER producer's XCom writes: after `producer_keeps_final_node_events` (called by the DAG file),
Cosmos' own log parser writes a node's dbt event once, when the node has finished, and still writes its
status (which the node's task waits for) and its error events.

The log lines go through Cosmos' real parser (`store_dbt_resource_status_from_log`, the function its
producer calls for every dbt event); only the task instance is a recorder of the XCom writes, which the
producer would send to Airflow's API. If a Cosmos upgrade moves the event list this relies on, the first
test fails instead of the producer silently writing every event again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cosmos.operators._watcher.base import store_dbt_resource_status_from_log

from orchestration.airflow_tasks import producer_keeps_final_node_events

MODEL = "model.retail_elt.fct_sales"


class RecordedXComs:
    """Stands in for the producer's task instance: the keys it was asked to write, in order."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    def xcom_push(self, key: str, value: Any) -> None:
        self.keys.append(key)

    def xcom_pull(self, **_: Any) -> None:
        return None


def dbt_line(event: str, status: str, unique_id: str = MODEL) -> str:
    """A dbt `--log-format json` line of a node event, in the shape dbt 1.11 writes (and Cosmos parses)."""
    node_info = {
        "unique_id": unique_id,
        "node_status": status,
        "resource_type": "model",
        "node_path": "marts/fct_sales.sql",
        "node_started_at": "2026-12-02T10:00:00",
        "node_finished_at": "2026-12-02T10:00:01" if event == "NodeFinished" else "",
    }
    return json.dumps({"info": {"name": event, "msg": f"{event} {unique_id}"}, "data": {"node_info": node_info}})


def parse_event(line: str, ti: RecordedXComs, project_dir: Path) -> None:
    """One dbt log line through Cosmos' parser, as its producer hands it over during a build."""
    extra = {"context": {"ti": ti}, "project_dir": str(project_dir)}
    store_dbt_resource_status_from_log(line, extra, should_generate_model_uris=False)


@pytest.fixture()
def recorded(tmp_path: Path) -> RecordedXComs:
    producer_keeps_final_node_events()
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
    producer_keeps_final_node_events()
    ti = RecordedXComs()
    line = json.loads(dbt_line("RunResultError", "error"))
    parse_event(json.dumps(line), ti, tmp_path)
    assert ti.keys == ["model__retail_elt__fct_sales_dbt_event", "model__retail_elt__fct_sales_status"]
