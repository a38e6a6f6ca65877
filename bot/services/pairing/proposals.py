"""The curator's decisions on proposals: cards one by one, approve, reject."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import nudges
from bot.services.errors import ServiceError, StaleError
from bot.services.pairing.model import PAIRABLE, Card, Notice, NoticeKind, PairResult
from bot.services.pairing.profiles import people_of
from db.models import (
    ACTIVE_PAIR_STATUSES,
    Membership,
    MembershipStatus,
    Pair,
    PairStatus,
    Participant,
)
from db.queries import audit
from db.queries import pairs as q


async def _card(session: AsyncSession, pair: Pair) -> Card:
    members = await q.memberships(
        session, [pair.mentee_membership_id, pair.mentor_membership_id]
    )
    people = await people_of(session, members.values())
    mentor = members[pair.mentor_membership_id]
    return Card(
        pair, people[pair.mentee_membership_id], people[pair.mentor_membership_id],
        mentor.load, mentor.capacity,
    )


async def proposal_card(
    session: AsyncSession, programme_id: int, *, after_id: int | None = None
) -> Card | None:
    """The first undecided proposal, or the one after `after_id` (wrapping round)."""
    proposals = list(await q.undecided(session, programme_id))
    if not proposals:
        return None
    index = 0
    if after_id is not None:
        index = next((i for i, p in enumerate(proposals) if p.id > after_id), 0)
    card = await _card(session, proposals[index])
    card.position, card.total = index + 1, len(proposals)
    return card


async def proposal_position(
    session: AsyncSession, programme_id: int, pair_id: int
) -> tuple[int, int] | None:
    """(n, total) of an undecided proposal as its card shows it, to keep it after a decision."""
    ids = [p.id for p in await q.undecided(session, programme_id)]
    return (ids.index(pair_id) + 1, len(ids)) if pair_id in ids else None


async def pair_card(session: AsyncSession, pair_id: int, *, org_ids: Collection[int]) -> Card:
    return await _card(session, await pair_in_scope(session, pair_id, org_ids))


async def pair_in_scope(
    session: AsyncSession, pair_id: int, org_ids: Collection[int], run_id: str | None = None
) -> Pair:
    """The pair if the curator may see it. With `run_id` (from a proposal's buttons) it
    must also come from that match run. Pair ids are never reused (AUTOINCREMENT on
    SQLite, a sequence on PostgreSQL), so a replaced proposal's button finds no pair; the
    run check keeps a button from acting on anything but the proposal it was shown with."""
    pair = await q.get_in_orgs(session, pair_id, org_ids)
    if pair is None or (run_id is not None and pair.match_run_id != run_id):
        raise StaleError("pairing_not_found", id=pair_id)
    return pair


def who(participant: Participant | None) -> str:
    """A curator's name, or "" (participant ids are never shown: one number per person)."""
    if participant is None:
        return ""
    return participant.full_name or participant.tg_first_name or ""


async def _decided_error(session: AsyncSession, pair_id: int) -> StaleError:
    """Someone decided first (or the proposal is gone): the card's buttons are spent."""
    pair = await q.get(session, pair_id, fresh=True)
    if pair is None:
        return StaleError("pairing_not_found", id=pair_id)
    decider = await q.participant(session, pair.decided_by) if pair.decided_by else None
    name = who(decider)
    suffix = "" if name else "_anon"
    if pair.status == PairStatus.REJECTED:
        return StaleError("pairing_already_rejected" + suffix, id=pair_id, who=name)
    if pair.status in ACTIVE_PAIR_STATUSES:
        return StaleError("pairing_already_approved" + suffix, id=pair_id, who=name)
    return StaleError("pairing_not_proposed", id=pair_id)


def ensure_available(membership: Membership, statuses: Collection[str]) -> None:
    if (
        membership.status not in statuses
        or membership.participant.status not in PAIRABLE
    ):
        raise ServiceError("pairing_unavailable", id=membership.id)


async def intro_notices(session: AsyncSession, pair: Pair) -> list[Notice]:
    members = await q.memberships(session, [pair.mentee_membership_id, pair.mentor_membership_id])
    people = await people_of(session, members.values())
    mentee, mentor = people[pair.mentee_membership_id], people[pair.mentor_membership_id]
    return [
        Notice(NoticeKind.INTRO, f"intro:{pair.id}:mentee", to=mentee, about=mentor,
               pair_id=pair.id),
        Notice(NoticeKind.INTRO, f"intro:{pair.id}:mentor", to=mentor, about=mentee,
               pair_id=pair.id),
    ]


async def approve(
    session: AsyncSession, pair_id: int, *, org_ids: Collection[int], actor_id: int | None,
    now: dt.datetime, run_id: str | None = None,
) -> PairResult:
    """Approve a proposal. Safe when curators approve at once: the proposal changes state
    only once, and the mentor's load grows only while below capacity."""
    pair = await pair_in_scope(session, pair_id, org_ids, run_id)
    if pair.status != PairStatus.PROPOSED:
        raise await _decided_error(session, pair_id)
    members = await q.memberships(
        session, [pair.mentee_membership_id, pair.mentor_membership_id]
    )
    mentee, mentor = members[pair.mentee_membership_id], members[pair.mentor_membership_id]
    if mentee.status == MembershipStatus.PAIRED:
        raise ServiceError("pairing_mentee_has_pair", id=mentee.id)
    ensure_available(mentee, (MembershipStatus.IN_BASE,))
    ensure_available(mentor, q.MENTOR_POOL_STATUSES)
    async with session.begin_nested():
        decided = await q.transition(
            session, pair_id, from_statuses=[PairStatus.PROPOSED],
            to_status=PairStatus.APPROVED, actor_id=actor_id, now=now, decide=True,
        )
        if not decided:
            raise await _decided_error(session, pair_id)
        if not await q.claim_mentee(session, mentee.id):
            raise ServiceError("pairing_mentee_has_pair", id=mentee.id)
        if not await q.take_slot(session, mentor.id):
            raise ServiceError("pairing_mentor_full", id=mentor.id)
    q.add_event(session, pair_id, PairStatus.PROPOSED, PairStatus.APPROVED, actor_id, now)
    await q.mark_paired(session, [mentor.id])
    await nudges.schedule_first_check(session, pair_id, now)
    audit.record(
        session, actor_id=actor_id, organisation_id=mentee.organisation_id,
        action="pair.approve", target_type="pair", target_id=pair_id,
        details={"mentee": mentee.id, "mentor": mentor.id, "run": pair.match_run_id},
    )
    fresh = await q.get(session, pair_id, fresh=True)
    assert fresh is not None
    return PairResult(fresh, await intro_notices(session, fresh))


async def reject(
    session: AsyncSession, pair_id: int, *, org_ids: Collection[int], actor_id: int | None,
    now: dt.datetime, run_id: str | None = None,
) -> Pair:
    pair = await pair_in_scope(session, pair_id, org_ids, run_id)
    decided = await q.transition(
        session, pair_id, from_statuses=[PairStatus.PROPOSED], to_status=PairStatus.REJECTED,
        actor_id=actor_id, now=now, decide=True,
    )
    if not decided:
        raise await _decided_error(session, pair_id)
    q.add_event(session, pair_id, PairStatus.PROPOSED, PairStatus.REJECTED, actor_id, now)
    programme_org = await _org_of(session, pair)
    audit.record(
        session, actor_id=actor_id, organisation_id=programme_org,
        action="pair.reject", target_type="pair", target_id=pair_id,
        details={"mentee": pair.mentee_membership_id, "mentor": pair.mentor_membership_id,
                 "run": pair.match_run_id},
    )
    fresh = await q.get(session, pair_id, fresh=True)
    assert fresh is not None
    return fresh


async def _org_of(session: AsyncSession, pair: Pair) -> int | None:
    members = await q.memberships(session, [pair.mentee_membership_id])
    member = members.get(pair.mentee_membership_id)
    return member.organisation_id if member else None
