"""Deterministic sample data with the volumes and quirks of the real retail files (SPEC section 5).

`generate(out_dir, scale, seed)` writes the five CSVs and `expected.json`: the figures a correct warehouse
must show for exactly this data, computed here from what was generated (never from the dbt SQL).
Only the standard library is used, with one `random.Random` stream per file, so the same seed gives
byte-identical files on every machine.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from ingestion.contract import SOURCES_BY_NAME

# ---------------------------------------------------------------------------------------------- volumes
CUSTOMER_KEYS = 15_266
CUSTOMER_ROWS = 16_029
SUPERSEDED_KEYS = 58  # keys with one extra, different row (0.7% of rows share a key with another row)
EXACT_DUPLICATES = CUSTOMER_ROWS - CUSTOMER_KEYS - SUPERSEDED_KEYS  # 705 extra identical lines (4.4%)
BUYERS = 11_900
PRODUCTS = 2_517
STORES = 67
ORDERS = 26_326
SALES_LINES = 62_884
FIRST_DAY = date(2024, 1, 1)
LAST_DAY = date(2025, 12, 31)
AS_OF = LAST_DAY
INVALID_BIRTHDAYS = 16  # per scale: impossible dates (-> null); half of them also have a blank age
ORPHANS = {"orphan_customer": 25, "orphan_product": 15, "orphan_store": 10}

# ---------------------------------------------------------------------------------------------- reference
# country: (continent, currency, weight %, stores, [(state code, state, zip maker)])
COUNTRIES: dict[str, tuple[str, str, int, int, list[tuple[str, str, str]]]] = {
    "United States": (
        "North America",
        "USD",
        45,
        24,
        [
            ("CA", "California", "9####"),
            ("NY", "New York", "1####"),
            ("TX", "Texas", "7####"),
            ("FL", "Florida", "3####"),
            ("WA", "Washington", "98###"),
            ("IL", "Illinois", "6####"),
            ("MA", "Massachusetts", "01###"),
            ("NJ", "New Jersey", "07###"),
            ("CT", "Connecticut", "06###"),
            ("ME", "Maine", "04###"),
            ("OH", "Ohio", "4####"),
            ("GA", "Georgia", "3####"),
        ],
    ),
    "United Kingdom": (
        "Europe",
        "GBP",
        11,
        6,
        [
            ("ENG", "England", "@@# #@@"),
            ("SCT", "Scotland", "@@# #@@"),
            ("WLS", "Wales", "@@# #@@"),
            ("NIR", "Northern Ireland", "BT# #@@"),
        ],
    ),
    "Canada": (
        "North America",
        "CAD",
        9,
        6,
        [
            ("ON", "Ontario", "@#@ #@#"),
            ("QC", "Québec", "@#@ #@#"),
            ("BC", "British Columbia", "V#@ #@#"),
            ("AB", "Alberta", "T#@ #@#"),
        ],
    ),
    "Germany": (
        "Europe",
        "EUR",
        9,
        8,
        [
            ("TH", "Thüringen", "9####"),
            ("BY", "Bayern", "8####"),
            ("BW", "Baden-Württemberg", "7####"),
            ("NW", "Nordrhein-Westfalen", "4####"),
            ("BE", "Berlin", "1####"),
            ("HH", "Hamburg", "2####"),
        ],
    ),
    "Australia": (
        "Australia",
        "AUD",
        8,
        6,
        [
            ("NSW", "New South Wales", "2###"),
            ("VIC", "Victoria", "3###"),
            ("QLD", "Queensland", "4###"),
            ("SA", "South Australia", "5###"),
            ("WA", "Western Australia", "6###"),
        ],
    ),
    "Netherlands": (
        "Europe",
        "EUR",
        7,
        5,
        [
            ("NH", "Noord-Holland", "1### @@"),
            ("ZH", "Zuid-Holland", "2### @@"),
            ("UT", "Utrecht", "3### @@"),
            ("GR", "Groningen", "9### @@"),
        ],
    ),
    "France": (
        "Europe",
        "EUR",
        6,
        6,
        [
            ("IDF", "Paris", "75###"),
            ("ARA", "Rhône-Alpes", "69###"),
            ("PAC", "Provence-Alpes-Côte d'Azur", "13###"),
            ("OCC", "Occitanie", "31###"),
            ("BRE", "Bretagne", "35###"),
        ],
    ),
    "Italy": (
        "Europe",
        "EUR",
        5,
        5,
        [
            ("RM", "Roma", "00###"),
            ("MI", "Milano", "20###"),
            ("TO", "Torino", "10###"),
            ("NA", "Napoli", "80###"),
            ("PA", "Palermo", "90###"),
        ],
    ),
}
CITIES: dict[str, list[str]] = {
    "United States": [
        "Springfield",
        "Riverside",
        "Fairview",
        "Madison",
        "Georgetown",
        "Salem",
        "Franklin",
        "Clinton",
        "Greenville",
        "Bristol",
        "Arlington",
        "Ashland",
        "Burlington",
        "Dover",
    ],
    "United Kingdom": ["London", "Leeds", "Glasgow", "Cardiff", "Belfast", "York", "Bath", "Oxford", "Hull"],
    "Canada": ["Toronto", "Montréal", "Vancouver", "Calgary", "Ottawa", "Québec", "Trois-Rivières", "Halifax"],
    "Germany": ["Erfurt", "München", "Köln", "Düsseldorf", "Nürnberg", "Jena", "Lübeck", "Göttingen", "Essen"],
    "Australia": ["Sydney", "Melbourne", "Brisbane", "Adelaide", "Perth", "Geelong", "Cairns", "Wollongong"],
    "Netherlands": ["Amsterdam", "Rotterdam", "Utrecht", "Den Haag", "Groningen", "Haarlem", "Leiden"],
    "France": ["Paris", "Lyon", "Marseille", "Toulouse", "Orléans", "Besançon", "Nîmes", "Rennes", "Sète"],
    "Italy": ["Roma", "Milano", "Torino", "Napoli", "Palermo", "Cefalù", "Forlì", "Cantù", "Bologna"],
}
FIRST_NAMES = [
    "James",
    "Mary",
    "Robert",
    "Linda",
    "Michael",
    "Sarah",
    "David",
    "Emma",
    "Thomas",
    "Laura",
    "Daniel",
    "Olivia",
    "Peter",
    "Anna",
    "Mark",
    "Julia",
    "Paul",
    "Sophie",
    "Lucas",
    "Chloe",
    "Noah",
    "Mia",
    "Liam",
    "Ella",
    "Jack",
    "Grace",
    "Henry",
    "Lily",
    "Oscar",
    "Ruby",
]
LAST_NAMES = [
    "Smith",
    "Johnson",
    "Brown",
    "Taylor",
    "Wilson",
    "Davies",
    "Evans",
    "Thomas",
    "Roberts",
    "Walker",
    "Wright",
    "Thompson",
    "White",
    "Hughes",
    "Edwards",
    "Green",
    "Hall",
    "Wood",
    "Harris",
    "Martin",
    "Jackson",
    "Clarke",
    "Lewis",
    "Young",
    "King",
    "Baker",
    "Hill",
    "Moore",
    "Bakker",
    "Visser",
]
# Accented names whose UTF-8 bytes, decoded as Latin-1, give printable characters only (mojibake-safe).
ACCENTED_FIRST = [
    "José",
    "Jürgen",
    "Jörg",
    "Hélène",
    "François",
    "Chloé",
    "Zoë",
    "Björn",
    "Søren",
    "Ramón",
    "Noël",
    "Loïc",
    "Anaïs",
    "Gaëlle",
    "Thérèse",
    "Renée",
    "Mónica",
    "Inês",
    "Joël",
    "Mathéo",
]
ACCENTED_LAST = [
    "Möller",
    "Müller",
    "Schröder",
    "Bäcker",
    "Köhler",
    "Jäger",
    "Lefèvre",
    "Dubé",
    "Gonçalves",
    "Peña",
    "Muñoz",
    "Brandão",
    "Lønborg",
    "Strömberg",
    "Hübner",
    "Krüger",
    "Gérard",
    "Ferrè",
    "Niccolò",
    "Bégin",
]
# Clean names beyond Latin-1: never mojibake, and a repair must leave them alone.
WIDE_NAMES = ["Łukasz Dvořák", "Agnieszka Wałęsa", "Tomáš Dvořák", "Zoë Šimić", "Mateusz Łąka"]
EMAIL_DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "web.de", "orange.fr", "libero.it", "icloud.com"]
INVALID_EMAILS = [
    "{n}_missingatsign.com",
    "{n}_user@ gmail.com",
    "{n}_user@domain..com",
    "{n}_user@invalid_domain",
    "{n}_spaces in name@gmail.com",
    "user@domain.c",
]

COUNTRY_NAMES = list(COUNTRIES)
COUNTRY_WEIGHTS = [c[2] for c in COUNTRIES.values()]
# Spelling variants of cities, for same-key rows that differ only there.
CITY_VARIANT = {
    "München": "Muenchen",
    "Köln": "Koeln",
    "Montréal": "Montreal",
    "Québec": "Quebec City",
    "Den Haag": "The Hague",
    "Roma": "Rome",
    "Milano": "Milan",
    "Torino": "Turin",
    "Napoli": "Naples",
}

CATEGORIES = [
    ("01", "Audio", ["MP4&MP3", "Recording Pen", "Bluetooth Headphones"]),
    ("02", "TV and Video", ["Televisions", "Home Theater System", "Car Video"]),
    ("03", "Computers", ["Laptops", "Desktops", "Monitors", "Projectors & Screens", "Printers, Scanners & Fax"]),
    ("04", "Cameras and camcorders", ["Digital Cameras", "Digital SLR Cameras", "Camcorders"]),
    ("05", "Cell phones", ["Smart phones & PDAs", "Touch Screen Phones", "Cell phones Accessories"]),
    ("06", "Music, Movies and Audio Books", ["Movie DVD", "Audio Books"]),
    ("07", "Games and Toys", ["Boxed Games", "Download Games", "Games Accessories"]),
    ("08", "Home Appliances", ["Washers & Dryers", "Refrigerators", "Microwaves", "Coffee Machines", "Fans"]),
]
BRANDS = [
    "Contoso",
    "Litware",
    "Fabrikam",
    "Adventure Works",
    "Wide World Importers",
    "Northwind Traders",
    "Proseware",
    "A. Datum",
    "Southridge Video",
    "The Phone Company",
    "Tailspin Toys",
]
COLORS = ["Black", "White", "Silver", "Red", "Blue", "Green", "Grey", "Pink", "Orange", "Brown", "Gold"]
# Local currency units per 1 USD, times 10,000.
BASE_RATES = {"USD": 10_000, "EUR": 9_200, "GBP": 7_900, "CAD": 13_200, "AUD": 15_500}
CURRENCIES = list(BASE_RATES)


def quote(value: str) -> str:
    """RFC 4180 quoting where needed (comma, double quote, line break)."""
    if any(ch in value for ch in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value


def mojibake(text: str) -> str:
    """UTF-8 text decoded as Latin-1: `Möller` -> `MÃ¶ller`."""
    return text.encode("utf-8").decode("latin-1")


def is_valid_email(email: str | None) -> bool:
    """SPEC 7 rule: one `@`, no spaces, no `..`, domain with a dot and a TLD of at least 2 letters."""
    if not email or email.count("@") != 1 or " " in email or ".." in email:
        return False
    domain = email.split("@")[1]
    tld = domain.rsplit(".", 1)[-1] if "." in domain else ""
    return len(tld) >= 2 and tld.isascii() and tld.isalpha()


def money(cents: int) -> str:
    """Cents as a decimal string with two places: 123456 -> '1234.56'."""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def price_text(cents: int) -> str:
    """The file's price format: `$1,234.56 ` (quoted by the caller)."""
    return f"${cents // 100:,}.{cents % 100:02d} "


