"""The sample-data generator: determinism, exact volumes, every quirk, and expected.json re-derived from the CSVs.

The files are re-read here with the `csv` module only; nothing of the generator's internals is used, so a
figure in expected.json is checked against an independent computation.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import Counter, defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from ingestion.contract import SOURCES, SOURCES_BY_NAME
from ingestion.generator import generate

AS_OF = date(2025, 12, 31)
COUNTRIES = {
    "United States": ("North America", "USD"),
    "United Kingdom": ("Europe", "GBP"),
    "Canada": ("North America", "CAD"),
    "Germany": ("Europe", "EUR"),
    "Australia": ("Australia", "AUD"),
    "Netherlands": ("Europe", "EUR"),
    "France": ("Europe", "EUR"),
    "Italy": ("Europe", "EUR"),
}
CATEGORIES = {
    "01": "Audio",
    "02": "TV and Video",
    "03": "Computers",
    "04": "Cameras and camcorders",
    "05": "Cell phones",
    "06": "Music, Movies and Audio Books",
    "07": "Games and Toys",
    "08": "Home Appliances",
}
SAFE_ACCENTS = set("áéóúñçöüäëïâêôûèìòùåøæãõî")
INVALID_SHAPES = {
    "missing_at": re.compile(r"^\d+_missingatsign\.com$"),
    "space_after_at": re.compile(r"^\d+_user@ gmail\.com$"),
    "double_dot": re.compile(r"^\d+_user@domain\.\.com$"),
    "no_dot_domain": re.compile(r"^\d+_user@invalid_domain$"),
    "spaces_in_name": re.compile(r"^\d+_spaces in name@gmail\.com$"),
    "short_tld": re.compile(r"^user@domain\.c$"),
}
PRICE = re.compile(r"^\$\d{1,3}(,\d{3})*\.\d{2} $")
MDY_PADDED = re.compile(r"^(\d{2})/(\d{2})/(\d{4})$")

C = {name: i for i, name in enumerate(SOURCES_BY_NAME["customers"].header)}
S = {name: i for i, name in enumerate(SOURCES_BY_NAME["sales"].header)}
P = {name: i for i, name in enumerate(SOURCES_BY_NAME["products"].header)}


# ---------------------------------------------------------------------------------------------------
# Independent readers and cleaning rules (docs/cleaning-rules.md), written from the rules, not from the generator
# ---------------------------------------------------------------------------------------------------
def read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and data rows of a CSV, read strictly with the csv module."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh, strict=True))
    return rows[0], rows[1:]


def repair(text: str) -> str:
    """Undo UTF-8-read-as-Latin-1 mojibake."""
    return text.encode("latin-1").decode("utf-8") if "Ã" in text else text


def email_status(raw: str) -> str:
    value = repair(raw).strip().lower()
    if not value:
        return "missing"
    if value.count("@") != 1 or re.search(r"\s", value) or ".." in value:
        return "invalid"
    return "valid" if re.fullmatch(r"[^@]+@[^@]*\.[a-z]{2,}", value) else "invalid"


def birthday_format(raw: str) -> str:
    """Which of the four formats a birthday is in ('invalid' if it is not a real date)."""
    value = raw.strip()
    if m := re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", value):
        a, b, y = map(int, m.groups())
        fmt, (day, month) = ("DD/MM/YYYY", (a, b)) if a > 12 else ("M/D/YYYY", (b, a))
    elif m := re.fullmatch(r"(\d{2})-(\d{2})-(\d{4})", value):
        fmt, (day, month, y) = "DD-MM-YYYY", map(int, m.groups())
    elif m := re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", value):
        fmt, (y, month, day) = "YYYY-MM-DD", map(int, m.groups())
    else:
        return "invalid"
    try:
        date(y, month, day)
    except ValueError:
        return "invalid"
    return fmt


def parse_birthday(raw: str) -> date | None:
    fmt = birthday_format(raw)
    if fmt == "invalid":
        return None
    nums = [int(x) for x in re.findall(r"\d+", raw)]
    if fmt == "M/D/YYYY":
        return date(nums[2], nums[0], nums[1])
    if fmt in ("DD/MM/YYYY", "DD-MM-YYYY"):
        return date(nums[2], nums[1], nums[0])
    return date(nums[0], nums[1], nums[2])


def cleaned_nonnull(row: list[str]) -> int:
    """Non-null fields after cleaning: trimmed, empty -> null, bad birthday/email -> null."""
    count = 0
    for name, i in C.items():
        value = repair(row[i]).strip()
        if name == "Birthday":
            count += parse_birthday(value) is not None
        elif name == "Email":
            count += email_status(value) == "valid"
        else:
            count += value != ""
    return count


def best_records(rows: list[list[str]]) -> tuple[dict[str, list[str]], dict[str, list[tuple]]]:
    """Best record per key (valid email, most non-null cleaned fields, lowest line) and the ranked candidates."""
    candidates: dict[str, dict[tuple, int]] = defaultdict(dict)
    for line, row in enumerate(rows, start=1):
        candidates[row[0]].setdefault(tuple(row), line)  # exact copies collapse onto their first line
    best, ranked = {}, {}
    for key, distinct in candidates.items():
        order = sorted(
            (
                (email_status(r[C["Email"]]) != "valid", -cleaned_nonnull(list(r)), line, r)
                for r, line in distinct.items()
            )
        )
        best[key] = list(order[0][3])
        ranked[key] = order
    return best, ranked


def cents(price: str) -> int:
    return int(Decimal(price.strip().lstrip("$").replace(",", "")) * 100)


def ymd(mdy: str) -> date:
    m = MDY_PADDED.fullmatch(mdy)
    assert m, mdy
    return date(int(m[3]), int(m[1]), int(m[2]))


def between(value: float, low: float, high: float) -> bool:
    return low <= value <= high


# ---------------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def raw(sample_dir: Path) -> dict[str, list[list[str]]]:
    """Data rows of every file of the seed-7 sample, by raw table name."""
    tables = {}
    for source in SOURCES:
        header, rows = read_rows(sample_dir / source.file)
        assert header == list(source.header)
        tables[source.name] = rows
    return tables


@pytest.fixture(scope="module")
def best(raw: dict) -> dict[str, list[str]]:
    return best_records(raw["customers"])[0]


# ---------------------------------------------------------------------------------------------------
# Files, determinism, volumes
# ---------------------------------------------------------------------------------------------------
def test_files_are_utf8_lf_rfc4180_with_exact_headers(sample_dir: Path, expected: dict) -> None:
    for source in SOURCES:
        data = (sample_dir / source.file).read_bytes()
        assert not data.startswith(b"\xef\xbb\xbf"), source.file
        assert b"\r" not in data and data.endswith(b"\n"), source.file
        text = data.decode("utf-8")
        assert text.split("\n", 1)[0] == ",".join(source.header)
        header, rows = read_rows(sample_dir / source.file)
        assert all(len(r) == len(header) for r in rows), source.file
        assert len(rows) == text.count("\n") - 1  # no field spans lines
        info = expected["files"][source.file]
        assert info == {
            "table": source.name,
            "rows": len(rows),
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    assert set(expected["files"]) == {s.file for s in SOURCES}
    text = (sample_dir / "expected.json").read_text()
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"


def test_same_seed_gives_byte_identical_files(sample_dir: Path, expected: dict, tmp_path: Path) -> None:
    again = generate(tmp_path, scale=1, seed=7)
    for name in [s.file for s in SOURCES] + ["expected.json"]:
        assert (tmp_path / name).read_bytes() == (sample_dir / name).read_bytes(), name
    assert again == expected
    assert again["generator"] == {"seed": 7, "scale": 1, "inject_orphans": False, "plant_anomalies": False}


def test_another_seed_gives_different_files(sample_dir: Path, tmp_path: Path) -> None:
    other = generate(tmp_path, scale=1, seed=8)
    for source in SOURCES:
        assert (tmp_path / source.file).read_bytes() != (sample_dir / source.file).read_bytes(), source.file
    # the volumes are the contract, whatever the seed
    assert other["files"]["Customers.csv"]["rows"] == 16_029
    assert other["customers"]["distinct_keys"] == 15_266
    assert other["sales"]["lines"] == 62_884 and other["sales"]["orders"] == 26_326


def test_scale_1_volumes_are_exact(raw: dict, expected: dict) -> None:
    customers, sales = raw["customers"], raw["sales"]
    assert len(customers) == 16_029
    assert len({r[0] for r in customers}) == 15_266
    assert [int(r[0]) for r in raw["products"]] == list(range(1, 2_518))
    assert [int(r[0]) for r in raw["stores"]] == list(range(0, 67))
    assert len(sales) == 62_884
    assert len({r[S["Order Number"]] for r in sales}) == 26_326
    assert len(raw["exchange_rates"]) == 3_655
    buyers = {r[S["CustomerKey"]] for r in sales}
    assert between(len(buyers), 11_500, 12_300)
    assert expected["sales"]["buying_customers"] == len(buyers)


def test_bad_scale_is_refused(tmp_path: Path) -> None:
    for scale in (0, -1, 1.5, True):
        with pytest.raises(ValueError):
            generate(tmp_path, scale=scale)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------
# Customers
# ---------------------------------------------------------------------------------------------------
def test_exact_duplicates_are_scattered_copies(raw: dict, expected: dict) -> None:
    rows = [tuple(r) for r in raw["customers"]]
    copies = Counter(rows)
    extra = sum(n - 1 for n in copies.values())
    assert between(extra / len(rows), 0.040, 0.048)
    assert extra == expected["sources"]["customers"]["exact_duplicates"] == 715
    assert any(n >= 3 for n in copies.values())  # a row present 3 times counts 2
    assert all(rows[i] != rows[i - 1] for i in range(1, len(rows))), "exact duplicates must not be adjacent"


def test_superseded_variants_of_each_kind_follow_the_best_record_rule(raw: dict, expected: dict) -> None:
    _, ranked = best_records(raw["customers"])
    variants = {key: order for key, order in ranked.items() if len(order) > 1}
    superseded = sum(len(order) - 1 for order in variants.values())
    rows = raw["customers"]
    assert len(rows) == len(ranked) + expected["sources"]["customers"]["exact_duplicates"] + superseded
    assert superseded == expected["sources"]["customers"]["rejected"]["superseded_duplicate"] == 48
    assert between(2 * superseded / len(rows), 0.004, 0.008)  # ~0.6% of rows share a key with another row

    kinds: Counter[str] = Counter()
    winner_later: Counter[str] = Counter()
    for order in variants.values():
        assert len(order) == 2
        (w_invalid, w_nonnull, w_line, winner), (l_invalid, l_nonnull, l_line, loser) = order
        assert winner != loser
        if w_invalid != l_invalid:
            kind = "email"
            assert email_status(winner[C["Email"]]) == "valid"
            assert email_status(loser[C["Email"]]) == "invalid"
        elif w_nonnull != l_nonnull:
            kind = "completeness"
            assert email_status(winner[C["Email"]]) == email_status(loser[C["Email"]]) == "valid"
            assert w_nonnull < l_nonnull  # negated counts: the winner has more fields
        else:
            kind = "first_row"
            assert w_line < l_line
            assert winner[C["City"]] != loser[C["City"]]
        kinds[kind] += 1
        winner_later[kind] += w_line > l_line
    assert kinds == Counter(expected["customers"]["superseded_by_kind"])
    assert all(n >= 5 for n in kinds.values()), kinds
    # the better record wins even when it comes later in the file
    assert winner_later["email"] >= 1 and winner_later["completeness"] >= 1
    assert winner_later["first_row"] == 0
    # no exact duplicate of a key that has variants (duplicates never collide with superseded rows)
    copies = Counter(tuple(r) for r in rows)
    for order in variants.values():
        assert all(copies[tuple(r[3])] == 1 for r in order)


def test_countries_states_and_zip_codes(raw: dict, best: dict, expected: dict) -> None:
    rows = raw["customers"]
    by_country = Counter(r[C["Country"]] for r in best.values())
    assert set(by_country) == set(COUNTRIES)
    assert by_country == Counter(expected["customers"]["by_country"])
    assert between(by_country["United States"] / len(best), 0.42, 0.48)
    for r in rows:
        assert r[C["Continent"]] == COUNTRIES[r[C["Country"]]][0]
        assert r[C["Gender"]] in ("Male", "Female")
        assert r[C["State"]] and r[C["City"]]
    assert any(r[C["State Code"]] == "TH" and r[C["State"]] == "Thüringen" for r in rows)
    blank_code = sum(r[C["State Code"]] == "" for r in rows)
    assert 1 <= blank_code <= 0.003 * len(rows)
    us_zips = [r[C["Zip Code"]] for r in rows if r[C["Country"]] == "United States" and r[C["Zip Code"]]]
    assert all(z.isdigit() and not z.startswith("0") for z in us_zips)
    assert sum(len(z) < 5 for z in us_zips) >= 100  # leading zeros lost, e.g. 1002


def test_mojibake_rows_are_repairable_and_clean_names_are_left_alone(raw: dict, expected: dict) -> None:
    rows = raw["customers"]
    garbled = [r for r in rows if any("Ã" in v for v in r)]
    assert between(len(garbled) / len(rows), 0.04, 0.08)
    assert len(garbled) == expected["customers"]["mojibake_rows"]
    fields_hit: Counter[str] = Counter()
    for r in garbled:
        for name in ("Name", "City", "State", "Email"):
            value = r[C[name]]
            if "Ã" in value:
                fields_hit[name] += 1
                fixed = value.encode("latin-1").decode("utf-8")
                assert "Ã" not in fixed and fixed != value
                assert all(ch.isascii() or ch in SAFE_ACCENTS for ch in fixed), fixed
            # no control characters, NBSP or soft hyphens in a garbled row, nothing beyond Latin-1
            assert all(ch.isascii() or ("\xa1" <= ch <= "\xff" and ch != "\xad") for ch in value), value
    assert set(fields_hit) == {"Name", "City", "State", "Email"}
    assert any("MÃ¶ller" in r[C["Name"]] or "JosÃ©" in r[C["Name"]] for r in garbled)
    clean = [r for r in rows if not any("Ã" in v for v in r)]
    assert any("ö" in r[C["Name"]] for r in clean)  # clean non-ASCII names exist (e.g. Möller)
    beyond = [r for r in rows if any(ord(ch) > 0xFF for ch in r[C["Name"]])]
    assert len(beyond) >= 20 and not any("Ã" in v for r in beyond for v in r)  # Łukasz, Dvořák: never garbled


def test_birthday_formats_and_impossible_dates(raw: dict, best: dict, expected: dict) -> None:
    rows = raw["customers"]
    formats = Counter(birthday_format(r[C["Birthday"]]) for r in rows)
    assert formats == Counter(expected["customers"]["birthday_formats"])
    share = {k: v / len(rows) for k, v in formats.items()}
    assert between(share["M/D/YYYY"], 0.52, 0.60)
    assert between(share["DD-MM-YYYY"], 0.14, 0.20)
    assert between(share["YYYY-MM-DD"], 0.14, 0.20)
    assert between(share["DD/MM/YYYY"], 0.07, 0.13)
    for r in rows:
        value = r[C["Birthday"]]
        if birthday_format(value) == "M/D/YYYY":
            assert not value.startswith("0") and "/0" not in value, value  # no zero padding
        if birthday_format(value) == "DD/MM/YYYY":
            assert int(value.split("/")[0]) > 12
    assert any(r[C["Birthday"]] == "4/9/1995" or re.fullmatch(r"\d/\d/\d{4}", r[C["Birthday"]]) for r in rows)
    unparseable = [r for r in best.values() if parse_birthday(r[C["Birthday"]]) is None]
    assert len(unparseable) >= 10
    assert len(unparseable) == expected["customers"]["birthday_unparseable"]
    assert between(len(unparseable) / len(best), 0.0005, 0.002)
    imputed = [r for r in unparseable if r[C["Age"]].strip() == ""]
    assert len(imputed) >= 5 and len(imputed) == expected["customers"]["age_imputed"]


def test_ages(sample_dir: Path, raw: dict, expected: dict) -> None:
    rows = raw["customers"]
    data = (sample_dir / "Customers.csv").read_bytes()
    assert re.search(rb',"\d{1,3}",', data), 'plain ages must appear quoted, like "50"'
    ages = [r[C["Age"]] for r in rows]
    blank = sum(a == "" for a in ages)
    assert between(blank / len(rows), 0.07, 0.13)
    assert blank == expected["customers"]["age_blank_rows"]
    assert sum(bool(re.fullmatch(r"\d+\.0", a)) for a in ages) / len(rows) > 0.7
    assert all(re.fullmatch(r"\d+(\.0)?", a) for a in ages if a)
    for r in rows:
        born = parse_birthday(r[C["Birthday"]])
        if born and r[C["Age"]]:
            years = AS_OF.year - born.year - ((AS_OF.month, AS_OF.day) < (born.month, born.day))
            assert int(float(r[C["Age"]])) == years, r


def test_emails(raw: dict, best: dict, expected: dict) -> None:
    rows = raw["customers"]
    statuses = Counter(email_status(r[C["Email"]]) for r in rows)
    assert between(statuses["missing"] / len(rows), 0.03, 0.07)
    assert between(statuses["invalid"] / len(rows), 0.025, 0.06)
    shapes = Counter(
        name for r in rows for name, rx in INVALID_SHAPES.items() if rx.fullmatch(r[C["Email"]])
    )  # fmt: skip
    assert set(shapes) == set(INVALID_SHAPES)
    assert sum(shapes.values()) == statuses["invalid"]  # every invalid email is one of the known shapes
    assert any(email_status(r[C["Email"]]) == "valid" and r[C["Email"]] != r[C["Email"]].lower() for r in rows)
    survivors = Counter(email_status(r[C["Email"]]) for r in best.values())
    assert survivors == Counter(expected["customers"]["email_status"])


# ---------------------------------------------------------------------------------------------------
# Products, stores, exchange rates
# ---------------------------------------------------------------------------------------------------
def test_products(sample_dir: Path, raw: dict, expected: dict) -> None:
    data = (sample_dir / "Products.csv").read_text(encoding="utf-8")
    assert re.search(r',"\$\d{1,3}\.\d{2} ",', data)  # "$6.62 "
    assert re.search(r',"\$\d{1,3},\d{3}\.\d{2} "', data)  # "$1,234.56 "
    assert '""' in data  # an embedded double quote, doubled
    rows = raw["products"]
    for r in rows:
        cost, price = r[P["Unit Cost USD"]], r[P["Unit Price USD"]]
        assert PRICE.fullmatch(cost) and PRICE.fullmatch(price), r
        assert cents(price) > cents(cost) > 0
        assert re.fullmatch(r"0\d", r[P["CategoryKey"]])
        assert re.fullmatch(r"\d{4}", r[P["SubcategoryKey"]]) and r[P["SubcategoryKey"]].startswith(r[P["CategoryKey"]])
        assert CATEGORIES[r[P["CategoryKey"]]] == r[P["Category"]]
        assert r[P["Product Name"]].startswith(r[P["Brand"]])
    assert {r[P["CategoryKey"]] for r in rows} == set(CATEGORIES)
    assert any(cents(r[P["Unit Price USD"]]) >= 100_000 for r in rows)
    with_quote = sum('"' in r[P["Product Name"]] for r in rows)
    with_comma = sum("," in r[P["Product Name"]] for r in rows)
    assert with_quote >= 1 and with_comma >= 1
    assert expected["products"]["rows"] == len(rows) == 2_517
    assert expected["products"]["categories"] == 8
    assert expected["products"]["subcategories"] == len({r[P["SubcategoryKey"]] for r in rows})
    assert (expected["products"]["names_with_quote"], expected["products"]["names_with_comma"]) == (
        with_quote,
        with_comma,
    )


def test_stores(raw: dict, expected: dict) -> None:
    rows = raw["stores"]
    online = rows[0]
    assert online[:4] == ["0", "Online", "Online", ""]
    for r in rows:
        assert re.fullmatch(r"[1-9]\d?/[1-9]\d?/\d{4}", r[4]), r  # M/D/YYYY, no zero padding
    for r in rows[1:]:
        assert r[1] in COUNTRIES and r[2] and r[3].isdigit()
    assert {r[1] for r in rows[1:]} == set(COUNTRIES)
    assert expected["stores"] | {"by_country": None} == {"rows": 67, "online_store_key": 0, "by_country": None}


def test_exchange_rates(raw: dict, expected: dict) -> None:
    rows = raw["exchange_rates"]
    assert len(rows) == 3_655 == expected["exchange_rates"]["rows"]
    assert len({(d, c) for d, c, _ in rows}) == 3_655
    days = {ymd(d) for d, _, _ in rows}
    assert len(days) == 731 == expected["exchange_rates"]["days"]
    assert (min(days), max(days)) == (date(2024, 1, 1), AS_OF)
    assert expected["exchange_rates"]["currencies"] == 5
    bands = {"USD": (1, 1), "EUR": (0.85, 0.99), "GBP": (0.72, 0.86), "CAD": (1.22, 1.42), "AUD": (1.42, 1.68)}
    seen: dict[str, list[Decimal]] = defaultdict(list)
    for _, cur, rate in rows:
        assert re.fullmatch(r"\d+\.\d{4}", rate)
        assert between(float(rate), *bands[cur]), (cur, rate)
        seen[cur].append(Decimal(rate))
    assert set(seen) == set(bands)
    assert all(v == "1.0000" for _, c, v in rows if c == "USD")
    assert len(set(seen["EUR"])) > 50  # a daily random walk, not a constant


# ---------------------------------------------------------------------------------------------------
# Sales
# ---------------------------------------------------------------------------------------------------
def test_sales_lines_orders_dates_channels(raw: dict, expected: dict) -> None:
    rows = raw["sales"]
    customers = {r[0]: r[C["Country"]] for r in raw["customers"]}
    stores = {r[0]: r[1] for r in raw["stores"]}
    products = {r[0] for r in raw["products"]}
    orders: dict[str, list[list[str]]] = defaultdict(list)
    for r in rows:
        orders[r[S["Order Number"]]].append(r)
    assert len({(r[0], r[1]) for r in rows}) == len(rows)
    mixed = 0
    for lines in orders.values():
        assert 1 <= len(lines) <= 7
        assert [int(r[S["Line Item"]]) for r in lines] == list(range(1, len(lines) + 1))
        assert len({(r[S["CustomerKey"]], r[S["StoreKey"]], r[S["Currency Code"]]) for r in lines}) == 1
        mixed += len({r[S["Order Date"]] for r in lines}) > 1
        latest = max(ymd(r[S["Order Date"]]) for r in lines)
        for r in lines:
            if r[S["Delivery Date"]]:
                assert latest < ymd(r[S["Delivery Date"]]) <= AS_OF
    assert mixed >= 10
    assert Counter(len(v) for v in orders.values()).keys() == set(range(1, 8))
    dates = [ymd(r[S["Order Date"]]) for r in rows]
    assert (min(dates), max(dates)) == (date(2024, 1, 1), AS_OF)
    blank = sum(r[S["Delivery Date"]] == "" for r in rows)
    online = sum(r[S["StoreKey"]] == "0" for r in rows)
    assert between(blank / len(rows), 0.12, 0.18) and blank == expected["sales"]["delivery_date_blank"]
    assert between(online / len(rows), 0.15, 0.21) and online == expected["sales"]["online_lines"]
    for r in rows:
        country = customers[r[S["CustomerKey"]]]
        assert r[S["ProductKey"]] in products
        assert r[S["StoreKey"]] == "0" or stores[r[S["StoreKey"]]] == country
        assert r[S["Currency Code"]] == COUNTRIES[country][1]
        assert 1 <= int(r[S["Quantity"]]) <= 10
    assert {r[S["Currency Code"]] for r in rows} == {"USD", "EUR", "GBP", "CAD", "AUD"}


def sales_figures_from_files(raw: dict) -> dict:
    """The money and count figures of expected.json's `sales` block, recomputed from the CSV rows."""
    price = {r[0]: Decimal(r[P["Unit Price USD"]].strip().lstrip("$").replace(",", "")) for r in raw["products"]}
    cost = {r[0]: Decimal(r[P["Unit Cost USD"]].strip().lstrip("$").replace(",", "")) for r in raw["products"]}
    rate = {(ymd(d), c): Decimal(v) for d, c, v in raw["exchange_rates"]}
    revenue = cost_total = local = Decimal(0)
    units = 0
    by_currency: Counter[str] = Counter()
    revenue_by_currency: dict[str, Decimal] = defaultdict(Decimal)
    for r in raw["sales"]:
        q = int(r[S["Quantity"]])
        line_revenue = q * price[r[S["ProductKey"]]]
        revenue += line_revenue
        cost_total += q * cost[r[S["ProductKey"]]]
        local += (line_revenue * rate[ymd(r[S["Order Date"]]), r[S["Currency Code"]]]).quantize(
            Decimal("0.01"), ROUND_HALF_UP
        )
        units += q
        by_currency[r[S["Currency Code"]]] += 1
        revenue_by_currency[r[S["Currency Code"]]] += line_revenue
    return {
        "revenue_usd": f"{revenue:.2f}",
        "cost_usd": f"{cost_total:.2f}",
        "margin_usd": f"{revenue - cost_total:.2f}",
        "revenue_local": f"{local:.2f}",
        "units": units,
        "lines": len(raw["sales"]),
        "orders": len({r[0] for r in raw["sales"]}),
        "lines_by_currency": dict(by_currency),
        "revenue_usd_by_currency": {c: f"{v:.2f}" for c, v in revenue_by_currency.items()},
    }


