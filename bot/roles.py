"""Which roles a user holds, and a router filter for them."""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters import Filter
from aiogram.types import TelegramObject

from db.models import Membership, MembershipStatus, Participant, Role
from db.queries.participants import MembershipRow, Who

_INACTIVE = {MembershipStatus.DECLINED, MembershipStatus.WITHDRAWN}


class CuratorAccess(StrEnum):
    """Where a curator invitation stands for this person."""

    NONE = "none"
    TERMS = "terms"  # opened the link, has not accepted the curator's terms yet
    AWAITING = "awaiting"  # accepted, waits for the inviter to confirm
    ACTIVE = "active"


def curator_access(membership: Membership | MembershipRow) -> CuratorAccess:
    if membership.role != Role.CURATOR or membership.status in _INACTIVE:
        return CuratorAccess.NONE
    if membership.status == MembershipStatus.CONSENT_PENDING:
        return CuratorAccess.TERMS
    if membership.confirmed_at is not None:
        return CuratorAccess.ACTIVE
    return CuratorAccess.AWAITING


def pending_curator(participant: Participant | None) -> CuratorAccess:
    """TERMS or AWAITING when the person has a curator invitation not yet in force."""
    if participant is None:
        return CuratorAccess.NONE
    states = {curator_access(m) for m in participant.memberships}
    for state in (CuratorAccess.AWAITING, CuratorAccess.TERMS):
        if state in states:
            return state
    return CuratorAccess.NONE


def roles_of(
    participant: Participant | Who | None, telegram_id: int | None, admin_ids: frozenset[int]
) -> frozenset[Role]:
    roles: set[Role] = set()
    if telegram_id is not None and telegram_id in admin_ids:
        roles.add(Role.COORDINATOR)
    if participant is not None:
        if participant.is_coordinator:
            roles.add(Role.COORDINATOR)
        for membership in participant.memberships:
            if membership.status in _INACTIVE:
                continue
            if membership.role == Role.CURATOR:
                # Reading participants' data starts only with a confirmed curator.
                if curator_access(membership) == CuratorAccess.ACTIVE:
                    roles.add(Role.CURATOR)
                continue
            roles.add(Role(membership.role))
    return frozenset(roles)


class HasRole(Filter):
    """Passes when the user holds any of the roles. The services still check rights."""

    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset(roles)

    async def __call__(self, event: TelegramObject, roles: frozenset[Role] = frozenset()) -> bool:
        return bool(self.roles & roles)

    def __str__(self) -> str:
        return f"HasRole({', '.join(sorted(self.roles))})"
