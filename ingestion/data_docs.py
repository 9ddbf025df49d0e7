"""Great Expectations Data Docs of the raw data contract: GX renders one page per file validated and one
per suite; an index of every validation, newest first, is written beside them as plain HTML.

The site lives in the dbt target folder next to the dbt docs (`target/<target>/gx/data_docs/`), GX's
validation results (JSON) in `target/<target>/gx/results/`. GX's own index page loads jQuery and
Bootstrap from CDNs and lists nothing offline, so it is not built; our index needs no network and no
script. The validation pages are GX's own: complete offline, styled when the CDNs can be reached.
"""

from __future__ import annotations

import fcntl
import html
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the validation module imports GX lazily; only its types are needed here
    from ingestion.validation import SourceValidation

SITE_NAME = "raw_data_contract"
DATA_DOCS_FOLDER = "gx"
INDEX_ENTRIES_KEPT = 2000  # older validations drop off the index (their pages stay on disk)


@dataclass(frozen=True)
class DataDocs:
    """Where a target's Data Docs site and GX validation results are kept."""

    root: Path

    @classmethod
    def in_target(cls, target_path: Path) -> DataDocs:
        """The Data Docs of a dbt target folder (`target/<target>/gx/`)."""
        return cls(Path(target_path) / DATA_DOCS_FOLDER)

    @property
    def site(self) -> Path:
        """The HTML site: index.html, validations/, expectations/, static/."""
        return self.root / "data_docs"

    @property
    def results(self) -> Path:
        """GX's validation results store (one JSON per validation)."""
        return self.root / "results"

    @property
    def index(self) -> Path:
        """The site's entry page."""
        return self.site / "index.html"

    @property
    def entries_file(self) -> Path:
        """The validations listed in the index, as JSON (newest last)."""
        return self.root / "index.json"

    def prepare(self) -> None:
        """Make the folders; raises OSError (naming the folder) if they cannot be made or written."""
        for folder in (self.site, self.results):
            folder.mkdir(parents=True, exist_ok=True)
            if not os.access(folder, os.W_OK | os.X_OK):
                raise PermissionError(f"{folder} is not writable")

    def site_config(self) -> dict[str, Any]:
        """The GX `data_docs_sites` entry of this site (no how-to buttons, no call-to-action footer)."""
        return {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(self.site)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder", "show_cta_footer": False},
        }

    def results_store_config(self) -> dict[str, Any]:
        """The GX validation results store kept on disk, so the pages of earlier loads can be rebuilt."""
        return {
            "class_name": "ValidationResultsStore",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(self.results)},
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


def publish(context: Any, docs: DataDocs, load_id: str, validations: Sequence[SourceValidation]) -> None:
    """Render the GX pages of this load's validations and their suites, and add them to the index."""
    identifiers = [v.result_id for v in validations if v.result_id is not None]
    if not identifiers:
        return
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    suites = [ExpectationSuiteIdentifier(name=key.expectation_suite_identifier.name) for key in identifiers]
    with _exclusive(docs):
        context.build_data_docs(site_names=[SITE_NAME], resource_identifiers=[*identifiers, *suites], build_index=False)
        entries = read_entries(docs) + [_entry(load_id, v) for v in validations if v.result_id is not None]
        entries = entries[-INDEX_ENTRIES_KEPT:]
        _write_atomically(docs.entries_file, json.dumps([asdict(e) for e in entries], indent=1))
        _write_atomically(docs.index, render_index(entries))


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


def _entry(load_id: str, v: SourceValidation) -> IndexEntry:
    key = v.result_id
    run_time = key.run_id.run_time
    page = "/".join(("validations", *key.to_tuple())) + ".html"
    return IndexEntry(
        source=v.source,
        file=v.file,
        load_id=load_id,
        validated_at=run_time.astimezone(UTC).isoformat(),
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
