"""GET /artifacts/{name}: dbt's manifest, run_results, catalog and sources JSON, and nothing else."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import FileResponse

from api.artifacts import HOW_TO_MAKE, Artifact, ArtifactMissing
from api.deps import Artifacts
from api.schemas import ErrorBody

router = APIRouter(tags=["artifacts"])


@router.get(
    "/artifacts/{name}",
    response_class=FileResponse,
    responses={200: {"content": {"application/json": {}}}, 404: {"model": ErrorBody}},
)
def get_artifact(name: Artifact, artifacts: Artifacts) -> FileResponse:
    """The artifact as dbt wrote it for the served target (the name is one of four; no path is taken)."""
    path = artifacts.path(name)
    if not path.is_file():
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=str(ArtifactMissing(f"{path.name} not written yet: {HOW_TO_MAKE[name]}"))
        )
    return FileResponse(path, media_type="application/json", filename=path.name)
