"""Sales.csv: SALES_ORDERS orders of SALES_LINES lines per scale unit; optionally orphan lines (an unknown
customer, product or store) and one planted order of outliers for the anomaly report."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

from ingestion.contract import SOURCES_BY_NAME
from ingestion.generator.customers import Customers
from ingestion.generator.products import Products
from ingestion.generator.reference import COUNTRIES, CURRENCIES
from ingestion.generator.shared import AS_OF_DATE, DATE_MDY, DAYS, START_DATE, CsvFile, check, cumulative
from ingestion.generator.stores import ONLINE_STORE_KEY, STORE_ROWS, Stores
from ingestion.generator.text import cents, money

# Volumes (scale 1), multiplied by `scale`.
SALES_LINES = 62_884
SALES_ORDERS = 26_326
BUYING_CUSTOMERS = 11_887
LINES_PER_ORDER_WEIGHTS = (0.42, 0.22, 0.14, 0.09, 0.07, 0.04, 0.02)  # 1..7 lines
QUANTITY_WEIGHTS = (0.25, 0.20, 0.15, 0.12, 0.09, 0.07, 0.05, 0.03, 0.02, 0.02)  # 1..10 units

# Orphan lines appended by inject_orphans=True (fixed, independent of scale).
ORPHANS = {"orphan_customer": 25, "orphan_product": 15, "orphan_store": 10}

# Planted by plant_anomalies=True: one order on this day, one line per category of the first
# PLANTED_CATEGORIES, each PLANTED_QUANTITY units of the category's dearest product. Every planted line
# is far above its category, and the day far above the other days.
PLANTED_DAY = date(2025, 3, 12)
PLANTED_CATEGORIES = 5
PLANTED_QUANTITY = 250


@dataclass
class Sales:
    """Sales.csv, its valid lines and orders, the `sales` figures of expected.json, and the last order number."""

    file: CsvFile
    lines: int
    orders: int
    stats: dict
    last_order_number: int


@dataclass
class _Tally:
    """Running sums over the sales lines; money in cents (USD, or the order's currency for local)."""

    units: int = 0
    revenue: int = 0
    cost: int = 0
    revenue_local: int = 0
    online_lines: int = 0
    blank_delivery: int = 0
    mixed_orders: int = 0
    buying: set[int] = field(default_factory=set)
    lines_by_currency: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CURRENCIES, 0))
    revenue_by_currency: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CURRENCIES, 0))
    local_by_currency: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CURRENCIES, 0))

    def add_order(
        self, customer: int, currency: str, lines: int, units: int, revenue: int, cost: int, revenue_local: int
    ) -> None:
        """Add one order's sums (money in cents) to the tally."""
        self.buying.add(customer)
        self.units += units
        self.revenue += revenue
        self.cost += cost
        self.revenue_local += revenue_local
        self.lines_by_currency[currency] += lines
        self.revenue_by_currency[currency] += revenue
        self.local_by_currency[currency] += revenue_local

    def figures(self, lines: int, orders: int) -> dict:
        """The `sales` figures of expected.json."""
        return {
            "lines": lines,
            "orders": orders,
            "units": self.units,
            "buying_customers": len(self.buying),
            "online_lines": self.online_lines,
            "delivery_date_blank": self.blank_delivery,
            "orders_with_mixed_dates": self.mixed_orders,
            "first_order_date": START_DATE.isoformat(),
            "last_order_date": AS_OF_DATE.isoformat(),
            "revenue_usd": money(self.revenue),
            "cost_usd": money(self.cost),
            "margin_usd": money(self.revenue - self.cost),
            "revenue_local": money(self.revenue_local),
            "lines_by_currency": self.lines_by_currency,
            "revenue_usd_by_currency": {c: money(v) for c, v in self.revenue_by_currency.items()},
            "revenue_local_by_currency": {c: money(v) for c, v in self.local_by_currency.items()},
        }


