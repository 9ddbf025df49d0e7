"""The Great Expectations contexts of the raw data contract: ephemeral, their validation results kept on
disk when a folder is given (one JSON per validation, under <folder>/<suite>/<run name>/<run time>/), so
that the Data Docs can be rendered later, by another process, from what the load stored.

Validating (ingestion/validation.py) and rendering the Data Docs (ingestion/data_docs.py) each make their
own context over the same results folder. GX is imported on first use only (its import takes seconds).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from types import ModuleType
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


def import_gx() -> ModuleType:
    """`great_expectations`, imported once per process without pyspark's parts the contract never uses.

    GX probes pyspark, when it is installed (the `spark` extra), for its Spark data sources; the contract
    validates through pandas on every target. Without pyspark imported yet, GX does not see it at all (0.4-0.8
    s less per process). With it (a process on the Spark target), GX does not see Spark Connect
    (`pyspark.sql.connect`), whose import without its gRPC packages calls `sys.exit(0)` ("Skipping doctests")
    in a process whose `__main__` has no file (a pytest-xdist worker, `python -c`), and warns of pandas 3.
    Both stay importable afterwards for the rest of the process.
    """
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    if "great_expectations" in sys.modules:
        return sys.modules["great_expectations"]
    hidden = [name for name in ("pyspark", "pyspark.sql.connect") if name not in sys.modules]
    if "pyspark" in hidden:
        hidden.remove("pyspark.sql.connect")  # hiding pyspark hides all of it
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment] # `import <name>` raises ImportError meanwhile
    try:
        import great_expectations
    finally:
        for name in hidden:
            del sys.modules[name]
    return great_expectations


def make_context(results: Path | None = None, sites: dict[str, dict[str, Any]] | None = None) -> Any:
    """An ephemeral GX context (no analytics, no progress bars) with the pandas data source `raw`; with
    `results`, its validation results are kept in that folder; `sites` are its `data_docs_sites`."""
    gx = import_gx()
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
