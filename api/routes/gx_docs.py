"""GET /gx-docs/: the Great Expectations Data Docs of the raw data contract (written by every load).

The index lists every file validated, newest first, and links GX's page of each validation and suite.
Only files the site holds are served (see api.static_site). The pages show raw failing values verbatim,
so like the dbt docs the site needs the key, or the session of a login at /login (api.deps).
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import FileResponse, RedirectResponse

from api.deps import GxDocs
from api.schemas import ErrorBody
from api.static_site import StaticSite

router = APIRouter(prefix="/gx-docs", tags=["data contract docs"])


@router.get("", include_in_schema=False)
def gx_docs_root_redirect() -> RedirectResponse:
    """The pages link each other relatively, so the site lives under a trailing slash."""
    return RedirectResponse("/gx-docs/", status_code=status.HTTP_308_PERMANENT_REDIRECT)


@router.get(
    "/", response_class=FileResponse, responses={200: {"content": {"text/html": {}}}, 404: {"model": ErrorBody}}
)
def gx_docs_index(site: GxDocs) -> FileResponse:
    """The index of every validation of the raw files against their data contract."""
    return _serve(site, site.index)


@router.get(
    "/{file:path}", response_class=FileResponse, responses={200: {"content": {"*/*": {}}}, 404: {"model": ErrorBody}}
)
def gx_docs_file(file: str, site: GxDocs) -> FileResponse:
    """A page (or image, style sheet, font) of the site; a name the site does not hold is 404."""
    return _serve(site, file)


def _serve(site: StaticSite, file: str) -> FileResponse:
    path = site.find(file)
    if path is None:
        if site.find(site.index) is None:
            detail = "the data contract docs have not been written yet: run `elt load` or `elt run`"
        else:
            detail = f"the data contract docs have no file {file!r}"
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=detail)
    return FileResponse(path, media_type=site.media_type(path))
