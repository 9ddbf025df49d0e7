"""GET /dbt-docs/: the dbt docs site `dbt docs generate` wrote (index.html, manifest.json, catalog.json).

Only those three names are served, from the target folder; compiled SQL and other files there are not.
The manifest holds every model's SQL and absolute server paths, so the site needs the key: a browser logs
in once at /login, and its session opens the page and the site's own fetches of the JSON (api.deps).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
from fastapi.responses import FileResponse, RedirectResponse

from api.deps import Artifacts
from api.schemas import ErrorBody

router = APIRouter(prefix="/dbt-docs", tags=["dbt docs"])


class DocsFile(StrEnum):
    """The files of the docs site."""

    index = "index.html"
    manifest = "manifest.json"
    catalog = "catalog.json"


MEDIA_TYPES = {DocsFile.index: "text/html; charset=utf-8"}


@router.get("", include_in_schema=False)
def docs_root_redirect() -> RedirectResponse:
    """The site fetches its JSON relative to its URL, so it lives under a trailing slash."""
    return RedirectResponse("/dbt-docs/", status_code=status.HTTP_308_PERMANENT_REDIRECT)


@router.get(
    "/", response_class=FileResponse, responses={200: {"content": {"text/html": {}}}, 404: {"model": ErrorBody}}
)
def docs_index(artifacts: Artifacts) -> FileResponse:
    """The docs site's page."""
    return _serve(artifacts, DocsFile.index)


@router.get(
    "/{file}", response_class=FileResponse, responses={200: {"content": {"*/*": {}}}, 404: {"model": ErrorBody}}
)
def docs_file(
    file: Annotated[str, Path(json_schema_extra={"enum": [f.value for f in DocsFile]})], artifacts: Artifacts
) -> FileResponse:
    """index.html, manifest.json or catalog.json of the site; any other name is 404."""
    if file not in {f.value for f in DocsFile}:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"the dbt docs site has no file {file!r}")
    return _serve(artifacts, DocsFile(file))


def _serve(artifacts: Artifacts, file: DocsFile) -> FileResponse:
    path = artifacts.target_path / file.value
    if not path.is_file():
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"the dbt docs site has not been generated: run `elt run` ({file.value})"
        )
    return FileResponse(path, media_type=MEDIA_TYPES.get(file, "application/json"))
