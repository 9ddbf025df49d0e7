"""Deterministic sample data: the five raw CSVs with every real-world quirk, plus `expected.json`.

`generate(out_dir, scale, seed, inject_orphans, plant_anomalies)` writes Customers.csv, Products.csv, Stores.csv,
Sales.csv and Exchange_Rates.csv (headers from `ingestion.contract`) and `expected.json`, the figures
the warehouse must show for exactly these files, computed here from what was generated (never from SQL).

Same arguments -> byte-identical files. Each file draws from its own random stream
(`random.Random(f"{seed}:<file>")`), so the files do not disturb one another. Only the standard
library is used; money is kept in integer cents and exchange rates in integer 1/10,000 units.

Modules: `reference` reads the reference data (countries, names, products, currencies, bad-value shapes) from
`data/*.json`; `text` writes values as the files do; `shared` holds the calendar; `products`, `stores`, `rates`,
`customers` (with `people`, one customer drawn) and `sales` (with orphans and planted anomalies) each make one
file; `expected` computes the figures; `dataset` holds generate().
"""

from ingestion.generator.dataset import generate
from ingestion.generator.sales import ORPHANS
from ingestion.generator.text import is_valid_email

__all__ = ["ORPHANS", "generate", "is_valid_email"]
