"""Which roles a user holds, and a router filter for them."""

from __future__ import annotations



from aiogram.filters import Filter
from aiogram.types import TelegramObject

from db.models import MembershipStatus, Participant, Role

_INACTIVE = {MembershipStatus.DECLINED, MembershipStatus.WITHDRAWN}


def roles_of(
    participant: Participant | None, telegram_id: int | None, admin_ids: frozenset[int]
) -> frozenset[Role]:
    roles: set[Role] = set()
    if telegram_id is not None and telegram_id in admin_ids:
        roles.add(Role.COORDINATOR)
    if participant is not None:
        if participant.is_coordinator:
            roles.add(Role.COORDINATOR)
        for membership in participant.memberships:
            if membership.status not in _INACTIVE:
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


