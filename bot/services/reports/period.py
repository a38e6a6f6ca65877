"""Calendar periods in an organisation's timezone, as UTC bounds."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo


def zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def local_year(now: dt.datetime, timezone: str) -> int:
    """The calendar year it is now in the organisation's timezone."""
    return now.astimezone(zone(timezone)).year


def year_bounds(year: int, timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """1 January 00:00 of `year` and of the next, local, as UTC."""
    tz = zone(timezone)
    start = dt.datetime(year, 1, 1, tzinfo=tz).astimezone(dt.UTC)
    end = dt.datetime(year + 1, 1, 1, tzinfo=tz).astimezone(dt.UTC)
    return start, end


def month_bounds(now: dt.datetime, timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """The local calendar month `now` falls in, as UTC bounds."""
    tz = zone(timezone)
    local = now.astimezone(tz)
    start = dt.datetime(local.year, local.month, 1, tzinfo=tz)
    nxt = dt.datetime(local.year + (local.month == 12), local.month % 12 + 1, 1, tzinfo=tz)
    return start.astimezone(dt.UTC), nxt.astimezone(dt.UTC)
