"""Pairs, their history and preference rounds (programme stage 5).

State changes are conditional UPDATEs that report whether they happened, so two curators
acting at once cannot both win: the loser sees rowcount 0 and is told why.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from db.models import (
    ACTIVE_PAIR_STATUSES,
    MatchPreference,
    Membership,
    MembershipStatus,
    Pair,
    PairEvent,
    PairStatus,
    Participant,
    ParticipantStatus,
    PreferenceRound,
    Programme,
    QuestionnaireResponse,
    Role,
)

CLOSED_FOR_REMATCH = (PairStatus.REJECTED, PairStatus.ENDED, PairStatus.COMPLETED)
MENTOR_POOL_STATUSES = (MembershipStatus.IN_BASE, MembershipStatus.PAIRED)


def _rowcount(result: object) -> int:
    return int(result.rowcount)  # type: ignore[attr-defined]


# -- pairs ------------------------------------------------------------------------------------
async def get(session: AsyncSession, pair_id: int, *, fresh: bool = False) -> Pair | None:
    stmt = select(Pair).where(Pair.id == pair_id)
    if fresh:
        stmt = stmt.execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_in_orgs(
    session: AsyncSession, pair_id: int, org_ids: Collection[int]
) -> Pair | None:
    """The pair, if its programme belongs to one of the organisations."""
    stmt = (
        select(Pair)
        .join(Programme, Programme.id == Pair.programme_id)
        .where(Pair.id == pair_id, Programme.organisation_id.in_(list(org_ids)))
        .execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def undecided(session: AsyncSession, programme_id: int) -> Sequence[Pair]:
    stmt = (
        select(Pair)
        .where(Pair.programme_id == programme_id, Pair.status == PairStatus.PROPOSED)
        .order_by(Pair.id)
    )
    return (await session.execute(stmt)).scalars().all()


async def closed_couples(session: AsyncSession, programme_id: int) -> set[tuple[int, int]]:
    """(mentee, mentor) membership ids that must not be proposed again."""
    stmt = select(Pair.mentee_membership_id, Pair.mentor_membership_id).where(
        Pair.programme_id == programme_id, Pair.status.in_(CLOSED_FOR_REMATCH)
    )
    return {(a, b) for a, b in (await session.execute(stmt)).all()}


async def couple_history(
    session: AsyncSession, mentee_id: int, mentor_id: int
) -> Sequence[Pair]:
    stmt = (
        select(Pair)
        .where(Pair.mentee_membership_id == mentee_id, Pair.mentor_membership_id == mentor_id)
        .order_by(Pair.id)
    )
    return (await session.execute(stmt)).scalars().all()


async def active_of_mentees(session: AsyncSession, mentee_ids: Collection[int]) -> set[int]:
    """Which of these mentees are in an active pair."""
    if not mentee_ids:
        return set()
    stmt = select(Pair.mentee_membership_id).where(
        Pair.mentee_membership_id.in_(list(mentee_ids)), Pair.status.in_(ACTIVE_PAIR_STATUSES)
    )
    return set((await session.execute(stmt)).scalars())


async def proposed_mentees(session: AsyncSession, programme_id: int) -> set[int]:
    stmt = select(Pair.mentee_membership_id).where(
        Pair.programme_id == programme_id, Pair.status == PairStatus.PROPOSED
    )
    return set((await session.execute(stmt)).scalars())


async def delete_undecided(
    session: AsyncSession, programme_id: int, *, mentee_id: int | None = None
) -> int:
    """Drop proposals nobody decided on (a new match run or a manual pair replaces them)."""
    ids = select(Pair.id).where(
        Pair.programme_id == programme_id, Pair.status == PairStatus.PROPOSED
    )
    if mentee_id is not None:
        ids = ids.where(Pair.mentee_membership_id == mentee_id)
    pair_ids = list((await session.execute(ids)).scalars())
    if not pair_ids:
        return 0
    # synchronised with the session (the default): a later get() must not find a deleted
    # proposal in the identity map. Ids are not reused (pairs are AUTOINCREMENT).
    await session.execute(delete(PairEvent).where(PairEvent.pair_id.in_(pair_ids)))
    await session.execute(delete(Pair).where(Pair.id.in_(pair_ids)))
    return len(pair_ids)


async def transition(
    session: AsyncSession,
    pair_id: int,
    *,
    from_statuses: Iterable[str],
    to_status: str,
    actor_id: int | None,
    now: dt.datetime,
    decide: bool = False,
) -> bool:
    """Move the pair on if it is still in one of `from_statuses`; False if someone was first."""
    values: dict[str, object] = {"status": to_status}
    if decide:
        values |= {"decided_by": actor_id, "decided_at": now}
    result = await session.execute(
        update(Pair)
        .where(Pair.id == pair_id, Pair.status.in_(list(from_statuses)))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


def add_event(
    session: AsyncSession,
    pair_id: int,
    from_status: str | None,
    to_status: str,
    actor_id: int | None,
    now: dt.datetime,
) -> PairEvent:
    event = PairEvent(
        pair_id=pair_id, from_status=from_status, to_status=to_status, actor_id=actor_id, at=now
    )
    session.add(event)
    return event


async def events(session: AsyncSession, pair_id: int) -> Sequence[PairEvent]:
    stmt = select(PairEvent).where(PairEvent.pair_id == pair_id).order_by(PairEvent.id)
    return (await session.execute(stmt)).scalars().all()


# -- mentor slots -----------------------------------------------------------------------------
async def take_slot(session: AsyncSession, mentor_id: int) -> bool:
    """One more mentee for the mentor, only while a place is free (the CHECK backs this up)."""
    result = await session.execute(
        update(Membership)
        .where(Membership.id == mentor_id, Membership.load < Membership.capacity)
        .values(load=Membership.load + 1)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def take_extra_slot(session: AsyncSession, mentor_id: int, max_capacity: int) -> bool:
    """A place above the mentor's capacity, by a curator's decision: capacity grows with it."""
    result = await session.execute(
        update(Membership)
        .where(
            Membership.id == mentor_id,
            Membership.load >= Membership.capacity,
            Membership.load < max_capacity,
        )
        .values(capacity=Membership.load + 1, load=Membership.load + 1)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def release_slot(session: AsyncSession, mentor_id: int) -> None:
    await session.execute(
        update(Membership)
        .where(Membership.id == mentor_id, Membership.load > 0)
        .values(load=Membership.load - 1)
        .execution_options(synchronize_session=False)
    )


async def claim_mentee(session: AsyncSession, mentee_id: int) -> bool:
    """In base -> paired; False when the mentee got a mentor meanwhile (or left the base)."""
    result = await session.execute(
        update(Membership)
        .where(Membership.id == mentee_id, Membership.status == MembershipStatus.IN_BASE)
        .values(status=MembershipStatus.PAIRED)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def mark_paired(session: AsyncSession, membership_ids: Collection[int]) -> None:
    await session.execute(
        update(Membership)
        .where(
            Membership.id.in_(list(membership_ids)),
            Membership.status == MembershipStatus.IN_BASE,
        )
        .values(status=MembershipStatus.PAIRED)
        .execution_options(synchronize_session=False)
    )


async def back_to_base(session: AsyncSession, mentee_id: int, mentor_id: int) -> None:
    """After a pair ends: the mentee without other pairs, the mentor without mentees."""
    still_paired = select(Pair.id).where(
        Pair.mentee_membership_id == mentee_id, Pair.status.in_(ACTIVE_PAIR_STATUSES)
    )
    if (await session.execute(still_paired.limit(1))).first() is None:
        await session.execute(
            update(Membership)
            .where(Membership.id == mentee_id, Membership.status == MembershipStatus.PAIRED)
            .values(status=MembershipStatus.IN_BASE)
            .execution_options(synchronize_session=False)
        )
    await session.execute(
        update(Membership)
        .where(
            Membership.id == mentor_id,
            Membership.status == MembershipStatus.PAIRED,
            Membership.load == 0,
        )
        .values(status=MembershipStatus.IN_BASE)
        .execution_options(synchronize_session=False)
    )


# -- people -----------------------------------------------------------------------------------
async def memberships(
    session: AsyncSession, membership_ids: Collection[int]
) -> dict[int, Membership]:
    """Read anew (loads change by conditional UPDATEs that bypass the session)."""
    if not membership_ids:
        return {}
    stmt = (
        select(Membership)
        .where(Membership.id.in_(list(membership_ids)))
        .options(selectinload(Membership.participant), selectinload(Membership.programme))
        .execution_options(populate_existing=True)
    )
    return {m.id: m for m in (await session.execute(stmt)).scalars()}


async def pool(
    session: AsyncSession, programme_id: int, role: Role,
    participant_status: str = ParticipantStatus.ACTIVE,
) -> Sequence[Membership]:
    """Who takes part in matching: unpaired mentees in base; mentors in base or paired
    (full ones too, so that "all full" can be told apart from "no mentor"). Nobody on
    pause, unreachable or forgotten (ask for `participant_status` to list the others)."""
    statuses = (MembershipStatus.IN_BASE,) if role == Role.MENTEE else MENTOR_POOL_STATUSES
    stmt = (
        select(Membership)
        .join(Participant, Participant.id == Membership.participant_id)
        .where(
            Membership.programme_id == programme_id,
            Membership.role == role,
            Membership.status.in_(statuses),
            Participant.status == participant_status,
        )
        .options(selectinload(Membership.participant))
        .order_by(Membership.id)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalars().all()


async def onboarding_responses(
    session: AsyncSession, membership_ids: Collection[int]
) -> dict[int, QuestionnaireResponse]:
    if not membership_ids:
        return {}
    stmt = (
        select(QuestionnaireResponse)
        .where(
            QuestionnaireResponse.membership_id.in_(list(membership_ids)),
            QuestionnaireResponse.stage == "onboarding",
        )
        .options(selectinload(QuestionnaireResponse.answers))
        .order_by(QuestionnaireResponse.id)
    )
    return {r.membership_id: r for r in (await session.execute(stmt)).scalars()}


async def participant(session: AsyncSession, participant_id: int) -> Participant | None:
    return await session.get(Participant, participant_id)


async def participants(
    session: AsyncSession, participant_ids: Collection[int]
) -> dict[int, Participant]:
    if not participant_ids:
        return {}
    stmt = select(Participant).where(Participant.id.in_(list(participant_ids)))
    return {p.id: p for p in (await session.execute(stmt)).scalars()}


# -- preference rounds ------------------------------------------------------------------------
async def open_round(session: AsyncSession, programme_id: int) -> PreferenceRound | None:
    stmt = (
        select(PreferenceRound)
        .where(PreferenceRound.programme_id == programme_id, PreferenceRound.closed_at.is_(None))
        .order_by(PreferenceRound.id.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def latest_round(session: AsyncSession, programme_id: int) -> PreferenceRound | None:
    stmt = (
        select(PreferenceRound)
        .where(PreferenceRound.programme_id == programme_id)
        .order_by(PreferenceRound.id.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_round(session: AsyncSession, round_id: int) -> PreferenceRound | None:
    return await session.get(PreferenceRound, round_id)


async def close_round(session: AsyncSession, round_id: int, now: dt.datetime) -> bool:
    result = await session.execute(
        update(PreferenceRound)
        .where(PreferenceRound.id == round_id, PreferenceRound.closed_at.is_(None))
        .values(closed_at=now)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def picks_of(session: AsyncSession, round_id: int, chooser_id: int) -> list[MatchPreference]:
    stmt = (
        select(MatchPreference)
        .where(
            MatchPreference.round_id == round_id,
            MatchPreference.chooser_membership_id == chooser_id,
        )
        .order_by(MatchPreference.rank)
    )
    return list((await session.execute(stmt)).scalars())


async def all_picks(session: AsyncSession, round_id: int) -> list[tuple[int, int]]:
    """(chooser, chosen) membership ids."""
    stmt = select(
        MatchPreference.chooser_membership_id, MatchPreference.chosen_membership_id
    ).where(MatchPreference.round_id == round_id)
    return [(a, b) for a, b in (await session.execute(stmt)).all()]



async def active_of(session: AsyncSession, membership_ids: Collection[int]) -> Sequence[Pair]:
    """Working pairs where any of these memberships is the mentee or the mentor."""
    if not membership_ids:
        return []
    ids = list(membership_ids)
    stmt = (
        select(Pair)
        .where(
            Pair.status.in_(ACTIVE_PAIR_STATUSES),
            Pair.mentee_membership_id.in_(ids) | Pair.mentor_membership_id.in_(ids),
        )
        .order_by(Pair.id)
    )
    return (await session.execute(stmt)).scalars().all()
