"""dbt sources with their loads (audit.loads) and freshness: the age of each raw table's latest load."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from api.artifacts import Artifact, columns, manifest_nodes
from api.db import fetch_dicts
from api.deps import Artifacts, Conn, Paging, get_settings
from api.schemas import Freshness, LoadInfo, Page, SourceApplied, SourceDefinition, SourceResource
from api.settings import Settings

router = APIRouter(tags=["dbt resources"])

_LOAD_COLUMNS = "load_id, file, source, status, rows, bytes, sha256, started_at, finished_at, error"


@router.get("/sources", response_model=Page[SourceResource])
def list_sources(
    artifacts: Artifacts, conn: Conn, paging: Paging, settings: Annotated[Settings, Depends(get_settings)]
) -> Page[SourceResource]:
    """Every dbt source table; raw tables with their latest load and freshness (audit tables: not tracked)."""
    manifest = artifacts.load(Artifact.manifest)
    catalog = artifacts.optional(Artifact.catalog).get("sources", {})
    sources = sorted(manifest_nodes(manifest, "source").values(), key=lambda n: n["unique_id"])
    last_load = _latest_loads(conn, successful=False)
    last_good = _latest_loads(conn, successful=True)
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


def _latest_loads(conn: Any, successful: bool) -> dict[str, LoadInfo]:
    """Each raw table's latest load attempt (or latest successful one), by source name."""
    where = "where status = 'loaded'" if successful else ""
    rows = fetch_dicts(
        conn,
        f"select {_LOAD_COLUMNS} from (select {_LOAD_COLUMNS}, row_number() over"
        f" (partition by source order by started_at desc, load_id desc) as newest from audit.loads {where}) ranked"
        " where newest = 1",
    )
    return {row.pop("source"): LoadInfo(**row) for row in rows}
