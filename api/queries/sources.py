"""The loads of the raw tables (audit.loads): each source's latest load attempt and latest successful load."""

from __future__ import annotations

from api.db import fetch_dicts
from api.schemas import LoadInfo
from core.warehouse import Connection

LOAD_COLUMNS = "load_id, file, source, status, rows, bytes, sha256, started_at, finished_at, error"


def latest_loads(conn: Connection, successful: bool) -> dict[str, LoadInfo]:
    """Each raw table's latest load attempt (or, `successful`, its latest successful load), by source name;
    a table never loaded (successfully) is absent."""
    where = "where status = 'loaded'" if successful else ""
    rows = fetch_dicts(
        conn,
        f"select {LOAD_COLUMNS} from (select {LOAD_COLUMNS}, row_number() over"
        f" (partition by source order by started_at desc, load_id desc) as newest from audit.loads {where}) ranked"
        " where newest = 1",
    )
    return {row.pop("source"): LoadInfo(**row) for row in rows}
