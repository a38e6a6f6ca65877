"""Organisations, programmes and invitation codes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from db.models import (
    Invite,
    InviteKind,
    Membership,
    MembershipStatus,
    Organisation,
    Programme,
    Role,
)


async def get_org(session: AsyncSession, org_id: int) -> Organisation | None:
    return await session.get(Organisation, org_id)


async def all_orgs(session: AsyncSession) -> Sequence[Organisation]:
    return (await session.execute(select(Organisation).order_by(Organisation.id))).scalars().all()


async def count_orgs(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count(Organisation.id)))).scalar_one())


async def orgs_slice(session: AsyncSession, *, offset: int, limit: int) -> Sequence[Organisation]:
    stmt = select(Organisation).order_by(Organisation.id).offset(offset).limit(limit)
    return (await session.execute(stmt)).scalars().all()


async def curator_counts(session: AsyncSession, org_ids: Sequence[int]) -> dict[int, int]:
    """Confirmed curators per organisation."""
    stmt = (
        select(Membership.organisation_id, func.count(Membership.id))
        .where(
            Membership.organisation_id.in_(org_ids),
            Membership.role == Role.CURATOR,
            Membership.status.not_in((MembershipStatus.DECLINED, MembershipStatus.WITHDRAWN)),
            Membership.confirmed_at.is_not(None),
        )
        .group_by(Membership.organisation_id)
    )
    return {org_id: int(n) for org_id, n in (await session.execute(stmt)).all()}


async def open_curator_invites(
    session: AsyncSession, org_ids: Sequence[int], now: dt.datetime
) -> list[Invite]:
    """Curator invitations still usable: not revoked, not expired, uses left."""
    stmt = (
        select(Invite)
        .where(
            Invite.organisation_id.in_(org_ids),
            Invite.kind == InviteKind.CURATOR,
            Invite.revoked_at.is_(None),
        )
        .order_by(Invite.id)
    )
    return [
        invite for invite in (await session.execute(stmt)).scalars()
        if (invite.expires_at is None or invite.expires_at > now)
        and (invite.max_uses is None or invite.uses < invite.max_uses)
    ]


async def get_programme(session: AsyncSession, programme_id: int) -> Programme | None:
    stmt = (
        select(Programme)
        .where(Programme.id == programme_id)
        .options(selectinload(Programme.organisation))
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def programmes_of(session: AsyncSession, org_ids: Sequence[int]) -> Sequence[Programme]:
    stmt = (
        select(Programme)
        .where(Programme.organisation_id.in_(org_ids), Programme.is_archived.is_(False))
        .options(selectinload(Programme.organisation))
        .order_by(Programme.id)
    )
    return (await session.execute(stmt)).scalars().all()


async def invite_by_code(session: AsyncSession, code: str) -> Invite | None:
    return (await session.execute(select(Invite).where(Invite.code == code))).scalar_one_or_none()


async def open_invites(
    session: AsyncSession, programme_id: int, kind: str | None = None
) -> Sequence[Invite]:
    stmt = select(Invite).where(Invite.programme_id == programme_id, Invite.revoked_at.is_(None))
    if kind:
        stmt = stmt.where(Invite.kind == kind)
    return (await session.execute(stmt.order_by(Invite.id))).scalars().all()


async def guardian_invite(
    session: AsyncSession, membership_id: int, now: dt.datetime
) -> Invite | None:
    """The open guardian link of a minor's membership, if one is still usable."""
    stmt = (
        select(Invite)
        .where(
            Invite.membership_id == membership_id,
            Invite.kind == InviteKind.GUARDIAN,
            Invite.revoked_at.is_(None),
            Invite.uses == 0,
        )
        .order_by(Invite.id.desc())
    )
    for invite in (await session.execute(stmt)).scalars():
        if invite.expires_at is None or invite.expires_at > now:
            return invite
    return None
