"""GET /artifacts/{name}: dbt's manifest, run_results, catalog and sources JSON, and nothing else."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
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
def get_artifact(
    name: Annotated[str, Path(json_schema_extra={"enum": [a.value for a in Artifact]})], artifacts: Artifacts
) -> FileResponse:
    """The artifact as dbt wrote it for the served target (the name is one of four; no path is taken)."""
    if name not in Artifact.__members__:
        known = ", ".join(a.value for a in Artifact)
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no artifact {name!r}: artifacts are {known}")
    name = Artifact(name)
    path = artifacts.path(name)
    if not path.is_file():
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=str(ArtifactMissing(f"{path.name} not written yet: {HOW_TO_MAKE[name]}"))
        )
    return FileResponse(path, media_type="application/json", filename=path.name)