def us_date(d: date) -> str:
    """MM/DD/YYYY, zero padded."""
    return f"{d.month:02d}/{d.day:02d}/{d.year}"


def short_us_date(d: date) -> str:
    """M/D/YYYY, no padding."""
    return f"{d.month}/{d.day}/{d.year}"


def age_at(born: date, on: date) -> int:
    """Whole years between `born` and `on`."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def fill_pattern(rng: random.Random, pattern: str) -> str:
    """`#` -> digit, `@` -> capital letter."""
    return "".join(
        str(rng.randrange(10)) if ch == "#" else chr(65 + rng.randrange(26)) if ch == "@" else ch for ch in pattern
    )


# ---------------------------------------------------------------------------------------------- customers
@dataclass
class Customer:
    """One customer row: its CSV fields (quoted where needed) and the facts expected.json counts."""

    key: int
    fields: list[str]
    country: str
    email_status: str  # valid | invalid | missing
    birthday_format: str  # M/D/YYYY | DD-MM-YYYY | YYYY-MM-DD | DD/MM/YYYY | invalid
    age_blank: bool
    mojibake: bool

    @property
    def line(self) -> str:
        """The CSV line."""
        return ",".join(self.fields)


@dataclass
class CustomerFile:
    """Customer rows in file order, the record that must survive per key, and counts by quirk."""

    rows: list[Customer]
    best: dict[int, Customer]
    superseded_by_kind: Counter = field(default_factory=Counter)


def _birthday(rng: random.Random, born: date) -> tuple[date, str, str]:
    """(possibly adjusted birth date, text, format) in the format mix of SPEC section 5."""
    roll = rng.random()
    if roll < 0.56:
        return born, f"{born.month}/{born.day}/{born.year}", "M/D/YYYY"
    if roll < 0.73:
        return born, f"{born.day:02d}-{born.month:02d}-{born.year}", "DD-MM-YYYY"
    if roll < 0.90:
        return born, f"{born.year}-{born.month:02d}-{born.day:02d}", "YYYY-MM-DD"
    if born.day <= 12:  # DD/MM/YYYY appears only where the day gives it away (day > 12)
        born = born.replace(day=rng.randint(13, 28))
    return born, f"{born.day:02d}/{born.month:02d}/{born.year}", "DD/MM/YYYY"


def _make_customer(rng: random.Random, key: int, mojibake_row: bool, invalid_birthday: int) -> Customer:
    """One customer; `invalid_birthday` 1: impossible date, 2: impossible date and blank age."""
    country = rng.choices(COUNTRY_NAMES, weights=COUNTRY_WEIGHTS)[0]
    continent, _, _, _, states = COUNTRIES[country]
    state_code, state, zip_pattern = rng.choice(states)
    city = rng.choice(CITIES[country])
    if mojibake_row:
        first, last = rng.choice(ACCENTED_FIRST), rng.choice(ACCENTED_LAST)
    elif rng.random() < 0.004:
        first, last = rng.choice(WIDE_NAMES).split(" ")
    else:
        first = rng.choice(ACCENTED_FIRST) if rng.random() < 0.05 else rng.choice(FIRST_NAMES)
        last = rng.choice(LAST_NAMES)
    name = f"{first} {last}"
    zip_code = fill_pattern(rng, zip_pattern)
    if country == "United States":
        zip_code = str(int(zip_code))  # leading zeros lost on the way through a spreadsheet
    if rng.random() < 0.001:
        state_code = ""
    born = date(1935, 1, 1) + timedelta(days=rng.randrange(72 * 365))
    born, birthday, fmt = _birthday(rng, born)
    if invalid_birthday:
        birthday = rng.choice(
            [
                f"30/02/{born.year}",
                f"2/30/{born.year}",
                f"31-04-{born.year}",
                f"{born.year}-02-30",
                f"31/06/{born.year}",
            ]
        )
        fmt = "invalid"
    age_blank = invalid_birthday == 2 or (invalid_birthday == 0 and rng.random() < 0.10)
    age = age_at(born, AS_OF)
    age_text = "" if age_blank else (f'"{age}"' if rng.random() < 0.15 else f"{age}.0")
    roll = rng.random()
    if roll < 0.05:
        email, status = "", "missing"
    elif roll < 0.09:
        email, status = rng.choice(INVALID_EMAILS).format(n=rng.randint(1000, 99999)), "invalid"
    else:
        email, status = f"{first.lower()}.{last.lower()}{key % 1000}@{rng.choice(EMAIL_DOMAINS)}", "valid"
        if rng.random() < 0.08:
            email = email.title()  # mixed case: cleaning lower-cases it
    if mojibake_row:
        name, city, state, email = mojibake(name), mojibake(city), mojibake(state), mojibake(email)
    gender = "Female" if rng.random() < 0.49 else "Male"
    fields = [
        str(key),
        gender,
        quote(name),
        quote(city),
        state_code,
        quote(state),
        zip_code,
        country,
        continent,
        birthday,
        age_text,
        quote(email),
    ]
    return Customer(key, fields, country, status, fmt, age_blank, mojibake_row)


def _customers(rng: random.Random, scale: int) -> CustomerFile:
    n_keys = CUSTOMER_KEYS * scale
    keys: list[int] = []
    key = 300
    for _ in range(n_keys):
        key += rng.randint(1, 12)
        keys.append(key)
    mojibake_rows = set(rng.sample(range(n_keys), round(n_keys * 0.06)))
    invalid = rng.sample(sorted(set(range(n_keys)) - mojibake_rows), INVALID_BIRTHDAYS * scale)
    invalid_kind = {index: 2 if n % 2 == 0 else 1 for n, index in enumerate(invalid)}
    base = [_make_customer(rng, keys[i], i in mojibake_rows, invalid_kind.get(i, 0)) for i in range(n_keys)]
    best = {c.key: c for c in base}
    # Base rows in key order at positions 0, 1, 2, ...; extra rows are slotted in between.
    placed: list[tuple[float, Customer]] = [(float(i), c) for i, c in enumerate(base)]
    candidates = [
        i
        for i, c in enumerate(base)
        if c.email_status == "valid"
        and not c.age_blank
        and c.birthday_format != "invalid"
        and all(c.fields)
        and i not in mojibake_rows
    ]
    superseded = rng.sample(candidates, SUPERSEDED_KEYS * scale)
    result = CustomerFile(rows=[], best=best)
    for n, i in enumerate(superseded):
        original = base[i]
        kind = ("email", "completeness", "first_row")[n % 3]
        fields, status, age_blank = list(original.fields), original.email_status, original.age_blank
        if kind == "email":  # same record, but an invalid email: the valid one must win
            fields[11] = quote(INVALID_EMAILS[n % len(INVALID_EMAILS)].format(n=original.key))
            status = "invalid"
        elif kind == "completeness":  # same record, Age blank: the fuller one must win
            fields[10], age_blank = "", True
        else:  # a spelling variant of the city, equally good: the earlier line must win
            fields[3] = quote(CITY_VARIANT.get(original.fields[3], original.fields[3].upper()))
        variant = Customer(original.key, fields, original.country, status, original.birthday_format, age_blank, False)
        before = n % 2 == 0  # the better record must not always come first
        placed.append((i - 0.5 if before else i + 0.5, variant))
        if kind == "first_row" and before:
            best[original.key] = variant
        result.superseded_by_kind[kind] += 1
    for i in rng.sample(sorted(set(range(n_keys)) - set(superseded)), EXACT_DUPLICATES * scale):
        placed.append((rng.uniform(0, n_keys) + 0.25, base[i]))  # an exact copy somewhere else in the file
    placed.sort(key=lambda item: item[0])
    result.rows = [c for _, c in placed]
    return result


# ---------------------------------------------------------------------------------------------- products, stores
@dataclass
class Product:
    """A product's key, money in cents and category."""

    key: int
    cost_cents: int
    price_cents: int
    category_key: str
    subcategory_key: str
    line: str


