"""Feedback polls: the envelopes (survey_responses) and what the poll job asks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    ACTIVE_PAIR_STATUSES,
    Answer,
    Organisation,
    Pair,
    Programme,
    SurveyResponse,
)


async def find(
    session: AsyncSession, survey_id: str, membership_id: int, pair_id: int, milestone: str
) -> SurveyResponse | None:
    stmt = select(SurveyResponse).where(
        SurveyResponse.survey_id == survey_id,
        SurveyResponse.membership_id == membership_id,
        SurveyResponse.pair_id == pair_id,
        SurveyResponse.milestone == milestone,
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def get(session: AsyncSession, survey_response_id: int) -> SurveyResponse | None:
    return await session.get(SurveyResponse, survey_response_id)


async def of_response(session: AsyncSession, response_id: int) -> SurveyResponse | None:
    stmt = select(SurveyResponse).where(SurveyResponse.response_id == response_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def due(session: AsyncSession, now: dt.datetime, limit: int) -> Sequence[SurveyResponse]:
    """Envelopes whose reminder or close is due (index on due_at), oldest first."""
    stmt = (
        select(SurveyResponse)
        .where(SurveyResponse.due_at.is_not(None), SurveyResponse.due_at <= now)
        .order_by(SurveyResponse.due_at, SurveyResponse.id)
        .limit(limit)
    )
    return (await session.execute(stmt)).scalars().all()


async def submitted_of(
    session: AsyncSession, pair_id: int, membership_id: int
) -> Sequence[SurveyResponse]:
    """One side's answered polls about a pair, the latest first."""
    stmt = (
        select(SurveyResponse)
        .where(
            SurveyResponse.pair_id == pair_id,
            SurveyResponse.membership_id == membership_id,
            SurveyResponse.submitted_at.is_not(None),
        )
        .order_by(SurveyResponse.submitted_at.desc(), SurveyResponse.id.desc())
    )
    return (await session.execute(stmt)).scalars().all()


async def of_pair(session: AsyncSession, pair_id: int) -> Sequence[SurveyResponse]:
    stmt = (
        select(SurveyResponse)
        .where(SurveyResponse.pair_id == pair_id)
        .order_by(SurveyResponse.sent_at, SurveyResponse.id)
    )
    return (await session.execute(stmt)).scalars().all()


async def satisfaction_by_org(
    session: AsyncSession, org_ids: Sequence[int]
) -> dict[int, list[int]]:
    """Submitted 1-10 satisfactions per organisation (of its programmes' pairs)."""
    if not org_ids:
        return {}
    stmt = (
        select(Programme.organisation_id, SurveyResponse.satisfaction)
        .join(Pair, Pair.id == SurveyResponse.pair_id)
        .join(Programme, Programme.id == Pair.programme_id)
        .where(
            Programme.organisation_id.in_(list(org_ids)),
            SurveyResponse.satisfaction.is_not(None),
            SurveyResponse.submitted_at.is_not(None),
        )
    )
    found: dict[int, list[int]] = {}
    for org_id, value in (await session.execute(stmt)).all():
        if value is not None:
            found.setdefault(org_id, []).append(int(value))
    return found


async def satisfaction_of(
    session: AsyncSession, programme_ids: Sequence[int]
) -> Sequence[int]:
    """Every submitted 1-10 satisfaction of the programmes' pairs (answers kept after
    /forget: the number is not personal)."""
    if not programme_ids:
        return []
    stmt = (
        select(SurveyResponse.satisfaction)
        .join(Pair, Pair.id == SurveyResponse.pair_id)
        .where(
            Pair.programme_id.in_(list(programme_ids)),
            SurveyResponse.satisfaction.is_not(None),
            SurveyResponse.submitted_at.is_not(None),
        )
    )
    return [int(v) for v in (await session.execute(stmt)).scalars().all() if v is not None]


async def has_open(
    session: AsyncSession, pair_id: int, membership_id: int, survey_id: str
) -> bool:
    """Whether the side has this poll about the pair unanswered and still open."""
    stmt = select(SurveyResponse.id).where(
        SurveyResponse.pair_id == pair_id,
        SurveyResponse.membership_id == membership_id,
        SurveyResponse.survey_id == survey_id,
        SurveyResponse.submitted_at.is_(None),
        SurveyResponse.closed_at.is_(None),
    ).limit(1)
    return (await session.execute(stmt)).first() is not None


async def live_programmes(
    session: AsyncSession, today: dt.date
) -> Sequence[tuple[int, dt.date, dt.date, str]]:
    """(programme id, start, end, the organisation's timezone) of programmes running around
    `today` (a day's margin either side for timezones)."""
    margin = dt.timedelta(days=1)
    stmt = (
        select(Programme.id, Programme.start_date, Programme.end_date, Organisation.timezone)
        .join(Organisation, Organisation.id == Programme.organisation_id)
        .where(
            Programme.is_archived.is_(False),
            Programme.start_date <= today + margin,
            Programme.end_date >= today - margin,
        )
        .order_by(Programme.id)
    )
    return [(a, b, c, d) for a, b, c, d in (await session.execute(stmt)).all()]


async def pairs_not_asked(
    session: AsyncSession, programme_id: int, milestone: str, decided_before: dt.datetime,
    limit: int,
) -> Sequence[tuple[int, int, int]]:
    """(pair, mentee, mentor) of the programme's working pairs approved before the moment
    whose mentee has no envelope for the milestone yet."""
    asked = select(SurveyResponse.id).where(
        SurveyResponse.pair_id == Pair.id,
        SurveyResponse.membership_id == Pair.mentee_membership_id,
        SurveyResponse.milestone == milestone,
    )
    stmt = (
        select(Pair.id, Pair.mentee_membership_id, Pair.mentor_membership_id)
        .where(
            Pair.programme_id == programme_id,
            Pair.status.in_(ACTIVE_PAIR_STATUSES),
            Pair.decided_at <= decided_before,
            ~asked.exists(),
        )
        .order_by(Pair.id)
        .limit(limit)
    )
    return [(a, b, c) for a, b, c in (await session.execute(stmt)).all()]


async def answers_of(session: AsyncSession, response_id: int) -> dict[str, Any]:
    """A response's answers by question id (a statement of its own: the response's collection
    need not be loaded)."""
    stmt = select(Answer.question_id, Answer.value).where(Answer.response_id == response_id)
    return {qid: value for qid, value in (await session.execute(stmt)).all()}
