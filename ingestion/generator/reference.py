"""Reference data of the sample, read from `data/*.json` in this package (importlib.resources) into tuples.

countries.json: per country its continent, currency, share of customers (%), zip-code style, number of physical
stores, cultures of its people (weight %), email domains, and states with their share and cities (each with the
base its zip codes are drawn from and, for some, a second spelling of the same city).
names.json: first names (male, female) and last names per culture; "pl" holds names with letters beyond Latin-1
(always written clean, never as mojibake).
products.json: colors, model letters, the sizes a name template can take (`{gb}`, `{in}`, ...; `{in}` is a screen
size in inches, written with a `"` mark), and the categories with their key, price range in USD, brands and
subcategories (key, share of products, name templates).
currencies.json: the currencies in the order Exchange_Rates.csv lists them each day, with their starting rate per USD.
quirks.json: the shapes of invalid emails (`{n}` a number) and of impossible birthdays (`{y}` a year).
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any, NamedTuple


class City(NamedTuple):
    """A city; zip_base is an int where zip codes are numbers, else the outward code (`SW1`, `M5V`)."""

    name: str
    zip_base: int | str
    alternative: str | None  # another spelling of the same city ("San Jose" for "San José"), or None


class State(NamedTuple):
    """A state (province, region) of a country."""

    code: str
    name: str
    weight: int  # relative share of the country's customers and stores
    cities: tuple[City, ...]


class Country(NamedTuple):
    """A country customers and stores are in."""

    name: str
    continent: str
    currency: str
    weight: int  # share of customers, %
    zip_style: str  # "us", "uk", "ca", "nl", "5" or "4" (digits)
    physical_stores: int
    cultures: dict[str, int]  # culture -> share of the country's customers, %
    email_domains: tuple[str, ...]
    states: tuple[State, ...]


class Culture(NamedTuple):
    """The names people of one culture are drawn from."""

    male: tuple[str, ...]
    female: tuple[str, ...]
    last: tuple[str, ...]


class Subcategory(NamedTuple):
    """A product subcategory; templates are product names with size placeholders (`{gb}GB MP3 Player`)."""

    key: str
    name: str
    weight: int  # relative share of the products
    templates: tuple[str, ...]


class Category(NamedTuple):
    """A product category; prices are drawn log-uniformly in price_usd (whole dollars, low to high)."""

    key: str
    name: str
    price_usd: tuple[int, int]
    brands: tuple[str, ...]
    subcategories: tuple[Subcategory, ...]


def load(name: str) -> Any:
    """The parsed JSON of `data/<name>` in this package; FileNotFoundError if the package lacks it."""
    return json.loads((files(__package__) / "data" / name).read_text(encoding="utf-8"))


def _country(c: dict) -> Country:
    states = tuple(
        State(
            s["code"],
            s["state"],
            s["weight"],
            tuple(City(city["city"], city["zip_base"], city.get("alternative_spelling")) for city in s["cities"]),
        )
        for s in c["states"]
    )
    return Country(
        c["country"],
        c["continent"],
        c["currency"],
        c["customer_weight"],
        c["zip_style"],
        c["physical_stores"],
        dict(c["cultures"]),
        tuple(c["email_domains"]),
        states,
    )


def _category(c: dict) -> Category:
    subcategories = tuple(
        Subcategory(s["key"], s["subcategory"], s["weight"], tuple(s["templates"])) for s in c["subcategories"]
    )
    low, high = c["price_usd"]
    return Category(c["key"], c["category"], (low, high), tuple(c["brands"]), subcategories)


COUNTRIES: tuple[Country, ...] = tuple(_country(c) for c in load("countries.json"))
CULTURES: dict[str, Culture] = {
    culture: Culture(tuple(n["male"]), tuple(n["female"]), tuple(n["last"]))
    for culture, n in load("names.json").items()
}

_products = load("products.json")
CATEGORIES: tuple[Category, ...] = tuple(_category(c) for c in _products["categories"])
COLORS: tuple[str, ...] = tuple(_products["colors"])
MODEL_LETTERS: str = _products["model_letters"]
PRODUCT_SIZES: dict[str, tuple[int | str, ...]] = {unit: tuple(v) for unit, v in _products["sizes"].items()}

_currencies = load("currencies.json")
CURRENCIES: tuple[str, ...] = tuple(c["currency"] for c in _currencies)  # file order per day
USD_RATES: dict[str, float] = {c["currency"]: c["usd_rate"] for c in _currencies}  # starting rate, per USD

_quirks = load("quirks.json")
INVALID_EMAIL_SHAPES: tuple[str, ...] = tuple(_quirks["invalid_email_shapes"])
IMPOSSIBLE_BIRTHDAYS: tuple[str, ...] = tuple(_quirks["impossible_birthdays"])