def _products(rng: random.Random) -> list[Product]:
    products = []
    for key in range(1, PRODUCTS + 1):
        cat_key, category, subcategories = rng.choice(CATEGORIES)
        sub_index = rng.randrange(len(subcategories))
        subcategory, sub_key = subcategories[sub_index], f"{cat_key}{sub_index + 1:02d}"
        brand, color = rng.choice(BRANDS), rng.choice(COLORS)
        if key % 61 == 0:  # a name with an inch mark and a comma: exercises CSV quoting
            name = f'{brand} 15.6" {subcategory.split(" ")[0]} E{key % 90 + 10}, {color}'
        else:
            name = f"{brand} {subcategory.split(' ')[0]} {chr(65 + key % 26)}{key % 900 + 100} {color}"
        cost = round(48 * (2_000 ** rng.random()))  # 0.48 .. 960.00 USD, log-uniform
        price = max(cost + 1, round(cost * rng.uniform(1.6, 3.3)))
        line = ",".join(
            [
                str(key),
                quote(name),
                quote(brand),
                color,
                f'"{price_text(cost)}"',
                f'"{price_text(price)}"',
                sub_key,
                quote(subcategory),
                cat_key,
                quote(category),
            ]
        )
        products.append(Product(key, cost, price, cat_key, sub_key, line))
    return products


