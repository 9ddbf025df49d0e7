"""dbt data tests and unit tests: definition from the manifest, last attempt and last success."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status

from api.artifacts import Artifact, data_test_definition, find_node, manifest_nodes
from api.deps import Artifacts, Conn, Paging
from api.queries.nodes import applied_states, never_applied, node_history
from api.schemas import DataTestResource, ErrorBody, NodeExecution, Page

router = APIRouter(tags=["dbt resources"])

TestStatus = Literal["pass", "fail", "warn", "error", "skipped", "not_run"]


@router.get("/tests", response_model=Page[DataTestResource])
def list_tests(
    artifacts: Artifacts,
    conn: Conn,
    paging: Paging,
    test_status: Annotated[TestStatus | None, Query(alias="status", description="status of the last attempt")] = None,
    model: Annotated[str | None, Query(max_length=200, description="only tests about this model (name)")] = None,
) -> Page[DataTestResource]:
    """Every data test and unit test by unique_id; filter by the last attempt's `status` or by `model`."""
    manifest = artifacts.load(Artifact.manifest)
    nodes = {**manifest_nodes(manifest, "test"), **manifest_nodes(manifest, "unit_test")}
    states = applied_states(conn, nodes)
    items = []
    for uid in sorted(nodes):
        node = nodes[uid]
        definition = data_test_definition(manifest, node)
        applied = states.get(uid, never_applied())
        last = applied.last_attempt.status if applied.last_attempt else "not_run"
        if (test_status and last != test_status) or (model and definition.attached_model != model):
            continue
        items.append(
            DataTestResource(
                unique_id=uid,
                name=node.get("name") or uid,
                resource_type=node["resource_type"],
                definition=definition,
                applied=applied,
            )
        )
    return Page(items=paging.slice(items), page=paging.page, page_size=paging.page_size, total=len(items))


@router.get("/tests/{name}/history", response_model=Page[NodeExecution], responses={404: {"model": ErrorBody}})
def test_history(name: str, artifacts: Artifacts, conn: Conn, paging: Paging) -> Page[NodeExecution]:
    """Every execution of one data test or unit test (by name or unique_id), newest first."""
    manifest = artifacts.load(Artifact.manifest)
    node = find_node(manifest, "test", name) or find_node(manifest, "unit_test", name)
    if node is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no data test or unit test {name}")
    items, total = node_history(conn, node["unique_id"], paging.page_size, paging.offset)
    return Page(items=items, page=paging.page, page_size=paging.page_size, total=total)
