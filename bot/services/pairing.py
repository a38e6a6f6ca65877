"""Forming pairs (programme stage 5): profiles from answers, match runs, the curator's
decisions, manual pairs, preference rounds after a group meeting, sharing contacts.

The scoring and the assignment are in :mod:`bot.services.matching`; this module feeds it
from the database and keeps the pairs' states. Every state change is a conditional UPDATE
(see db/queries/pairs.py), adds a PairEvent and an audit record (ids only).

Messages to other people are returned as :class:`Notice` values (who, what, an
idempotency key); the handler turns them into words and buttons and puts them in the
outbox within the same transaction.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import matching
from bot.services.errors import ServiceError
from bot.services.matching import MenteeProfile, MentorProfile, Reason, Score, Weights
from bot.services.onboarding import CATEGORIES
from bot.services.pairing_words import (  # noqa: F401 (handlers use pairing.<name>)
    CAVEATS,
    answer_words,
    describe_reasons,
    free_text,
    questionnaire_of,
)
from bot.services.questionnaires import Catalog
from db.models import (
    ACTIVE_PAIR_STATUSES,
    MatchPreference,
    Membership,
    MembershipStatus,
    Pair,
    PairStatus,
    Participant,
    ParticipantStatus,
    PreferenceRound,
    Programme,
    Role,
)
from db.queries import audit
from db.queries import pairs as q
from db.queries import responses as q_responses

MAX_PICKS = 3
# Blocked the bot: still pairable (they may come back); the curator is told who was not reached.
PAIRABLE = (ParticipantStatus.ACTIVE, ParticipantStatus.UNREACHABLE)
MAX_CANDIDATES = 20  # people listed in one preference message
MAX_CAPACITY = 50  # the memberships CHECK constraint
CONTACT_SHARED = "contact_shared"  # PairEvent.to_status when a side agrees to share contacts
RUN_ID = re.compile(r"[0-9a-f]{6,32}")
TAGS = ("needs", "competences", "interests", "subject", "times", "format", "experience")


class PairWarning(StrEnum):
    """Why a manual pair needs the curator's confirmation."""

    FORM = "form"
    LOW_SCORE = "low_score"
    CAPACITY = "capacity"
    MENTEE_PAIRED = "mentee_paired"
    REJECTED_BEFORE = "rejected_before"
    UNREACHABLE = "unreachable"


class NoticeKind(StrEnum):
    INTRO = "intro"
    CONTACTS = "contacts"
    SEARCH_ON = "search_on"
    ENDED = "ended"
    PREFERENCES = "preferences"


@dataclass(frozen=True, slots=True)
class Person:
    """A member as the pairing screens and messages show them."""

    membership_id: int
    participant_id: int
    role: str
    form: str | None
    name: str | None
    username: str | None
    telegram_id: int | None
    language: str
    questionnaire_id: str | None
    answers: Mapping[str, Any] = field(default_factory=dict)
    reachable: bool = True  # False: blocked the bot (a 403) or erased their data


@dataclass(frozen=True, slots=True)
class Notice:
    """A message for someone other than the actor."""

    kind: NoticeKind
    key: str  # outbox idempotency key
    to: Person
    about: Person | None = None
    pair_id: int | None = None
    round_id: int | None = None
    candidates: tuple[Person, ...] = ()


@dataclass(slots=True)
class Unmatched:
    person: Person
    reason: str  # matching.UnmatchedReason or "rejected_before"


@dataclass(slots=True)
class MatchRun:
    run_id: str
    proposals: list[Pair]
    unmatched: list[Unmatched]
    mentees: int
    mentors: int
    replaced: int
    unreachable_mentors: list[Person] = field(default_factory=list)


@dataclass(slots=True)
class Card:
    """One pair with both people, for the curator."""

    pair: Pair
    mentee: Person
    mentor: Person
    mentor_load: int
    mentor_capacity: int
    position: int = 1
    total: int = 1


