"""Quiet hours: the first moment a message may go out, in the organisation's own time."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot.services.quiet import in_quiet_hours, next_allowed

UTC = dt.UTC
VLAD = ZoneInfo("Asia/Vladivostok")  # UTC+10, no DST


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # 12:00 UTC = 22:00 in Vladivostok: quiet until 08:00 local = 22:00 UTC.
        (utc(2026, 3, 10, 12, 0), utc(2026, 3, 10, 22, 0)),
        # 11:59 UTC = 21:59 local: still allowed.
        (utc(2026, 3, 10, 11, 59), utc(2026, 3, 10, 11, 59)),
        # 15:00 UTC = 01:00 local the next day: quiet until 08:00 that day (22:00 UTC).
        (utc(2026, 3, 10, 15, 0), utc(2026, 3, 10, 22, 0)),
        # 21:59:30 UTC = 07:59:30 local: half a minute to wait.
        (utc(2026, 3, 10, 21, 59, 30), utc(2026, 3, 10, 22, 0)),
        # 22:00 UTC = 08:00 local: allowed.
        (utc(2026, 3, 10, 22, 0), utc(2026, 3, 10, 22, 0)),
    ],
)
def test_vladivostok_default_quiet_hours(now: dt.datetime, expected: dt.datetime) -> None:
    assert next_allowed(now, VLAD, 22 * 60, 8 * 60) == expected


def test_equal_bounds_mean_no_quiet_hours() -> None:
    now = utc(2026, 3, 10, 15, 0)
    assert next_allowed(now, VLAD, 0, 0) == now
    assert next_allowed(now, "Asia/Vladivostok", 600, 600) == now


def test_daytime_quiet_hours_without_wrapping() -> None:
    # 13:00-14:00 local quiet (a lesson); 03:30 UTC = 13:30 local.
    assert next_allowed(utc(2026, 3, 10, 3, 30), VLAD, 13 * 60, 14 * 60) == utc(2026, 3, 10, 4)
    assert next_allowed(utc(2026, 3, 10, 5, 0), VLAD, 13 * 60, 14 * 60) == utc(2026, 3, 10, 5)


def test_in_quiet_hours_wraps_past_midnight() -> None:
    assert in_quiet_hours(23 * 60, 1320, 480)
    assert in_quiet_hours(0, 1320, 480)
    assert in_quiet_hours(479, 1320, 480)
    assert not in_quiet_hours(480, 1320, 480)
    assert not in_quiet_hours(1319, 1320, 480)


def test_spring_forward_night_ends_at_local_morning() -> None:
    # Europe/Berlin: 2026-03-29 02:00 -> 03:00. At 23:00 local (22:00 UTC, CET) on the 28th
    # the night ends at 08:00 CEST on the 29th = 06:00 UTC.
    berlin = ZoneInfo("Europe/Berlin")
    assert next_allowed(utc(2026, 3, 28, 22, 0), berlin, 1320, 480) == utc(2026, 3, 29, 6, 0)


def test_fall_back_night_ends_at_local_morning() -> None:
    # America/New_York: 2026-11-01 02:00 EDT -> 01:00 EST. 23:00 EDT on Oct 31 = 03:00 UTC;
    # 08:00 EST on Nov 1 = 13:00 UTC.
    ny = ZoneInfo("America/New_York")
    assert next_allowed(utc(2026, 11, 1, 3, 0), ny, 1320, 480) == utc(2026, 11, 1, 13, 0)


def test_an_end_inside_the_dst_gap_is_after_the_jump() -> None:
    # Quiet 01:00-02:30 in Berlin on the spring-forward night: 02:30 does not exist, so the
    # night ends when the clocks read 03:30 CEST (01:30 UTC) at the latest, never before now.
    berlin = ZoneInfo("Europe/Berlin")
    now = utc(2026, 3, 29, 0, 30)  # 01:30 CET
    allowed = next_allowed(now, berlin, 60, 150)
    assert now < allowed <= utc(2026, 3, 29, 1, 30)
    assert not in_quiet_hours(
        allowed.astimezone(berlin).hour * 60 + allowed.astimezone(berlin).minute, 60, 150
    )
