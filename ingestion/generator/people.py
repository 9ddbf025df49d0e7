"""One customer drawn at random: where they live, their name, birthday, age and email, as a Customers.csv record.

A record is the list of the row's twelve fields, unquoted and not yet garbled (`customers` does both).
"""

from __future__ import annotations

import random
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from ingestion.generator.reference import COUNTRIES, CULTURES, IMPOSSIBLE_BIRTHDAYS, INVALID_EMAIL_SHAPES, Culture
from ingestion.generator.shared import AS_OF_DATE, cumulative
from ingestion.generator.text import MOJIBAKE_SAFE, ascii_fold

# field positions in a customer record
KEY, GENDER, NAME, CITY, STATE_CODE, STATE, ZIP, COUNTRY, CONTINENT, BIRTHDAY, AGE, EMAIL = range(12)

BIRTHDAY_FORMATS = ("M/D/YYYY", "DD-MM-YYYY", "YYYY-MM-DD", "DD/MM/YYYY", "invalid")
INVALID_BIRTHDAY = BIRTHDAY_FORMATS.index("invalid")

_BIRTH_FIRST = date(1940, 1, 1).toordinal()
_BIRTH_DAYS = date(2007, 12, 31).toordinal() - _BIRTH_FIRST + 1
_AS_OF_MONTH_DAY = (AS_OF_DATE.month, AS_OF_DATE.day)
_NL_LETTERS = "ABCDEGHJKLMNPRSTVWXZ"
_UK_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # Canada's too


@dataclass(slots=True)
class Person:
    """One drawn customer: the record, and what the file's quirks and figures need to know of it."""

    record: list[str]
    country: int  # index in COUNTRIES
    birthday_format: int  # index in BIRTHDAY_FORMATS
    email_status: str  # "valid", "invalid" or "missing"
    has_alternative_city: bool  # the city has a second spelling


class Quirks(NamedTuple):
    """The quirks of one customer that are decided before drawing them."""

    invalid_birthday: bool = False
    age_imputed: bool = False  # birthday invalid and Age blank
    blank_state_code: bool = False


NO_QUIRKS = Quirks()


@dataclass
class Geography:
    """COUNTRIES prepared for drawing: cumulative weights of the countries, and of the states and cultures of each."""

    country_cum: list[float]
    state_cum: list[list[float]]
    cultures: list[list[str]]  # sorted culture names per country
    culture_cum: list[list[float]]

    @classmethod
    def of_countries(cls) -> Geography:
        """The Geography of the reference COUNTRIES."""
        cultures = [sorted(c.cultures) for c in COUNTRIES]
        return cls(
            cumulative([c.weight for c in COUNTRIES]),
            [cumulative([s.weight for s in c.states]) for c in COUNTRIES],
            cultures,
            [cumulative([c.cultures[k] for k in names]) for c, names in zip(COUNTRIES, cultures, strict=True)],
        )


def draw_person(rng: random.Random, key: int, quirks: Quirks, geography: Geography) -> Person:
    """The customer with this key: country, state, city, culture, name, birthday, age, email and zip, in that order."""
    rnd = rng.random
    cum = geography.country_cum
    ci = bisect_right(cum, rnd() * cum[-1])  # as shared.pick(), inline: this runs once per customer
    country = COUNTRIES[ci]
    cum = geography.state_cum[ci]
    state_code, state, _, cities = country.states[bisect_right(cum, rnd() * cum[-1])]
    city, zip_base, alternative = cities[int(rnd() * len(cities))]
    cum = geography.culture_cum[ci]
    culture = CULTURES[geography.cultures[ci][bisect_right(cum, rnd() * cum[-1])]]
    gender, first, last = _draw_name(rng, culture)
    birthday, birthday_format, age = _impossible_birthday(rng) if quirks.invalid_birthday else _draw_birthday(rng)
    age_text = _age_field(rng, age, quirks)
    email, status = _draw_email(rng, first, last, country.email_domains)
    record = [
        str(key),
        gender,
        f"{first} {last}",
        city,
        "" if quirks.blank_state_code else state_code,
        state,
        _zip_code(rng, country.zip_style, zip_base),
        country.name,
        country.continent,
        birthday,
        age_text,
        email,
    ]
    return Person(record, ci, birthday_format, status, alternative is not None)


def _draw_name(rng: random.Random, culture: Culture) -> tuple[str, str, str]:
    """(gender, first name, last name)."""
    if rng.random() < 0.5:
        gender, first = "Male", culture.male[int(rng.random() * len(culture.male))]
    else:
        gender, first = "Female", culture.female[int(rng.random() * len(culture.female))]
    return gender, first, culture.last[int(rng.random() * len(culture.last))]


