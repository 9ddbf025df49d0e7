"""Stores.csv: the online store (key 0) and each country's physical stores, in countries' alphabetical order."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from ingestion.contract import SOURCES_BY_NAME
from ingestion.generator.reference import COUNTRIES
from ingestion.generator.shared import CsvFile, check, cumulative, pick
from ingestion.generator.text import mdy, quote

STORE_ROWS = 67
ONLINE_STORE_KEY = 0


@dataclass
class Stores:
    """Stores.csv and the physical store keys per country name."""

    file: CsvFile
    by_country: dict[str, list[int]]


def make_stores(rng: random.Random) -> Stores:
    """Stores.csv from rng; RuntimeError if the reference data does not make STORE_ROWS stores."""
    lines = [",".join(SOURCES_BY_NAME["stores"].header), f"{ONLINE_STORE_KEY},Online,Online,,1/1/2010"]
    by_country: dict[str, list[int]] = {}
    key = 0
    for country in sorted(COUNTRIES, key=lambda c: c.name):
        cum = cumulative([s.weight for s in country.states])
        for _ in range(country.physical_stores):
            key += 1
            state = pick(rng, country.states, cum).name
            square_meters = rng.randint(245, 2105)
            opened = date(2005, 1, 1) + timedelta(days=rng.randint(0, 16 * 365))
            lines.append(f"{key},{country.name},{quote(state)},{square_meters},{mdy(opened)}")
            by_country.setdefault(country.name, []).append(key)
    check(key + 1 == STORE_ROWS, f"{key + 1} stores generated, expected {STORE_ROWS}")
    return Stores(CsvFile("stores", "\n".join(lines) + "\n", STORE_ROWS), by_country)
