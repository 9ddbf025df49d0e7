"""GET /dbt-docs/: the dbt docs site `dbt docs generate` wrote (index.html, manifest.json, catalog.json).

Only those three names are served, from the target folder; compiled SQL and other files there are not.
The manifest holds every model's SQL and absolute server paths, so the site needs the key: a browser logs
in once at /login, and its session opens the page and the site's own fetches of the JSON (api.deps).
"""

from __future__ import annotations

from pathlib import Path

from api.deps import get_dbt_docs
from api.static_site import StaticSite, site_router

FILES = ("index.html", "manifest.json", "catalog.json")


def site(target_path: Path) -> StaticSite:
    """The docs site of the dbt target folder `target_path`."""
    return StaticSite(
        target_path,
        names=FILES,
        unknown="the dbt docs site has no file {file!r}",
        absent="the dbt docs site has not been generated: run `elt run` ({file})",
    )


router = site_router(
    get_dbt_docs,
    "/dbt-docs",
    "dbt docs",
    page="The docs site's page.",
    files="index.html, manifest.json or catalog.json of the site; any other name is 404.",
    file_schema={"enum": list(FILES)},
)