@dataclass
class _Draws:
    """What is drawn for all orders at once, before they are written."""

    sizes: list[int]  # lines per order
    customer: list[int]  # customer index per order
    day: list[int]  # day index per order, ascending
    product: list[int]  # product key per line
    quantity: list[int]  # units per line


def _day_weights() -> list[float]:
    """Relative order volume per day index: slow growth, busy November/December, quiet January/February, weekends."""
    weights = []
    for d in range(DAYS):
        day = START_DATE + timedelta(days=d)
        w = 1.0 + 0.25 * d / DAYS  # growth
        if day.month in (11, 12):
            w *= 1.5
        elif day.month in (1, 2):
            w *= 0.8
        if day.weekday() >= 5:
            w *= 1.15
        weights.append(w)
    return weights


def _order_sizes(rng: random.Random, n_orders: int, n_lines: int) -> list[int]:
    """Lines per order (1..7) by LINES_PER_ORDER_WEIGHTS, adjusted one line at a time to sum to n_lines."""
    sizes = rng.choices(range(1, 8), weights=LINES_PER_ORDER_WEIGHTS, k=n_orders)
    diff = n_lines - sum(sizes)
    while diff:
        o = int(rng.random() * n_orders)
        if diff > 0 and sizes[o] < 7:
            sizes[o] += 1
            diff -= 1
        elif diff < 0 and sizes[o] > 1:
            sizes[o] -= 1
            diff += 1
    return sizes


def _draw_all(rng: random.Random, scale: int, n_customers: int, n_products: int) -> _Draws:
    """Order sizes; buyers (exactly BUYING_CUSTOMERS * scale, each at least once, a few very often); order days
    (the first and last day always have orders); products by a shuffled popularity; quantities."""
    n_orders = SALES_ORDERS * scale
    n_lines = SALES_LINES * scale
    sizes = _order_sizes(rng, n_orders, n_lines)
    buyers = rng.sample(range(n_customers), BUYING_CUSTOMERS * scale)
    weights = [rng.expovariate(1.0) ** 2 for _ in buyers]
    customer = buyers + rng.choices(buyers, weights=weights, k=n_orders - len(buyers))
    rng.shuffle(customer)
    days = rng.choices(range(DAYS), cum_weights=cumulative(_day_weights()), k=n_orders)
    days[0], days[1] = 0, DAYS - 1
    days.sort()
    popularity = [1.0 / (r + 10) ** 0.8 for r in range(n_products)]
    rng.shuffle(popularity)
    product = rng.choices(range(1, n_products + 1), cum_weights=cumulative(popularity), k=n_lines)
    quantity = rng.choices(range(1, 11), cum_weights=cumulative(QUANTITY_WEIGHTS), k=n_lines)
    return _Draws(sizes, customer, days, product, quantity)


def _order_header(rng: random.Random, size: int, day: int, stores: list[int]) -> tuple[int, int, str]:
    """(store, second day index, delivery date) of an order of `size` lines on day index `day`, by a customer whose
    country has these physical `stores`.

    ~18% of orders are online. The second day is the order date of the later lines: a neighbouring day for ~3% of
    multi-line orders, else `day`.
    """
    online = rng.random() < 0.18
    store = ONLINE_STORE_KEY if online else stores[int(rng.random() * len(stores))]
    day2 = day
    if size > 1 and rng.random() < 0.03:
        day2 = day + 1 if day < DAYS - 1 else day - 1
    return store, day2, _delivery_date(rng, online, max(day, day2))


def _delivery_date(rng: random.Random, online: bool, last_order_day: int) -> str:
    """Blank for ~15%, else 3-10 days (online) or 1-5 days after the order, blank if past the last day."""
    if rng.random() < 0.15:
        return ""
    lag = (3 + int(rng.random() * 8)) if online else (1 + int(rng.random() * 5))
    lag = min(lag, DAYS - 1 - last_order_day)
    return DATE_MDY[last_order_day + lag] if lag > 0 else ""


