"""The reporting calendar and what of it is due now, per organisation's timezone.

A week before and on the day of each deadline (from 10:00 local, made up within two days
if the bot was down) the organisation's curators get a reminder followed by the
organisation's /summary and /kpi; coordinators get the reminder once. At the start of each
quarter (1 Jan/Apr/Jul/Oct, 10:00 local, made up within a week) every curator gets the
summary. Idempotency keys name (person, deadline, year, week/day, organisation), so a second
pass or a restart sends nothing twice. Rendering and queueing: scheduler/deadlines.py.

Dates (DOMAIN.md "Monitoring", seeds 001 and 002): organisation monitoring 20 October,
municipal monitoring 1 November, the federal statistics form 20 January (on the year before),
mentors' forum 25 December; seed 002's June and December monitoring windows name no day:
ours are 25 June and 20 December.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.reports.period import zone
from db.models import Organisation, OutboxMessage
from db.queries import reports as q

SEND_AT = dt.time(10, 0)
LEAD_DAYS = 7
GRACE = dt.timedelta(days=2)
QUARTER_GRACE = dt.timedelta(days=7)
KEY_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Deadline:
    code: str
    month: int
    day: int
    kpi_year_offset: int = 0  # the KPI year the deadline reports on, from its own year


CALENDAR: tuple[Deadline, ...] = (
    Deadline("federal_form", 1, 20, -1),
    Deadline("june_monitoring", 6, 25),
    Deadline("org_monitoring", 10, 20),
    Deadline("municipal_monitoring", 11, 1),
    Deadline("december_monitoring", 12, 20),
    Deadline("forum", 12, 25),
)


@dataclass(frozen=True, slots=True)
class Reminder:
    deadline: Deadline
    date: dt.date  # the deadline's day
    week_before: bool

    @property
    def kpi_year(self) -> int:
        return self.date.year + self.deadline.kpi_year_offset

    def key(self, person: int | str, organisation_id: int) -> str:
        """`person`: the participant id (or "t<telegram id>" for an ADMIN_IDS coordinator who
        never wrote to the bot)."""
        when = "w" if self.week_before else "d"
        return f"dl:{self.deadline.code}:{self.date.year}:{when}:{person}:{organisation_id}"


@dataclass(frozen=True, slots=True)
class Notice:
    """One person's reminder (or quarterly summary) for one organisation (0: a coordinator's
    reminder, with no organisation's texts)."""

    key: str
    participant_id: int | None
    chat_id: int
    language: str
    organisation_id: int
    reminder: Reminder | None = None
    quarter: str | None = None  # "2027Q1": the quarter that starts


def due_reminders(now: dt.datetime, timezone: str) -> list[Reminder]:
    tz = zone(timezone)
    local_year = now.astimezone(tz).year
    found = []
    for year in (local_year - 1, local_year, local_year + 1):
        for deadline in CALENDAR:
            date = dt.date(year, deadline.month, deadline.day)
            for week_before, day in ((True, date - dt.timedelta(days=LEAD_DAYS)), (False, date)):
                start = dt.datetime.combine(day, SEND_AT, tz)
                stop = start + GRACE
                if week_before:  # never "in a week" once the day has come
                    stop = min(stop, dt.datetime.combine(date, dt.time(0, 0), tz))
                if start <= now < stop:
                    found.append(Reminder(deadline, date, week_before))
    return found


def quarter_due(now: dt.datetime, timezone: str) -> str | None:
    """The quarter whose start (10:00 local on its first day) passed less than a week ago."""
    tz = zone(timezone)
    local = now.astimezone(tz)
    quarter = (local.month - 1) // 3
    start = dt.datetime(local.year, quarter * 3 + 1, 1, SEND_AT.hour, tzinfo=tz)
    if start <= now < start + QUARTER_GRACE:
        return f"{local.year}Q{quarter + 1}"
    return None


async def _queued(session: AsyncSession, keys: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(keys), KEY_CHUNK):
        chunk = list(keys[i:i + KEY_CHUNK])
        stmt = select(OutboxMessage.idempotency_key).where(
            OutboxMessage.idempotency_key.in_(chunk))
        found |= set((await session.execute(stmt)).scalars())
    return found


async def due(
    session: AsyncSession, now: dt.datetime, admin_ids: Collection[int] = frozenset()
) -> list[Notice]:
    """Everything due now that was not queued before (keys checked against the outbox).
    Coordinators: those marked in the database and the ADMIN_IDS with a participant row."""
    orgs = (await session.execute(select(Organisation.id, Organisation.timezone))).all()
    reminders = {org_id: due_reminders(now, tz) for org_id, tz in orgs}
    quarters = {org_id: quarter_due(now, tz) for org_id, tz in orgs}
    wanted = [org_id for org_id, _ in orgs if reminders[org_id] or quarters[org_id]]
    if not wanted:
        return []
    notices: list[Notice] = []
    for org_id, person, chat, language in await q.report_recipients(session, wanted):
        for reminder in reminders[org_id]:
            notices.append(Notice(reminder.key(person, org_id), person, chat, language, org_id,
                                  reminder=reminder))
        quarter = quarters[org_id]
        if quarter is not None:
            notices.append(Notice(f"qs:{quarter}:{person}:{org_id}", person, chat, language,
                                  org_id, quarter=quarter))
    every = {r for found in reminders.values() for r in found}
    if every:
        coordinators: list[tuple[int | None, int, str]] = list(
            await q.coordinators(session, admin_ids))
        known = {chat for _, chat, _ in coordinators}
        coordinators += [(None, chat, "ru") for chat in sorted(set(admin_ids) - known)]
        for who, chat, language in coordinators:
            for reminder in sorted(every, key=lambda r: (r.date, r.deadline.code,
                                                         r.week_before)):
                key = reminder.key(who if who is not None else f"t{chat}", 0)
                notices.append(Notice(key, who, chat, language, 0, reminder=reminder))
    queued = await _queued(session, [n.key for n in notices])
    return [n for n in notices if n.key not in queued]