def test_expected_sales_figures_recomputed_from_the_files(raw: dict, expected: dict) -> None:
    recomputed = sales_figures_from_files(raw)
    assert {key: expected["sales"][key] for key in recomputed} == recomputed
    assert expected["as_of_date"] == "2025-12-31"


def test_expected_source_invariants(raw: dict, best: dict, expected: dict) -> None:
    for name, src in expected["sources"].items():
        assert src["raw_rows"] == len(raw[name])
        assert src["raw_rows"] == src["clean_rows"] + src["exact_duplicates"] + sum(src["rejected"].values()), name
    assert expected["sources"]["customers"]["clean_rows"] == len(best) == expected["customers"]["distinct_keys"]
    assert expected["sources"]["sales"]["rejected"] == {"orphan_customer": 0, "orphan_product": 0, "orphan_store": 0}
    for name in ("products", "stores", "exchange_rates"):
        assert expected["sources"][name]["clean_rows"] == len(raw[name])


# ---------------------------------------------------------------------------------------------------
# Scale and orphans
# ---------------------------------------------------------------------------------------------------
def test_scale_2_doubles_customers_and_sales_exactly(sample_dir: Path, expected: dict, tmp_path: Path) -> None:
    got = generate(tmp_path, scale=2, seed=7)
    _, customers = read_rows(tmp_path / "Customers.csv")
    _, sales = read_rows(tmp_path / "Sales.csv")
    assert len(customers) == 2 * 16_029 and len({r[0] for r in customers}) == 2 * 15_266
    assert len(sales) == 2 * 62_884 and len({r[0] for r in sales}) == 2 * 26_326
    buyers = {r[S["CustomerKey"]] for r in sales}
    assert len(buyers) == got["sales"]["buying_customers"] == 2 * expected["sales"]["buying_customers"]
    assert buyers <= {r[0] for r in customers}
    for name in ("Products.csv", "Stores.csv", "Exchange_Rates.csv"):
        assert (tmp_path / name).read_bytes() == (sample_dir / name).read_bytes(), name
    for key in ("raw_rows", "clean_rows", "exact_duplicates"):
        assert got["sources"]["customers"][key] == 2 * expected["sources"]["customers"][key]
    assert got["sources"]["customers"]["rejected"]["superseded_duplicate"] == 2 * 48
    assert got["customers"]["superseded_by_kind"] == {"email": 32, "completeness": 32, "first_row": 32}
    assert Counter(tuple(r) for r in customers).total() - len(set(map(tuple, customers))) == 2 * 715


