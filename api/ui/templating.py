"""Rendering the dashboard's pages: Jinja2 templates (api/ui/templates/) with autoescaping always on, and the
headers every page carries.

Headers: `Cache-Control: no-store` (pages show customer data; no copy stays in a cache), a
Content-Security-Policy that lets a page load scripts, styles and fetches from this server only and no
inline script or style at all (the charts are inline SVG drawn with presentation attributes and classes),
`X-Content-Type-Options: nosniff`, `Referrer-Policy: same-origin` and no framing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from api.routes.session import CSRF_FIELD, csrf_token
from api.ui.formatting import compact, number, seconds, when

TEMPLATES = Path(__file__).resolve().parent / "templates"
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self';"
    " form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
# The links of the navigation bar: (path, label); the Airflow UI is added when ELT_AIRFLOW_URL is set.
NAVIGATION = (
    ("/ui/", "Overview"),
    ("/ui/reports", "Reports"),
    ("/ui/quality", "Data quality"),
    ("/ui/runs/new", "Start a build"),
)


def with_query(path: str, params: list[tuple[str, Any]]) -> str:
    """`path?a=1&b=2` of the params whose value is not None or '' (a list of pairs: names may repeat)."""
    kept = [(name, str(value)) for name, value in params if value is not None and value != ""]
    return f"{path}?{urlencode(kept)}" if kept else path


_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,  # every template, whatever its name: values are HTML-escaped unless marked safe
    undefined=jinja2.StrictUndefined,  # a name the page forgot is an error, never an empty string
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters.update(number=number, compact=compact, seconds=seconds, when=when)
_env.globals.update(with_query=with_query, navigation=NAVIGATION)


def render(
    request: Request, template: str, status_code: int = 200, headers: dict[str, str] | None = None, **context: Any
) -> HTMLResponse:
    """The page `template` filled with `context`, plus what every page shows: the target, the CSRF token of
    the request's session (for the logout and build forms), the Airflow link, and the current path."""
    settings = request.app.state.settings
    page = _env.get_template(template).render(
        target=settings.warehouse.target,
        airflow_url=settings.airflow_url,
        csrf_field=CSRF_FIELD,
        csrf_token=csrf_token(request),
        current_path=request.url.path,
        **context,
    )
    return HTMLResponse(page, status_code, headers={**PAGE_HEADERS, **(headers or {})})