def _distinct_products(rng: random.Random, products: list[int], n_products: int) -> list[int]:
    """The product keys of one order's lines, each repeat redrawn (in place) until every line has its own product."""
    if len(products) > 1 and len(set(products)) < len(products):
        seen: set[int] = set()
        for k in range(len(products)):
            while products[k] in seen:
                products[k] = 1 + int(rng.random() * n_products)
            seen.add(products[k])
    return products


def make_sales(
    rng: random.Random,
    scale: int,
    customers: Customers,
    products: Products,
    stores: Stores,
    rate4: dict[str, list[int]],
) -> Sales:
    """Sales.csv from rng at scale (SALES_LINES * scale lines), in the customers' currencies at the day's rate
    (rate4: 1/10,000 units per USD per day index), and its figures; RuntimeError if a self-check fails."""
    n_products = len(products.price) - 1
    draws = _draw_all(rng, scale, len(customers.keys), n_products)
    currency_of = [COUNTRIES[ci].currency for ci in customers.country]
    stores_of = [stores.by_country[COUNTRIES[ci].name] for ci in customers.country]
    keys, price, cost, quantity = customers.keys, products.price, products.cost, draws.quantity
    out = [",".join(SOURCES_BY_NAME["sales"].header)]
    append = out.append
    tally = _Tally()
    pos = 0
    order_number = 100_000
    for o, size in enumerate(draws.sizes):
        order_number += 1
        ci, day = draws.customer[o], draws.day[o]
        customer, currency, rates = keys[ci], currency_of[ci], rate4[currency_of[ci]]
        store, day2, delivery = _order_header(rng, size, day, stores_of[ci])
        ordered = _distinct_products(rng, draws.product[pos : pos + size], n_products)
        units = revenue = cost_usd = revenue_local = 0
        for li, p in enumerate(ordered):
            q = quantity[pos]
            pos += 1
            d = day if li < 1 or day2 == day or li < size // 2 else day2
            line_revenue = q * price[p]
            units += q
            revenue += line_revenue
            cost_usd += q * cost[p]
            revenue_local += (line_revenue * rates[d] + 5000) // 10_000  # rounded per line
            append(f"{order_number},{li + 1},{DATE_MDY[d]},{delivery},{customer},{store},{p},{q},{currency}")
        tally.add_order(customer, currency, size, units, revenue, cost_usd, revenue_local)
        tally.online_lines += size if store == ONLINE_STORE_KEY else 0
        tally.blank_delivery += size if not delivery else 0
        tally.mixed_orders += day2 != day
    n_lines = SALES_LINES * scale
    check(pos == n_lines, f"{pos} sales lines generated, expected {n_lines}")
    return Sales(
        CsvFile("sales", "\n".join(out) + "\n", n_lines),
        n_lines,
        len(draws.sizes),
        tally.figures(n_lines, len(draws.sizes)),
        order_number,
    )


def make_orphans(
    rng: random.Random, sales: Sales, customers: Customers, products: Products, stores: Stores
) -> tuple[list[str], dict[str, int]]:
    """Extra orders (1-3 lines each) after sales' last order whose every line has exactly one unknown key
    (customer, product or store): the Sales.csv lines without line breaks, and the lines per reason (ORPHANS)."""
    lines: list[str] = []
    order_number = sales.last_order_number
    max_customer = max(customers.keys)
    n_products = len(products.price) - 1
    unknown = {
        "orphan_customer": iter(range(max_customer + 1001, max_customer + 100_000, 7)),
        "orphan_product": iter(range(n_products + 90_001, n_products + 100_000)),
        "orphan_store": iter(range(STORE_ROWS + 900, STORE_ROWS + 1000)),
    }
    for reason, count in ORPHANS.items():
        left = count
        while left:
            size = min(left, rng.randint(1, 3))
            left -= size
            order_number += 1
            lines += _orphan_order(rng, order_number, size, reason, unknown[reason], customers, n_products, stores)
    return lines, dict(ORPHANS)


