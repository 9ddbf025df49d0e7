"""The Data Docs step: after a load, render Great Expectations' pages of that load's validations and list
them in an index of every validation, newest first, written beside them as plain HTML.

The load stores GX's validation results (JSON) in `DataDocs.results` under the run name `load-<load id>`
(ingestion/validation.py); `publish_data_docs(warehouse, load_id)` renders them into `DataDocs.site`, the
folder of the target's Data Docs (core/data_docs.py: <ELT_DATA_DOCS_DIR>/<target>/, apart from dbt's target
folder, so `dbt clean` leaves them). GX's own index page loads jQuery and Bootstrap from CDNs and lists
nothing offline, so it is not built; our index needs no network and no script. The validation and suite
pages are GX's own: complete offline, styled when the CDNs can be reached. A suite's page is rendered from
the expectations of the stored result, so it shows the suite the file was validated against.
"""

from __future__ import annotations

import fcntl
import html
import json
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.data_docs import DataDocs
from core.warehouse import Warehouse
from ingestion.contract import SOURCES_BY_NAME
from ingestion.gx_context import gx_run_name, make_context
from ingestion.outcomes import SourceValidation, outcomes_of

SITE_NAME = "raw_data_contract"
INDEX_ENTRIES_KEPT = 2000  # older validations drop off the index (their pages stay on disk)


def site_config(docs: DataDocs) -> dict[str, Any]:
    """The GX `data_docs_sites` entry of this site (no how-to buttons, no call-to-action footer)."""
    return {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs.site)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder", "show_cta_footer": False},
    }


@dataclass
class IndexEntry:
    """One validated file, as the index lists it."""

    source: str
    file: str
    load_id: str
    validated_at: str  # ISO 8601, UTC
    evaluated: int
    errors: list[str]
    warnings: list[str]
    page: str  # the GX validation page, relative to the site

    @property
    def status(self) -> str:
        """`failed`, `passed with N warning(s)` or `passed`."""
        if self.errors:
            return "failed"
        return f"passed with {len(self.warnings)} warning(s)" if self.warnings else "passed"


@dataclass
class DataDocsResult:
    """What the Data Docs step did for one load."""

    load_id: str
    index: Path  # the site's entry page
    entries: list[IndexEntry]  # this load's validations, as the index lists them (none: nothing to render)
    seconds: float  # reading the stored results, rendering the pages and writing the index


def publish_data_docs(warehouse: Warehouse, load_id: str) -> DataDocsResult:
    """Render GX's page of every validation the load `load_id` stored (a refused file's too) and of each
    suite they used, and list them in the index of the warehouse's Data Docs (`DataDocs.of(warehouse)`).

    Idempotent: publishing a load again renders the same pages and lists each validation once. A load
    that stored no result (it stopped before validating, or its results folder could not be written)
    leaves the site untouched. Raises OSError when the site cannot be written (GX's own error when a stored
    result cannot be read back).
    """
    return _publish(DataDocs.of(warehouse), load_id)


def _publish(docs: DataDocs, load_id: str) -> DataDocsResult:
    started = time.perf_counter()
    if not docs.results.is_dir():  # no load ever kept a result here (GX would make the folder)
        return DataDocsResult(load_id, docs.index, [], time.perf_counter() - started)
    context = make_context(results=docs.results, sites={SITE_NAME: site_config(docs)})
    stored = _stored_results(context, docs, load_id)
    if not stored:
        return DataDocsResult(load_id, docs.index, [], time.perf_counter() - started)
    docs.prepare()
    suites = _suites_of(context, stored)
    entries = sorted((_entry(load_id, key, result) for key, result in stored.items()), key=lambda e: e.validated_at)
    with _exclusive(docs):
        context.build_data_docs(site_names=[SITE_NAME], resource_identifiers=[*stored, *suites], build_index=False)
        pages = {e.page for e in entries}
        listed = [e for e in read_entries(docs) if e.page not in pages] + entries
        listed = sorted(listed, key=lambda e: e.validated_at)[-INDEX_ENTRIES_KEPT:]
        _write_atomically(docs.entries_file, json.dumps([asdict(e) for e in listed], indent=1))
        _write_atomically(docs.index, render_index(listed))
    return DataDocsResult(load_id, docs.index, entries, time.perf_counter() - started)