def test_inject_orphans_appends_lines_with_exactly_one_bad_key(
    sample_dir: Path, raw: dict, expected: dict, tmp_path: Path
) -> None:
    got = generate(tmp_path, scale=1, seed=7, inject_orphans=True)
    clean_bytes = (sample_dir / "Sales.csv").read_bytes()
    data = (tmp_path / "Sales.csv").read_bytes()
    assert data.startswith(clean_bytes)  # the clean lines are untouched, orphans come after
    for name in ("Customers.csv", "Products.csv", "Stores.csv", "Exchange_Rates.csv"):
        assert (tmp_path / name).read_bytes() == (sample_dir / name).read_bytes(), name
    _, rows = read_rows(tmp_path / "Sales.csv")
    extra = rows[len(raw["sales"]) :]
    customers = {r[0] for r in raw["customers"]}
    products = {r[0] for r in raw["products"]}
    stores = {r[0] for r in raw["stores"]}
    old_orders = {r[0] for r in raw["sales"]}
    reasons: Counter[str] = Counter()
    for r in extra:
        assert r[S["Order Number"]] not in old_orders
        bad = [
            reason
            for reason, column, known in (
                ("orphan_customer", "CustomerKey", customers),
                ("orphan_product", "ProductKey", products),
                ("orphan_store", "StoreKey", stores),
            )
            if r[S[column]] not in known
        ]
        assert len(bad) == 1, r
        assert 1 <= int(r[S["Quantity"]]) <= 10 and r[S["Currency Code"]] in {"USD", "EUR", "GBP", "CAD", "AUD"}
        reasons[bad[0]] += 1
    assert reasons == {"orphan_customer": 25, "orphan_product": 15, "orphan_store": 10}
    src = got["sources"]["sales"]
    assert src["rejected"] == dict(reasons)
    assert src["raw_rows"] == len(rows) == got["files"]["Sales.csv"]["rows"]
    assert src["raw_rows"] == src["clean_rows"] + src["exact_duplicates"] + sum(src["rejected"].values())
    assert got["sales"] == expected["sales"]  # figures over clean lines only
    assert got["generator"]["inject_orphans"] is True


