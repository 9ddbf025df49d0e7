"""The Great Expectations contexts of the raw data contract: ephemeral, their validation results kept on
disk when a folder is given (one JSON per validation, under <folder>/<suite>/<run name>/<run time>/), so
that the Data Docs can be rendered later, by another process, from what the load stored.

Validating (ingestion/validation.py) and rendering the Data Docs (ingestion/data_docs.py) each make their
own context over the same results folder. GX is imported on first use only (its import takes seconds).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

DATA_SOURCE = "raw"  # the pandas data source the staged rows are validated through


def gx_run_name(load_id: str) -> str:
    """The GX run name of a load: `load-<load id>`.

    GX's page renderer parses a run name with dateutil to decide whether the page title shows it, and
    fails when the name parses as a time with an impossible UTC offset: a bare load id such as
    `20261130T154106.027782Z-4653ad` reads as UTC offset -46:53 (about one load id in 2,000). The prefix makes
    every name unparseable as a time, so the title always shows it.
    """
    return f"load-{load_id}"


def suite_name(source: str) -> str:
    """The GX suite (and validation definition) of a source: `raw_<source>`."""
    return f"raw_{source}"


def results_store_config(folder: Path) -> dict[str, Any]:
    """A GX validation results store kept on disk in `folder`."""
    return {
        "class_name": "ValidationResultsStore",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(folder)},
    }


def make_context(results: Path | None = None, sites: dict[str, dict[str, Any]] | None = None) -> Any:
    """An ephemeral GX context (no analytics, no progress bars) with the pandas data source `raw`; with
    `results`, its validation results are kept in that folder; `sites` are its `data_docs_sites`."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    config = DataContextConfig(store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False))
    if results is not None:
        config.stores["validation_results_store"] = results_store_config(results)
    config.data_docs_sites = sites or {}
    context = gx.get_context(mode="ephemeral", project_config=config)
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.data_sources.add_pandas(DATA_SOURCE)
    return context