def _orphan_order(
    rng: random.Random,
    order_number: int,
    size: int,
    reason: str,
    unknown: Iterator[int],
    customers: Customers,
    n_products: int,
    stores: Stores,
) -> list[str]:
    """One orphan order's lines: a random day, customer and store, with the key named by reason from unknown."""
    day = rng.randint(0, DAYS - 1)
    ci = rng.randrange(len(customers.keys))
    country = COUNTRIES[customers.country[ci]]
    customer = next(unknown) if reason == "orphan_customer" else customers.keys[ci]
    store = rng.choice(stores.by_country[country.name]) if rng.random() < 0.8 else ONLINE_STORE_KEY
    if reason == "orphan_store":
        store = next(unknown)
    delivery = DATE_MDY[day + 1] if day < DAYS - 1 else ""
    lines = []
    used: set[int] = set()
    for li in range(size):
        p = next(unknown) if reason == "orphan_product" else rng.randint(1, n_products)
        while p in used:
            p = rng.randint(1, n_products)
        used.add(p)
        q = rng.randint(1, 10)
        lines.append(
            f"{order_number},{li + 1},{DATE_MDY[day]},{delivery},{customer},{store},{p},{q},{country.currency}"
        )
    return lines


def plant_anomaly_order(sales: Sales, products: Products, rate4: dict[str, list[int]]) -> dict[str, list[str]]:
    """Append one order of outlier lines (see PLANTED_DAY) to the sales file and its figures; return the planted
    `order_lines` (`<order>-<line>`) and `days` (ISO dates) for expected.json."""
    first = next(line for line in sales.file.text.splitlines()[1:] if line.split(",")[5] != str(ONLINE_STORE_KEY))
    _, _, _, _, customer, store, _, _, currency = first.split(",")
    day = (PLANTED_DAY - START_DATE).days
    order_number = sales.last_order_number + 1
    sales.last_order_number = order_number
    planted = []
    for line_item, name in enumerate(sorted(set(products.category[1:]))[:PLANTED_CATEGORIES], start=1):
        product = max(
            (k for k in range(1, len(products.price)) if products.category[k] == name), key=products.price.__getitem__
        )
        revenue = PLANTED_QUANTITY * products.price[product]
        cost = PLANTED_QUANTITY * products.cost[product]
        local = (revenue * rate4[currency][day] + 5000) // 10_000
        sales.file.text += (
            f"{order_number},{line_item},{DATE_MDY[day]},{DATE_MDY[day + 3]},{customer},{store},{product},"
            f"{PLANTED_QUANTITY},{currency}\n"
        )
        _add_to_figures(sales.stats, currency, revenue, cost, local)
        planted.append(f"{order_number}-{line_item}")
    sales.stats["orders"] += 1
    sales.lines += len(planted)
    sales.orders += 1
    sales.file.rows += len(planted)
    return {"order_lines": planted, "days": [PLANTED_DAY.isoformat()]}


def _add_to_figures(stats: dict, currency: str, revenue: int, cost: int, local: int) -> None:
    """Add one planted line of PLANTED_QUANTITY units (money in cents) to the `sales` figures."""
    stats["lines"] += 1
    stats["units"] += PLANTED_QUANTITY
    stats["lines_by_currency"][currency] += 1
    for key, amount in (
        ("revenue_usd", revenue),
        ("cost_usd", cost),
        ("margin_usd", revenue - cost),
        ("revenue_local", local),
    ):
        stats[key] = money(cents(stats[key]) + amount)
    for key, amount in (("revenue_usd_by_currency", revenue), ("revenue_local_by_currency", local)):
        stats[key][currency] = money(cents(stats[key][currency]) + amount)
