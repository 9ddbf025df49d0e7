"""GET /docs (Swagger UI), /docs/oauth2-redirect, /redoc (ReDoc) and their scripts at /docs/assets/{name}:
the API's OpenAPI docs with every asset from this server, so they work on a machine without internet.

FastAPI's own pages load Swagger UI and ReDoc from a CDN (and a favicon from fastapi.tiangolo.com). These are
FastAPI's same pages (`get_swagger_ui_html`, `get_redoc_html`: its documented hooks for self-hosted assets),
pointed at the files the PyPI package fastapi-offline ships (Swagger UI's bundle and CSS, ReDoc's standalone
bundle, FastAPI's favicon), read from the installed package, never copied into this repository. ReDoc loads no
Google fonts, Swagger UI calls no validator, and a Content-Security-Policy keeps both pages to this server.
All of it is public, like /openapi.json.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse

router = APIRouter(include_in_schema=False)

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
ASSETS_URL = "/docs/assets"
# The files served at ASSETS_URL: each name maps to the one file of that name in fastapi_offline/static/.
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
ASSET_CACHE = "public, max-age=86400"  # a day: the files change only with the installed package
# The installed package's static folder (fastapi-offline installs unzipped; ModuleNotFoundError without it).
ASSET_DIR = Path(str(files("fastapi_offline") / "static"))
# The docs pages may load from this server only. ReDoc's side menu shows Redocly's logo from its CDN; here the
# browser does not even ask for it. Inline scripts and styles: FastAPI's page starts Swagger UI inline, ReDoc
# writes its styles at run time; ReDoc searches in a worker it makes from a blob.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
}
SWAGGER_UI_PARAMETERS = {
    "dom_id": "#swagger-ui",
    "layout": "BaseLayout",
    "deepLinking": True,
    "showExtensions": True,
    "showCommonExtensions": True,
    "validatorUrl": None,  # no badge fetched from validator.swagger.io
}


def _base(request: Request) -> str:
    """The path prefix the app is mounted under ('' unless uvicorn was given --root-path)."""
    return request.scope.get("root_path", "").rstrip("/")


@router.get(DOCS_URL)
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI over /openapi.json, its script, style and icon from ASSETS_URL."""
    base = _base(request)
    page = get_swagger_ui_html(
        openapi_url=f"{base}{request.app.openapi_url}",
        title=f"{request.app.title} - Swagger UI",
        swagger_js_url=f"{base}{ASSETS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{base}{ASSETS_URL}/swagger-ui.css",
        swagger_favicon_url=f"{base}{ASSETS_URL}/favicon.png",
        oauth2_redirect_url=f"{base}{OAUTH2_REDIRECT_URL}",
        swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
    )
    page.headers.update(PAGE_HEADERS)
    return page


@router.get(OAUTH2_REDIRECT_URL)
def swagger_ui_oauth2_redirect() -> HTMLResponse:
    """Swagger UI's OAuth2 redirect page (as FastAPI serves it)."""
    return get_swagger_ui_oauth2_redirect_html()


@router.get(REDOC_URL)
def redoc(request: Request) -> HTMLResponse:
    """ReDoc over /openapi.json, its script and icon from ASSETS_URL, without Google fonts."""
    base = _base(request)
    page = get_redoc_html(
        openapi_url=f"{base}{request.app.openapi_url}",
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=f"{base}{ASSETS_URL}/redoc.standalone.js",
        redoc_favicon_url=f"{base}{ASSETS_URL}/favicon.png",
        with_google_fonts=False,
    )
    page.headers.update(PAGE_HEADERS)
    return page


@router.get(ASSETS_URL + "/{name}")
def asset(name: str) -> FileResponse:
    """One of ASSETS from the installed fastapi-offline package; 404 for any other name."""
    if name not in ASSETS:
        raise HTTPException(status_code=404, detail="no such docs asset")
    return FileResponse(ASSET_DIR / name, media_type=ASSETS[name], headers={"Cache-Control": ASSET_CACHE})
