"""GET /gx-docs/: the Great Expectations Data Docs of the raw data contract (published after every load).

The index lists every file validated, newest first, and links GX's page of each validation and suite.
Only files the site holds are served (see api.static_site). The pages show raw failing values verbatim,
so like the dbt docs the site needs the key, or the session of a login at /login (api.deps).
"""

from __future__ import annotations

from api.deps import get_gx_docs
from api.static_site import StaticSite, site_router
from core.data_docs import DataDocs
from core.warehouse import Warehouse


def site(warehouse: Warehouse) -> StaticSite:
    """The Data Docs site of the warehouse's target (<ELT_DATA_DOCS_DIR>/<target>/data_docs/)."""
    return StaticSite(
        DataDocs.of(warehouse).site,
        unknown="the data contract docs have no file {file!r}",
        absent="the data contract docs have not been written yet: run `elt load` or `elt run`",
    )


router = site_router(
    get_gx_docs,
    "/gx-docs",
    "data contract docs",
    page="The index of every validation of the raw files against their data contract.",
    files="A page (or image, style sheet, font) of the site; a name the site does not hold is 404.",
)
