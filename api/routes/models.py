"""dbt models and the lineage graph: definitions from the manifest, applied state from audit.node_results."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from api.artifacts import Artifact, find_node, lineage, manifest_nodes, model_definition
from api.deps import Artifacts, Conn, Paging
from api.queries.nodes import applied_states, never_applied, node_history
from api.schemas import ErrorBody, Lineage, ModelDetail, ModelSummary, NodeExecution, Page

router = APIRouter(tags=["dbt resources"])


@router.get("/models", response_model=Page[ModelSummary])
def list_models(
    artifacts: Artifacts,
    conn: Conn,
    paging: Paging,
    schema_name: Annotated[str | None, Query(alias="schema", max_length=64, description="e.g. marts")] = None,
) -> Page[ModelSummary]:
    """Every model, by unique_id, with its last attempt and last success."""
    models = sorted(manifest_nodes(artifacts.load(Artifact.manifest), "model").values(), key=lambda n: n["unique_id"])
    if schema_name:
        models = [node for node in models if node.get("schema") == schema_name]
    shown = paging.slice(models)
    states = applied_states(conn, [node["unique_id"] for node in shown])
    items = [
        ModelSummary(
            unique_id=node["unique_id"],
            name=node["name"],
            description=node.get("description") or "",
            schema_name=node.get("schema") or "",
            materialized=node.get("config", {}).get("materialized") or "",
            applied=states.get(node["unique_id"], never_applied()),
        )
        for node in shown
    ]
    return Page(items=items, page=paging.page, page_size=paging.page_size, total=len(models))


@router.get("/models/{name}", response_model=ModelDetail, responses={404: {"model": ErrorBody}})
def get_model(name: str, artifacts: Artifacts, conn: Conn) -> ModelDetail:
    """One model (by name or unique_id): columns, description, SQL, tests, parents, children, last results."""
    manifest = artifacts.load(Artifact.manifest)
    node = find_node(manifest, "model", name)
    if node is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no model {name}")
    uid = node["unique_id"]
    return ModelDetail(
        unique_id=uid,
        name=node["name"],
        definition=model_definition(manifest, artifacts.optional(Artifact.catalog), node),
        applied=applied_states(conn, [uid]).get(uid, never_applied()),
    )


@router.get("/models/{name}/history", response_model=Page[NodeExecution], responses={404: {"model": ErrorBody}})
def model_history(name: str, artifacts: Artifacts, conn: Conn, paging: Paging) -> Page[NodeExecution]:
    """Every execution of one model, newest first."""
    node = find_node(artifacts.load(Artifact.manifest), "model", name)
    if node is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no model {name}")
    items, total = node_history(conn, node["unique_id"], paging.page_size, paging.offset)
    return Page(items=items, page=paging.page, page_size=paging.page_size, total=total)


@router.get("/lineage", response_model=Lineage, responses={404: {"model": ErrorBody}})
def get_lineage(
    artifacts: Artifacts,
    node: Annotated[str | None, Query(max_length=300, description="a model, seed or source: name or unique_id")] = None,
) -> Lineage:
    """The node with all its ancestors and descendants (tests left out); without `node`, the whole graph."""
    manifest = artifacts.load(Artifact.manifest)
    start = None
    if node is not None:
        found = next(
            (n for kind in ("model", "seed", "snapshot", "source") if (n := find_node(manifest, kind, node))), None
        )
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no model, seed or source {node}")
        start = found["unique_id"]
    nodes, edges = lineage(manifest, start)
    return Lineage(node=start, nodes=nodes, edges=edges)
