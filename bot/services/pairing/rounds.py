"""Preference rounds after a group meeting: candidate lists, picks, closing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import matching
from bot.services.errors import NotYoursError, ServiceError, StaleError
from bot.services.matching import Score, Weights
from bot.services.pairing.model import (
    MAX_CANDIDATES,
    MAX_PICKS,
    Notice,
    NoticeKind,
    Person,
    RoundClosed,
    RoundStarted,
    default_weights,
)
from bot.services.pairing.profiles import mentee_profile, mentor_profile, people_of
from bot.services.pairing.runs import pools
from bot.services.questionnaires import Catalog
from db.models import (
    MatchPreference,
    Membership,
    PreferenceRound,
    Programme,
    Role,
)
from db.queries import audit
from db.queries import pairs as q


async def start_round(
    session: AsyncSession,
    catalog: Catalog,
    programme: Programme,
    *,
    actor_id: int | None,
    now: dt.datetime,
    weights: Weights | None = None,
) -> RoundStarted:
    """After a group meeting: everyone waiting for a pair gets the other side's list."""
    weights = weights or default_weights()
    if (existing := await q.open_round(session, programme.id)) is not None:
        raise ServiceError("pairing_round_open", id=existing.id)
    round_ = PreferenceRound(programme_id=programme.id, started_by=actor_id, started_at=now)
    session.add(round_)
    await session.flush()

    mentee_rows, mentor_rows = await pools(session, programme.id)
    mentor_rows = [m for m in mentor_rows if m.load < m.capacity]
    people = await people_of(session, [*mentee_rows, *mentor_rows])
    tees = {m.id: mentee_profile(catalog, m, people[m.id]) for m in mentee_rows}
    tors = {m.id: mentor_profile(catalog, m, people[m.id]) for m in mentor_rows}

    def ranked(pairs: Iterable[tuple[int, Score]]) -> tuple[Person, ...]:
        best = sorted(pairs, key=lambda item: (-item[1].points, item[0]))[:MAX_CANDIDATES]
        return tuple(people[i] for i, _ in best)

    notices: list[Notice] = []
    for tee in tees.values():
        candidates = ranked(
            (tor.id, matching.score(tee, tor, weights))
            for tor in tors.values() if matching.compatible(tee, tor)
        )
        if candidates:
            notices.append(_round_notice(round_.id, people[tee.id], candidates))
    for tor in tors.values():
        candidates = ranked(
            (tee.id, matching.score(tee, tor, weights))
            for tee in tees.values() if matching.compatible(tee, tor)
        )
        if candidates:
            notices.append(_round_notice(round_.id, people[tor.id], candidates))
    audit.record(
        session, actor_id=actor_id, organisation_id=programme.organisation_id,
        action="preferences.start", target_type="preference_round", target_id=round_.id,
        details={"programme": programme.id, "mentees": len(tees), "mentors": len(tors),
                 "messages": len(notices)},
    )
    return RoundStarted(round_, notices, len(tees), len(tors))


def _round_notice(round_id: int, to: Person, candidates: tuple[Person, ...]) -> Notice:
    return Notice(
        NoticeKind.PREFERENCES, f"prefs:{round_id}:{to.membership_id}", to=to,
        round_id=round_id, candidates=candidates,
    )


async def close_round(
    session: AsyncSession, programme: Programme, *, actor_id: int | None, now: dt.datetime
) -> RoundClosed:
    round_ = await q.open_round(session, programme.id)
    if round_ is None or not await q.close_round(session, round_.id, now):
        raise ServiceError("pairing_no_open_round")
    picks = set(await q.all_picks(session, round_.id))
    mutual = sum(1 for a, b in picks if (b, a) in picks) // 2
    choosers = len({a for a, _ in picks})
    audit.record(
        session, actor_id=actor_id, organisation_id=programme.organisation_id,
        action="preferences.close", target_type="preference_round", target_id=round_.id,
        details={"choosers": choosers, "mutual": mutual},
    )
    fresh = await q.get_round(session, round_.id)
    assert fresh is not None
    await session.refresh(fresh)
    return RoundClosed(fresh, choosers, mutual)


async def _chooser(
    session: AsyncSession, round_id: int, chooser_id: int, telegram_id: int
) -> tuple[PreferenceRound, Membership]:
    round_ = await q.get_round(session, round_id)
    if round_ is None:
        raise StaleError("pairing_round_closed")
    await session.refresh(round_)
    chooser = (await q.memberships(session, [chooser_id])).get(chooser_id)
    if (
        chooser is None
        or chooser.participant.telegram_id != telegram_id
        or chooser.programme_id != round_.programme_id
    ):
        raise NotYoursError("pairing_not_yours")
    if round_.closed_at is not None:
        raise StaleError("pairing_round_closed")
    return round_, chooser


async def toggle_pick(
    session: AsyncSession, round_id: int, chooser_id: int, chosen_id: int, *, telegram_id: int
) -> list[int]:
    """Pick or unpick someone; returns the picks in order."""
    round_, chooser = await _chooser(session, round_id, chooser_id, telegram_id)
    chosen = (await q.memberships(session, [chosen_id])).get(chosen_id)
    if (
        chosen is None
        or chosen.programme_id != round_.programme_id
        or chosen.role == chooser.role
        or chosen.role not in (Role.MENTEE, Role.MENTOR)
        or chosen.form != chooser.form
    ):
        raise ServiceError("pairing_not_candidate")
    picks = await q.picks_of(session, round_id, chooser_id)
    existing = next((p for p in picks if p.chosen_membership_id == chosen_id), None)
    if existing is not None:
        await session.delete(existing)
        picks.remove(existing)
        await session.flush()
        for rank, pick in enumerate(picks, start=1):
            pick.rank = rank
    else:
        if len(picks) >= MAX_PICKS:
            raise ServiceError("pairing_too_many_picks", max=MAX_PICKS)
        pick = MatchPreference(
            round_id=round_id, chooser_membership_id=chooser_id, chosen_membership_id=chosen_id,
            rank=len(picks) + 1,
        )
        session.add(pick)
        picks.append(pick)
    await session.flush()
    return [p.chosen_membership_id for p in picks]


async def picks(
    session: AsyncSession, round_id: int, chooser_id: int, *, telegram_id: int
) -> list[Person]:
    """The chooser's picks, in order (for "Done")."""
    await _chooser(session, round_id, chooser_id, telegram_id)
    chosen = [p.chosen_membership_id for p in await q.picks_of(session, round_id, chooser_id)]
    members = await q.memberships(session, chosen)
    people = await people_of(session, members.values())
    return [people[i] for i in chosen if i in people]
