"""Customers.csv: CUSTOMER_KEYS customers per scale unit, then the file's quirks laid over them.

Quirks: mojibake on ~6% of rows; superseded rows (a second row with the same key and other content: an invalid
email, a blank state code or zip, a second spelling of the city), resolved by the best-record rule; extra
byte-identical copies of rows, scattered and never adjacent to their original.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from ingestion.contract import SOURCES_BY_NAME
from ingestion.generator.people import (
    AGE,
    BIRTHDAY,
    BIRTHDAY_FORMATS,
    CITY,
    COUNTRY,
    EMAIL,
    INVALID_BIRTHDAY,
    KEY,
    NAME,
    NO_QUIRKS,
    STATE,
    STATE_CODE,
    ZIP,
    Geography,
    Person,
    Quirks,
    draw_person,
    invalid_email,
)
from ingestion.generator.reference import COUNTRIES, INVALID_EMAIL_SHAPES
from ingestion.generator.shared import CsvFile, check
from ingestion.generator.text import MOJIBAKE_SAFE, is_valid_email, mojibake, quote

# Volumes (scale 1), multiplied by `scale`.
CUSTOMER_ROWS = 16_029
CUSTOMER_KEYS = 15_266
SUPERSEDED_PER_KIND = 16  # three kinds -> 48 superseded rows per scale unit
EXACT_DUPLICATES = CUSTOMER_ROWS - CUSTOMER_KEYS - 3 * SUPERSEDED_PER_KIND  # 715 extra identical copies
INVALID_BIRTHDAYS = 16  # distinct customers with an impossible birthday
AGE_IMPUTED = 6  # of those, the ones with a blank Age too

_MOJIBAKE_FIELDS = (NAME, CITY, STATE, EMAIL)
_QUOTED_FIELDS = (NAME, CITY, STATE, ZIP, EMAIL)
_SUPERSEDED_KINDS = ("email", "completeness", "first_row")


@dataclass
class Customers:
    """Customers.csv and what the other files and expected.json need of it; lists are indexed by customer index."""

    file: CsvFile
    keys: list[int]  # distinct customer keys
    country: list[int]  # index in COUNTRIES
    stats: dict = field(default_factory=dict)
    exact_duplicates: int = 0
    superseded: int = 0


@dataclass
class _Draft:
    """The customers drawn, and the quirks placed so far.

    Each customer has one row at its place, in customer order; extra rows go to slots: slot s is just before
    customer s's place, slot n after the last.
    """

    people: list[Person]
    invalid_birthday: set[int]
    blank_state_code: set[int]
    mojibake: dict[int, tuple[int, ...]] = field(default_factory=dict)  # customer index -> garbled fields
    base: dict[int, list[str]] = field(default_factory=dict)  # the record at a superseded customer's place
    variant: dict[int, list[str]] = field(default_factory=dict)  # its other record
    kinds: dict[int, str] = field(default_factory=dict)  # superseded customer index -> kind
    extras: dict[int, list[tuple[int, bool]]] = field(default_factory=dict)  # slot -> [(index, is variant)]

    @property
    def n(self) -> int:
        """The number of customers (distinct keys)."""
        return len(self.people)

    def base_record(self, i: int) -> list[str]:
        """The record at customer i's place in the file."""
        return self.base.get(i, self.people[i].record)

    def slot(self, rng: random.Random, i: int, after: bool | None) -> int:
        """A slot for an extra row of customer i, never next to its place: anywhere (None), after or before it."""
        n = self.n
        while True:
            if after is None:
                s = int(rng.random() * (n + 1))
            elif after:
                s = i + 2 + int(rng.random() * (n - i - 1))
            else:
                s = int(rng.random() * i)
            if s not in (i, i + 1):
                return s


