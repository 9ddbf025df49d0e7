"""dbt sources with their loads (audit.loads) and dbt's freshness of each raw table (sources.json)."""

from __future__ import annotations

from fastapi import APIRouter

from api.artifacts import Artifact, columns, freshness_results, manifest_nodes, source_freshness
from api.deps import Artifacts, Conn, Paging
from api.queries.sources import latest_loads
from api.schemas import Page, SourceApplied, SourceDefinition, SourceResource

router = APIRouter(tags=["dbt resources"])


@router.get("/sources", response_model=Page[SourceResource])
def list_sources(artifacts: Artifacts, conn: Conn, paging: Paging) -> Page[SourceResource]:
    """Every dbt source table: raw tables with their latest load (audit.loads) and the freshness dbt found
    at its last `dbt source freshness` (run after each build; `never_checked` before the first); the audit
    tables have no loads and no freshness (`not_tracked`)."""
    manifest = artifacts.load(Artifact.manifest)
    catalog = artifacts.optional(Artifact.catalog).get("sources", {})
    checked = freshness_results(artifacts.optional(Artifact.sources))
    sources = sorted(manifest_nodes(manifest, "source").values(), key=lambda n: n["unique_id"])
    last_load = latest_loads(conn, successful=False)
    last_good = latest_loads(conn, successful=True)
    items = []
    for node in paging.slice(sources):
        loaded = node.get("source_name") == "raw"  # the tables audit.loads records
        items.append(
            SourceResource(
                unique_id=node["unique_id"],
                name=node["name"],
                definition=SourceDefinition(
                    source_name=node.get("source_name") or "",
                    description=node.get("description") or "",
                    relation_name=node.get("relation_name"),
                    columns=columns(node, catalog.get(node["unique_id"])),
                    children=sorted(manifest.get("child_map", {}).get(node["unique_id"], [])),
                ),
                applied=SourceApplied(
                    last_load=last_load.get(node["name"]) if loaded else None,
                    last_successful_load=last_good.get(node["name"]) if loaded else None,
                    freshness=source_freshness(node, checked.get(node["unique_id"])),
                ),
            )
        )
    return Page(items=items, page=paging.page, page_size=paging.page_size, total=len(sources))
