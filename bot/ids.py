"""Ids typed by people: digits only and within the database's 64-bit integer range."""

from __future__ import annotations

MAX_ID = 2**63 - 1


def parse_id(text: str | None) -> int | None:
    """The id in `text` ("12", "#12", " 12 "), or None when it is not a usable id."""
    raw = (text or "").strip().removeprefix("#")
    if not raw.isascii() or not raw.isdigit() or len(raw) > len(str(MAX_ID)):
        return None
    value = int(raw)
    return value if 1 <= value <= MAX_ID else None
