"""A folder of generated static files served by name, with Starlette's StaticFiles: the request path is
looked up in the list of files the site holds (fixed names, or the folder walked again whenever its index
page changes), so no client text is ever joined to a path on disk and nothing outside the folder, no hidden
file, no link and no unlisted type can be reached. `site_router` gives a site its routes, so that they take
the access rule of the routers they are included with (api.main)."""

# No `from __future__ import annotations`: FastAPI reads the annotations of the routes `site_router` makes,
# which name its local `Site`.
import mimetypes
import os
import stat
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Request, status
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import Scope

from api.schemas import ErrorBody

SERVED_SUFFIXES = frozenset({".html", ".css", ".png", ".gif", ".svg", ".ico", ".otf", ".woff", ".woff2"})


class StaticSite(StaticFiles):
    """The servable files under `root`: the given `names`, or else every file of a served suffix, by its
    relative POSIX path. A file the site does not have is a 404 with `unknown` (formatted with `file`), or
    with `absent` when the site has not been written: the file is one of `names`, or there is no index."""

    def __init__(self, root: Path, *, unknown: str, absent: str, names: Iterable[str] = (), index: str = "index.html"):
        super().__init__(directory=root, check_dir=False)
        self.root = Path(root)
        self.index = index
        self.names = tuple(names)
        self.unknown, self.absent = unknown, absent
        self._stamp: tuple[int, int] | None = None
        self._files: dict[str, Path] = {}
        self._lock = threading.Lock()

    def find(self, relative: str) -> Path | None:
        """The file served as `relative` (e.g. `validations/x/y.html`), or None if there is no such file."""
        return self._listing().get(relative)

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        """StaticFiles' lookup: only a regular file the site lists (a link is not followed)."""
        found = self.find(path)
        try:
            result = found.lstat() if found else None
        except FileNotFoundError:
            result = None
        return (str(found), result) if result and stat.S_ISREG(result.st_mode) else ("", None)

    async def get_response(self, path: str, scope: Scope) -> Response:
        """The file served as `path`, or a 404 saying why there is none."""
        try:
            return await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != status.HTTP_404_NOT_FOUND:
                raise
            detail = (self.absent if await self._absent(path) else self.unknown).format(file=path)
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=detail) from None

    async def _absent(self, path: str) -> bool:
        """True if `path` is missing because the site has not been written (a file it names, or no index)."""
        if self.names:
            return path in self.names
        return await anyio.to_thread.run_sync(self.find, self.index) is None

    def file_response(
        self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        """StaticFiles' response (a 304 if the client has it already), typed by `media_type`."""
        media_type = self.media_type(Path(full_path))
        response = FileResponse(full_path, status_code=status_code, media_type=media_type, stat_result=stat_result)
        if self.is_not_modified(response.headers, Headers(scope=scope)):
            return NotModifiedResponse(response.headers)
        return response

    @staticmethod
    def media_type(path: Path) -> str:
        """The Content-Type of a served file."""
        guessed = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed

    def _listing(self) -> dict[str, Path]:
        if self.names:
            return {name: self.root / name for name in self.names}
        try:
            index = (self.root / self.index).stat()
        except FileNotFoundError:
            return {}
        stamp = (index.st_mtime_ns, index.st_size)
        with self._lock:
            if stamp != self._stamp:
                self._files = _walk(self.root)
                self._stamp = stamp
            return self._files


def _walk(root: Path) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for folder, dirs, names in os.walk(root):  # symlinks to folders are not followed
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            path = Path(folder) / name
            if name.startswith(".") or path.suffix.lower() not in SERVED_SUFFIXES or path.is_symlink():
                continue
            files[path.relative_to(root).as_posix()] = path
    return files


def site_router(
    get_site: Callable[[Request], StaticSite],
    prefix: str,
    tag: str,
    *,
    page: str,
    files: str,
    file_schema: dict[str, Any] | None = None,
) -> APIRouter:
    """The routes of the site `get_site` finds: `prefix` redirects to `prefix/`, `prefix/` is the index page
    (described by `page`) and `prefix/{file}` any file of the site (`files`; `file_schema`: the OpenAPI schema
    of the name)."""
    router = APIRouter(prefix=prefix, tags=[tag])
    Site = Annotated[StaticSite, Depends(get_site)]

    @router.get("", include_in_schema=False)
    def site_root_redirect() -> RedirectResponse:
        """The site's pages and fetches are relative to its URL, so it lives under a trailing slash."""
        return RedirectResponse(f"{prefix}/", status_code=status.HTTP_308_PERMANENT_REDIRECT)

    @router.get(
        "/", summary=f"{tag} page", description=page, response_class=FileResponse, responses=_responses("text/html")
    )
    async def site_index(request: Request, site: Site) -> Response:
        return await site.get_response(site.index, request.scope)

    @router.get(
        "/{file:path}",
        summary=f"{tag} file",
        description=files,
        response_class=FileResponse,
        responses=_responses("*/*"),
    )
    async def site_file(
        file: Annotated[str, PathParam(json_schema_extra=file_schema)], request: Request, site: Site
    ) -> Response:
        return await site.get_response(file, request.scope)

    return router


def _responses(content: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {content: {}}}, 404: {"model": ErrorBody}}
