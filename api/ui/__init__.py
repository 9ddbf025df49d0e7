"""The web dashboard: server-rendered pages under /ui/ (Jinja2 templates in api/ui/templates/, charts as
inline SVG, one small script), served by the API itself.

`pages` holds the pages, which api.main includes behind the login (api.deps.require_login: a browser
without a session is sent to /login and back); `public` holds `GET /` (to /ui/) and the stylesheet and
script, which hold no data. The pages read through the REST routes' own functions and queries, so they
show what the API answers; docs/dashboard.md describes them.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.ui import assets, overview, quality, reports, runs

public = assets.router
pages = APIRouter()
for _module in (overview, runs, reports, quality):
    pages.include_router(_module.router)
