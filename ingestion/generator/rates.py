"""Exchange_Rates.csv: one rate per currency per day, a mean-reverting random walk around its starting rate."""

from __future__ import annotations

import random

from ingestion.contract import SOURCES_BY_NAME
from ingestion.generator.reference import CURRENCIES, USD_RATES
from ingestion.generator.shared import DATE_MDY, DAYS, CsvFile

BASE_CURRENCY = "USD"  # its rate stays 1


def make_rates(rng: random.Random) -> tuple[CsvFile, dict[str, list[int]]]:
    """Exchange_Rates.csv and the rate per currency per day index, in integer 1/10,000 units per USD."""
    rate4: dict[str, list[int]] = {}
    for currency in CURRENCIES:
        base = USD_RATES[currency]
        rate = base
        series = []
        for _ in range(DAYS):
            if currency != BASE_CURRENCY:
                rate += 0.03 * (base - rate) + rate * rng.gauss(0.0, 0.0035)
            series.append(int(round(rate * 10_000)))
        rate4[currency] = series
    lines = [",".join(SOURCES_BY_NAME["exchange_rates"].header)]
    for d in range(DAYS):
        for currency in CURRENCIES:
            v = rate4[currency][d]
            lines.append(f"{DATE_MDY[d]},{currency},{v // 10_000}.{v % 10_000:04d}")
    return CsvFile("exchange_rates", "\n".join(lines) + "\n", DAYS * len(CURRENCIES)), rate4