def _draw_birthday(rng: random.Random) -> tuple[str, int, int]:
    """(birthday text, index in BIRTHDAY_FORMATS, age): a real date in one of the four formats."""
    born = date.fromordinal(_BIRTH_FIRST + int(rng.random() * _BIRTH_DAYS))
    y, m, d = born.year, born.month, born.day
    r = rng.random()
    if r < 0.56:
        text, birthday_format = f"{m}/{d}/{y}", 0
    elif r < 0.73:
        text, birthday_format = f"{d:02d}-{m:02d}-{y}", 1
    elif r < 0.90:
        text, birthday_format = f"{y}-{m:02d}-{d:02d}", 2
    else:
        if d <= 12:
            d = 13 + int(rng.random() * 16)  # day-first needs a day > 12; 13..28 exists in every month
        text, birthday_format = f"{d:02d}/{m:02d}/{y}", 3
    return text, birthday_format, AS_OF_DATE.year - y - ((m, d) > _AS_OF_MONTH_DAY)


def _impossible_birthday(rng: random.Random) -> tuple[str, int, int]:
    """(birthday text, INVALID_BIRTHDAY, age): a date that does not exist, in a year that is not a leap year."""
    year = rng.randint(1950, 2003)
    if year % 4 == 0:
        year += 1  # so 2/29 is impossible too
    return rng.choice(IMPOSSIBLE_BIRTHDAYS).format(y=year), INVALID_BIRTHDAY, AS_OF_DATE.year - year


def _age_field(rng: random.Random, age: int, quirks: Quirks) -> str:
    """The Age field: blank for imputed ages and ~10% of valid birthdays, else `"41"` or `41.0`."""
    if quirks.age_imputed:
        return ""
    if not quirks.invalid_birthday and rng.random() < 0.10:
        return ""
    return f'"{age}"' if rng.random() < 0.10 else f"{age}.0"


def _draw_email(rng: random.Random, first: str, last: str, domains: tuple[str, ...]) -> tuple[str, str]:
    """(email, status): ~5% missing, ~4% invalid, else valid."""
    r = rng.random()
    if r < 0.05:
        return "", "missing"
    if r < 0.09:
        return invalid_email(rng), "invalid"
    return _valid_email(rng, first, last, domains), "valid"


def invalid_email(rng: random.Random, shape: int | None = None) -> str:
    """An email of INVALID_EMAIL_SHAPES[shape] (drawn if None) with a random number in it."""
    if shape is None:
        shape = int(rng.random() * len(INVALID_EMAIL_SHAPES))
    return INVALID_EMAIL_SHAPES[shape].format(n=rng.randint(1000, 99999))


def _valid_email(rng: random.Random, first: str, last: str, domains: tuple[str, ...]) -> str:
    first_l = first.lower().replace(" ", "").replace("'", "")
    last_l = last.lower().replace(" ", "").replace("'", "")
    r = rng.random()
    if r < 0.4:
        local = f"{first_l}.{last_l}"
    elif r < 0.6:
        local = f"{first_l[0]}{last_l}"
    elif r < 0.85:
        local = f"{first_l}{last_l}{rng.randint(1, 99)}"
    else:
        local = f"{last_l}.{first_l}{rng.randint(1950, 2007)}"
    keep_accents = rng.random() < 0.35 and all(ch < "\x80" or ch in MOJIBAKE_SAFE for ch in local)
    if not keep_accents:
        local = ascii_fold(local)
    email = f"{local}@{rng.choice(domains)}"
    r = rng.random()
    if r < 0.06:
        email = email.title()
    elif r < 0.08:
        email = email.upper()
    return email


def _zip_code(rng: random.Random, style: str, base: int | str) -> str:
    """A zip code near base in the country's style (reference.Country.zip_style)."""
    if style == "us":
        return str(int(base) + int(rng.random() * 40))  # int(): US zips lose their leading zeros
    if style == "5":
        return f"{int(base) + int(rng.random() * 30):05d}"
    if style == "4":
        return f"{int(base) + int(rng.random() * 20):04d}"
    if style == "nl":
        return f"{int(base) + int(rng.random() * 9)} {rng.choice(_NL_LETTERS)}{rng.choice(_NL_LETTERS)}"
    if style == "uk":
        return f"{base} {rng.randint(1, 9)}{rng.choice(_UK_LETTERS)}{rng.choice(_UK_LETTERS)}"
    return f"{base} {rng.randint(1, 9)}{rng.choice(_UK_LETTERS)}{rng.randint(1, 9)}"  # Canada
