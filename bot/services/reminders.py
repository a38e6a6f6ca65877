"""Meeting reminders: 24 hours and 1 hour before every confirmed meeting, to both sides.

The job asks which confirmed meetings start within the next 24 hours (resp. 1 hour) and
have not been reminded (index (status, starts_at)), marks them and returns what to send as
:class:`Notice` values; bot/views/reminders.py words them in each recipient's language and
queues them in the outbox with `expires_at` = the meeting's start, so the sender drops a
reminder that the quiet hours would hold past it. A 24-hour reminder whose moment passed
before the meeting was confirmed (confirmed less than 24 hours ahead) is not sent: the
1-hour one is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ACTIVE_PAIR_STATUSES, Organisation, ParticipantStatus, Role
from db.queries import reminders as q

DAY = dt.timedelta(hours=24)
HOUR = dt.timedelta(hours=1)
BATCH = 1000  # meetings per pass and tick; the rest wait for the next tick
DEFAULT_TZ = "Europe/Moscow"


class NoticeKind(StrEnum):
    REMINDER_24H = "reminder_24h"
    REMINDER_1H = "reminder_1h"
    NUDGE_FIRST = "nudge_first"  # no first meeting yet
    NUDGE_IDLE = "nudge_idle"  # no meeting held for a while
    ESCALATE = "escalate"  # the curator is told
    REMIND = "remind"  # a curator's /remind
    PAUSE_END = "pause_end"


@dataclass(frozen=True, slots=True)
class Notice:
    """One message for one person; the view words it."""

    kind: NoticeKind
    key: str
    telegram_id: int
    participant_id: int
    language: str
    organisation_id: int | None  # whose quiet hours apply
    timezone: str
    pair_id: int | None = None
    role: str = ""  # the recipient's side: mentor, mentee or curator
    other: str = ""  # the other side's name (plain); for a group meeting, empty
    group_size: int = 0  # mentees in a group meeting
    mentee: str = ""  # for curators
    mentor: str = ""
    starts_at: dt.datetime | None = None
    place: str | None = None
    meeting_kind: str = ""
    days: int = 0  # since approval or since the last meeting held
    held: bool = False  # a meeting has been held (else: none yet)
    expires_at: dt.datetime | None = None


def reachable(member: q.Member) -> bool:
    return member.telegram_id is not None and member.status != ParticipantStatus.FORGOTTEN


def timezone_of(orgs: dict[int, Organisation], org_id: int) -> str:
    org = orgs.get(org_id)
    return org.timezone if org is not None and org.timezone else DEFAULT_TZ


async def due_reminders(
    session: AsyncSession, now: dt.datetime, limit: int = BATCH
) -> list[Notice]:
    """Mark the meetings due a reminder and return the reminders to send."""
    notices: list[Notice] = []
    for hour, ahead in ((True, HOUR), (False, DAY)):
        due = await q.meetings_due(session, now, ahead, hour=hour, limit=limit)
        if not due:
            continue
        if hour:
            send = due
        else:
            # The 24-hour moment was skipped (confirmed later, or we are within the last
            # hour already): only the 1-hour reminder goes.
            send = [
                m for m in due
                if m.starts_at - now > HOUR
                and (m.confirmed_at is None or m.confirmed_at <= m.starts_at - DAY)
            ]
        notices += await _meeting_notices(session, send, now, hour=hour)
        await q.mark_reminded(session, [m.id for m in due], now, hour=hour)
    return notices


async def _meeting_notices(
    session: AsyncSession, meetings: Iterable[q.DueMeeting], now: dt.datetime, *, hour: bool
) -> list[Notice]:
    meetings = list(meetings)
    if not meetings:
        return []
    single = await q.pairs_by_id(session, {m.pair_id for m in meetings if not m.group_key})
    grouped = await q.pairs_of_groups(session, {m.group_key for m in meetings if m.group_key})
    by_id = {p.id: p for p in single}
    by_group: dict[str, list[q.DuePair]] = {}
    for pair in grouped:
        by_group.setdefault(pair.group_key or "", []).append(pair)
    people = await q.members(
        session, {i for p in (*single, *grouped) for i in (p.mentor_id, p.mentee_id)}
    )
    orgs = await q.organisations(session, {m.organisation_id for m in people.values()})
    kind = NoticeKind.REMINDER_1H if hour else NoticeKind.REMINDER_24H
    tag = "1h" if hour else "24h"
    out: list[Notice] = []
    for meeting in meetings:
        if meeting.group_key:
            pairs = by_group.get(meeting.group_key, [])
        else:
            one = by_id.get(meeting.pair_id)
            pairs = [one] if one is not None and one.status in ACTIVE_PAIR_STATUSES else []
        sides = [(people.get(p.mentor_id), people.get(p.mentee_id)) for p in pairs]
        sides = [(a, b) for a, b in sides if a is not None and b is not None]
        if not sides:
            continue
        mentor = sides[0][0]
        assert mentor is not None
        mentees = [b for _, b in sides if b is not None]
        tz = timezone_of(orgs, mentor.organisation_id)
        stamp = int(meeting.starts_at.timestamp())
        group = bool(meeting.group_key)
        recipients: list[tuple[q.Member, str]] = [
            (mentor, "" if group else mentees[0].name)
        ] + [(mentee, mentor.name) for mentee in mentees]
        seen: set[int] = set()
        for person, other in recipients:
            if not reachable(person) or person.participant_id in seen:
                continue
            seen.add(person.participant_id)
            assert person.telegram_id is not None
            out.append(Notice(
                kind=kind,
                key=f"rem{tag}:{meeting.id}:{person.participant_id}:{stamp}",
                telegram_id=person.telegram_id,
                participant_id=person.participant_id,
                language=person.language,
                organisation_id=person.organisation_id,
                timezone=tz,
                pair_id=meeting.pair_id,
                role=Role.MENTOR if person is mentor else Role.MENTEE,
                other=other,
                group_size=len(mentees) if group else 0,
                starts_at=meeting.starts_at,
                place=meeting.place,
                meeting_kind=meeting.kind,
                expires_at=meeting.starts_at,
            ))
    return out
