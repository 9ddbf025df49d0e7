"""Each cleaning rule (docs/cleaning-rules.md) on a tiny hand-written set of files, built on both targets.

The five files below are small enough to read: every line exists for one rule, and the tests name the
line they look at. The build must succeed (all dbt tests pass) on input this messy.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest

from core.warehouse import Warehouse
from tests.dbt.conftest import TARGETS, loaded_and_built, rows


def latin1_mojibake(text: str) -> str:
    """UTF-8 bytes read as Latin-1: `Möller` -> `MÃ¶ller`."""
    return text.encode("utf-8").decode("latin-1")


def cp1252_mojibake(text: str) -> str:
    """UTF-8 bytes read as Windows-1252: `Straße` -> `StraÃŸe`, `’` -> `â€™`."""
    return text.encode("utf-8").decode("cp1252")


CUSTOMERS = f"""CustomerKey,Gender,Name,City,State Code,State,Zip Code,Country,Continent,Birthday,Age,Email
1,Male,  {latin1_mojibake("Jens Möller")}  ,München,BY,{latin1_mojibake("Thüringen")},80331,Germany,Europe,4/9/1995,29.0,JENS@Example.COM
2,Female,Łucja Nowak,Łódź,,Łódzkie,90001,Poland,Europe,25/07/1975,,{latin1_mojibake("łucja")}@example.pl
3,Female,{latin1_mojibake("Ana José")},{cp1252_mojibake("Straße")},SP,O’Brien Land,01310,Brazil,South America,18-10-1974,"50",ana@example.com
4,Male,Bob Stone,Boston,MA,Massachusetts,2108,United States,North America,1980-02-29,,1585_missingatsign.com
5,Male,Carl Mix,Boston,MA,Massachusetts,2108,United States,North America,2/30/1981,,
6,Female,Dee Space,Austin,TX,Texas,78701,United States,North America,1/2/95,40.0,4734_user@ gmail.com
7,Female,Eve Dots,Austin,TX,Texas,78701,United States,North America,12/1/1990,35.0,7566_user@domain..com
8,Female,Fay Domain,Austin,TX,Texas,78701,United States,North America,12/1/1990,35.0,22540_user@invalid_domain
9,Male,Gus Blank,Austin,TX,Texas,78701,United States,North America,12/1/1990,35.0,54560_spaces in name@gmail.com
10,Male,Hal Short,Austin,TX,Texas,78701,United States,North America,12/1/1990,35.0,user@domain.c
1,Male,  {latin1_mojibake("Jens Möller")}  ,München,BY,{latin1_mojibake("Thüringen")},80331,Germany,Europe,4/9/1995,29.0,JENS@Example.COM
11,Male,Ian Email,Leeds,WYK,West Yorkshire,LS1,United Kingdom,Europe,3/3/1983,42.0,ian@example
11,Male,Ian Email,Leeds,WYK,West Yorkshire,LS1,United Kingdom,Europe,3/3/1983,42.0,ian@example.co.uk
12,Male,Jon Full,Leeds,,West Yorkshire,LS1,United Kingdom,Europe,3/3/1983,42.0,jon@example.com
12,Male,Jon Full,Leeds,WYK,West Yorkshire,LS1,United Kingdom,Europe,3/3/1983,42.0,jon@example.com
13,Male,Kim First,Saint Paul,MN,Minnesota,55102,United States,North America,3/3/1983,42.0,kim@example.com
13,Male,Kim First,St. Paul,MN,Minnesota,55102,United States,North America,3/3/1983,42.0,kim@example.com
X14,Male,Lee Badkey,Leeds,WYK,West Yorkshire,LS1,United Kingdom,Europe,3/3/1983,42.0,lee@example.com
"""

PRODUCTS = '''ProductKey,Product Name,Brand,Color,Unit Cost USD,Unit Price USD,SubcategoryKey,Subcategory,CategoryKey,Category
1,"Widget, large ""Pro""",Contoso,Red,"$1,234.56 ","$2,469.12 ",0101,Audio,01,Audio
2,Gadget,Contoso,Blue,$6.62 ,$12.00 ,0202,Phones,02,Phones
3,Broken price,Contoso,Blue,$abc ,$1.00 ,0202,Phones,02,Phones
'''

STORES = """StoreKey,Country,State,Square Meters,Open Date
0,Online,Online,,1/1/2010
1,Germany,Bayern,1000,3/15/2012
"""

EXCHANGE_RATES = """Date,Currency,Exchange
01/01/2024,USD,1.0000
01/01/2024,EUR,0.9000
01/05/2024,EUR,0.9500
01/06/2024,EUR,abc
"""

SALES = """Order Number,Line Item,Order Date,Delivery Date,CustomerKey,StoreKey,ProductKey,Quantity,Currency Code
1001,1,01/03/2024,01/08/2024,1,1,1,2,EUR
1001,2,01/05/2024,01/08/2024,1,1,2,1,EUR
1002,1,01/04/2024,,3,0,2,3,USD
1003,1,01/04/2024,,99999,1,1,1,USD
1004,1,01/04/2024,,1,1,99,1,USD
1005,1,01/04/2024,,1,77,1,1,USD
1006,1,01/04/2024,,1,1,1,0,USD
1007,1,01/04/2024,,1,1,1,2.5,USD
1008,1,01/04/2024,,1,1,1,1,XYZ
1009,1,13/45/2024,,1,1,1,1,USD
10X0,1,01/04/2024,,1,1,1,1,USD
1010,1,12/31/2023,,1,1,1,1,EUR
1001,1,01/03/2024,01/08/2024,1,1,1,2,EUR
1011,1,01/07/2024,,5,1,2,1,usd
1011,1,01/07/2024,,5,1,2,4,USD
1012,1,01/07/2024,,1,1,3,1,USD
"""

FILES = {
    "Customers.csv": CUSTOMERS,
    "Products.csv": PRODUCTS,
    "Stores.csv": STORES,
    "Exchange_Rates.csv": EXCHANGE_RATES,
    "Sales.csv": SALES,
}


@pytest.fixture(scope="module", params=TARGETS)
def quirks(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, target_available
) -> Iterator[Warehouse]:
    """The hand-written files loaded and built (every dbt test passing) on each target."""
    target_available(request.param)
    data_dir = tmp_path_factory.mktemp(f"quirks-{request.param}")
    for name, text in FILES.items():
        (data_dir / name).write_text(text, encoding="utf-8")
    yield from loaded_and_built(request.param, data_dir, data_dir / "warehouse")


def customer(warehouse: Warehouse, key: int) -> dict:
    found = rows(warehouse, f"select * from marts.dim_customers where customer_key = {key}")
    assert len(found) == 1, f"customer {key}: {found}"
    return found[0]


def rejected(warehouse: Warehouse, source: str) -> dict[int, str]:
    """source_row -> reason of the source's rejected rows."""
    return {
        r["source_row"]: r["reason"]
        for r in rows(warehouse, f"select * from marts.rejected_records where source = '{source}'")
    }


def test_text_is_trimmed_and_mojibake_repaired(quirks: Warehouse) -> None:
    jens = customer(quirks, 1)
    assert (jens["name"], jens["state"], jens["city"]) == ("Jens Möller", "Thüringen", "München")
    ana = customer(quirks, 3)
    assert ana["name"] == "Ana José"
    assert ana["city"] == "Straße"  # the Windows-1252 variant (Ÿ for byte 0x9F)
    assert ana["state"] == "O’Brien Land"  # a real curly quote is not mojibake: left alone


def test_text_above_latin1_is_left_alone_and_mojibake_repaired_in_emails(quirks: Warehouse) -> None:
    lucja = customer(quirks, 2)
    assert (lucja["name"], lucja["city"], lucja["state"]) == ("Łucja Nowak", "Łódź", "Łódzkie")
    assert lucja["email"] == "łucja@example.pl"
    assert lucja["was_mojibake"] is True


def test_blank_becomes_null(quirks: Warehouse) -> None:
    assert customer(quirks, 2)["state_code"] is None
    store = rows(quirks, "select * from marts.dim_stores where store_key = 0")[0]
    assert (store["square_meters"], store["is_online"], store["store_name"]) == (None, True, "Online")


def test_birthday_formats_and_the_day_first_rule(quirks: Warehouse) -> None:
    assert (customer(quirks, 1)["birthday"], customer(quirks, 1)["birthday_format"]) == (date(1995, 4, 9), "M/D/YYYY")
    assert (customer(quirks, 2)["birthday"], customer(quirks, 2)["birthday_format"]) == (
        date(1975, 7, 25),
        "DD/MM/YYYY",
    )
    assert (customer(quirks, 3)["birthday"], customer(quirks, 3)["birthday_format"]) == (
        date(1974, 10, 18),
        "DD-MM-YYYY",
    )
    assert (customer(quirks, 4)["birthday"], customer(quirks, 4)["birthday_format"]) == (
        date(1980, 2, 29),
        "YYYY-MM-DD",
    )
    # February 30th and a two-digit year are not dates: null and flagged, the customer kept.
    assert (customer(quirks, 5)["birthday"], customer(quirks, 5)["birthday_format"]) == (None, "invalid")
    assert (customer(quirks, 6)["birthday"], customer(quirks, 6)["birthday_format"]) == (None, "invalid")


def test_age_reported_then_from_birthday_then_mean(quirks: Warehouse) -> None:
    assert (customer(quirks, 1)["age"], customer(quirks, 1)["age_source"]) == (29, "reported")  # `29.0`
    assert (customer(quirks, 3)["age"], customer(quirks, 3)["age_source"]) == (50, "reported")  # `"50"`
    # Blank age: from the birthday on the as-of date, the latest clean order date (2024-01-07).
    assert (customer(quirks, 2)["age"], customer(quirks, 2)["age_source"]) == (48, "birthday")
    assert (customer(quirks, 4)["age"], customer(quirks, 4)["age_source"]) == (43, "birthday")
    # Blank age and no valid birthday: the mean age of everyone else, flagged.
    known = rows(quirks, "select age from marts.dim_customers where not age_imputed")
    mean = round(Decimal(sum(r["age"] for r in known)) / len(known))
    carl = customer(quirks, 5)
    assert (carl["age"], carl["age_imputed"], carl["age_source"]) == (mean, True, "imputed")
    assert rows(quirks, "select count(*) as n from marts.dim_customers where age_imputed")[0]["n"] == 1


@pytest.mark.parametrize(
    ("key", "status", "email"),
    [
        (1, "valid", "jens@example.com"),
        (4, "invalid", None),  # 1585_missingatsign.com
        (5, "missing", None),
        (6, "invalid", None),  # 4734_user@ gmail.com
        (7, "invalid", None),  # 7566_user@domain..com
        (8, "invalid", None),  # 22540_user@invalid_domain
        (9, "invalid", None),  # 54560_spaces in name@gmail.com
        (10, "invalid", None),  # user@domain.c
    ],
)
def test_email_is_lower_cased_and_validated(quirks: Warehouse, key: int, status: str, email: str | None) -> None:
    found = customer(quirks, key)
    assert (found["email_status"], found["email"]) == (status, email)


def test_duplicates_and_the_best_record_rule(quirks: Warehouse) -> None:
    dispositions = {
        r["source_row"]: r["disposition"]
        for r in rows(quirks, "select source_row, disposition from intermediate.int_customers_classified")
    }
    assert dispositions[11] == "exact_duplicate"  # byte-identical copy of line 1
    # Key 11: the valid email wins, although it comes second.
    assert (dispositions[12], dispositions[13]) == ("superseded_duplicate", "clean")
    assert customer(quirks, 11)["email"] == "ian@example.co.uk"
    # Key 12: the record with more non-null fields (state code present) wins.
    assert (dispositions[14], dispositions[15]) == ("superseded_duplicate", "clean")
    assert customer(quirks, 12)["state_code"] == "WYK"
    # Key 13: a tie on email and completeness: the first line wins.
    assert (dispositions[16], dispositions[17]) == ("clean", "superseded_duplicate")
    assert customer(quirks, 13)["city"] == "Saint Paul"
    # A key that is not an integer is rejected.
    assert dispositions[18] == "invalid_key"
    assert rejected(quirks, "customers") == {
        12: "superseded_duplicate",
        14: "superseded_duplicate",
        17: "superseded_duplicate",
        18: "invalid_key",
    }


def test_raw_record_is_json_of_the_raw_line(quirks: Warehouse) -> None:
    record = rows(
        quirks, "select raw_record from marts.rejected_records where source = 'customers' and source_row = 18"
    )
    assert json.loads(record[0]["raw_record"]) == {
        "customer_key": "X14", "gender": "Male", "name": "Lee Badkey", "city": "Leeds", "state_code": "WYK",
        "state": "West Yorkshire", "zip_code": "LS1", "country": "United Kingdom", "continent": "Europe",
        "birthday": "3/3/1983", "age": "42.0", "email": "lee@example.com",
    }  # fmt: skip


def test_prices_become_numeric_and_category_keys_keep_leading_zeros(quirks: Warehouse) -> None:
    products = {r["product_key"]: r for r in rows(quirks, "select * from marts.dim_products")}
    assert (products[1]["unit_cost_usd"], products[1]["unit_price_usd"]) == (Decimal("1234.56"), Decimal("2469.12"))
    assert (products[2]["unit_cost_usd"], products[2]["unit_price_usd"]) == (Decimal("6.62"), Decimal("12.00"))
    assert (products[1]["subcategory_key"], products[1]["category_key"]) == ("0101", "01")
    assert products[1]["product_name"] == 'Widget, large "Pro"'
    assert 3 not in products
    assert rejected(quirks, "products") == {3: "invalid_price"}


def test_sales_rejections_with_their_reason(quirks: Warehouse) -> None:
    assert rejected(quirks, "sales") == {
        4: "orphan_customer",
        5: "orphan_product",
        6: "orphan_store",
        7: "invalid_quantity",  # 0
        8: "invalid_quantity",  # 2.5
        9: "unknown_currency",  # XYZ
        10: "invalid_date",  # 13/45/2024: not blank, no rule reads it
        11: "invalid_key",  # order number 10X0
        12: "missing_exchange_rate",  # EUR before its first rate
        15: "superseded_duplicate",  # order 1011 line 1 again, a different quantity: the first line wins
        16: "orphan_product",  # product 3 was rejected for its price, so it is not in the dimension
    }
    duplicates = rows(
        quirks, "select source_row from intermediate.int_sales_classified where disposition = 'exact_duplicate'"
    )
    assert duplicates == [{"source_row": 13}]
    assert rejected(quirks, "exchange_rates") == {4: "invalid_rate"}


def test_money_and_the_latest_rate_on_or_before_the_order_date(quirks: Warehouse) -> None:
    lines = {
        (r["order_number"], r["line_item"]): r
        for r in rows(quirks, "select * from marts.fct_sales order by order_number, line_item")
    }
    assert sorted(lines) == [(1001, 1), (1001, 2), (1002, 1), (1011, 1)]
    first = lines[(1001, 1)]  # 2 x $2,469.12 in EUR on 01/03: the 01/01 rate 0.90 applies
    assert (first["revenue_usd"], first["cost_usd"], first["margin_usd"]) == (
        Decimal("4938.24"),
        Decimal("2469.12"),
        Decimal("2469.12"),
    )
    assert (first["rate_date"], first["exchange_rate"], first["revenue_local"]) == (
        date(2024, 1, 1),
        Decimal("0.9"),
        Decimal("4444.42"),  # 4444.416 rounded
    )
    second = lines[(1001, 2)]  # on 01/05 the new rate of that very day applies
    assert (second["rate_date"], second["revenue_local"]) == (date(2024, 1, 5), Decimal("11.40"))
    online = lines[(1002, 1)]
    assert (online["is_online"], online["revenue_local"], online["currency_code"]) == (True, Decimal("36.00"), "USD")
    assert lines[(1011, 1)]["currency_code"] == "USD"  # `usd` upper-cased
    order = rows(quirks, "select * from marts.fct_orders where order_number = 1001")[0]
    assert (order["lines"], order["units"], order["order_date"], order["last_line_date"]) == (
        2,
        3,
        date(2024, 1, 3),
        date(2024, 1, 5),
    )
    assert order["delivery_date"] == date(2024, 1, 8)


def test_row_conservation_per_source(quirks: Warehouse) -> None:
    counts = {
        r["source"]: r["n"]
        for r in rows(quirks, "select source, count(*) as n from marts.rejected_records group by source")
    }
    assert CUSTOMERS.count("\n") - 1 == 13 + 1 + counts["customers"] == 18  # 13 keys + 1 exact copy + 4 rejected
    clean = {
        "customers": "marts.dim_customers",
        "products": "marts.dim_products",
        "stores": "marts.dim_stores",
        "exchange_rates": "intermediate.int_exchange_rates_deduplicated",
        "sales": "marts.fct_sales",
    }
    for (file, text), (source, model) in zip(FILES.items(), clean.items(), strict=True):
        kept = rows(quirks, f"select count(*) as n from {model}")[0]["n"]
        dups = rows(
            quirks,
            f"select count(*) as n from intermediate.int_{source}_classified where disposition = 'exact_duplicate'",
        )[0]["n"]
        assert text.count("\n") - 1 == kept + dups + counts.get(source, 0), file


def test_z_scores_are_standardised(quirks: Warehouse) -> None:
    features = rows(quirks, "select * from marts.customer_features order by customer_key")
    assert [f["customer_key"] for f in features] == [1, 3, 5]
    for column in ("recency_days", "frequency", "monetary_usd", "age"):
        values = [float(f[column]) for f in features]
        mean = sum(values) / len(values)
        sd = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5
        for f, v in zip(features, values, strict=True):
            if sd:
                assert f[f"{column}_z"] == pytest.approx((v - mean) / sd), column
            else:  # every customer has one order: the z-score of a constant is undefined
                assert f[f"{column}_z"] is None, column


def test_dim_dates_covers_every_fact_date(quirks: Warehouse) -> None:
    days = rows(quirks, "select min(date_day) as lo, max(date_day) as hi, count(*) as n from marts.dim_dates")[0]
    assert (days["lo"], days["hi"], days["n"]) == (date(2024, 1, 1), date(2024, 1, 8), 8)
    monday = rows(quirks, "select * from marts.dim_dates where date_day = date '2024-01-01'")[0]
    assert (monday["day_name"], monday["month_name"], monday["day_of_week"], monday["is_weekend"]) == (
        "Monday",
        "January",
        1,
        False,
    )
