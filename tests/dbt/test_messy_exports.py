"""Messy exports through `elt run`, on both targets: every kind of docs/cleaning-rules.md planted at once.

One copy of the session sample (seed 7) gets every kind of messy value in rows of its own (integers written
as floats, dates with a time, values out of range, implausible dates, null spellings, mixed line endings),
goes through one `elt run` per target, and each test below checks one kind on that build: the exact figures
of tests/dbt/oracle.py (computed from the files alone) and the planted rows themselves.

The oracle's own check comes first and needs no warehouse: on unmodified generated data it must equal the
generator's expected.json in every figure both express.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from core.warehouse import Warehouse
from ingestion.generator import generate
from tests.conftest import warehouse_env
from tests.dbt.conftest import TARGETS, GoldenWarehouses, copy_sample
from tests.dbt.figures import expected_figures, sales_figures, source_figures
from tests.dbt.messy import (
    CsvEdit,
    flag_figures,
    isolated_env,
    output,
    query,
    read,
    render,
    row_conservation,
    run_elt,
    scorecard_flags,
)
from tests.dbt.oracle import Truth, birthday, integer, money, order_date, rate, truth, years_between
from tests.ingestion.test_loader import raw_snapshot


# --------------------------------------------------------------------------------------------------
# 0. The oracle against the generator (no warehouse)
# --------------------------------------------------------------------------------------------------
def _both_express(oracle: Truth, expected: dict) -> tuple[dict, dict]:
    figures = expected_figures(expected)
    return (
        {"sources": oracle.source_figures(), "sales": oracle.sales_figures()},
        {"sources": figures["sources"], "sales": figures["sales"]},
    )


def test_oracle_equals_expected_json_on_the_sample(sample_dir: Path, expected: dict) -> None:
    oracle = truth(sample_dir)
    mine, theirs = _both_express(oracle, expected)
    assert mine == theirs
    assert str(oracle.as_of_date) == expected["as_of_date"]
    assert oracle.flag_figures()["email_status"] == expected["customers"]["email_status"]
    assert oracle.flag_figures()["birthday_status"].get("invalid") == expected["customers"]["birthday_unparseable"]


def test_oracle_equals_expected_json_with_orphans(tmp_path: Path) -> None:
    expected = generate(tmp_path, scale=1, seed=3, inject_orphans=True)
    mine, theirs = _both_express(truth(tmp_path), expected)
    assert mine == theirs


@pytest.mark.parametrize(
    ("reader", "text", "outcome"),
    [
        (integer, "2", ("valid", 2)),
        (integer, " 2.0 ", ("valid", 2)),
        (integer, "2.00", ("valid", 2)),
        (integer, "2.", ("valid", 2)),
        (integer, "-3", ("valid", -3)),
        (integer, "2.5", ("invalid", None)),
        (integer, "1e3", ("invalid", None)),
        (integer, "+2", ("invalid", None)),
        (integer, "1,000", ("invalid", None)),
        (integer, "two", ("invalid", None)),
        (integer, "nUlL", ("missing", None)),
        (integer, " - ", ("missing", None)),
        (integer, "1234567890123456789", ("out_of_range", None)),
        (money, "$1,234.56 ", ("valid", Decimal("1234.56"))),
        (money, "6.62", ("valid", Decimal("6.62"))),
        (money, "$1,23.45", ("invalid", None)),
        (money, "1.234", ("invalid", None)),
        (money, "-$5.00", ("invalid", None)),
        (money, "$100,000.01", ("out_of_range", None)),
        (rate, "0.92", ("valid", Decimal("0.920000"))),
        (rate, "1.30000000000000004", ("valid", Decimal("1.300000"))),
        (rate, "0.0000005", ("valid", Decimal("0.000001"))),
        (rate, "0", ("invalid", None)),
        (rate, "1000000", ("out_of_range", None)),
        (order_date, "11/12/2025 0:00", ("valid", date(2025, 11, 12))),
        (order_date, "2025-11-12 00:00:00", ("valid", date(2025, 11, 12))),
        (order_date, "2025-11-12T00:00:00Z", ("valid", date(2025, 11, 12))),
        (order_date, "2025-11-12T23:30:00+05:00", ("valid", date(2025, 11, 12))),
        (order_date, "3/5/2024 12:00 PM", ("valid", date(2024, 3, 5))),
        (order_date, "3/5/2024 24:00", ("invalid", None)),
        (order_date, "2/30/2024", ("invalid", None)),
        (order_date, "12-Nov-2025", ("invalid", None)),
        (order_date, "2025/11/12", ("invalid", None)),
        (order_date, "11/12/25", ("invalid", None)),
        (birthday, "25/07/1975", ("valid", date(1975, 7, 25))),
        (birthday, "18-10-1974 0:00", ("valid", date(1974, 10, 18))),
        (birthday, "1980-02-29", ("valid", date(1980, 2, 29))),
        (birthday, "2/29/1981", ("invalid", None)),
    ],
)
def test_oracle_reads_the_examples_of_the_rules(reader, text: str, outcome: tuple) -> None:
    assert reader(text) == outcome


# --------------------------------------------------------------------------------------------------
# 1. The planted copy
# --------------------------------------------------------------------------------------------------
def _mdy(day: date) -> str:
    return f"{day.month}/{day.day}/{day.year}"


@dataclass
class Plan:
    """Where each kind was planted: source rows per file, and the keys the tests look up."""

    sales: dict[str, int] = field(default_factory=dict)
    customers: dict[str, int] = field(default_factory=dict)
    stores: dict[str, int] = field(default_factory=dict)
    products: dict[str, int] = field(default_factory=dict)
    rates: dict[str, int] = field(default_factory=dict)
    keys: dict[str, int] = field(default_factory=dict)
    big_product_lines: list[int] = field(default_factory=list)
    crlf_rows: int = 0


def plant(data_dir: Path) -> Plan:
    """Plant every kind into the copy of the sample in `data_dir`, each in rows of its own."""
    plan = Plan()
    sales = CsvEdit(data_dir / "Sales.csv")
    customers = CsvEdit(data_dir / "Customers.csv")
    stores = CsvEdit(data_dir / "Stores.csv")
    products = CsvEdit(data_dir / "Products.csv")
    rates = CsvEdit(data_dir / "Exchange_Rates.csv")

    sale_rows = {n: sales.row(n) for n in range(1, sales.rows + 1)}
    by_order: dict[str, list[int]] = {}
    for n, row in sale_rows.items():
        by_order.setdefault(row[0], []).append(n)

    # The dearest-priced product with a few lines becomes out of range: its lines become orphans.
    lines_of: dict[str, list[int]] = {}
    for n, row in sale_rows.items():
        lines_of.setdefault(row[6], []).append(n)
    big = next(p for p in sorted(lines_of, key=int) if 2 <= len(lines_of[p]) <= 5)
    plan.keys["big_product"] = int(big)
    plan.products["big_price"] = int(big)  # products are one row per key, in key order
    assert products.get(int(big), "ProductKey") == big
    products.set(int(big), "Unit Price USD", "$999,999.00 ")
    taken = set(lines_of[big])
    plan.big_product_lines = sorted(taken)

    # Single-line physical-store orders with a delivery date, spread over the file, for the line plants.
    singles = iter(
        ns[0]
        for ns in list(by_order.values())[50::97]
        if len(ns) == 1 and sale_rows[ns[0]][3] and sale_rows[ns[0]][5] != "0" and ns[0] not in taken
    )

    def pick(name: str) -> tuple[int, list[str]]:
        n = next(singles)
        plan.sales[name] = n
        return n, sale_rows[n]

    def day(text: str) -> date:
        month, dd, year = text.split("/")
        return date(int(year), int(month), int(dd))

    # Kind 1: every Quantity written `N.0`, a few `N.00` and `N.`; a key and a line item as floats; 2.5.
    for row in sale_rows.values():
        row[7] = f"{row[7]}.0"
    n, row = pick("quantity_00")
    row[7] = row[7].replace(".0", ".00")
    n, row = pick("quantity_dot")
    row[7] = row[7].replace(".0", ".")
    n, row = pick("customer_key_float")
    row[4] = f"{row[4]}.0"
    n, row = pick("line_item_float")
    row[1] = "1.0"
    n, row = pick("quantity_2_5")
    row[7] = "2.5"
    # Kind 2: dates with a time; unreadable delivery and order dates.
    n, row = pick("order_date_us_time")
    row[2] = f"{_mdy(day(row[2]))} 0:00"
    n, row = pick("order_date_iso_time")
    row[2] = f"{day(row[2]).isoformat()} 00:00:00"
    n, row = pick("order_date_iso_t")
    row[2] = f"{day(row[2]).isoformat()}T00:00:00"
    n, row = pick("delivery_pm")
    row[3] = f"{_mdy(day(row[3]))} 12:00 PM"
    n, row = pick("delivery_iso_z")
    row[3] = f"{day(row[3]).isoformat()}T00:00:00Z"
    n, row = pick("delivery_unreadable")
    row[3] = day(row[3]).strftime("%d-%b-%Y")  # 12-Nov-2025
    n, row = pick("order_date_unreadable")
    row[2] = day(row[2]).strftime("%Y/%m/%d")
    # Kind 3: a barcode in the Quantity column.
    n, row = pick("quantity_barcode")
    row[7] = "4006381333931"
    # Kind 4: an order date two centuries ahead; a delivery before its order.
    n, row = pick("order_date_2205")
    row[2] = "10/16/2205"
    n, row = pick("delivery_before_order")
    row[3] = _mdy(day(row[2]) - timedelta(days=3))
    # Kind 5: null spellings.
    n, row = pick("quantity_null")
    row[7] = "null"
    n, row = pick("delivery_none")
    row[3] = "None"
    n, row = pick("store_key_dash")
    row[5] = "-"
    # A pending order (blank delivery) of the sample, untouched.
    plan.keys["pending_order"] = int(
        next(o for o, ns in by_order.items() if all(not sale_rows[x][3] for x in ns) and not set(ns) & taken)
    )
    for n, row in sale_rows.items():
        sales.lines[n] = render(row)
    plan.crlf_rows = sales.rows // 2  # kind 6: the first half of the rows ends in CRLF, the rest in LF
    sales.write(crlf_rows=plan.crlf_rows)

    # Customers: rows whose key is on no other line and who bought, with a valid Age and Email.
    key_count: dict[str, int] = {}
    for n in range(1, customers.rows + 1):
        key = customers.get(n, "CustomerKey")
        key_count[key] = key_count.get(key, 0) + 1
    buyers = {row[4] for row in sale_rows.values()}
    plain = (
        n
        for n in range(100, customers.rows + 1, 37)
        if key_count[customers.get(n, "CustomerKey")] == 1
        and customers.get(n, "CustomerKey") in buyers
        and customers.get(n, "Age")
        and "@" in customers.get(n, "Email")
    )

    def customer(name: str, birthday_shape: str | None = None) -> int:
        n = next(x for x in plain if birthday_shape is None or _shape(customers.get(x, "Birthday")) == birthday_shape)
        plan.customers[name] = n
        plan.keys[name] = int(customers.get(n, "CustomerKey"))
        return n

    n = customer("age_float")
    customers.set(n, "Age", f"{integer(customers.get(n, 'Age'))[1]}.00")
    n = customer("customer_key_float")
    customers.set(n, "CustomerKey", f"{customers.get(n, 'CustomerKey')}.0")
    n = customer("birthday_iso_time", "iso")
    customers.set(n, "Birthday", f"{customers.get(n, 'Birthday')} 00:00:00")
    customers.set(n, "Age", "")  # so the age comes from the birthday on the as-of date
    n = customer("birthday_us_time", "us")
    customers.set(n, "Birthday", f"{customers.get(n, 'Birthday')} 0:00")
    n = customer("birthday_unreadable")
    customers.set(n, "Birthday", "12-Nov-1980")
    n = customer("birthday_age_150")
    customers.set(n, "Birthday", "1/1/1875")
    n = customer("email_null")
    customers.set(n, "Email", "NULL")
    n = customer("state_code_na")
    customers.set(n, "State Code", "N/A")
    customers.write()

    # Stores 1-3 (store n is row n + 1: store 0 comes first).
    plan.stores = {"square_meters_float": 2, "open_date_iso_t": 3, "open_date_1850": 4}
    stores.set(2, "Square Meters", "1000.0")
    stores.set(3, "Open Date", day(stores.get(3, "Open Date")).isoformat() + "T00:00:00")
    stores.set(4, "Open Date", "1/1/1850")
    stores.write()
    products.write()

    # Exchange rates: one out of range, one date with a time (mid-2024, not a first day of a currency).
    plan.rates = {"exchange_1000000": 1000, "date_with_time": 1502}
    rates.set(1000, "Exchange", "1000000")
    rates.set(1502, "Date", rates.get(1502, "Date") + " 0:00")
    rates.write()
    return plan


def _shape(text: str) -> str:
    return "iso" if "-" in text and text[:4].isdigit() else ("us" if "/" in text else "other")


# --------------------------------------------------------------------------------------------------
# 2. One build of the planted copy per target
# --------------------------------------------------------------------------------------------------
@dataclass
class Build:
    target: str
    warehouse: Warehouse
    done: CompletedProcess
    oracle: Truth
    plan: Plan
    data_dir: Path


@pytest.fixture(scope="module")
def planted(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Plan, Truth]:
    """The planted copy of the sample, its plan and its oracle (made once for both targets)."""
    data_dir = copy_sample(sample_dir, tmp_path_factory.mktemp("messy") / "data")
    (data_dir / "expected.json").unlink()  # the figures of the unmodified sample: not these
    plan = plant(data_dir)
    return data_dir, plan, truth(data_dir)


@pytest.fixture(scope="module", params=TARGETS)
def build(
    request: pytest.FixtureRequest, planted, tmp_path_factory: pytest.TempPathFactory, target_available
) -> Iterator[Build]:
    """`elt run` of the planted copy on a fresh warehouse of each target."""
    target_available(request.param)
    data_dir, plan, oracle = planted
    workdir = tmp_path_factory.mktemp(f"messy-{request.param}")
    for env in warehouse_env(request.param, workdir):
        env = isolated_env(env, workdir)
        done = run_elt("run", "--data-dir", str(data_dir), "--reports-dir", str(workdir / "reports"), env=env)
        yield Build(request.param, Warehouse.from_env(environ=env), done, oracle, plan, data_dir)


def built(build: Build) -> Build:
    """The build, which must have succeeded."""
    assert build.done.returncode == 0, output(build.done)
    return build


def fate(b: Build, source: str, source_row: int) -> str:
    """Where the warehouse put one raw row: `clean`, `exact_duplicate` or its reject reason."""
    found = query(
        b.warehouse,
        f"select reason from marts.rejected_records where source = '{source}' and source_row = {source_row}",
    )
    if found:
        return found[0]["reason"]
    dup = query(
        b.warehouse,
        f"select disposition from intermediate.int_{source}_classified where source_row = {source_row}",
    )
    return dup[0]["disposition"] if dup else "missing from the warehouse"


def sale(b: Build, name: str) -> dict:
    """The fct_sales row of a planted sales line (by its order and line item as the oracle reads them)."""
    line = next(x for x in b.oracle.lines.values() if x.source_row == b.plan.sales[name])
    found = query(
        b.warehouse,
        f"select * from marts.fct_sales where order_number = {line.order_number} and line_item = {line.line_item}",
    )
    assert len(found) == 1, f"{name}: {found}"
    return found[0]


def oracle_line(b: Build, name: str):
    return next(x for x in b.oracle.lines.values() if x.source_row == b.plan.sales[name])


def customer(b: Build, name: str) -> dict:
    found = query(b.warehouse, f"select * from marts.dim_customers where customer_key = {b.plan.keys[name]}")
    assert len(found) == 1, f"{name}: {found}"
    return found[0]


def store(b: Build, name: str) -> dict:
    key = b.plan.stores[name] - 1
    found = query(b.warehouse, f"select * from marts.dim_stores where store_key = {key}")
    assert len(found) == 1, f"{name}: {found}"
    return found[0]


def order_status(b: Build, order_number: int) -> str:
    found = query(b.warehouse, f"select status from reports.order_status where order_number = {order_number}")
    assert len(found) == 1, f"order {order_number}: {found}"
    return found[0]["status"]


def rejected_counts(b: Build, source: str) -> dict[str, int]:
    return read(b.warehouse, source_figures)[source]["rejected"]


# --------------------------------------------------------------------------------------------------
# 3. The tests
# --------------------------------------------------------------------------------------------------
def test_run_exits_0_and_every_row_is_accounted_for(build: Build) -> None:
    b = built(build)
    conservation = read(b.warehouse, row_conservation)
    assert all(raw == kept for raw, kept in conservation.values()), conservation
    assert {name: raw for name, (raw, _) in conservation.items()} == {
        name: len(src.raw) for name, src in b.oracle.sources.items()
    }


def test_figures_equal_the_oracle(build: Build) -> None:
    b = built(build)
    conn = b.warehouse.connect(read_only=True)
    try:
        assert source_figures(conn) == b.oracle.source_figures()
        assert sales_figures(conn) == b.oracle.sales_figures()
        assert flag_figures(conn) == b.oracle.flag_figures()
    finally:
        conn.close()


def test_every_reject_has_the_oracles_reason(build: Build) -> None:
    b = built(build)
    found = {
        (r["source"], r["source_row"]): r["reason"]
        for r in query(b.warehouse, "select source, source_row, reason from marts.rejected_records")
    }
    wanted = {(name, row): reason for name, src in b.oracle.sources.items() for row, reason in src.rejected().items()}
    differing = {k: (found.get(k), wanted.get(k)) for k in found.keys() | wanted.keys()}
    differing = {k: pair for k, pair in differing.items() if pair[0] != pair[1]}
    assert differing == {}, "(source, source_row): (warehouse, oracle)"


def test_integers_written_as_floats(build: Build) -> None:
    b = built(build)
    for name in ("quantity_00", "quantity_dot", "customer_key_float", "line_item_float"):
        line, row = oracle_line(b, name), sale(b, name)
        assert (row["quantity"], row["customer_key"], row["line_item"]) == (
            line.quantity,
            line.customer_key,
            line.line_item,
        ), name
        assert (row["revenue_usd"], row["revenue_local"]) == (line.revenue_usd, line.revenue_local), name
    assert fate(b, "sales", b.plan.sales["quantity_2_5"]) == "invalid_quantity"
    assert rejected_counts(b, "sales").get("invalid_quantity") == b.oracle.sources["sales"].figures()["rejected"].get(
        "invalid_quantity"
    )
    # Every Quantity of the file is written `N.0`: the totals are the oracle's.
    assert read(b.warehouse, sales_figures) == b.oracle.sales_figures()
    kept = customer(b, "customer_key_float")
    assert kept["source_row"] == b.plan.customers["customer_key_float"]
    aged = customer(b, "age_float")
    assert (aged["age"], aged["age_status"]) == (b.oracle.customers[b.plan.keys["age_float"]]["age"], "valid")
    sized = store(b, "square_meters_float")
    assert (sized["square_meters"], sized["square_meters_status"]) == (1000, "valid")


def test_dates_with_a_time_and_unreadable_dates(build: Build) -> None:
    b = built(build)
    for name in ("order_date_us_time", "order_date_iso_time", "order_date_iso_t"):
        assert sale(b, name)["order_date"] == oracle_line(b, name).order_date, name
    for name in ("delivery_pm", "delivery_iso_z"):
        row = sale(b, name)
        assert (row["delivery_date"], row["delivery_date_status"]) == (oracle_line(b, name).delivery_date, "valid")
    unreadable = sale(b, "delivery_unreadable")
    assert (unreadable["delivery_date"], unreadable["delivery_date_status"]) == (None, "invalid")
    assert order_status(b, unreadable["order_number"]) == "unreadable_delivery_date"
    assert order_status(b, b.plan.keys["pending_order"]) == "pending"
    statuses = dict(query_pairs(b, "select status, count(*) from reports.order_status group by 1"))
    assert statuses == b.oracle.order_status_counts()
    assert fate(b, "sales", b.plan.sales["order_date_unreadable"]) == "invalid_date"
    for name in ("birthday_iso_time", "birthday_us_time"):
        found = customer(b, name)
        wanted = b.oracle.customers[b.plan.keys[name]]["birthday"]
        assert (found["birthday"], found["birthday_status"]) == (wanted, "valid"), name
    from_birthday = customer(b, "birthday_iso_time")
    assert (from_birthday["age"], from_birthday["age_source"]) == (
        years_between(from_birthday["birthday"], b.oracle.as_of_date),
        "birthday",
    )
    bad = customer(b, "birthday_unreadable")
    assert (bad["birthday"], bad["birthday_status"]) == (None, "invalid")
    opened = store(b, "open_date_iso_t")
    key = b.plan.stores["open_date_iso_t"] - 1
    assert (opened["open_date"], opened["open_date_status"]) == (b.oracle.stores[key]["open_date"], "valid")
    assert fate(b, "exchange_rates", b.plan.rates["date_with_time"]) == "clean"
    flags = read(b.warehouse, flag_figures)
    oracle_flags = b.oracle.flag_figures()
    for column in ("birthday_status", "open_date_status", "delivery_date_status"):
        assert flags[column] == oracle_flags[column], column
    card = read(b.warehouse, scorecard_flags)
    assert card["customers"][0] == b.oracle.flagged_values()["customers"]
    assert card["customers"][1]["birthday_status:invalid"] == oracle_flags["birthday_status"]["invalid"]


def query_pairs(b: Build, sql: str) -> list[tuple]:
    return [tuple(r.values()) for r in query(b.warehouse, sql)]


def test_values_out_of_range(build: Build) -> None:
    b = built(build)  # the build succeeded although a Quantity is a 13-digit barcode
    assert fate(b, "sales", b.plan.sales["quantity_barcode"]) == "out_of_range"
    assert fate(b, "products", b.plan.products["big_price"]) == "out_of_range"
    for row in b.plan.big_product_lines:  # its lines: orphans, in the oracle and in the warehouse
        assert (fate(b, "sales", row), b.oracle.sources["sales"].fate[row]) == ("orphan_product", "orphan_product")
    assert fate(b, "exchange_rates", b.plan.rates["exchange_1000000"]) == "out_of_range"
    for source in ("sales", "products", "exchange_rates"):
        assert rejected_counts(b, source).get("out_of_range") == b.oracle.sources[source].figures()["rejected"].get(
            "out_of_range"
        ), source
    # The rejected rate's day uses the day before's rate: the local revenue is the oracle's.
    assert (
        read(b.warehouse, sales_figures)["revenue_local_by_currency"]
        == b.oracle.sales_figures()["revenue_local_by_currency"]
    )


def test_implausible_dates(build: Build, expected: dict) -> None:
    b = built(build)
    assert fate(b, "sales", b.plan.sales["order_date_2205"]) == "implausible_date"
    as_of = query(b.warehouse, "select max(order_date) as d from marts.fct_sales")[0]["d"]
    assert str(as_of) == expected["as_of_date"] == str(b.oracle.as_of_date)
    wrong_ages = query(
        b.warehouse, "select customer_key, birthday, age from marts.dim_customers where age_source = 'birthday'"
    )
    assert wrong_ages
    assert [r for r in wrong_ages if r["age"] != years_between(r["birthday"], as_of)] == []
    early = sale(b, "delivery_before_order")
    assert (early["delivery_date"], early["delivery_date_status"]) == (None, "implausible")
    assert order_status(b, early["order_number"]) == "unreadable_delivery_date"
    old = customer(b, "birthday_age_150")
    assert (old["birthday"], old["birthday_status"]) == (None, "implausible")
    opened = store(b, "open_date_1850")
    assert (opened["open_date"], opened["open_date_status"]) == (None, "implausible")
    span = query(b.warehouse, "select min(date_day) as lo, max(date_day) as hi from marts.dim_dates")[0]
    assert (span["lo"], span["hi"]) == b.oracle.date_span()
    assert rejected_counts(b, "sales").get("implausible_date") == b.oracle.sources["sales"].figures()["rejected"].get(
        "implausible_date"
    )


def test_null_spellings(build: Build) -> None:
    b = built(build)
    emailless = customer(b, "email_null")
    assert (emailless["email"], emailless["email_status"]) == (None, "missing")
    assert read(b.warehouse, flag_figures)["email_status"] == b.oracle.flag_figures()["email_status"]
    assert customer(b, "state_code_na")["state_code"] is None
    assert fate(b, "sales", b.plan.sales["quantity_null"]) == "invalid_quantity"
    none = sale(b, "delivery_none")
    assert (none["delivery_date"], none["delivery_date_status"]) == (None, "missing")
    assert order_status(b, none["order_number"]) == "pending"
    assert fate(b, "sales", b.plan.sales["store_key_dash"]) == "invalid_key"


def test_mixed_line_endings(build: Build) -> None:
    b = built(build)
    raw = query(
        b.warehouse,
        "select count(*) as n, count(*) filter (where currency_code like '%' || chr(13) || '%') as cr from raw.sales",
    )[0]
    assert (raw["n"], raw["cr"]) == (len(b.oracle.sources["sales"].raw), 0)
    assert b.plan.crlf_rows > 30_000
    assert read(b.warehouse, source_figures)["sales"] == b.oracle.source_figures()["sales"]


# --------------------------------------------------------------------------------------------------
# 4. A whole file of one defect: `N.0` loads, `N.5` is a broken export (load only, cheap)
# --------------------------------------------------------------------------------------------------
def _rewrite_quantities(data_dir: Path, suffix: str) -> None:
    sales = CsvEdit(data_dir / "Sales.csv")
    for n in range(1, sales.rows + 1):
        sales.set(n, "Quantity", sales.get(n, "Quantity") + suffix)
    sales.write()


@pytest.mark.parametrize("target", TARGETS)
def test_a_file_of_float_quantities_loads_and_one_of_halves_is_refused(
    target: str, sample_dir: Path, tmp_path: Path, target_available
) -> None:
    target_available(target)
    for env in warehouse_env(target, tmp_path):
        env = isolated_env(env, tmp_path)
        first = run_elt("load", "--data-dir", str(sample_dir), env=env)
        assert first.returncode == 0, output(first)
        warehouse = Warehouse.from_env(environ=env)
        before = raw_snapshot(warehouse)

        halves = copy_sample(sample_dir, tmp_path / "halves")
        _rewrite_quantities(halves, ".5")
        refused = run_elt("load", "--data-dir", str(halves), env=env)
        assert refused.returncode == 2, output(refused)
        last = refused.stderr.strip().splitlines()[-1]
        assert "Traceback" not in refused.stderr
        assert "Sales.csv" in last and "quantity" in last, last
        assert raw_snapshot(warehouse) == before

        floats = copy_sample(sample_dir, tmp_path / "floats")
        _rewrite_quantities(floats, ".0")
        loaded = run_elt("load", "--data-dir", str(floats), env=env)
        assert loaded.returncode == 0, output(loaded)
        floated = query(
            warehouse, "select count(*) as n, count(*) filter (where quantity like '%.0') as f from raw.sales"
        )
        assert floated[0]["n"] == floated[0]["f"] == CsvEdit(floats / "Sales.csv").rows
        shutil.rmtree(halves)
        shutil.rmtree(floats)


# --------------------------------------------------------------------------------------------------
# 5. Inputs the property test (test_messy_property.py) found, pinned
# --------------------------------------------------------------------------------------------------
@dataclass
class Rerun:
    warehouse: Warehouse
    second: CompletedProcess  # the first run is the golden one: it succeeded
    oracle: Truth
    gone: list[tuple[int, int]]  # (order_number, line_item) of lines the second file no longer holds
    rows: dict[str, int]  # sales, stores or customers source row of each planted value


@pytest.fixture(scope="module", params=TARGETS)
def rerun(
    request: pytest.FixtureRequest,
    sample_dir: Path,
    golden: GoldenWarehouses,  # the fixture of tests/dbt/conftest.py
    tmp_path_factory: pytest.TempPathFactory,
    target_available,
) -> Iterator[Rerun]:
    """`elt run` of the sample (a copy of the session's golden one), then of a copy where a line's order number
    changed, a line item became unreadable, an Order Date is written `04-09-2025`, a store has 0 square
    metres, and a customer and another store have a blank Country; one warehouse."""
    target_available(request.param)
    workdir = tmp_path_factory.mktemp(f"messy-rerun-{request.param}")
    data_dir = copy_sample(sample_dir, workdir / "data")
    (data_dir / "expected.json").unlink()
    sales, stores = CsvEdit(data_dir / "Sales.csv"), CsvEdit(data_dir / "Stores.csv")
    customers = CsvEdit(data_dir / "Customers.csv")
    rows = {"order_number_changed": 1001, "line_item_unreadable": 2002, "order_date_dashes": 3003, "zero_m2": 6}
    keys = [customers.get(n, "CustomerKey") for n in range(1, customers.rows + 1)]
    count = Counter(keys)
    rows["country_blank_customer"] = next(n for n in range(8000, customers.rows + 1) if count[keys[n - 1]] == 1)
    rows["country_blank_store"] = 37  # a store row of its own: not the zero square metres one
    assert rows["country_blank_store"] != rows["zero_m2"]
    gone = []
    for name in ("order_number_changed", "line_item_unreadable"):
        row = sales.row(rows[name])
        gone.append((int(row[0]), int(row[1])))
    sales.set(rows["order_number_changed"], "Order Number", "999001")
    sales.set(rows["line_item_unreadable"], "Line Item", "x")
    day = order_date(sales.get(rows["order_date_dashes"], "Order Date"))[1]
    sales.set(rows["order_date_dashes"], "Order Date", f"{day.month:02d}-{day.day:02d}-{day.year}")
    stores.set(rows["zero_m2"], "Square Meters", "0")
    customers.set(rows["country_blank_customer"], "Country", "")
    stores.set(rows["country_blank_store"], "Country", "")
    sales.write()
    stores.write()
    customers.write()
    for first in golden.clone(request.param, workdir / "warehouse"):
        env = isolated_env(first.env, workdir)
        second = run_elt("run", "--data-dir", str(data_dir), "--reports-dir", str(workdir / "reports"), env=env)
        yield Rerun(Warehouse.from_env(environ=env), second, truth(data_dir), gone, rows)


def test_a_line_gone_from_a_later_file_stays_a_fact(rerun: Rerun) -> None:
    """fct_sales is incremental and a Sales file may be a delta: a line missing from the later file keeps the
    fact of the earlier one (README, incremental fct_sales); the build passes."""
    assert rerun.second.returncode == 0, output(rerun.second)
    for order, item in rerun.gone:
        where = f"order_number = {order} and line_item = {item}"
        found = query(rerun.warehouse, f"select count(*) as n from marts.fct_sales where {where}")
        assert found == [{"n": 1}], f"line {order}-{item} left the file but must stay a fact"
    clean = query(rerun.warehouse, "select count(*) as n from intermediate.int_sales_deduplicated")[0]["n"]
    assert clean == rerun.oracle.source_figures()["sales"]["clean_rows"]  # the file's own clean lines


def test_dates_written_with_dashes_are_read_month_first(rerun: Rerun) -> None:
    assert rerun.second.returncode == 0, output(rerun.second)
    row = rerun.rows["order_date_dashes"]
    assert rerun.oracle.sources["sales"].fate[row] == "clean"  # `04-09-2025`: M-D-YYYY, like M/D/YYYY
    found = query(rerun.warehouse, f"select order_date from staging.stg_sales where source_row = {row}")
    assert found == [{"order_date": order_date(rerun.oracle.sources["sales"].raw[row - 1][2])[1]}]


def test_zero_square_meters_is_out_of_range(rerun: Rerun) -> None:
    assert rerun.second.returncode == 0, output(rerun.second)
    found = query(rerun.warehouse, f"select * from marts.dim_stores where store_key = {rerun.rows['zero_m2'] - 1}")
    assert (found[0]["square_meters"], found[0]["square_meters_status"]) == (None, "out_of_range")  # 1 to the max


def test_a_blank_country_keeps_the_row(rerun: Rerun) -> None:
    """Country is a flag-only column (section 5): blank, the customer and the store are kept."""
    assert rerun.second.returncode == 0, output(rerun.second)
    row = rerun.rows["country_blank_customer"]
    kept = query(rerun.warehouse, f"select country from marts.dim_customers where source_row = {row}")
    assert kept == [{"country": None}]
    row = rerun.rows["country_blank_store"]
    assert query(rerun.warehouse, f"select country from marts.dim_stores where source_row = {row}") == [
        {"country": None}
    ]
    found, wanted = read(rerun.warehouse, source_figures), rerun.oracle.source_figures()
    for name in wanted.keys() - {"sales"}:
        assert found[name] == wanted[name], name
    # fct_sales is incremental over the golden build: it also keeps the lines gone from the second file
    # (test_a_line_gone_from_a_later_file_stays_a_fact), and loses none (a customer or store dropped from its
    # dimension would take its facts with it). The rest of the sales figures are the second file's own.
    assert found["sales"] == {**wanted["sales"], "clean_rows": wanted["sales"]["clean_rows"] + len(rerun.gone)}


@pytest.mark.parametrize("target", TARGETS)
def test_one_blank_key_rejects_its_row_not_the_file(
    target: str, sample_dir: Path, tmp_path: Path, target_available
) -> None:
    """A blank key is `invalid_key` (section 4); the contract refuses a file only when over a tenth is off."""
    target_available(target)
    data_dir = copy_sample(sample_dir, tmp_path / "data")
    for file, row, column in (
        ("Sales.csv", 61202, "Line Item"),
        ("Stores.csv", 32, "StoreKey"),
        ("Exchange_Rates.csv", 2043, "Date"),
        ("Customers.csv", 500, "CustomerKey"),
    ):
        edit = CsvEdit(data_dir / file)
        edit.set(row, column, "")
        edit.write()
    for env in warehouse_env(target, tmp_path):
        done = run_elt("load", "--data-dir", str(data_dir), env=isolated_env(env, tmp_path))
        assert done.returncode == 0, output(done)
