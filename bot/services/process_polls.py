"""The process-quality questionnaire (bot/data/polls/poll-process.yaml): both sides of every
working pair are asked how the programme is run, at the middle of the programme and on
1 June and 1 December (10:00 local time), if those fall within the programme.

A round stays open for the poll's 14 days: pairs approved before the round began and not
asked yet are asked (at most `BATCH` pairs per pass of the poll job), so a restart or a
late tick loses nothing and a pair is asked once per round (milestone "process:<round>":
"process:mid", "process:2027-06"). A calendar round within 30 days of the middle one is
skipped: one questionnaire is enough.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import polls
from bot.services.polls import Milestone, PollNotice
from db.queries import polls as q

BATCH = 100
WINDOW = polls.CLOSE_AFTER
NEAR_MID = dt.timedelta(days=30)
LOCAL_HOUR = dt.time(10, 0)


@dataclass(frozen=True, slots=True)
class Round:
    key: str
    starts: dt.date


def open_rounds(start: dt.date, end: dt.date, today: dt.date) -> list[Round]:
    """The rounds of a programme running from `start` to `end` that are open on `today`."""
    mid = Round("mid", start + (end - start) // 2)
    rounds = [mid]
    for year in (today.year - 1, today.year):
        for month in (6, 12):
            day = dt.date(year, month, 1)
            if abs(day - mid.starts) >= NEAR_MID:
                rounds.append(Round(f"{year}-{month:02d}", day))
    return [r for r in rounds
            if start <= r.starts <= end and r.starts <= today < r.starts + WINDOW]


async def due(session: AsyncSession, now: dt.datetime, limit: int = BATCH) -> list[PollNotice]:
    notices: list[PollNotice] = []
    left = limit
    for programme_id, start, end, timezone in await q.live_programmes(session, now.date()):
        zone = ZoneInfo(timezone)
        today = now.astimezone(zone).date()
        for found in open_rounds(start, end, today):
            begins = dt.datetime.combine(found.starts, LOCAL_HOUR, tzinfo=zone)
            if now < begins or left <= 0:
                continue
            milestone = f"{Milestone.PROCESS.value}:{found.key}"
            pairs = await q.pairs_not_asked(session, programme_id, milestone, begins, left)
            left -= len(pairs)
            for pair_id, mentee_id, mentor_id in pairs:
                notices += await polls.ask_both(
                    session, pair_id, mentee_id, mentor_id, milestone, now
                )
    return notices
