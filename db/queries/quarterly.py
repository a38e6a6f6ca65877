"""Queries of the quarterly reports: the pairs still to invite (bounded), a report by its
response, a pair's reports, and /forget's erasing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    Answer,
    Organisation,
    Pair,
    Programme,
    QuarterlyReport,
)


async def organisations(session: AsyncSession) -> list[tuple[int, str]]:
    """(id, timezone) of every organisation (a small table)."""
    stmt = select(Organisation.id, Organisation.timezone).order_by(Organisation.id)
    return [(row[0], row[1]) for row in await session.execute(stmt)]


async def uninvited(
    session: AsyncSession, organisation_id: int, quarter: str, statuses: Collection[str],
    before: dt.datetime, limit: int,
) -> list[tuple[int, int]]:
    """(pair id, mentor membership id) of the organisation's working pairs, formed before
    `before`, whose mentor has no report row for `quarter` yet (anti-join on the unique
    (pair, membership, quarter)); at most `limit`."""
    report = QuarterlyReport
    stmt = (
        select(Pair.id, Pair.mentor_membership_id)
        .join(Programme, Programme.id == Pair.programme_id)
        .outerjoin(report, and_(
            report.pair_id == Pair.id, report.membership_id == Pair.mentor_membership_id,
            report.quarter == quarter,
        ))
        .where(
            Programme.organisation_id == organisation_id,
            Pair.status.in_(list(statuses)),
            or_(Pair.decided_at.is_(None), Pair.decided_at < before),
            report.id.is_(None),
        )
        .order_by(Pair.id)
        .limit(limit)
    )
    return [(row[0], row[1]) for row in await session.execute(stmt)]


async def of_response(session: AsyncSession, response_id: int) -> QuarterlyReport | None:
    stmt = select(QuarterlyReport).where(QuarterlyReport.response_id == response_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def of_pair(session: AsyncSession, pair_id: int) -> Sequence[QuarterlyReport]:
    stmt = (
        select(QuarterlyReport).where(QuarterlyReport.pair_id == pair_id)
        .order_by(QuarterlyReport.quarter, QuarterlyReport.id)
    )
    return (await session.execute(stmt)).scalars().all()


async def erase_texts(
    session: AsyncSession, membership_ids: Collection[int], participant_id: int
) -> None:
    """/forget: the free texts of the reports on the person's pairs (the mentor wrote them
    about the pair) and the curator's comments on them; the comments the person wrote as a
    curator. Ratings and statuses stay for counts."""
    ids = list(membership_ids)
    pairs = select(Pair.id).where(
        or_(Pair.mentor_membership_id.in_(ids), Pair.mentee_membership_id.in_(ids))
    )
    responses = select(QuarterlyReport.response_id).where(
        QuarterlyReport.pair_id.in_(pairs), QuarterlyReport.response_id.is_not(None)
    )
    await session.execute(
        delete(Answer).where(Answer.response_id.in_(responses), Answer.is_personal.is_(True))
    )
    await session.execute(
        update(QuarterlyReport)
        .where(or_(QuarterlyReport.pair_id.in_(pairs),
                   QuarterlyReport.reviewed_by == participant_id))
        .values(comment=None)
    )


async def answers_of(session: AsyncSession, response_id: int) -> dict[str, object]:
    stmt = select(Answer.question_id, Answer.value).where(Answer.response_id == response_id)
    return {row[0]: row[1] for row in await session.execute(stmt)}


