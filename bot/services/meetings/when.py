"""Meeting times: typed date-times, the day picker and its time slots, all in the
organisation's timezone. "Today" is the injected clock's today there, never the server's."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.services.errors import ServiceError

PICKER_DAYS = 14
SLOT_FIRST = 8 * 60  # 08:00 local
SLOT_LAST = 21 * 60 + 30  # 21:30 local, the last slot start
SLOT_STEP = 30
MAX_AHEAD = dt.timedelta(days=366)
DAY_CODE = "%Y%m%d"

_RELATIVE = {
    "сегодня": 0, "today": 0,
    "завтра": 1, "tomorrow": 1,
    "послезавтра": 2, "day after tomorrow": 2,
}
_DATE = r"(?P<day>\d{1,2})[./](?P<month>\d{1,2})(?:[./](?P<year>\d{2}|\d{4}))?"
_WORD = "|".join(sorted((re.escape(w) for w in _RELATIVE), key=len, reverse=True))
_TIME = r"(?P<hour>\d{1,2})[:.](?P<minute>\d{2})"
_TYPED = re.compile(
    rf"^\s*(?:(?P<word>{_WORD})|{_DATE})\s*(?:,|в|at)?\s*{_TIME}\s*$", re.IGNORECASE
)
_TIME_ONLY = re.compile(rf"^\s*(?:в|at)?\s*{_TIME}\s*$", re.IGNORECASE)


def zone(name: str | None) -> ZoneInfo:
    """The organisation's timezone; a broken name falls back to Moscow time."""
    try:
        return ZoneInfo(name or "Europe/Moscow")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Europe/Moscow")


def local(moment: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    return moment.astimezone(tz)


def local_today(now: dt.datetime, tz: ZoneInfo) -> dt.date:
    return now.astimezone(tz).date()


def at_local(day: dt.date, hour: int, minute: int, tz: ZoneInfo) -> dt.datetime:
    """A local wall-clock time as an aware UTC datetime."""
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz).astimezone(dt.UTC)


def check_when(starts_at: dt.datetime, now: dt.datetime) -> dt.datetime:
    """A meeting time must be ahead, and not absurdly far ahead."""
    if starts_at <= now:
        raise ServiceError("meeting_time_past")
    if starts_at > now + MAX_AHEAD:
        raise ServiceError("meeting_time_far")
    return starts_at


def _time(hour: str, minute: str) -> tuple[int, int]:
    h, m = int(hour), int(minute)
    if not (0 <= h <= 23 and 0 <= m <= 59):
        raise ServiceError("meeting_time_format")
    return h, m


def parse_when(text: str, tz: ZoneInfo, now: dt.datetime) -> dt.datetime:
    """"25.11 15:30", "25.11.2026 15:30", "завтра 15:30", "tomorrow 9:00" -> UTC.

    A date without a year that is already behind (local today) means next year's."""
    match = _TYPED.match(text or "")
    if match is None:
        raise ServiceError("meeting_time_format")
    hour, minute = _time(match["hour"], match["minute"])
    today = local_today(now, tz)
    if match["word"]:
        day = today + dt.timedelta(days=_RELATIVE[match["word"].lower()])
    else:
        year = int(match["year"]) if match["year"] else today.year
        if year < 100:
            year += 2000
        try:
            day = dt.date(year, int(match["month"]), int(match["day"]))
        except ValueError:
            raise ServiceError("meeting_time_bad_date") from None
        if not match["year"] and day < today:
            try:
                day = day.replace(year=year + 1)
            except ValueError:  # 29.02
                raise ServiceError("meeting_time_bad_date") from None
    return check_when(at_local(day, hour, minute, tz), now)


def parse_time_on(text: str, day: dt.date, tz: ZoneInfo, now: dt.datetime) -> dt.datetime | None:
    """Just "15:30" once a day is picked; None when the text is not a bare time."""
    match = _TIME_ONLY.match(text or "")
    if match is None:
        return None
    hour, minute = _time(match["hour"], match["minute"])
    return check_when(at_local(day, hour, minute, tz), now)


def picker_days(now: dt.datetime, tz: ZoneInfo) -> list[dt.date]:
    """Today and the next 13 days, local."""
    today = local_today(now, tz)
    return [today + dt.timedelta(days=i) for i in range(PICKER_DAYS)]


def day_code(day: dt.date) -> str:
    return day.strftime(DAY_CODE)


def parse_day(code: str, now: dt.datetime, tz: ZoneInfo) -> dt.date | None:
    """A picker day back from its button; None when forged or no longer offered."""
    try:
        day = dt.datetime.strptime(code, DAY_CODE).date()
    except ValueError:
        return None
    return day if day in picker_days(now, tz) else None


def slots(day: dt.date, now: dt.datetime, tz: ZoneInfo) -> list[tuple[int, int]]:
    """The day's (hour, minute) slot starts still ahead of now."""
    out = []
    for minutes in range(SLOT_FIRST, SLOT_LAST + 1, SLOT_STEP):
        hour, minute = divmod(minutes, 60)
        if at_local(day, hour, minute, tz) > now:
            out.append((hour, minute))
    return out


def parse_slot(code: str) -> tuple[int, int] | None:
    """"1530" -> (15, 30), only for real slot starts."""
    if not re.fullmatch(r"\d{4}", code or ""):
        return None
    hour, minute = int(code[:2]), int(code[2:])
    total = hour * 60 + minute
    if minute >= 60 or not SLOT_FIRST <= total <= SLOT_LAST or (total - SLOT_FIRST) % SLOT_STEP:
        return None
    return hour, minute