@dataclass(slots=True)
class PairResult:
    pair: Pair
    notices: list[Notice] = field(default_factory=list)


@dataclass(slots=True)
class ManualResult:
    score: Score
    warnings: tuple[PairWarning, ...]
    mentee: Person
    mentor: Person
    pair: Pair | None = None  # None: nothing done, the curator has to confirm the warnings
    notices: list[Notice] = field(default_factory=list)
    capacity_raised_to: int | None = None


@dataclass(slots=True)
class RoundStarted:
    round: PreferenceRound
    notices: list[Notice]
    mentees: int
    mentors: int


@dataclass(slots=True)
class RoundClosed:
    round: PreferenceRound
    choosers: int
    mutual: int


@dataclass(slots=True)
class Shared:
    both: bool
    notices: list[Notice] = field(default_factory=list)


@cache
def default_weights() -> Weights:
    return matching.load_weights()


def new_run_id(now: dt.datetime) -> str:
    return f"{now:%y%m%d%H%M%S}{secrets.token_hex(3)}"


# -- people and profiles ----------------------------------------------------------------------
async def people_of(session: AsyncSession, memberships: Iterable[Membership]) -> dict[int, Person]:
    """Persons with their onboarding answers."""
    items = list(memberships)
    responses = await q.onboarding_responses(session, [m.id for m in items])
    participants = await q.participants(session, {m.participant_id for m in items})
    out: dict[int, Person] = {}
    for m in items:
        response = responses.get(m.id)
        p = participants[m.participant_id]
        out[m.id] = Person(
            membership_id=m.id,
            participant_id=p.id,
            role=m.role,
            form=m.form,
            name=p.full_name or p.tg_first_name,
            username=p.tg_username,
            telegram_id=p.telegram_id,
            language=p.language,
            questionnaire_id=response.questionnaire_id if response else None,
            answers=q_responses.answer_map(response) if response else {},
            reachable=p.telegram_id is not None and p.status != ParticipantStatus.UNREACHABLE,
        )
    return out


def tagged(catalog: Catalog, person: Person) -> dict[str, Any]:
    """The person's answers by `match:` tag (only the answered ones)."""
    questionnaire = questionnaire_of(catalog, person)
    if questionnaire is None:
        return {}
    out: dict[str, Any] = {}
    for tag in TAGS:
        question = questionnaire.by_match(tag)
        if question is not None and person.answers.get(question.id) is not None:
            out[tag] = person.answers[question.id]
    return out


def _set(value: Any) -> frozenset[str]:
    if isinstance(value, list):
        return frozenset(str(v) for v in value)
    if isinstance(value, str):
        return frozenset({value})
    return frozenset()


