"""Values as the raw files write them: money, prices, dates, CSV quoting, mojibake, and the email rule."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

# Lower-case accented letters whose UTF-8 form is C3 xx with xx in 0xA1..0xBF, xx != 0xAD: their
# Latin-1 misreading is `Ã` plus a printable symbol, so mojibake is visible and reversible.
MOJIBAKE_SAFE = frozenset("áâãäåæçèéêëìîïñòóôõöøùúûü")

_EMAIL_TLD = re.compile(r"\.[a-z]{2,}$")


def is_valid_email(value: str) -> bool:
    """The email rule (docs/cleaning-rules.md) on a trimmed, repaired, lower-cased value: one `@`, no spaces,
    no `..`, TLD >= 2 letters."""
    email = value.strip().lower()
    if email.count("@") != 1 or any(ch.isspace() for ch in email) or ".." in email:
        return False
    local, domain = email.split("@")
    return bool(local) and "." in domain and _EMAIL_TLD.search(domain) is not None


def mojibake(text: str) -> str:
    """UTF-8 text misread as Latin-1 (`Möller` -> `MÃ¶ller`)."""
    return text.encode("utf-8").decode("latin-1")


def ascii_fold(text: str) -> str:
    """Text without its accents, as people type an address (`Müller` -> `Muller`, `Groß` -> `Gross`)."""
    text = text.replace("ß", "ss").replace("ł", "l").replace("Ł", "L").replace("ø", "o").replace("æ", "ae")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def money(cents: int) -> str:
    """Integer cents as a plain decimal string with exactly two decimals (`123456` -> `1234.56`)."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def cents(text: str) -> int:
    """`1234.56` -> 123456 (the inverse of money()); ValueError if text is not a decimal number."""
    whole, _, fraction = text.partition(".")
    sign = -1 if whole.startswith("-") else 1
    return sign * (abs(int(whole)) * 100 + int(fraction or 0))


def price_text(cents: int) -> str:
    """The raw file's price quirk for integer cents, CSV-quoted: `123456` -> `"$1,234.56 "`."""
    return f'"${cents // 100:,}.{cents % 100:02d} "'


def quote(value: str) -> str:
    """RFC 4180 quoting where needed (comma, double quote, line break); other values as they are."""
    if "," in value or '"' in value or "\n" in value or "\r" in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def mdy(day: date) -> str:
    """A date as month/day/year without leading zeros (`2024-03-05` -> `3/5/2024`)."""
    return f"{day.month}/{day.day}/{day.year}"


def mdy_padded(day: date) -> str:
    """A date as MM/DD/YYYY (`2024-03-05` -> `03/05/2024`), the sales and exchange-rate files' form."""
    return day.strftime("%m/%d/%Y")
