"""generate(): make the five files from their own random streams, write them and expected.json."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

from ingestion.contract import SOURCES
from ingestion.generator import expected as figures
from ingestion.generator.customers import make_customers
from ingestion.generator.products import make_products
from ingestion.generator.rates import make_rates
from ingestion.generator.sales import ORPHANS, make_orphans, make_sales, plant_anomaly_order
from ingestion.generator.shared import AS_OF_DATE, CsvFile
from ingestion.generator.stores import make_stores


def generate(
    out_dir: Path, scale: int = 1, seed: int = 42, inject_orphans: bool = False, plant_anomalies: bool = False
) -> dict:
    """Write Customers.csv, Products.csv, Stores.csv, Sales.csv, Exchange_Rates.csv and expected.json into out_dir
    (created if missing); return the expected dict. ValueError if scale is not an integer >= 1."""
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise ValueError(f"scale must be an integer >= 1, got {scale!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    products = make_products(random.Random(f"{seed}:products"))
    stores = make_stores(random.Random(f"{seed}:stores"))
    rates, rate4 = make_rates(random.Random(f"{seed}:exchange_rates"))
    customers = make_customers(random.Random(f"{seed}:customers"), scale)
    sales = make_sales(random.Random(f"{seed}:sales"), scale, customers, products, stores, rate4)

    planted = plant_anomaly_order(sales, products, rate4) if plant_anomalies else {"order_lines": [], "days": []}
    anomalies = {**figures.anomalies(sales.file.text.splitlines()[1:], products), "planted": planted}

    rejected_sales = dict.fromkeys(ORPHANS, 0)
    if inject_orphans:
        extra, rejected_sales = make_orphans(random.Random(f"{seed}:orphans"), sales, customers, products, stores)
        sales.file.text += "\n".join(extra) + "\n"
        sales.file.rows += len(extra)

    expected = {
        "generator": {
            "seed": seed,
            "scale": scale,
            "inject_orphans": inject_orphans,
            "plant_anomalies": plant_anomalies,
        },
        "as_of_date": AS_OF_DATE.isoformat(),
        "files": _write_files(out_dir, [customers.file, products.file, stores.file, sales.file, rates]),
        "sources": figures.sources(customers, products, stores, rates, sales, rejected_sales),
        "customers": customers.stats,
        **figures.reference_figures(products, stores, rates),
        "sales": sales.stats,
        "anomalies": anomalies,
    }
    (out_dir / "expected.json").write_text(json.dumps(expected, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return expected


def _write_files(out_dir: Path, made: list[CsvFile]) -> dict[str, dict]:
    """Write each file as UTF-8 under its contract name, in contract order; return the `files` figures by name."""
    by_table = {f.table: f for f in made}
    files: dict[str, dict] = {}
    for source in SOURCES:
        data = by_table[source.name].text.encode("utf-8")
        (out_dir / source.file).write_bytes(data)
        files[source.file] = {
            "table": source.name,
            "rows": by_table[source.name].rows,
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    return files
