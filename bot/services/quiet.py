"""An organisation's quiet hours: when a message the bot sends on its own may go out."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

DAY_MIN = 24 * 60


def in_quiet_hours(minute: int, from_min: int, to_min: int) -> bool:
    """Whether a local minute of the day (0..1439) falls in [from, to), wrapping past midnight."""
    if from_min == to_min:
        return False
    if from_min < to_min:
        return from_min <= minute < to_min
    return minute >= from_min or minute < to_min


def next_allowed(
    now_utc: dt.datetime, tz: ZoneInfo | str, from_min: int, to_min: int
) -> dt.datetime:
    """The first moment from now_utc (aware) that is outside the quiet hours, in UTC.

    from_min/to_min are local minutes of the day (1320/480 = 22:00-08:00); equal means no
    quiet hours. The end is the local wall-clock time `to_min` on the right day; on a day
    when the clocks jump over it, the first real moment after the jump.
    """
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    local = now_utc.astimezone(zone)
    minute = local.hour * 60 + local.minute
    if not in_quiet_hours(minute, from_min % DAY_MIN, to_min % DAY_MIN):
        return now_utc
    day = local.date()
    if from_min > to_min and minute >= from_min:  # evening part: the end is tomorrow morning
        day += dt.timedelta(days=1)
    wall = dt.datetime.combine(day, dt.time(to_min // 60, to_min % 60))
    end = wall.replace(tzinfo=zone).astimezone(dt.UTC)
    # A wall time skipped by a DST jump maps past the jump; an ambiguous one to its first
    # occurrence. Either way the end is after now.
    return max(end, now_utc)