def _stores(rng: random.Random) -> tuple[list[str], dict[str, list[int]]]:
    lines = ["0,Online,Online,,1/1/2010"]
    by_country: dict[str, list[int]] = {}
    key = 0
    for country, (_, _, _, count, states) in COUNTRIES.items():
        for _ in range(count):
            key += 1
            opened = date(2005, 1, 1) + timedelta(days=rng.randrange(19 * 365))
            state = rng.choice(states)[1]
            lines.append(f"{key},{country},{quote(state)},{rng.randrange(245, 2106)},{short_us_date(opened)}")
            by_country.setdefault(country, []).append(key)
    return lines, by_country


def _rates(rng: random.Random) -> tuple[list[str], dict[tuple[int, str], int]]:
    """One rate per day and currency (local units per USD, times 10,000)."""
    lines, rates = [], {}
    level = dict(BASE_RATES)
    for day in range((LAST_DAY - FIRST_DAY).days + 1):
        d = FIRST_DAY + timedelta(days=day)
        for currency in CURRENCIES:
            if currency != "USD":
                base = BASE_RATES[currency]
                step = round(level[currency] * rng.uniform(-0.003, 0.003))
                level[currency] = min(round(base * 1.08), max(round(base * 0.92), level[currency] + step))
            rate = level[currency]
            rates[(day, currency)] = rate
            lines.append(f"{us_date(d)},{currency},{rate // 10_000}.{rate % 10_000:04d}")
    return lines, rates