def _one(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _years(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def mentee_profile(
    catalog: Catalog, membership: Membership, person: Person,
    preferred: Collection[int] = frozenset(),
) -> MenteeProfile:
    answers = tagged(catalog, person)
    form = membership.form or ""
    category = membership.category or CATEGORIES.get((Role.MENTEE, form), "student")
    return MenteeProfile(
        id=membership.id,
        form=form,
        category=category,
        needs=_set(answers.get("needs")),
        interests=_set(answers.get("interests")),
        subject=_one(answers.get("subject")),
        times=_set(answers.get("times")),
        format=_one(answers.get("format")),
        experience_years=_years(answers.get("experience")),
        preferred=frozenset(preferred),
    )


def mentor_profile(
    catalog: Catalog, membership: Membership, person: Person,
    preferred: Collection[int] = frozenset(),
) -> MentorProfile:
    answers = tagged(catalog, person)
    return MentorProfile(
        id=membership.id,
        forms=frozenset({membership.form}) if membership.form else frozenset(),
        competences=_set(answers.get("competences")),
        interests=_set(answers.get("interests")),
        subject=_one(answers.get("subject")),
        times=_set(answers.get("times")),
        format=_one(answers.get("format")),
        experience_years=_years(answers.get("experience")),
        capacity=max(0, membership.capacity - membership.load),
        preferred=frozenset(preferred),
    )


async def _preferences(session: AsyncSession, programme_id: int) -> dict[int, set[int]]:
    """Picks of the latest preference round: chooser membership -> chosen memberships."""
    latest = await q.latest_round(session, programme_id)
    out: dict[int, set[int]] = {}
    if latest is not None:
        for chooser, chosen in await q.all_picks(session, latest.id):
            out.setdefault(chooser, set()).add(chosen)
    return out


def reasons_json(score: Score) -> list[dict[str, Any]]:
    return [{"code": r.code, "items": list(r.items)} for r in score.reasons]


def reasons_of(pair: Pair) -> tuple[Reason, ...]:
    out = []
    for item in pair.reasons or ():
        if isinstance(item, dict) and isinstance(item.get("code"), str):
            out.append(Reason(item["code"], tuple(str(i) for i in item.get("items") or ())))
    return tuple(out)


# -- match runs -------------------------------------------------------------------------------
async def _pools(
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
    mentee_rows, mentor_rows = await _pools(session, programme.id)
    people = await people_of(session, [*mentee_rows, *mentor_rows])
    preferred = await _preferences(session, programme.id)
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
        if (mentee.id, mentor.id) in excluded and matching.compatible(mentee, mentor):
            if matching.score(mentee, mentor, weights).points >= weights.threshold_points:
                return "rejected_before"
    return reason


async def tell_unmatched(
    session: AsyncSession, programme: Programme, run_id: str, *, actor_id: int | None,
    now: dt.datetime,
) -> list[Notice]:
    """"The search goes on" for every mentee still waiting (once per match run)."""
    if not RUN_ID.fullmatch(run_id):
        raise ServiceError("pairing_stale")
    mentees, _ = await _pools(session, programme.id)
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


# -- proposals --------------------------------------------------------------------------------
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
    return await _card(session, await _pair_in_scope(session, pair_id, org_ids))


async def _pair_in_scope(
    session: AsyncSession, pair_id: int, org_ids: Collection[int], run_id: str | None = None
) -> Pair:
    """The pair if the curator may see it. With `run_id` (from a proposal's buttons) it
    must also come from that match run: SQLite may reuse a replaced proposal's id."""
    pair = await q.get_in_orgs(session, pair_id, org_ids)
    if pair is None or (run_id is not None and pair.match_run_id != run_id):
        raise ServiceError("pairing_not_found", id=pair_id)
    return pair


def who(participant: Participant | None) -> str:
    """A curator's name, or "" (participant ids are never shown: one number per person)."""
    if participant is None:
        return ""
    return participant.full_name or participant.tg_first_name or ""


async def _decided_error(session: AsyncSession, pair_id: int) -> ServiceError:
    pair = await q.get(session, pair_id, fresh=True)
    if pair is None:
        return ServiceError("pairing_not_found", id=pair_id)
    decider = await q.participant(session, pair.decided_by) if pair.decided_by else None
    name = who(decider)
    suffix = "" if name else "_anon"
    if pair.status == PairStatus.REJECTED:
        return ServiceError("pairing_already_rejected" + suffix, id=pair_id, who=name)
    if pair.status in ACTIVE_PAIR_STATUSES:
        return ServiceError("pairing_already_approved" + suffix, id=pair_id, who=name)
    return ServiceError("pairing_not_proposed", id=pair_id)


def _available(membership: Membership, statuses: Collection[str]) -> None:
    if (
        membership.status not in statuses
        or membership.participant.status not in PAIRABLE
    ):
        raise ServiceError("pairing_unavailable", id=membership.id)


async def _intro_notices(session: AsyncSession, pair: Pair) -> list[Notice]:
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
    pair = await _pair_in_scope(session, pair_id, org_ids, run_id)
    if pair.status != PairStatus.PROPOSED:
        raise await _decided_error(session, pair_id)
    members = await q.memberships(
        session, [pair.mentee_membership_id, pair.mentor_membership_id]
    )
    mentee, mentor = members[pair.mentee_membership_id], members[pair.mentor_membership_id]
    if mentee.status == MembershipStatus.PAIRED:
        raise ServiceError("pairing_mentee_has_pair", id=mentee.id)
    _available(mentee, (MembershipStatus.IN_BASE,))
    _available(mentor, q.MENTOR_POOL_STATUSES)
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
    audit.record(
        session, actor_id=actor_id, organisation_id=mentee.organisation_id,
        action="pair.approve", target_type="pair", target_id=pair_id,
        details={"mentee": mentee.id, "mentor": mentor.id, "run": pair.match_run_id},
    )
    fresh = await q.get(session, pair_id, fresh=True)
    assert fresh is not None
    return PairResult(fresh, await _intro_notices(session, fresh))


async def reject(
    session: AsyncSession, pair_id: int, *, org_ids: Collection[int], actor_id: int | None,
    now: dt.datetime, run_id: str | None = None,
) -> Pair:
    pair = await _pair_in_scope(session, pair_id, org_ids, run_id)
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


# -- manual pairs and ending pairs ------------------------------------------------------------
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
    _available(mentee, live)
    _available(mentor, live)
    history = await q.couple_history(session, mentee_id, mentor_id)
    if current := next((p for p in history if p.status in ACTIVE_PAIR_STATUSES), None):
        raise ServiceError("pairing_exists", id=current.id)

    people = await people_of(session, [mentee, mentor])
    assert mentee.programme_id is not None
    preferred = await _preferences(session, mentee.programme_id)
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
    result.notices = await _intro_notices(session, pair)
    return result


async def unpair(
    session: AsyncSession, pair_id: int, *, org_ids: Collection[int], actor_id: int | None,
    now: dt.datetime,
) -> PairResult:
    """End an active pair: the mentor's place is freed, both sides are told."""
    pair = await _pair_in_scope(session, pair_id, org_ids)
    before = pair.status
    if before not in ACTIVE_PAIR_STATUSES:
        raise ServiceError("pairing_not_active", id=pair_id)
    ended = await q.transition(
        session, pair_id, from_statuses=ACTIVE_PAIR_STATUSES, to_status=PairStatus.ENDED,
        actor_id=actor_id, now=now,
    )
    if not ended:
        raise ServiceError("pairing_not_active", id=pair_id)
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


# -- contacts ---------------------------------------------------------------------------------
async def share_contact(
    session: AsyncSession, pair_id: int, *, telegram_id: int, now: dt.datetime
) -> Shared:
    """One side agrees to share their contact; once both have, each gets the other's."""
    pair = await q.get(session, pair_id, fresh=True)
    if pair is None or pair.status not in ACTIVE_PAIR_STATUSES:
        raise ServiceError("pairing_not_active", id=pair_id)
    members = await q.memberships(session, [pair.mentee_membership_id, pair.mentor_membership_id])
    me = next(
        (m for m in members.values() if m.participant.telegram_id == telegram_id), None
    )
    if me is None:
        raise ServiceError("pairing_not_yours")
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


# -- preference rounds ------------------------------------------------------------------------
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

    mentee_rows, mentor_rows = await _pools(session, programme.id)
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
        raise ServiceError("pairing_round_closed")
    await session.refresh(round_)
    chooser = (await q.memberships(session, [chooser_id])).get(chooser_id)
    if (
        chooser is None
        or chooser.participant.telegram_id != telegram_id
        or chooser.programme_id != round_.programme_id
    ):
        raise ServiceError("pairing_not_yours")
    if round_.closed_at is not None:
        raise ServiceError("pairing_round_closed")
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