@dataclass
class _Layout:
    """The file's lines in order, with per-line figures."""

    lines: list[str]
    birthday_formats: list[int]  # rows per BIRTHDAY_FORMATS
    mojibake_rows: int = 0
    age_blank_rows: int = 0
    line_of_base: dict[int, int] = field(default_factory=dict)  # customer index -> line number of its place
    line_of_variant: dict[int, int] = field(default_factory=dict)

    def add(self, line: tuple[str, bool], record: list[str], birthday_format: int) -> int:
        """Append a rendered line (text, garbled) of record; return its line number (header = 0)."""
        self.lines.append(line[0])
        self.mojibake_rows += line[1]
        self.age_blank_rows += record[AGE] == ""
        self.birthday_formats[birthday_format] += 1
        return len(self.lines) - 1


def _render(record: list[str], garbled_fields: tuple[int, ...]) -> tuple[str, bool]:
    """(CSV line, whether mojibake changed it) of a record with the given fields garbled."""
    out = list(record)
    changed = False
    for f in garbled_fields:
        garbled = mojibake(out[f])
        changed |= garbled != out[f]
        out[f] = garbled
    for f in _QUOTED_FIELDS:
        out[f] = quote(out[f])
    return ",".join(out), changed


def _draw_people(rng: random.Random, scale: int) -> _Draft:
    """CUSTOMER_KEYS * scale customers, keys rising from 300 by 1 to 12; a few with a bad birthday or no state code."""
    n = CUSTOMER_KEYS * scale
    n_invalid = INVALID_BIRTHDAYS * scale
    special = rng.sample(range(20, n - 20), n_invalid + round(0.001 * n))
    invalid_birthday = set(special[:n_invalid])
    age_imputed = set(special[: AGE_IMPUTED * scale])
    blank_state_code = set(special[n_invalid:])
    quirks = {i: Quirks(i in invalid_birthday, i in age_imputed, i in blank_state_code) for i in special}
    geography = Geography.of_countries()
    people = []
    key = 300
    for i in range(n):
        key += 1 + int(rng.random() * 12)
        people.append(draw_person(rng, key, quirks.get(i, NO_QUIRKS), geography))
    return _Draft(people, invalid_birthday, blank_state_code)


def _mojibake_fields(record: list[str]) -> list[int] | None:
    """The non-ASCII fields of a record that may be garbled, or None if some letter is not mojibake-safe."""
    found = []
    for f in _MOJIBAKE_FIELDS:
        v = record[f]
        if v.isascii():
            continue
        if any(ch >= "\x80" and ch not in MOJIBAKE_SAFE for ch in v):
            return None
        found.append(f)
    return found or None


def _choose_mojibake(rng: random.Random, draft: _Draft) -> None:
    """Garble ~6% of the customers: all their eligible fields, or (for half of those with several) some."""
    eligible_fields: dict[int, list[int]] = {}
    for i, person in enumerate(draft.people):
        fields = _mojibake_fields(person.record)
        if fields:
            eligible_fields[i] = fields
    eligible = list(eligible_fields)
    for i in sorted(rng.sample(eligible, min(len(eligible), round(0.06 * draft.n)))):
        fields = eligible_fields[i]
        if len(fields) == 1 or rng.random() < 0.5:
            draft.mojibake[i] = tuple(fields)
        else:
            draft.mojibake[i] = tuple(sorted(rng.sample(fields, rng.randint(1, len(fields)))))


def _choose_superseded(rng: random.Random, draft: _Draft, per_kind: int) -> tuple[set[int], dict[str, list[int]]]:
    """The customers of each superseded kind (valid-email customers for two kinds, a city with a second spelling
    for first_row), away from the file's ends and from other quirks; also returns every customer now taken."""
    n = draft.n
    taken = draft.invalid_birthday | draft.blank_state_code
    pool_valid = [i for i in range(20, n - 20) if i not in taken and draft.people[i].email_status == "valid"]
    picks = rng.sample(pool_valid, 2 * per_kind)
    taken.update(picks)
    pool_alternative = [i for i in range(20, n - 20) if i not in taken and draft.people[i].has_alternative_city]
    first_row = rng.sample(pool_alternative, per_kind)
    taken.update(first_row)
    return taken, {"email": picks[:per_kind], "completeness": picks[per_kind:], "first_row": first_row}


