"""Queries about participants and their memberships."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from db.models import (
    Consent,
    Membership,
    MembershipStatus,
    Participant,
    ParticipantStatus,
    Role,
)
from db.points import Point

LIVE_STATUSES = tuple(
    s for s in MembershipStatus if s not in (MembershipStatus.DECLINED, MembershipStatus.WITHDRAWN)
)


# Built once: read on every update, and SQLAlchemy memoizes a statement's cache key.
_BY_TELEGRAM_ID = (
    select(Participant)
    .where(Participant.telegram_id == bindparam("t"))
    .options(joinedload(Participant.memberships))
)


@dataclass(frozen=True, slots=True)
class PersonRow:
    """The participant as every update needs them: no personal data, no objects."""

    id: int
    language: str
    status: str
    is_coordinator: bool
    age_group: str | None


@dataclass(frozen=True, slots=True)
class Decision:
    """One consent decision (`bot.services.consent` weighs them)."""

    kind: str
    decision: str
    version: int


@dataclass(frozen=True, slots=True)
class MembershipRow:
    """A membership as read on the answer path; `load()` gives the object to change it."""

    id: int
    participant_id: int
    organisation_id: int
    role: str
    form: str | None
    status: str
    confirmed_at: dt.datetime | None
    participant: PersonRow
    # The consent decisions of the person in this organisation, oldest first.
    decisions: tuple[Decision, ...] = ()


@dataclass(frozen=True, slots=True)
class Who:
    """The person behind an update with their memberships, as rows (read on every update)."""

    person: PersonRow
    memberships: tuple[MembershipRow, ...]

    @property
    def is_coordinator(self) -> bool:
        return self.person.is_coordinator

    def membership(self, membership_id: int) -> MembershipRow | None:
        return next((m for m in self.memberships if m.id == membership_id), None)


# Either form of a membership, where only its columns are read.
AnyMembership = Membership | MembershipRow

_p, _m, _c = Participant.__table__.c, Membership.__table__.c, Consent.__table__.c
_WHO = Point(
    select(
        _p.id, _p.language, _p.status, _p.is_coordinator, _p.age_group,
        _m.id.label("m_id"), _m.organisation_id, _m.role, _m.form,
        _m.status.label("m_status"), _m.confirmed_at,
        _c.id.label("c_id"), _c.kind, _c.decision, _c.version,
    )
    .select_from(
        Participant.__table__
        .outerjoin(Membership.__table__, _m.participant_id == _p.id)
        .outerjoin(
            Consent.__table__,
            (_c.participant_id == _p.id) & (_c.organisation_id == _m.organisation_id),
        )
    )
    .where(_p.telegram_id == bindparam("t"))
    .order_by(_m.id, _c.created_at, _c.id)
)
_NAME = Point(
    update(cast(Table, Participant.__table__))
    .where(_p.id == bindparam("p"))
    .values(full_name=bindparam("n", type_=_p.full_name.type))
)
_REACHABLE = (
    update(Participant)
    .where(_p.id == bindparam("p"), _p.status == ParticipantStatus.UNREACHABLE)
    .values(status=ParticipantStatus.ACTIVE)
)


async def who(session: AsyncSession, telegram_id: int) -> Who | None:
    """The person, their memberships and the consent decisions behind each, in one
    statement and without building objects (the ORM's participant with its memberships cost
    as much as the rest of an answer)."""
    rows = await _WHO.rows(session, {"t": telegram_id})
    if not rows:
        return None
    first = rows[0]
    person = PersonRow(
        first.id, first.language, first.status, first.is_coordinator, first.age_group
    )
    decisions: dict[int, list[Decision]] = {}
    heads: dict[int, Any] = {}  # a membership's first row, in order
    for row in rows:
        if row.m_id is None:
            continue
        heads.setdefault(row.m_id, row)
        found = decisions.setdefault(row.m_id, [])
        if row.c_id is not None:
            found.append(Decision(row.kind, row.decision, row.version))
    memberships = tuple(
        MembershipRow(
            row.m_id, person.id, row.organisation_id, row.role, row.form, row.m_status,
            row.confirmed_at, person, tuple(decisions[row.m_id]),
        )
        for row in heads.values()
    )
    return Who(person, memberships)


async def mark_reachable(session: AsyncSession, person: PersonRow) -> bool:
    """The person wrote to the bot again: clear the "unreachable" flag that a 403 set
    (scheduler/outbox.py sets Participant.status = "unreachable"). True if it changed;
    the caller commits."""
    if person.status != ParticipantStatus.UNREACHABLE:
        return False
    await session.execute(_REACHABLE, {"p": person.id})
    return True


async def load(session: AsyncSession, membership: AnyMembership) -> Membership:
    """The membership as an object with its participant (to change them)."""
    if isinstance(membership, Membership):
        return membership
    found = await membership_of_update(session, membership.id)
    assert found is not None
    return found


async def set_full_name(session: AsyncSession, membership: AnyMembership, name: str) -> None:
    """The person's name as they answered it: on the object when the membership is one (its
    flush writes it), else by one UPDATE (no object is loaded for it)."""
    if isinstance(membership, Membership):
        membership.participant.full_name = name
    else:
        await _NAME.run(session, {"p": membership.participant_id, "n": name})


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
    (`ParticipantObjectMiddleware` loads the person's memberships for every handler not
    flagged light), else in one statement.

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
