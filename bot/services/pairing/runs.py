"""Match runs: the best assignment proposed, and "the search goes on" for the rest."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import matching
from bot.services.errors import ServiceError
from bot.services.matching import MenteeProfile, MentorProfile, Weights
from bot.services.pairing.model import (
    RUN_ID,
    MatchRun,
    Notice,
    NoticeKind,
    Person,
    Unmatched,
    default_weights,
    new_run_id,
)
from bot.services.pairing.profiles import (
    latest_picks,
    mentee_profile,
    mentor_profile,
    people_of,
    reasons_json,
)
from bot.services.questionnaires import Catalog
from db.models import (
    Membership,
    Pair,
    PairStatus,
    ParticipantStatus,
    Programme,
    Role,
)
from db.queries import audit
from db.queries import pairs as q


async def pools(
    session: AsyncSession, programme_id: int
) -> tuple[list[Membership], list[Membership]]:
    mentees = list(await q.pool(session, programme_id, Role.MENTEE))
    busy = await q.active_of_mentees(session, [m.id for m in mentees])
    mentees = [m for m in mentees if m.id not in busy and m.form]
    mentors = [m for m in await q.pool(session, programme_id, Role.MENTOR) if m.form]
    return mentees, mentors


async def run_match(
    session: AsyncSession,
    catalog: Catalog,
    programme: Programme,
    *,
    actor_id: int | None,
    now: dt.datetime,
    weights: Weights | None = None,
) -> MatchRun:
    """Propose the best assignment of unpaired mentees to mentors with free places.

    Older undecided proposals of the programme are replaced; couples once rejected or
    ended are never proposed again.
    """
    weights = weights or default_weights()
    mentee_rows, mentor_rows = await pools(session, programme.id)
    people = await people_of(session, [*mentee_rows, *mentor_rows])
    preferred = await latest_picks(session, programme.id)
    mentees = [
        mentee_profile(catalog, m, people[m.id], preferred.get(m.id, ())) for m in mentee_rows
    ]
    mentors = [
        mentor_profile(catalog, m, people[m.id], preferred.get(m.id, ())) for m in mentor_rows
    ]
    excluded = await q.closed_couples(session, programme.id)
    replaced = await q.delete_undecided(session, programme.id)
    result = matching.assign(mentees, mentors, weights, excluded=excluded)

    run_id = new_run_id(now)
    form_of = {t.id: t.form for t in mentees}
    proposals = [
        Pair(
            programme_id=programme.id,
            mentee_membership_id=p.mentee_id,
            mentor_membership_id=p.mentor_id,
            form=form_of[p.mentee_id],
            status=PairStatus.PROPOSED,
            score=p.score.value,
            reasons=reasons_json(p.score),
            match_run_id=run_id,
            created_by=actor_id,
            created_at=now,
        )
        for p in result.pairs
    ]
    session.add_all(proposals)
    await session.flush()
    for pair in proposals:
        q.add_event(session, pair.id, None, PairStatus.PROPOSED, actor_id, now)

    by_id = {t.id: t for t in mentees}
    unmatched = [
        Unmatched(
            people[u.mentee_id],
            _refine(u.reason, by_id[u.mentee_id], mentors, excluded, weights),
        )
        for u in result.unmatched
    ]
    away_mentees, away_mentors = await _unreachable(session, programme.id)
    unmatched += [Unmatched(person, "unreachable") for person in away_mentees]
    audit.record(
        session, actor_id=actor_id, organisation_id=programme.organisation_id,
        action="match.run", target_type="programme", target_id=programme.id,
        details={
            "run": run_id, "mentees": len(mentees), "mentors": len(mentors),
            "proposed": len(proposals), "unmatched": len(unmatched), "replaced": replaced,
        },
    )
    return MatchRun(
        run_id, proposals, unmatched, len(mentees), len(mentors), replaced, away_mentors
    )


async def _unreachable(
    session: AsyncSession, programme_id: int
) -> tuple[list[Person], list[Person]]:
    """Who would be in the pools but blocked the bot: listed to the curator, not matched."""
    mentees = list(await q.pool(session, programme_id, Role.MENTEE, ParticipantStatus.UNREACHABLE))
    busy = await q.active_of_mentees(session, [m.id for m in mentees])
    mentees = [m for m in mentees if m.id not in busy and m.form]
    mentors = [
        m for m in await q.pool(session, programme_id, Role.MENTOR, ParticipantStatus.UNREACHABLE)
        if m.form and m.load < m.capacity
    ]
    people = await people_of(session, [*mentees, *mentors])
    return [people[m.id] for m in mentees], [people[m.id] for m in mentors]


def _refine(
    reason: str,
    mentee: MenteeProfile,
    mentors: list[MentorProfile],
    excluded: set[tuple[int, int]],
    weights: Weights,
) -> str:
    """"Below threshold" only because the good couples were rejected or ended before."""
    if reason != "below_threshold":
        return reason
    for mentor in mentors:
        if (
            (mentee.id, mentor.id) in excluded
            and matching.compatible(mentee, mentor)
            and matching.score(mentee, mentor, weights).points >= weights.threshold_points
        ):
            return "rejected_before"
    return reason


async def tell_unmatched(
    session: AsyncSession, programme: Programme, run_id: str, *, actor_id: int | None,
    now: dt.datetime,
) -> list[Notice]:
    """"The search goes on" for every mentee still waiting (once per match run)."""
    if not RUN_ID.fullmatch(run_id):
        raise ServiceError("pairing_stale")
    mentees, _ = await pools(session, programme.id)
    proposed = await q.proposed_mentees(session, programme.id)
    waiting = [m for m in mentees if m.id not in proposed]
    people = await people_of(session, waiting)
    notices = [
        Notice(NoticeKind.SEARCH_ON, f"search-on:{run_id}:{m.id}", to=people[m.id])
        for m in waiting
    ]
    audit.record(
        session, actor_id=actor_id, organisation_id=programme.organisation_id,
        action="match.tell_unmatched", target_type="programme", target_id=programme.id,
        details={"run": run_id, "mentees": [m.id for m in waiting]},
    )
    return notices
