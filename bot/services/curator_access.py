"""A curator's access: terms accepted by the curator, then confirmed by whoever invited them.

Opening a curator invitation gives nothing by itself. The new curator accepts the curator's
terms (their own personal data and the confidentiality of participants' data); the inviter
(a coordinator, or the curator who made the link; any coordinator for links made by the
admin CLI) then confirms them with one tap. Only a confirmed curator reads participants' data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.ids import MAX_ID
from bot.services.errors import ServiceError
from db.models import (
    AgeGroup,
    Consent,
    ConsentDecision,
    ConsentKind,
    Invite,
    Membership,
    MembershipStatus,
    Participant,
    Role,
)
from db.queries import audit
from db.queries import participants as q_people


class Decision(StrEnum):
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    ALREADY_CONFIRMED = "already_confirmed"
    ALREADY_REJECTED = "already_rejected"


@dataclass(frozen=True, slots=True)
class Approver:
    telegram_id: int
    language: str


def _record(membership: Membership, decision: ConsentDecision, version: int) -> Consent:
    return Consent(
        participant_id=membership.participant_id,
        organisation_id=membership.organisation_id,
        membership_id=membership.id,
        kind=ConsentKind.SELF,
        decision=decision,
        version=version,
    )


def _check_terms_open(membership: Membership) -> None:
    if membership.role != Role.CURATOR or membership.status != MembershipStatus.CONSENT_PENDING:
        raise ServiceError("curator_terms_done")


async def own_terms(
    session: AsyncSession, membership_id: int, telegram_id: int
) -> Membership | None:
    """The membership whose curator's terms this person answers; None for anyone else's."""
    membership = (
        await q_people.membership(session, membership_id) if 1 <= membership_id <= MAX_ID
        else None
    )
    if membership is None or membership.participant.telegram_id != telegram_id:
        return None
    return membership


async def accept_terms(
    session: AsyncSession,
    membership: Membership,
    *,
    first_name: str | None,
    username: str | None,
    version: int,
) -> None:
    """The curator's own consent and confidentiality undertaking; access still waits."""
    _check_terms_open(membership)
    participant = await session.get(Participant, membership.participant_id)
    assert participant is not None
    participant.age_group = participant.age_group or AgeGroup.ADULT
    participant.tg_first_name = first_name
    participant.tg_username = username
    session.add(_record(membership, ConsentDecision.ACCEPTED, version))
    membership.status = MembershipStatus.IN_BASE
    membership.confirmed_at = None
    await session.flush()


async def decline_terms(session: AsyncSession, membership: Membership, *, version: int) -> None:
    _check_terms_open(membership)
    session.add(_record(membership, ConsentDecision.DECLINED, version))
    membership.status = MembershipStatus.DECLINED
    await session.flush()


async def inviter_of(session: AsyncSession, membership: Membership) -> Participant | None:
    if membership.invite_id is None:
        return None
    invite = await session.get(Invite, membership.invite_id)
    if invite is None or invite.created_by is None:
        return None
    return await session.get(Participant, invite.created_by)


async def approvers(
    session: AsyncSession, membership: Membership, admin_ids: Iterable[int]
) -> list[Approver]:
    """Who is asked to confirm: the inviter, or every coordinator for a link nobody made."""
    inviter = await inviter_of(session, membership)
    if inviter is not None:
        return [Approver(inviter.telegram_id, inviter.language)] if inviter.telegram_id else []
    found: dict[int, str] = {tid: "ru" for tid in admin_ids}
    stmt = select(Participant).where(
        (Participant.is_coordinator.is_(True)) | (Participant.telegram_id.in_(list(found)))
    )
    for person in (await session.execute(stmt)).scalars():
        if person.telegram_id is not None:
            found[person.telegram_id] = person.language
    return [Approver(tid, language) for tid, language in sorted(found.items())]


async def may_decide(
    session: AsyncSession, membership: Membership, actor: Participant | None,
    *, actor_is_coordinator: bool,
) -> bool:
    invite = await session.get(Invite, membership.invite_id) if membership.invite_id else None
    inviter_id = invite.created_by if invite is not None else None
    if inviter_id is None:
        return actor_is_coordinator
    if actor is None or actor.id != inviter_id:
        return False
    if actor_is_coordinator:
        return True
    return membership.organisation_id in await q_people.curator_org_ids(session, actor.id)


async def decide(
    session: AsyncSession,
    membership_id: int,
    *,
    actor: Participant | None,
    actor_is_coordinator: bool,
    approve: bool,
    now: dt.datetime,
) -> tuple[Membership, Decision]:
    """Confirm or reject a curator; re-checked on every press, a repeated press is harmless."""
    membership = (
        await q_people.membership(session, membership_id) if 1 <= membership_id <= MAX_ID
        else None
    )
    if membership is None or membership.role != Role.CURATOR:
        raise ServiceError("curator_request_not_found")
    if not await may_decide(session, membership, actor, actor_is_coordinator=actor_is_coordinator):
        raise ServiceError("curator_confirm_denied")
    if membership.confirmed_at is not None:
        return membership, Decision.ALREADY_CONFIRMED
    if membership.status in (MembershipStatus.DECLINED, MembershipStatus.WITHDRAWN):
        return membership, Decision.ALREADY_REJECTED
    if membership.status == MembershipStatus.CONSENT_PENDING:
        raise ServiceError("curator_terms_pending")
    action = "curator.confirm" if approve else "curator.reject"
    if approve:
        membership.confirmed_at = now
        membership.confirmed_by = actor.id if actor else None
    else:
        membership.status = MembershipStatus.DECLINED
    audit.record(
        session, actor_id=actor.id if actor else None,
        organisation_id=membership.organisation_id, action=action,
        target_type="membership", target_id=membership.id,
    )
    await session.flush()
    return membership, Decision.CONFIRMED if approve else Decision.REJECTED
