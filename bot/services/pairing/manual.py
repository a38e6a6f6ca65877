"""Pairs made by hand, and ending an active pair."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import matching, nudges
from bot.services.errors import ServiceError, StaleError
from bot.services.matching import Weights
from bot.services.pairing.model import (
    MAX_CAPACITY,
    Card,
    ManualResult,
    Notice,
    NoticeKind,
    PairResult,
    PairWarning,
    default_weights,
)
from bot.services.pairing.profiles import (
    latest_picks,
    mentee_profile,
    mentor_profile,
    people_of,
    reasons_json,
)
from bot.services.pairing.proposals import (
    ensure_available,
    intro_notices,
    pair_card,
    pair_in_scope,
)
from bot.services.questionnaires import Catalog
from db.models import (
    ACTIVE_PAIR_STATUSES,
    MembershipStatus,
    Pair,
    PairStatus,
    Role,
)
from db.queries import audit
from db.queries import pairs as q


async def manual_pair(
    session: AsyncSession,
    catalog: Catalog,
    mentee_id: int,
    mentor_id: int,
    *,
    org_ids: Collection[int],
    actor_id: int | None,
    now: dt.datetime,
    confirmed: bool = False,
    weights: Weights | None = None,
) -> ManualResult:
    """Pair two people by the curator's choice. With a low score, different forms, a full
    mentor, a mentee who has a mentor or a couple rejected before, nothing is done until
    the curator confirms; confirming a full mentor raises their capacity by one."""
    try:
        return await _make_pair(
            session, catalog, mentee_id, mentor_id, org_ids=org_ids, actor_id=actor_id,
            now=now, confirmed=confirmed, weights=weights,
        )
    except ServiceError as exc:
        if confirmed and not exc.stale:
            # the confirmation's buttons are spent: a new try starts again from /pair
            raise StaleError(exc.code, **exc.params) from exc
        raise


async def _make_pair(
    session: AsyncSession,
    catalog: Catalog,
    mentee_id: int,
    mentor_id: int,
    *,
    org_ids: Collection[int],
    actor_id: int | None,
    now: dt.datetime,
    confirmed: bool = False,
    weights: Weights | None = None,
) -> ManualResult:
    weights = weights or default_weights()
    members = await q.memberships(session, [mentee_id, mentor_id])
    for member_id in (mentee_id, mentor_id):
        member = members.get(member_id)
        if member is None or member.organisation_id not in org_ids or member.programme_id is None:
            raise ServiceError("member_not_found", id=member_id)
    mentee, mentor = members[mentee_id], members[mentor_id]
    if mentee.role != Role.MENTEE or mentor.role != Role.MENTOR:
        raise ServiceError("pairing_wrong_roles")
    if mentee.programme_id != mentor.programme_id:
        raise ServiceError("pairing_other_programme")
    if mentee.participant_id == mentor.participant_id:
        raise ServiceError("pairing_same_person")
    live = (MembershipStatus.IN_BASE, MembershipStatus.PAIRED)
    ensure_available(mentee, live)
    ensure_available(mentor, live)
    history = await q.couple_history(session, mentee_id, mentor_id)
    if current := next((p for p in history if p.status in ACTIVE_PAIR_STATUSES), None):
        raise ServiceError("pairing_exists", id=current.id)

    people = await people_of(session, [mentee, mentor])
    assert mentee.programme_id is not None
    preferred = await latest_picks(session, mentee.programme_id)
    score = matching.score(
        mentee_profile(catalog, mentee, people[mentee_id], preferred.get(mentee_id, ())),
        mentor_profile(catalog, mentor, people[mentor_id], preferred.get(mentor_id, ())),
        weights,
    )
    warnings: list[PairWarning] = []
    if not score.compatible:
        warnings.append(PairWarning.FORM)
    elif score.points < weights.threshold_points:
        warnings.append(PairWarning.LOW_SCORE)
    if mentor.load >= mentor.capacity:
        warnings.append(PairWarning.CAPACITY)
    if await q.active_of_mentees(session, [mentee_id]):
        warnings.append(PairWarning.MENTEE_PAIRED)
    if any(p.status in q.CLOSED_FOR_REMATCH for p in history):
        warnings.append(PairWarning.REJECTED_BEFORE)
    if not (people[mentee_id].reachable and people[mentor_id].reachable):
        warnings.append(PairWarning.UNREACHABLE)
    result = ManualResult(score, tuple(warnings), people[mentee_id], people[mentor_id])
    if warnings and not confirmed:
        return result

    raised_to: int | None = None
    if not await q.take_slot(session, mentor_id):
        if PairWarning.CAPACITY not in warnings:
            # the last place went to someone else meanwhile: ask again, with the warning
            raise ServiceError("pairing_mentor_full", id=mentor_id)
        if not await q.take_extra_slot(session, mentor_id, MAX_CAPACITY):
            raise ServiceError("pairing_capacity_max", id=mentor_id, max=MAX_CAPACITY)
        fresh_mentor = (await q.memberships(session, [mentor_id]))[mentor_id]
        raised_to = fresh_mentor.capacity
        audit.record(
            session, actor_id=actor_id, organisation_id=mentor.organisation_id,
            action="mentor.capacity_raise", target_type="membership", target_id=mentor_id,
            details={"capacity": raised_to},
        )
    await q.delete_undecided(session, mentee.programme_id, mentee_id=mentee_id)
    pair = Pair(
        programme_id=mentee.programme_id,
        mentee_membership_id=mentee_id,
        mentor_membership_id=mentor_id,
        form=mentee.form or mentor.form or "",
        status=PairStatus.APPROVED,
        score=score.value,
        reasons=reasons_json(score),
        created_by=actor_id,
        decided_by=actor_id,
        decided_at=now,
        created_at=now,
        next_check_at=await nudges.first_check_at(session, mentee.organisation_id, now),
        nudge_level=0,
    )
    session.add(pair)
    await session.flush()
    q.add_event(session, pair.id, None, PairStatus.APPROVED, actor_id, now)
    await q.mark_paired(session, [mentee_id, mentor_id])
    audit.record(
        session, actor_id=actor_id, organisation_id=mentee.organisation_id,
        action="pair.manual", target_type="pair", target_id=pair.id,
        details={"mentee": mentee_id, "mentor": mentor_id,
                 "warnings": [w.value for w in warnings]},
    )
    result.pair = pair
    result.capacity_raised_to = raised_to
    result.notices = await intro_notices(session, pair)
    return result


async def unpair(
    session: AsyncSession, pair_id: int, *, org_ids: Collection[int], actor_id: int | None,
    now: dt.datetime,
) -> PairResult:
    """End an active pair: the mentor's place is freed, both sides are told."""
    pair = await pair_in_scope(session, pair_id, org_ids)
    before = pair.status
    if before not in ACTIVE_PAIR_STATUSES:
        raise StaleError("pairing_not_active", id=pair_id)
    ended = await q.transition(
        session, pair_id, from_statuses=ACTIVE_PAIR_STATUSES, to_status=PairStatus.ENDED,
        actor_id=actor_id, now=now,
    )
    if not ended:
        raise StaleError("pairing_not_active", id=pair_id)
    q.add_event(session, pair_id, before, PairStatus.ENDED, actor_id, now)
    await q.release_slot(session, pair.mentor_membership_id)
    await q.back_to_base(session, pair.mentee_membership_id, pair.mentor_membership_id)
    members = await q.memberships(
        session, [pair.mentee_membership_id, pair.mentor_membership_id]
    )
    people = await people_of(session, members.values())
    mentee, mentor = people[pair.mentee_membership_id], people[pair.mentor_membership_id]
    audit.record(
        session, actor_id=actor_id, organisation_id=members[mentee.membership_id].organisation_id,
        action="pair.unpair", target_type="pair", target_id=pair_id,
        details={"mentee": mentee.membership_id, "mentor": mentor.membership_id,
                 "from": before},
    )
    fresh = await q.get(session, pair_id, fresh=True)
    assert fresh is not None
    notices = [
        Notice(NoticeKind.ENDED, f"ended:{pair_id}:mentee", to=mentee, about=mentor,
               pair_id=pair_id),
        Notice(NoticeKind.ENDED, f"ended:{pair_id}:mentor", to=mentor, about=mentee,
               pair_id=pair_id),
    ]
    return PairResult(fresh, notices)


async def active_card(session: AsyncSession, pair_id: int, *, org_ids: Collection[int]) -> Card:
    """An active pair to be ended, for the confirmation."""
    try:
        card = await pair_card(session, pair_id, org_ids=org_ids)
    except ServiceError as exc:
        raise ServiceError("pairing_no_such", id=pair_id) from exc
    if card.pair.status not in ACTIVE_PAIR_STATUSES:
        raise ServiceError("pairing_not_active", id=pair_id)
    return card
