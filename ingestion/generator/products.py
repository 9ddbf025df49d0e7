"""Products.csv: PRODUCT_ROWS products spread over the subcategories by weight, with quoted names and `"$1,234.56 "`
prices."""

from __future__ import annotations

import random
from dataclasses import dataclass

from ingestion.contract import SOURCES_BY_NAME
from ingestion.generator.reference import CATEGORIES, COLORS, MODEL_LETTERS, PRODUCT_SIZES, Category, Subcategory
from ingestion.generator.shared import CsvFile
from ingestion.generator.text import price_text, quote

PRODUCT_ROWS = 2_517
MIN_PRICE = 199  # cents


@dataclass
class Products:
    """Products.csv and what the other files need of it; lists are indexed by product key (index 0 unused)."""

    file: CsvFile
    price: list[int]  # unit price, cents
    cost: list[int]  # unit cost, cents
    category: list[str]  # category name
    categories: int
    subcategories: int
    names_with_comma: int
    names_with_quote: int


def _counts_per_subcategory(subs: list[tuple[Category, Subcategory]]) -> list[int]:
    """PRODUCT_ROWS distributed over subs by weight (largest remainder, ties to the earlier subcategory)."""
    total_weight = sum(sub.weight for _, sub in subs)
    shares = [PRODUCT_ROWS * sub.weight / total_weight for _, sub in subs]
    counts = [int(x) for x in shares]
    for i in sorted(range(len(subs)), key=lambda i: (counts[i] - shares[i], i))[: PRODUCT_ROWS - sum(counts)]:
        counts[i] += 1
    return counts


def _draw_product(rng: random.Random, cat: Category, sub: Subcategory) -> tuple[str, str, str, int, int]:
    """One product: (name, brand, color, price cents, cost cents); cost is 30-62% of a log-uniform price."""
    template = rng.choice(sub.templates)
    descriptor = template.format(**{unit: rng.choice(values) for unit, values in PRODUCT_SIZES.items()})
    brand = rng.choice(cat.brands)
    color = rng.choice(COLORS)
    name = f"{brand} {descriptor} {rng.choice(MODEL_LETTERS)}{rng.randint(10, 999)} {color}"
    low, high = cat.price_usd
    price = int(round(low * 100 * (high / low) ** rng.random()))
    price = max(price, MIN_PRICE)
    cost = min(price - 1, max(1, int(round(price * rng.uniform(0.30, 0.62)))))
    return name, brand, color, price, cost


def make_products(rng: random.Random) -> Products:
    """Products.csv from rng, with each product's price, cost and category."""
    subs = [(cat, sub) for cat in CATEGORIES for sub in cat.subcategories]
    lines = [",".join(SOURCES_BY_NAME["products"].header)]
    products = Products(CsvFile("products", "", 0), [0], [0], [""], len(CATEGORIES), len(subs), 0, 0)
    key = 0
    for (cat, sub), n in zip(subs, _counts_per_subcategory(subs), strict=True):
        for _ in range(n):
            key += 1
            name, brand, color, price, cost = _draw_product(rng, cat, sub)
            products.names_with_comma += "," in name
            products.names_with_quote += '"' in name
            products.price.append(price)
            products.cost.append(cost)
            products.category.append(cat.name)
            lines.append(
                f"{key},{quote(name)},{quote(brand)},{color},{price_text(cost)},{price_text(price)},"
                f"{sub.key},{quote(sub.name)},{cat.key},{quote(cat.name)}"
            )
    products.file = CsvFile("products", "\n".join(lines) + "\n", key)
    return products
