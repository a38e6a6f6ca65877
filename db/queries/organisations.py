"""Organisations, programmes and invitation codes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from db.models import Invite, InviteKind, Organisation, Programme


async def get_org(session: AsyncSession, org_id: int) -> Organisation | None:
    return await session.get(Organisation, org_id)


async def all_orgs(session: AsyncSession) -> Sequence[Organisation]:
    return (await session.execute(select(Organisation).order_by(Organisation.id))).scalars().all()


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


async def guardian_invite(session: AsyncSession, membership_id: int, now: dt.datetime) -> Invite | None:
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
