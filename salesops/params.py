"""Parsing of untrusted scalars from query strings, form fields and JSON (R4: never a 500).

`str.isdigit()` is true for "፩" or "²", which `int()` then refuses; a 23-digit number passes
`int()` but overflows SQLite's 64-bit integers. Every id, page number or date a browser or a
remote system sends goes through one of these helpers instead, so the rule lives in one place.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from django.utils.dateparse import parse_date, parse_datetime

# Database ids and counters: a signed 64-bit integer is what SQLite and PostgreSQL's bigint hold.
INT_MAX = 2**63 - 1
_ASCII_INT = re.compile(r"[+-]?[0-9]{1,19}")


def parse_int(value: object, *, minimum: int | None = None, maximum: int = INT_MAX) -> int | None:
    """The integer in `value`, or None when it is not a plain integer within bounds.

    Full-width and other Unicode decimal digits ("１２", "١٢") are folded to ASCII first (people type
    them on Chinese keyboards); anything else that merely *looks* like a digit is refused.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    else:
        if not isinstance(value, str):
            return None
        text = unicodedata.normalize("NFKC", value).strip()
        text = "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in text)
        if not _ASCII_INT.fullmatch(text):
            return None
        number = int(text)
    if minimum is not None and number < minimum:
        return None
    if number > maximum or number < -INT_MAX:
        return None
    return number


def parse_int_param(params, name: str, *, minimum: int | None = 1) -> int | None:
    """`?rep=12` → 12; a missing, foreign or out-of-range value → None (the filter is ignored)."""
    return parse_int(params.get(name, ""), minimum=minimum)


def parse_date_value(value: object) -> dt.date | None:
    """An ISO date, or None for anything else (including "2026-13-45", which `parse_date` raises on)."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        return parse_date(value.strip())
    except ValueError:
        return None


def parse_date_param(params, name: str) -> dt.date | None:
    return parse_date_value(params.get(name, ""))


def parse_datetime_value(value: object) -> dt.datetime | None:
    """An ISO date-time, or None for anything malformed or impossible."""
    if not isinstance(value, str) or len(value) > 60:
        return None
    try:
        return parse_datetime(value.strip())
    except ValueError:
        return None


def json_depth_exceeds(value: object, limit: int) -> bool:
    """True when `value` (decoded JSON) nests deeper than `limit` — checked without recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return False


def raw_json_depth_exceeds(text: str, limit: int) -> bool:
    """Cheap pre-check on the raw body: bracket nesting beyond `limit` (strings are skipped).

    `json.loads` recurses per level and raises RecursionError near 1,000 levels; checking the text
    first answers a 400 without ever building the deep structure.
    """
    depth = 0
    in_string = False
    escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return True
        elif ch in "]}":
            depth -= 1
    return False
