"""Queries about participants and their memberships."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from db.models import Membership, MembershipStatus, Participant, ParticipantStatus, Role

LIVE_STATUSES = tuple(
    s for s in MembershipStatus if s not in (MembershipStatus.DECLINED, MembershipStatus.WITHDRAWN)
)


# Built once: read on every update, and SQLAlchemy memoizes a statement's cache key.
_BY_TELEGRAM_ID = (
    select(Participant)
    .where(Participant.telegram_id == bindparam("t"))
    .options(joinedload(Participant.memberships))
)


async def by_telegram_id(session: AsyncSession, telegram_id: int) -> Participant | None:
    """The participant with their memberships, in one statement (read on every update)."""
    result = await session.execute(_BY_TELEGRAM_ID, {"t": telegram_id})
    return result.unique().scalar_one_or_none()


async def get_or_create(session: AsyncSession, telegram_id: int, language: str) -> Participant:
    """Only the Telegram id and interface language: no personal data before consent."""
    participant = await by_telegram_id(session, telegram_id)
    if participant is None:
        participant = Participant(telegram_id=telegram_id, language=language, memberships=[])
        session.add(participant)
        await session.flush()
    return participant


async def membership(session: AsyncSession, membership_id: int) -> Membership | None:
    stmt = (
        select(Membership)
        .where(Membership.id == membership_id)
        .options(
            joinedload(Membership.participant),
            joinedload(Membership.programme),
            joinedload(Membership.organisation),
        )
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def membership_of_update(session: AsyncSession, membership_id: int) -> Membership | None:
    """The membership with its participant: from the session when the update has it already
    (the participant middleware loads the person's memberships), else in one statement.

    Its organisation and programme are not loaded; use `membership()` where they are read."""
    found = await session.get(
        Membership, membership_id, options=[joinedload(Membership.participant)]
    )
    return found


async def find_membership(
    session: AsyncSession, participant_id: int, programme_id: int | None, role: str,
    organisation_id: int | None = None,
) -> Membership | None:
    stmt = select(Membership).where(
        Membership.participant_id == participant_id, Membership.role == role
    )
    stmt = stmt.where(
        Membership.programme_id.is_(None)
        if programme_id is None
        else Membership.programme_id == programme_id
    )
    if organisation_id is not None:
        stmt = stmt.where(Membership.organisation_id == organisation_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def curator_org_ids(session: AsyncSession, participant_id: int) -> list[int]:
    stmt = select(Membership.organisation_id).where(
        Membership.participant_id == participant_id,
        Membership.role == Role.CURATOR,
        Membership.status.in_(LIVE_STATUSES),
        Membership.confirmed_at.is_not(None),  # access starts when the inviter confirms
    )
    return list((await session.execute(stmt)).scalars())


async def programme_people(
    session: AsyncSession, programme_id: int, role: str, *, offset: int = 0, limit: int = 10
) -> Sequence[Membership]:
    stmt = (
        select(Membership)
        .where(
            Membership.programme_id == programme_id,
            Membership.role == role,
            Membership.status != MembershipStatus.DECLINED,
        )
        .options(selectinload(Membership.participant))
        .order_by(Membership.id)
        .offset(offset)
        .limit(limit)
    )
    return (await session.execute(stmt)).scalars().all()


async def curators_of(session: AsyncSession, organisation_id: int) -> Sequence[Participant]:
    stmt = (
        select(Participant)
        .join(Membership, Membership.participant_id == Participant.id)
        .where(
            Membership.organisation_id == organisation_id,
            Membership.role == Role.CURATOR,
            Membership.status.in_(LIVE_STATUSES),
            Membership.confirmed_at.is_not(None),
        )
    )
    return (await session.execute(stmt)).scalars().all()


async def mark_reachable(session: AsyncSession, participant: Participant) -> bool:
    """The person wrote to the bot again: clear the "unreachable" flag that a 403 set
    (scheduler/outbox.py sets Participant.status = "unreachable"). True if it changed;
    the caller commits."""
    if participant.status != ParticipantStatus.UNREACHABLE:
        return False
    participant.status = ParticipantStatus.ACTIVE
    await session.flush()
    return True
