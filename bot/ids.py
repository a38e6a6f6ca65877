"""Numbers typed by users or carried in buttons, checked before they reach a query.

Database ids are 64-bit signed integers: anything outside 1..2**63-1 cannot name a row and
would overflow the driver, so it is rejected here instead of crashing a handler.
"""

from __future__ import annotations

import re

MAX_ID = 2**63 - 1
_DIGITS = re.compile(r"#?([0-9]{1,19})")


def valid_id(value: int) -> bool:
    return 1 <= value <= MAX_ID


def parse_id(text: str | None) -> int | None:
    """An id typed as ASCII digits (optionally after "#"), or None."""
    found = _DIGITS.fullmatch((text or "").strip())
    if found is None:
        return None
    value = int(found.group(1))
    return value if valid_id(value) else None


def parse_ids(text: str | None, count: int) -> list[int] | None:
    """Exactly `count` ids separated by spaces or commas, or None."""
    parts = (text or "").replace(",", " ").split()
    if len(parts) != count:
        return None
    ids = [parse_id(part) for part in parts]
    return [i for i in ids if i is not None] if all(i is not None for i in ids) else None


def first_invalid(text: str | None) -> str | None:
    """The first word that is not an id (to quote it back), or None."""
    return next(
        (part for part in (text or "").replace(",", " ").split() if parse_id(part) is None), None
    )
