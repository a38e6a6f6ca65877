"""Meetings: who a pair (or a mentor's group) is, their meetings, and calendar files in the
outbox."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    ACTIVE_PAIR_STATUSES,
    AuditLog,
    Meeting,
    MeetingStatus,
    Membership,
    Organisation,
    OutboxMessage,
    Pair,
    Participant,
    Programme,
)

AUDIT_TARGET = "meeting"


async def get(session: AsyncSession, meeting_id: int) -> Meeting | None:
    stmt = (
        select(Meeting).where(Meeting.id == meeting_id).execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def pair(session: AsyncSession, pair_id: int) -> Pair | None:
    stmt = select(Pair).where(Pair.id == pair_id).execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def people_of(
    session: AsyncSession, membership_ids: Collection[int]
) -> dict[int, Participant]:
    """membership id -> its participant."""
    stmt = (
        select(Membership.id, Participant)
        .join(Participant, Participant.id == Membership.participant_id)
        .where(Membership.id.in_(list(membership_ids)))
    )
    return {mid: person for mid, person in (await session.execute(stmt)).all()}


async def org_of(session: AsyncSession, programme_id: int) -> Organisation | None:
    stmt = (
        select(Organisation)
        .join(Programme, Programme.organisation_id == Organisation.id)
        .where(Programme.id == programme_id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def mentor_pairs(
    session: AsyncSession, mentor_membership_id: int, programme_id: int
) -> Sequence[Pair]:
    """A mentor's active pairs in a programme, oldest first."""
    stmt = (
        select(Pair)
        .where(
            Pair.mentor_membership_id == mentor_membership_id,
            Pair.programme_id == programme_id,
            Pair.status.in_(ACTIVE_PAIR_STATUSES),
        )
        .order_by(Pair.id)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalars().all()


async def pairs_of(session: AsyncSession, participant_id: int) -> Sequence[Pair]:
    """The active pairs a participant is in, either side, oldest first."""
    mine = select(Membership.id).where(Membership.participant_id == participant_id)
    stmt = (
        select(Pair)
        .where(
            Pair.status.in_(ACTIVE_PAIR_STATUSES),
            or_(Pair.mentor_membership_id.in_(mine), Pair.mentee_membership_id.in_(mine)),
        )
        .order_by(Pair.id)
    )
    return (await session.execute(stmt)).scalars().all()


async def all_pair_ids_of(
    session: AsyncSession, participant_id: int
) -> list[tuple[int, str | None]]:
    """(pair id, group key) of every pair the participant was ever in."""
    mine = select(Membership.id).where(Membership.participant_id == participant_id)
    stmt = select(Pair.id, Pair.group_key).where(
        or_(Pair.mentor_membership_id.in_(mine), Pair.mentee_membership_id.in_(mine))
    )
    return [(pid, key) for pid, key in (await session.execute(stmt)).all()]


async def kinds_taken(
    session: AsyncSession, pair_id: int, group_key: str | None, *, pair_group: str | None = None
) -> set[str]:
    """Kinds of meetings confirmed or held: a group's (group_key), or a pair's own plus
    those of the group it belongs to (pair_group)."""
    if group_key:
        where: Any = Meeting.group_key == group_key
    else:
        where = and_(Meeting.pair_id == pair_id, Meeting.group_key.is_(None))
        if pair_group:
            where = or_(where, Meeting.group_key == pair_group)
    stmt = select(Meeting.kind).where(
        where, Meeting.status.in_((MeetingStatus.CONFIRMED, MeetingStatus.HELD))
    )
    return set((await session.execute(stmt)).scalars().all())


async def set_group_key(session: AsyncSession, pair_ids: Collection[int], key: str) -> None:
    await session.execute(
        update(Pair).where(Pair.id.in_(list(pair_ids)), Pair.group_key.is_(None))
        .values(group_key=key)
    )


async def listed(
    session: AsyncSession, pair_ids: Collection[int], group_keys: Collection[str]
) -> Sequence[Meeting]:
    """Meetings of these pairs or groups, latest first."""
    clauses: list[Any] = [Meeting.pair_id.in_(list(pair_ids))]
    if group_keys:
        clauses.append(Meeting.group_key.in_(list(group_keys)))
    stmt = select(Meeting).where(or_(*clauses)).order_by(Meeting.starts_at.desc(), Meeting.id)
    return (await session.execute(stmt)).scalars().all()


async def version(session: AsyncSession, meeting_id: int) -> int:
    """How many changes the meeting has had (its audit entries): buttons and calendar files
    carry it, so an older one is recognised."""
    stmt = select(func.count(AuditLog.id)).where(
        AuditLog.target_type == AUDIT_TARGET, AuditLog.target_id == meeting_id
    )
    return int((await session.execute(stmt)).scalar_one())


async def forget_places(session: AsyncSession, participant_id: int) -> None:
    """Places typed by a forgotten person go (free text)."""
    await session.execute(
        update(Meeting).where(Meeting.proposed_by == participant_id).values(place=None)
    )


async def enqueue_document(
    session: AsyncSession,
    *,
    chat_id: int,
    key: str,
    payload: dict[str, Any],
    now: dt.datetime,
    participant_id: int | None,
    organisation_id: int | None,
    kind: str,
    expires_at: dt.datetime | None = None,
) -> OutboxMessage | None:
    """An outbox row the sender delivers with sendDocument; None if its key was queued."""
    existing = await session.execute(
        select(OutboxMessage.id).where(OutboxMessage.idempotency_key == key)
    )
    if existing.first() is not None:
        return None
    message = OutboxMessage(
        idempotency_key=key, chat_id=chat_id, method="sendDocument", payload=payload,
        not_before=now, created_at=now, participant_id=participant_id,
        organisation_id=organisation_id, kind=kind, expires_at=expires_at,
    )
    session.add(message)
    return message
