"""dbt sources with their loads (audit.loads) and freshness: the age of each raw table's latest load."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends

from api.artifacts import Artifact, columns, manifest_nodes
from api.deps import Artifacts, Conn, Paging, get_settings
from api.queries.sources import latest_loads
from api.schemas import Freshness, Page, SourceApplied, SourceDefinition, SourceResource
from api.settings import Settings

router = APIRouter(tags=["dbt resources"])


@router.get("/sources", response_model=Page[SourceResource])
def list_sources(
    artifacts: Artifacts, conn: Conn, paging: Paging, settings: Annotated[Settings, Depends(get_settings)]
) -> Page[SourceResource]:
    """Every dbt source table; raw tables with their latest load and freshness (audit tables: not tracked)."""
    manifest = artifacts.load(Artifact.manifest)
    catalog = artifacts.optional(Artifact.catalog).get("sources", {})
    sources = sorted(manifest_nodes(manifest, "source").values(), key=lambda n: n["unique_id"])
    last_load = latest_loads(conn, successful=False)
    last_good = latest_loads(conn, successful=True)
    now = datetime.now(UTC)
    items = []
    for node in paging.slice(sources):
        tracked = node.get("source_name") == "raw"
        good = last_good.get(node["name"]) if tracked else None
        if not tracked:
            freshness = Freshness(loaded_at=None, age_seconds=None, status="not_tracked", stale_after_seconds=None)
        elif good is None or good.finished_at is None:
            freshness = Freshness(
                loaded_at=None,
                age_seconds=None,
                status="never_loaded",
                stale_after_seconds=settings.stale_after_seconds,
            )
        else:
            age = (now - good.finished_at).total_seconds()
            freshness = Freshness(
                loaded_at=good.finished_at,
                age_seconds=round(age, 3),
                status="stale" if age > settings.stale_after_seconds else "fresh",
                stale_after_seconds=settings.stale_after_seconds,
            )
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
                    last_load=last_load.get(node["name"]) if tracked else None,
                    last_successful_load=good,
                    freshness=freshness,
                ),
            )
        )
    return Page(items=items, page=paging.page, page_size=paging.page_size, total=len(sources))
