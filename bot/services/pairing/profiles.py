"""People and their matching profiles, read from the onboarding answers."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.matching import MenteeProfile, MentorProfile, Reason, Score
from bot.services.onboarding import CATEGORIES
from bot.services.pairing.model import TAGS, Person
from bot.services.questionnaires import Catalog, Questionnaire
from db.models import (
    Membership,
    Pair,
    ParticipantStatus,
    Role,
)
from db.queries import pairs as q
from db.queries import responses as q_responses


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



async def people_by_id(session: AsyncSession, membership_ids: Iterable[int]) -> dict[int, Person]:
    """Persons by membership id (ids that name nobody are left out)."""
    members = await q.memberships(session, list(membership_ids))
    return await people_of(session, members.values())

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


async def latest_picks(session: AsyncSession, programme_id: int) -> dict[int, set[int]]:
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



def questionnaire_of(catalog: Catalog, person: Person) -> Questionnaire | None:
    return catalog.get(person.questionnaire_id) if person.questionnaire_id else None


def free_text(catalog: Catalog, person: Person, question_id: str) -> str | None:
    questionnaire = questionnaire_of(catalog, person)
    if questionnaire is None or questionnaire.question(question_id) is None:
        return None
    value = person.answers.get(question_id)
    return value if isinstance(value, str) and value.strip() else None
