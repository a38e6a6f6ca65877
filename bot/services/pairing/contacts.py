"""Sharing contacts inside a pair: each side agrees, then both get the other's."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.errors import NotYoursError, StaleError
from bot.services.pairing.model import CONTACT_SHARED, Notice, NoticeKind, Shared
from bot.services.pairing.profiles import people_of
from db.models import (
    ACTIVE_PAIR_STATUSES,
)
from db.queries import pairs as q


async def share_contact(
    session: AsyncSession, pair_id: int, *, telegram_id: int, now: dt.datetime
) -> Shared:
    """One side agrees to share their contact; once both have, each gets the other's."""
    pair = await q.get(session, pair_id, fresh=True)
    if pair is None or pair.status not in ACTIVE_PAIR_STATUSES:
        raise StaleError("pairing_not_active", id=pair_id)
    members = await q.memberships(session, [pair.mentee_membership_id, pair.mentor_membership_id])
    me = next(
        (m for m in members.values() if m.participant.telegram_id == telegram_id), None
    )
    if me is None:
        raise NotYoursError("pairing_not_yours")
    me.participant.share_contacts = True
    events = await q.events(session, pair_id)
    shared = {e.actor_id for e in events if e.to_status == CONTACT_SHARED}
    if me.participant_id in shared:
        return Shared(both=False)
    q.add_event(session, pair_id, pair.status, CONTACT_SHARED, me.participant_id, now)
    shared.add(me.participant_id)
    if not {m.participant_id for m in members.values()} <= shared:
        return Shared(both=False)
    people = await people_of(session, members.values())
    mentee, mentor = people[pair.mentee_membership_id], people[pair.mentor_membership_id]
    return Shared(
        both=True,
        notices=[
            Notice(NoticeKind.CONTACTS, f"contacts:{pair_id}:mentee", to=mentee, about=mentor,
                   pair_id=pair_id),
            Notice(NoticeKind.CONTACTS, f"contacts:{pair_id}:mentor", to=mentor, about=mentee,
                   pair_id=pair_id),
        ],
    )