def _worse_record(rng: random.Random, kind: str, good: list[str], j: int) -> list[str]:
    """The j-th superseded pair's record that must lose (email, completeness) or tie (first_row) against good."""
    bad = list(good)
    if kind == "email":
        bad[EMAIL] = invalid_email(rng, j % len(INVALID_EMAIL_SHAPES))
    elif kind == "completeness":
        bad[STATE_CODE if j % 2 == 0 else ZIP] = ""
    else:
        country = next(c for c in COUNTRIES if c.name == good[COUNTRY])
        cities = next(s.cities for s in country.states if s.name == good[STATE])
        bad[CITY] = next(alternative for name, _, alternative in cities if name == good[CITY])
    return bad


def _place_superseded(rng: random.Random, draft: _Draft, chosen: dict[str, list[int]]) -> None:
    """Give each chosen customer a second record at another slot; which of the two sits at the customer's place,
    and whether the better one comes later, alternate pair by pair (first_row: either order, drawn)."""
    for kind in _SUPERSEDED_KINDS:
        for j, i in enumerate(sorted(chosen[kind])):
            good = draft.people[i].record
            bad = _worse_record(rng, kind, good, j)
            variant_is_good = rng.random() < 0.5
            winner_later = j % 2 == 0
            after = rng.random() < 0.5 if kind == "first_row" else winner_later == variant_is_good
            draft.base[i], draft.variant[i] = (bad, good) if variant_is_good else (good, bad)
            draft.kinds[i] = kind
            draft.extras.setdefault(draft.slot(rng, i, after), []).append((i, True))


def _place_duplicates(rng: random.Random, draft: _Draft, taken: set[int], n_duplicates: int) -> None:
    """n_duplicates extra copies of untaken customers' rows (every 50th a third copy, at another slot)."""
    pool = [i for i in range(draft.n) if i not in taken]
    n_triples = n_duplicates // 50
    copied = rng.sample(pool, n_duplicates - n_triples)
    first_slot: dict[int, int] = {}
    for i in copied:
        first_slot[i] = draft.slot(rng, i, None)
        draft.extras.setdefault(first_slot[i], []).append((i, False))
    for i in copied[:n_triples]:
        s = draft.slot(rng, i, None)
        while s == first_slot[i]:
            s = draft.slot(rng, i, None)
        draft.extras.setdefault(s, []).append((i, False))


def _lay_out(draft: _Draft) -> _Layout:
    """The file's lines: at each slot its extra rows in the order placed, then the customer's own row."""
    layout = _Layout([",".join(SOURCES_BY_NAME["customers"].header)], [0] * len(BIRTHDAY_FORMATS))
    records = [draft.base.get(i, person.record) for i, person in enumerate(draft.people)]
    base_lines = [_render(record, draft.mojibake.get(i, ())) for i, record in enumerate(records)]
    variant_lines = {i: _render(record, draft.mojibake.get(i, ())) for i, record in draft.variant.items()}
    formats = [person.birthday_format for person in draft.people]
    for slot in range(draft.n + 1):
        for i, is_variant in draft.extras.get(slot, ()):
            if is_variant:
                layout.line_of_variant[i] = layout.add(variant_lines[i], draft.variant[i], formats[i])
            else:
                layout.add(base_lines[i], records[i], formats[i])
        if slot < draft.n:
            layout.line_of_base[slot] = layout.add(base_lines[slot], records[slot], formats[slot])
    return layout


def _email_status(email: str) -> str:
    """The status of a raw Email field: "missing", "valid" or "invalid"."""
    if not email.strip():
        return "missing"
    return "valid" if is_valid_email(email) else "invalid"


def _check_pair(kind: str, best: tuple, loser: tuple, key: int) -> None:
    """The pair's best record won for the reason its kind is about; RuntimeError if not."""
    if kind == "email":
        check(best[0] is False and loser[0] is True, f"email pair of key {key}: valid email must win")
    elif kind == "completeness":
        check(best[0] == loser[0] and best[1] < loser[1], f"completeness pair of key {key}: fuller must win")
    else:
        check(best[:2] == loser[:2], f"first-row pair of key {key}: must tie before the line number")