def read_entries(docs: DataDocs) -> list[IndexEntry]:
    """The validations listed in the index so far (oldest first); none if the index was never written."""
    try:
        raw = json.loads(docs.entries_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    return [IndexEntry(**item) for item in raw]


def render_index(entries: Sequence[IndexEntry]) -> str:
    """The index page: every validation newest first, linking GX's page of it; then the suites."""
    rows = "\n".join(_row(e) for e in reversed(entries))
    suites = "\n".join(
        f'<li><a href="expectations/raw_{html.escape(s)}.html">raw_{html.escape(s)}</a></li>'
        for s in sorted({e.source for e in entries})
    )
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Raw data contract: Great Expectations Data Docs</title>
<link rel="icon" href="static/images/favicon.ico">
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; }}
table {{ border-collapse: collapse; }} th, td {{ padding: .3rem .7rem; border-bottom: 1px solid #ddd;
text-align: left; vertical-align: top; }} th {{ background: #f4f4f4; }}
.failed {{ color: #b00020; font-weight: bold; }} .warned {{ color: #9a6700; }} .passed {{ color: #1a7f37; }}
ul.why {{ margin: 0; padding-left: 1.1rem; font-size: .9em; }} small {{ color: #666; }}
</style></head>
<body>
<h1>Raw data contract</h1>
<p>Every file loaded into <code>raw</code> is validated against its Great Expectations suite before it is
swapped in; a file that fails an error-level (critical) expectation is refused. Each row links to GX's
page of that validation. <small>Written {generated}.</small></p>
<table id="validations">
<thead><tr><th>validated at (UTC)</th><th>file</th><th>load</th><th>status</th><th>expectations</th>
<th>failed expectations</th></tr></thead>
<tbody>
{rows}
</tbody></table>
<h2>Expectation suites</h2>
<ul id="suites">
{suites}
</ul>
</body></html>
"""


def _row(e: IndexEntry) -> str:
    css = "failed" if e.errors else "warned" if e.warnings else "passed"
    why = "".join(f"<li>error: {html.escape(d)}</li>" for d in e.errors)
    why += "".join(f"<li>warning: {html.escape(d)}</li>" for d in e.warnings)
    link = f'<a href="{html.escape(e.page)}">{html.escape(e.file)}</a>'
    return (
        f'<tr class="{css}-row"><td>{html.escape(e.validated_at[:19].replace("T", " "))}</td>'
        f"<td>{link}</td><td><code>{html.escape(e.load_id)}</code></td>"
        f'<td class="{css}">{html.escape(e.status)}</td><td>{e.evaluated}</td>'
        f"<td>{f'<ul class=why>{why}</ul>' if why else ''}</td></tr>"
    )


def _stored_results(context: Any, docs: DataDocs, load_id: str) -> dict[Any, Any]:
    """The validation results the load stored, by their GX key (suite, run name, run time, batch)."""
    store = context.validation_results_store
    run_name = gx_run_name(load_id)
    suites = sorted(p.name for p in docs.results.iterdir() if p.is_dir())
    keys = [store.tuple_to_key(t) for suite in suites for t in store.store_backend.list_keys(prefix=(suite, run_name))]
    return {key: store.get(key) for key in keys}


def _suites_of(context: Any, stored: dict[Any, Any]) -> list[Any]:
    """The suites of the stored results, added to `context` as each result holds them; their GX keys."""
    import great_expectations as gx
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    newest = {key.expectation_suite_identifier.name: result for key, result in sorted(stored.items(), key=_run_time)}
    for name, result in newest.items():
        expectations = [r.expectation_config for r in result.results]
        context.suites.add(gx.ExpectationSuite(name=name, expectations=expectations))
    return [ExpectationSuiteIdentifier(name=name) for name in newest]


def _run_time(item: tuple[Any, Any]) -> datetime:
    return item[0].run_id.run_time


def _entry(load_id: str, key: Any, result: Any) -> IndexEntry:
    """The index entry of one stored validation result."""
    source = key.expectation_suite_identifier.name.removeprefix("raw_")
    known = SOURCES_BY_NAME.get(source)
    v = SourceValidation(source, known.file if known else source, outcomes_of(result), 0.0)
    page = "/".join(("validations", *key.to_tuple())) + ".html"
    return IndexEntry(
        source=v.source,
        file=v.file,
        load_id=load_id,
        validated_at=key.run_id.run_time.astimezone(UTC).isoformat(),
        evaluated=len(v.outcomes),
        errors=[o.describe() for o in v.errors],
        warnings=[o.describe() for o in v.warnings],
        page=page,
    )


@contextmanager
def _exclusive(docs: DataDocs) -> Iterator[None]:
    """One writer of the site at a time (loads of two warehouses may share a target folder)."""
    docs.root.mkdir(parents=True, exist_ok=True)
    with open(docs.root / ".lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
