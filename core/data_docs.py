"""Where the Great Expectations Data Docs of the raw data contract live: a folder of their own per target,
<ELT_DATA_DOCS_DIR>/<target>/ (default data_docs/<target>/), apart from dbt's target folder so that
`dbt clean` never deletes the validation history. ingestion/data_docs.py renders the site; the API serves it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from core.warehouse import Warehouse


@dataclass(frozen=True)
class DataDocs:
    """Where a target's Data Docs site and GX validation results are kept."""

    root: Path

    @classmethod
    def of(cls, warehouse: Warehouse) -> DataDocs:
        """The Data Docs of a warehouse's target: <ELT_DATA_DOCS_DIR>/<target>/ (default data_docs/duckdb/)."""
        return cls(Path(warehouse.settings.data_docs_dir).resolve() / warehouse.target)

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