def _clean_nonnull(record: list[str], email_valid: bool, birthday_ok: bool) -> int:
    """Non-null fields of the cleaned record (trimmed, empty -> null, bad birthday/email -> null)."""
    n = 0
    for i, v in enumerate(record):
        if i == BIRTHDAY:
            n += birthday_ok
        elif i == EMAIL:
            n += email_valid
        else:
            n += v.strip().strip('"') != ""
    return n


def _survivors(draft: _Draft, layout: _Layout) -> tuple[list[str], dict[str, int]]:
    """Email status per customer after the best-record rule (valid email, then most non-null cleaned fields,
    then first line), and the superseded customers per kind; RuntimeError if a pair won for the wrong reason."""
    statuses = [person.email_status for person in draft.people]
    by_kind = dict.fromkeys(_SUPERSEDED_KINDS, 0)
    for i, kind in draft.kinds.items():
        candidates = []
        for record, line_no in ((draft.base[i], layout.line_of_base[i]), (draft.variant[i], layout.line_of_variant[i])):
            valid = is_valid_email(record[EMAIL]) if record[EMAIL] else False
            nonnull = _clean_nonnull(record, valid, draft.people[i].birthday_format != INVALID_BIRTHDAY)
            candidates.append((not valid, -nonnull, line_no, record))
        candidates.sort(key=lambda t: t[:3])
        best, loser = candidates
        _check_pair(kind, best, loser, int(draft.people[i].record[KEY]))
        by_kind[kind] += 1
        statuses[i] = _email_status(best[3][EMAIL])
    return statuses, by_kind


def _figures(draft: _Draft, layout: _Layout, statuses: list[str], by_kind: dict[str, int]) -> dict:
    """The `customers` figures of expected.json."""
    status_counts = {"valid": 0, "invalid": 0, "missing": 0}
    for status in statuses:
        status_counts[status] += 1
    by_country: dict[str, int] = {}
    for person in draft.people:
        name = COUNTRIES[person.country].name
        by_country[name] = by_country.get(name, 0) + 1
    return {
        "distinct_keys": draft.n,
        "email_status": status_counts,
        "mojibake_rows": layout.mojibake_rows,
        "birthday_formats": dict(zip(BIRTHDAY_FORMATS, layout.birthday_formats, strict=True)),
        "birthday_unparseable": len(draft.invalid_birthday),
        "age_blank_rows": layout.age_blank_rows,
        "age_imputed": sum(1 for i in draft.invalid_birthday if draft.base_record(i)[AGE] == ""),
        "by_country": by_country,
        "superseded_by_kind": by_kind,
        "state_code_blank_customers": len(draft.blank_state_code),
    }


def make_customers(rng: random.Random, scale: int) -> Customers:
    """Customers.csv from rng at scale (CUSTOMER_ROWS * scale rows, CUSTOMER_KEYS * scale keys) and its figures;
    RuntimeError if a self-check fails."""
    n_rows = CUSTOMER_ROWS * scale
    per_kind = SUPERSEDED_PER_KIND * scale
    n_duplicates = EXACT_DUPLICATES * scale
    draft = _draw_people(rng, scale)
    _choose_mojibake(rng, draft)
    taken, chosen = _choose_superseded(rng, draft, per_kind)
    _place_superseded(rng, draft, chosen)
    _place_duplicates(rng, draft, taken, n_duplicates)
    layout = _lay_out(draft)
    check(len(layout.lines) - 1 == n_rows, f"{len(layout.lines) - 1} customer rows generated, expected {n_rows}")
    statuses, by_kind = _survivors(draft, layout)
    return Customers(
        CsvFile("customers", "\n".join(layout.lines) + "\n", n_rows),
        [int(person.record[KEY]) for person in draft.people],
        [person.country for person in draft.people],
        _figures(draft, layout, statuses, by_kind),
        exact_duplicates=n_duplicates,
        superseded=3 * per_kind,
    )