# ---------------------------------------------------------------------------------------------- sales
def _lines_per_order(rng: random.Random, orders: int, lines: int) -> list[int]:
    counts = rng.choices(range(1, 8), weights=[35, 27, 17, 10, 6, 3, 2], k=orders)
    diff = lines - sum(counts)
    while diff:
        i = rng.randrange(orders)
        if diff > 0 and counts[i] < 7:
            counts[i] += 1
            diff -= 1
        elif diff < 0 and counts[i] > 1:
            counts[i] -= 1
            diff += 1
    return counts


def _sales(rng, scale, customers: CustomerFile, products: list[Product], stores_by_country, rates, inject_orphans):
    n_orders, n_lines = ORDERS * scale, SALES_LINES * scale
    counts = _lines_per_order(rng, n_orders, n_lines)
    last_day = (LAST_DAY - FIRST_DAY).days
    days = sorted([0, last_day] + [rng.randrange(last_day + 1) for _ in range(n_orders - 2)])
    customer_keys = sorted(customers.best)
    buyers = rng.sample(customer_keys, BUYERS * scale)
    order_customer = buyers + [rng.choice(buyers) for _ in range(n_orders - len(buyers))]
    rng.shuffle(order_customer)
    country_of = {k: c.country for k, c in customers.best.items()}
    day_text = [us_date(FIRST_DAY + timedelta(days=d)) for d in range(last_day + 15)]
    rate_of = [[rates[(d, c)] for c in CURRENCIES] for d in range(last_day + 1)]
    quantities = rng.choices(range(1, 11), weights=[30, 22, 15, 10, 8, 5, 4, 3, 2, 1], k=n_lines)
    product_picks = [products[i] for i in rng.choices(range(PRODUCTS), k=n_lines)]
    out: list[str] = []
    units = revenue_total = cost_total = local_total = online_lines = delivery_blank = 0
    by_currency_lines: Counter = Counter()
    by_currency_revenue: Counter = Counter()
    line_index = 0
    for n in range(n_orders):
        customer = order_customer[n]
        country = country_of[customer]
        currency = COUNTRIES[country][1]
        currency_index = CURRENCIES.index(currency)
        online = rng.random() < 0.18
        store = 0 if online else rng.choice(stores_by_country[country])
        day = days[n]
        delivery = "" if rng.random() < 0.15 else day_text[day + rng.randint(1, 14)]
        split_dates = counts[n] > 1 and day < last_day and rng.random() < 0.02
        prefix = f"{366_000 + n},"
        suffix = f",{customer},{store},"
        for line_item in range(1, counts[n] + 1):
            line_day = day + 1 if split_dates and line_item == counts[n] else day
            product, quantity = product_picks[line_index], quantities[line_index]
            line_index += 1
            out.append(
                f"{prefix}{line_item},{day_text[line_day]},{delivery}{suffix}{product.key},{quantity},{currency}"
            )
            revenue = quantity * product.price_cents
            units += quantity
            revenue_total += revenue
            cost_total += quantity * product.cost_cents
            local_total += (revenue * rate_of[line_day][currency_index] + 5_000) // 10_000
            by_currency_revenue[currency] += revenue
        online_lines += counts[n] if online else 0
        delivery_blank += counts[n] if delivery == "" else 0
        by_currency_lines[currency] += counts[n]
    rejected = dict.fromkeys(ORPHANS, 0)
    if inject_orphans:
        missing_customer = max(customer_keys) + 1_000
        order_number = 366_000 + n_orders
        for reason, count in ORPHANS.items():
            for i in range(count):
                customer, store, product = buyers[i], 0, 1 + i
                if reason == "orphan_customer":
                    customer = missing_customer + i
                elif reason == "orphan_product":
                    product = PRODUCTS + 100 + i
                else:
                    store = STORES + 100 + i
                day = FIRST_DAY + timedelta(days=rng.randrange(last_day + 1))
                out.append(f"{order_number},1,{us_date(day)},,{customer},{store},{product},1,USD")
                order_number += 1
            rejected[reason] = count
    summary = {
        "lines": n_lines,
        "orders": n_orders,
        "units": units,
        "buying_customers": len(buyers),
        "online_lines": online_lines,
        "delivery_date_blank": delivery_blank,
        "revenue_usd": money(revenue_total),
        "cost_usd": money(cost_total),
        "margin_usd": money(revenue_total - cost_total),
        "revenue_local": money(local_total),
        "lines_by_currency": dict(sorted(by_currency_lines.items())),
        "revenue_usd_by_currency": {k: money(v) for k, v in sorted(by_currency_revenue.items())},
    }
    return out, summary, rejected


