"""Meetings as the mentor journal sees them: due log requests, logged entries, feedback."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    ACTIVE_PAIR_STATUSES,
    Meeting,
    MeetingFeedback,
    MeetingStatus,
    Membership,
    Organisation,
    Pair,
    PairStatus,
    Participant,
    Plan,
    PlanGoal,
    PlanTask,
    Programme,
)

LOGGED = (MeetingStatus.HELD, MeetingStatus.NOT_HELD)
# Pairs whose journal stays readable: working, and finished or ended ones.
JOURNAL_PAIR_STATUSES = (*ACTIVE_PAIR_STATUSES, PairStatus.COMPLETED, PairStatus.ENDED)
MIN_DURATION = dt.timedelta(minutes=5)  # the schema's smallest planned duration
# A confirmed meeting older than this is never asked about (the bot was down for a month):
# it keeps the job's index range short.
LOOKBACK = dt.timedelta(days=30)


def ends_at(meeting: Meeting) -> dt.datetime:
    return meeting.starts_at + dt.timedelta(minutes=meeting.duration_minutes)


async def due_for_log(session: AsyncSession, now: dt.datetime, limit: int) -> list[Meeting]:
    """Confirmed meetings that have ended and whose mentor was not asked yet, oldest first.

    The range (status, starts_at) is the index ix_meetings_due; the end is checked here,
    since adding minutes to a timestamp is not portable SQL.
    """
    stmt = (
        select(Meeting)
        .where(
            Meeting.status == MeetingStatus.CONFIRMED,
            Meeting.starts_at <= now - MIN_DURATION,
            Meeting.starts_at >= now - LOOKBACK,
            Meeting.log_requested_at.is_(None),
        )
        .order_by(Meeting.starts_at, Meeting.id)
        .limit(limit * 4)
    )
    found = (await session.execute(stmt)).scalars().all()
    return [m for m in found if ends_at(m) <= now][:limit]


async def meeting(session: AsyncSession, meeting_id: int) -> Meeting | None:
    stmt = (
        select(Meeting).where(Meeting.id == meeting_id).execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def pairs_of_meeting(session: AsyncSession, meeting: Meeting) -> list[Pair]:
    """The meeting's pair, or for a group meeting every active pair of the group."""
    stmt = select(Pair).execution_options(populate_existing=True)
    if meeting.group_key:
        stmt = stmt.where(
            or_(
                Pair.id == meeting.pair_id,
                (Pair.group_key == meeting.group_key) & Pair.status.in_(ACTIVE_PAIR_STATUSES),
            )
        )
    else:
        stmt = stmt.where(Pair.id == meeting.pair_id)
    return list((await session.execute(stmt.order_by(Pair.id))).scalars())


async def person_of(session: AsyncSession, membership_id: int) -> Participant | None:
    stmt = (
        select(Participant)
        .join(Membership, Membership.participant_id == Participant.id)
        .where(Membership.id == membership_id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def organisation_of(session: AsyncSession, pair: Pair) -> Organisation:
    stmt = (
        select(Organisation)
        .join(Programme, Programme.organisation_id == Organisation.id)
        .where(Programme.id == pair.programme_id)
    )
    return (await session.execute(stmt)).scalar_one()


async def pairs_of_person(
    session: AsyncSession, participant_id: int, statuses: Collection[str] = JOURNAL_PAIR_STATUSES
) -> list[tuple[Pair, str]]:
    """The person's pairs with their side in each ("mentor" or "mentee")."""
    stmt = (
        select(Pair, Membership.role)
        .join(
            Membership,
            or_(
                Membership.id == Pair.mentor_membership_id,
                Membership.id == Pair.mentee_membership_id,
            ),
        )
        .where(Membership.participant_id == participant_id, Pair.status.in_(list(statuses)))
        .order_by(Pair.id)
    )
    return [(pair, str(role)) for pair, role in (await session.execute(stmt)).all()]


def _of_pair(pair: Pair) -> ColumnElement[bool]:
    if pair.group_key:
        return or_(Meeting.pair_id == pair.id, Meeting.group_key == pair.group_key)
    return Meeting.pair_id == pair.id


async def logged_count(session: AsyncSession, pair: Pair) -> int:
    stmt = select(func.count(Meeting.id)).where(_of_pair(pair), Meeting.status.in_(LOGGED))
    return int((await session.execute(stmt)).scalar_one())


async def logged(
    session: AsyncSession, pair: Pair, *, offset: int, limit: int
) -> Sequence[Meeting]:
    stmt = (
        select(Meeting)
        .where(_of_pair(pair), Meeting.status.in_(LOGGED))
        .order_by(Meeting.starts_at, Meeting.id)
        .offset(offset)
        .limit(limit)
    )
    return (await session.execute(stmt)).scalars().all()


async def feedback(
    session: AsyncSession, meeting_ids: Collection[int], membership_id: int | None = None
) -> list[MeetingFeedback]:
    if not meeting_ids:
        return []
    stmt = select(MeetingFeedback).where(MeetingFeedback.meeting_id.in_(list(meeting_ids)))
    if membership_id is not None:
        stmt = stmt.where(MeetingFeedback.membership_id == membership_id)
    return list((await session.execute(stmt)).scalars())


async def feedback_row(
    session: AsyncSession, meeting_id: int, membership_id: int
) -> MeetingFeedback | None:
    stmt = (
        select(MeetingFeedback)
        .where(
            MeetingFeedback.meeting_id == meeting_id,
            MeetingFeedback.membership_id == membership_id,
        )
        .execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def erase_texts_of(session: AsyncSession, membership_ids: Collection[int]) -> None:
    """/forget: free texts of the person's pairs go (journal topics and next steps, the
    plan's goal and task titles); dates, durations, statuses and ratings stay for counts."""
    if not membership_ids:
        return
    ids = list(membership_ids)
    pairs = (
        await session.execute(
            select(Pair.id, Pair.group_key).where(
                or_(Pair.mentor_membership_id.in_(ids), Pair.mentee_membership_id.in_(ids))
            )
        )
    ).all()
    if not pairs:
        return
    pair_ids = [p for p, _ in pairs]
    group_keys = [g for _, g in pairs if g]
    where: ColumnElement[bool] = Meeting.pair_id.in_(pair_ids)
    if group_keys:
        where = or_(where, Meeting.group_key.in_(group_keys))
    await session.execute(
        update(Meeting).where(where).values(topics=None, next_steps=None)
        .execution_options(synchronize_session="fetch")
    )
    plan_ids = select(Plan.id).where(Plan.pair_id.in_(pair_ids))
    goal_ids = select(PlanGoal.id).where(PlanGoal.plan_id.in_(plan_ids))
    await session.execute(
        update(PlanTask).where(PlanTask.goal_id.in_(goal_ids)).values(title="")
        .execution_options(synchronize_session="fetch")
    )
    await session.execute(
        update(PlanGoal).where(PlanGoal.plan_id.in_(plan_ids)).values(title="")
        .execution_options(synchronize_session="fetch")
    )