def test_plant_anomalies_appends_one_order_of_outliers(
    sample_dir: Path, raw: dict, expected: dict, tmp_path: Path
) -> None:
    got = generate(tmp_path, scale=1, seed=7, plant_anomalies=True)
    assert (tmp_path / "Sales.csv").read_bytes().startswith((sample_dir / "Sales.csv").read_bytes())
    for name in ("Customers.csv", "Products.csv", "Stores.csv", "Exchange_Rates.csv"):
        assert (tmp_path / name).read_bytes() == (sample_dir / name).read_bytes(), name
    _, rows = read_rows(tmp_path / "Sales.csv")
    planted = rows[len(raw["sales"]) :]
    assert len(planted) == 5 and len({r[0] for r in planted}) == 1
    assert {(r[S["Order Date"]], r[S["Quantity"]]) for r in planted} == {("03/12/2025", "250")}
    keys = [f"{r[0]}-{r[1]}" for r in planted]
    assert got["anomalies"]["planted"] == {"order_lines": keys, "days": ["2025-03-12"]}
    assert got["anomalies"]["days"] == ["2025-03-12"]  # the spike hides the natural outlier days
    assert got["anomalies"]["order_lines"] < expected["anomalies"]["order_lines"]
    recomputed = sales_figures_from_files({**raw, "sales": rows})
    assert {key: got["sales"][key] for key in recomputed} == recomputed
    assert got["sources"]["sales"]["raw_rows"] == got["sources"]["sales"]["clean_rows"] == len(rows)
    assert got["sales"]["buying_customers"] == expected["sales"]["buying_customers"]


def test_expected_anomalies_without_planting(expected: dict) -> None:
    anomalies = expected["anomalies"]
    assert anomalies["planted"] == {"order_lines": [], "days": []}
    assert anomalies["order_lines"] == 1568 and anomalies["days"] == ["2024-11-11", "2025-12-07"]