# ---------------------------------------------------------------------------------------------- generate
def _write(path: Path, header: tuple[str, ...], lines: list[str]) -> dict:
    data = ("\n".join([",".join(header), *lines]) + "\n").encode("utf-8")
    path.write_bytes(data)
    return {"rows": len(lines), "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def generate(out_dir: Path, scale: int = 1, seed: int = 42, inject_orphans: bool = False) -> dict:
    """Write Customers.csv, Products.csv, Stores.csv, Sales.csv, Exchange_Rates.csv and expected.json
    into `out_dir`; return the expected figures (also written as expected.json)."""
    if scale < 1:
        raise ValueError("scale must be a positive integer")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    def stream(name: str) -> random.Random:
        return random.Random(f"{seed}:{name}")

    customers = _customers(stream("customers"), scale)
    products = _products(stream("products"))
    store_lines, stores_by_country = _stores(stream("stores"))
    rate_lines, rates = _rates(stream("exchange_rates"))
    sales_lines, sales, sales_rejected = _sales(
        stream("sales"), scale, customers, products, stores_by_country, rates, inject_orphans
    )
    contents = {
        "customers": [c.line for c in customers.rows],
        "products": [p.line for p in products],
        "stores": store_lines,
        "sales": sales_lines,
        "exchange_rates": rate_lines,
    }
    files = {}
    for name, lines in contents.items():
        source = SOURCES_BY_NAME[name]
        files[source.file] = {"table": name, **_write(out / source.file, source.header, lines)}

    best = customers.best.values()
    exact_duplicates = EXACT_DUPLICATES * scale
    superseded = SUPERSEDED_KEYS * scale
    expected = {
        "generator": {"seed": seed, "scale": scale, "inject_orphans": inject_orphans},
        "as_of_date": AS_OF.isoformat(),
        "files": files,
        "sources": {
            "customers": {
                "raw_rows": len(customers.rows),
                "clean_rows": len(customers.best),
                "exact_duplicates": exact_duplicates,
                "rejected": {"superseded_duplicate": superseded},
            },
            "products": {"raw_rows": PRODUCTS, "clean_rows": PRODUCTS, "exact_duplicates": 0, "rejected": {}},
            "stores": {"raw_rows": STORES, "clean_rows": STORES, "exact_duplicates": 0, "rejected": {}},
            "exchange_rates": {
                "raw_rows": len(rate_lines),
                "clean_rows": len(rate_lines),
                "exact_duplicates": 0,
                "rejected": {},
            },
            "sales": {
                "raw_rows": len(sales_lines),
                "clean_rows": sales["lines"],
                "exact_duplicates": 0,
                "rejected": sales_rejected,
            },
        },
        "customers": {
            "distinct_keys": len(customers.best),
            "email_status": dict(sorted(Counter(c.email_status for c in best).items())),
            "mojibake_rows": sum(c.mojibake for c in customers.rows),
            "birthday_formats": dict(sorted(Counter(c.birthday_format for c in customers.rows).items())),
            "birthday_unparseable": sum(c.birthday_format == "invalid" for c in best),
            "age_blank_rows": sum(c.fields[10] == "" for c in customers.rows),
            "age_imputed": sum(c.birthday_format == "invalid" and c.age_blank for c in best),
            "by_country": dict(sorted(Counter(c.country for c in best).items())),
            "superseded_by_kind": dict(sorted(customers.superseded_by_kind.items())),
        },
        "products": {
            "rows": PRODUCTS,
            "categories": len({p.category_key for p in products}),
            "subcategories": len({p.subcategory_key for p in products}),
        },
        "stores": {"rows": STORES, "online_store_key": 0},
        "exchange_rates": {
            "rows": len(rate_lines),
            "days": len(rate_lines) // len(CURRENCIES),
            "currencies": CURRENCIES,
        },
        "sales": sales,
    }
    (out / "expected.json").write_text(json.dumps(expected, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return expected
