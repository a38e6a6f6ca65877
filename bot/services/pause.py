"""/pause and /resume: a participant stops hearing from the bot until a date.

A paused person (Participant.status PAUSED, paused_until, pause_reason) gets nothing: the
sender holds their outbox rows, the nudge job skips their pairs (their check moves to the
pause's end). The pause ends by /resume or when paused_until passes (a job). The end date
is a day in the organisation's timezone: the pause lasts until that day begins.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.errors import ServiceError
from bot.services.reminders import DEFAULT_TZ, Notice, NoticeKind
from db.models import (
    Membership,
    MembershipStatus,
    Organisation,
    Participant,
    ParticipantStatus,
    PauseReason,
    Role,
)
from db.queries import reminders as q

MAX_DAYS = 366
BATCH = 500
QUICK_DAYS = {"1w": 7, "2w": 14}  # "1m" is a calendar month
_DATE = re.compile(r"\s*(\d{1,2})[./](\d{1,2})(?:[./](\d{2}|\d{4}))?\s*")


@dataclass(frozen=True, slots=True)
class PausedRow:
    participant_id: int
    name: str
    roles: tuple[str, ...]
    until: dt.datetime | None
    reason: str | None


async def timezone_for(session: AsyncSession, participant_id: int) -> str:
    """The timezone of the person's (first) organisation."""
    return (await organisation_for(session, participant_id))[1]


async def organisation_for(session: AsyncSession, participant_id: int) -> tuple[int | None, str]:
    """The person's (first) organisation and its timezone."""
    stmt = (
        select(Organisation.id, Organisation.timezone)
        .join(Membership, Membership.organisation_id == Organisation.id)
        .where(Membership.participant_id == participant_id)
        .order_by(Membership.id)
        .limit(1)
    )
    row = (await session.execute(stmt)).first()
    return (row[0], row[1] or DEFAULT_TZ) if row is not None else (None, DEFAULT_TZ)


def local_today(now: dt.datetime, tz: str) -> dt.date:
    return now.astimezone(ZoneInfo(tz)).date()


def day_start(day: dt.date, tz: str) -> dt.datetime:
    """The moment a local day begins, in UTC."""
    return dt.datetime.combine(day, dt.time(0, 0), ZoneInfo(tz)).astimezone(dt.UTC)


def parse_date(text: str, today: dt.date) -> dt.date | None:
    """"25.12" (the next such day) or "25.12.2026"; None if it is no date."""
    found = _DATE.fullmatch(text or "")
    if found is None:
        return None
    day, month, year = int(found.group(1)), int(found.group(2)), found.group(3)
    try:
        if year is not None:
            full = int(year) + (2000 if len(year) == 2 else 0)
            return dt.date(full, month, day)
        date = dt.date(today.year, month, day)
        return date if date > today else dt.date(today.year + 1, month, day)
    except ValueError:
        return None


def quick_date(code: str, today: dt.date) -> dt.date | None:
    if code in QUICK_DAYS:
        return today + dt.timedelta(days=QUICK_DAYS[code])
    if code == "1m":
        month = today.month % 12 + 1
        year = today.year + (today.month == 12)
        for day in (today.day, 30, 29, 28):
            try:
                return dt.date(year, month, day)
            except ValueError:
                continue
    return None


def check_date(date: dt.date, today: dt.date) -> None:
    if date <= today:
        raise ServiceError("pause_date_past")
    if (date - today).days > MAX_DAYS:
        raise ServiceError("pause_too_long", days=MAX_DAYS)


async def pause(
    session: AsyncSession, participant: Participant, *, reason: str, until: dt.date,
    now: dt.datetime,
) -> dt.datetime:
    """Pause the person until the local day `until` begins; returns that moment (UTC)."""
    if participant.status == ParticipantStatus.FORGOTTEN:
        raise ServiceError("pause_not_possible")
    if reason not in set(PauseReason):
        raise ServiceError("pause_not_possible")
    tz = await timezone_for(session, participant.id)
    check_date(until, local_today(now, tz))
    participant.status = ParticipantStatus.PAUSED
    participant.paused_until = day_start(until, tz)
    participant.pause_reason = reason
    await session.flush()
    return participant.paused_until


async def resume(session: AsyncSession, participant: Participant) -> bool:
    """End the pause now; False if there was none."""
    if participant.status != ParticipantStatus.PAUSED:
        return False
    participant.status = ParticipantStatus.ACTIVE
    participant.paused_until = None
    participant.pause_reason = None
    await session.flush()
    return True


async def resume_due(session: AsyncSession, now: dt.datetime, limit: int = BATCH) -> list[Notice]:
    """End the pauses whose date has come; each person is told their pause is over."""
    ids = await q.pauses_over(session, now, limit)
    if not ids:
        return []
    people = (
        await session.execute(select(Participant).where(Participant.id.in_(ids)))
    ).scalars().all()
    out: list[Notice] = []
    for person in people:
        until = person.paused_until
        await resume(session, person)
        if person.telegram_id is None or until is None:
            continue
        org_id, tz = await organisation_for(session, person.id)
        out.append(Notice(
            kind=NoticeKind.PAUSE_END, key=f"pause_end:{person.id}:{int(until.timestamp())}",
            telegram_id=person.telegram_id, participant_id=person.id,
            language=person.language or "ru", organisation_id=org_id, timezone=tz,
        ))
    return out


async def paused_people(session: AsyncSession, org_ids: Collection[int]) -> list[PausedRow]:
    """Who is paused among the mentees and mentors of these organisations."""
    if not org_ids:
        return []
    stmt = (
        select(Participant, Membership.role)
        .join(Membership, Membership.participant_id == Participant.id)
        .where(
            Membership.organisation_id.in_(list(org_ids)),
            Membership.role.in_([Role.MENTEE, Role.MENTOR]),
            Membership.status.not_in([MembershipStatus.DECLINED, MembershipStatus.WITHDRAWN]),
            Participant.status == ParticipantStatus.PAUSED,
        )
        .order_by(Participant.paused_until, Participant.id)
    )
    rows: dict[int, PausedRow] = {}
    for person, role in (await session.execute(stmt)).all():
        known = rows.get(person.id)
        roles = tuple(sorted({*(known.roles if known else ()), role}))
        rows[person.id] = PausedRow(
            person.id, person.full_name or person.tg_first_name or "", roles,
            person.paused_until, person.pause_reason,
        )
    return list(rows.values())
