"""/summary: one organisation's programme at a glance, aggregated in SQL."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.errors import ServiceError
from bot.services.people import progress_of
from bot.services.reports.period import month_bounds
from db.models import Membership, Organisation, ParticipantStatus, Role
from db.queries import reports as q

IDLE_DAYS = 14
PROGRESS_ORDER = ("done", "in_progress", "not_started", "consent_pending", "withdrawn")


@dataclass(slots=True)
class Summary:
    organisation_id: int
    # role (mentee, mentor) -> questionnaire progress (bot.services.people.Progress) -> count
    people: dict[str, dict[str, int]]
    curators: int
    pairs: dict[str, int]  # pair status -> count
    meetings_month: int  # held, begun this local calendar month
    idle_pairs: int  # working pairs with no meeting held for IDLE_DAYS days
    paused: int
    unreachable: int
    polls_sent: int
    polls_answered: int
    # role -> (satisfied, answered) in the final survey; satisfied: >= threshold of 1-10
    satisfaction: dict[str, tuple[int, int]] = field(default_factory=dict)
    threshold: int = 8
    idle_days: int = IDLE_DAYS

    def share(self, role: str) -> float | None:
        """Satisfied share of those who answered, in percent; None: nobody answered."""
        ok, answered = self.satisfaction.get(role, (0, 0))
        return 100.0 * ok / answered if answered else None


async def organisation(session: AsyncSession, organisation_id: int) -> Organisation:
    org = await session.get(Organisation, organisation_id)
    if org is None:
        raise ServiceError("reports_no_org")
    return org


async def summary(session: AsyncSession, organisation_id: int, now: dt.datetime) -> Summary:
    org = await organisation(session, organisation_id)
    people: dict[str, dict[str, int]] = {Role.MENTEE: {}, Role.MENTOR: {}}
    for role, status, response_status, n in await q.people_by_status(session, org.id):
        progress = progress_of(Membership(role=role, status=status), response_status).value
        bucket = people.setdefault(role, {})
        bucket[progress] = bucket.get(progress, 0) + n
    month_start, month_end = month_bounds(now, org.timezone)
    presence = await q.people_by_presence(session, org.id)
    sent, answered = await q.polls(session, org.id)
    return Summary(
        organisation_id=org.id,
        people=people,
        curators=await q.curators(session, org.id),
        pairs=await q.pairs_by_status(session, org.id),
        meetings_month=await q.meetings_held(session, org.id, month_start, month_end),
        idle_pairs=await q.idle_pairs(session, org.id, now - dt.timedelta(days=IDLE_DAYS)),
        paused=presence.get(ParticipantStatus.PAUSED, 0),
        unreachable=presence.get(ParticipantStatus.UNREACHABLE, 0),
        polls_sent=sent,
        polls_answered=answered,
        satisfaction=await q.satisfaction(session, org.id, org.satisfied_from),
        threshold=org.satisfied_from,
    )
