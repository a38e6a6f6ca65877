"""Aggregate queries behind /charts, /swot and /top: one organisation at a time, GROUP BY in
the database, portable between SQLite and PostgreSQL.

Answers are JSON values; they are grouped by their text (`CAST(value AS VARCHAR)`: the same
in both databases, since a JSON column has no equality of its own in PostgreSQL) and
decoded by the caller (`decode`). The number of distinct values is small (a 1-10 scale,
a handful of options), so the rows returned stay few whatever the organisation's size.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, String, and_, case, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from db.models import (
    Answer,
    Meeting,
    MeetingStatus,
    Membership,
    Organisation,
    Pair,
    PairEvent,
    PairStatus,
    Participant,
    ParticipantStatus,
    Programme,
    QuestionnaireResponse,
    ResponseStatus,
    SurveyResponse,
)

# (role, question id, the answer as JSON text, how many)
ValueCount = tuple[str, str, str, int]


def decode(text: str | None) -> Any:
    """An answer's value from its JSON text (None when unreadable)."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _value_text(column: Any) -> ColumnElement[str]:
    return cast(column, String)


def _org_pairs(organisation_id: int) -> Any:
    return select(Pair.id).join(Programme, Programme.id == Pair.programme_id).where(
        Programme.organisation_id == organisation_id
    )


# -- organisations ----------------------------------------------------------------------------
async def org_count(session: AsyncSession, org_ids: Collection[int]) -> int:
    if not org_ids:
        return 0
    stmt = select(func.count(Organisation.id)).where(Organisation.id.in_(list(org_ids)))
    return int((await session.execute(stmt)).scalar_one())


async def org_page(
    session: AsyncSession, org_ids: Collection[int], *, offset: int, limit: int
) -> list[tuple[int, str]]:
    """(id, name) of the organisations among `org_ids`, in id order."""
    if not org_ids:
        return []
    stmt = (
        select(Organisation.id, Organisation.name)
        .where(Organisation.id.in_(list(org_ids)))
        .order_by(Organisation.id)
        .offset(offset)
        .limit(limit)
    )
    return [(int(i), str(n)) for i, n in (await session.execute(stmt)).all()]


# -- charts -----------------------------------------------------------------------------------
async def pairs_by_status(session: AsyncSession, organisation_id: int) -> dict[str, int]:
    stmt = (
        select(Pair.status, func.count(Pair.id))
        .join(Programme, Programme.id == Pair.programme_id)
        .where(Programme.organisation_id == organisation_id)
        .group_by(Pair.status)
    )
    return {str(s): int(n) for s, n in (await session.execute(stmt)).all()}


def _rank(column: Any, stages: Sequence[str]) -> Any:
    """A stage's position in `stages` (0 for anything else)."""
    return case(*[(column == stage, i) for i, stage in enumerate(stages)], else_=0)


async def reached_stages(
    session: AsyncSession, organisation_id: int, stages: Sequence[str]
) -> dict[int, int]:
    """How many pairs got furthest to each stage (its position in `stages`, the working
    sequence ending in "completed"): a working or completed pair by its status (stages only
    move forward), an ended pair by the furthest stage its history entered."""
    rank = _rank(Pair.status, stages)
    current = (
        select(rank, func.count(Pair.id))
        .join(Programme, Programme.id == Pair.programme_id)
        .where(Programme.organisation_id == organisation_id, Pair.status.in_(list(stages)))
        .group_by(rank)
    )
    furthest = (
        select(PairEvent.pair_id, func.max(_rank(PairEvent.to_status, stages)).label("r"))
        .join(Pair, Pair.id == PairEvent.pair_id)
        .join(Programme, Programme.id == Pair.programme_id)
        .where(Programme.organisation_id == organisation_id, Pair.status == PairStatus.ENDED)
        .group_by(PairEvent.pair_id)
        .subquery()
    )
    ended = select(furthest.c.r, func.count()).group_by(furthest.c.r)
    found: dict[int, int] = {}
    for stmt in (current, ended):
        for r, n in (await session.execute(stmt)).all():
            found[int(r)] = found.get(int(r), 0) + int(n)
    return found


async def satisfaction_by_role(
    session: AsyncSession, organisation_id: int
) -> dict[str, dict[int, int]]:
    """role -> satisfaction (1-10) -> how many submitted final surveys gave it."""
    stmt = (
        select(Membership.role, SurveyResponse.satisfaction, func.count(SurveyResponse.id))
        .join(Membership, Membership.id == SurveyResponse.membership_id)
        .where(
            Membership.organisation_id == organisation_id,
            SurveyResponse.satisfaction.is_not(None),
            SurveyResponse.submitted_at.is_not(None),
        )
        .group_by(Membership.role, SurveyResponse.satisfaction)
    )
    found: dict[str, dict[int, int]] = {}
    for role, value, n in (await session.execute(stmt)).all():
        found.setdefault(str(role), {})[int(value or 0)] = int(n)
    return found


async def entry_exit(
    session: AsyncSession, organisation_id: int, questionnaire_id: str, entry: str, exit_: str
) -> list[tuple[str, str, str, int]]:
    """(question, entry value, exit value, how many people) for everyone of the organisation
    who finished both the entry and the exit self-assessment: the same people twice."""
    first = aliased(QuestionnaireResponse)
    last = aliased(QuestionnaireResponse)
    before = aliased(Answer)
    after = aliased(Answer)
    entry_value = _value_text(before.value).label("entry_value")
    exit_value = _value_text(after.value).label("exit_value")
    stmt = (
        select(before.question_id, entry_value, exit_value, func.count())
        .select_from(Membership)
        .join(first, and_(
            first.membership_id == Membership.id, first.questionnaire_id == questionnaire_id,
            first.stage == entry, first.status == ResponseStatus.DONE,
        ))
        .join(last, and_(
            last.membership_id == Membership.id, last.questionnaire_id == questionnaire_id,
            last.stage == exit_, last.status == ResponseStatus.DONE,
        ))
        .join(before, before.response_id == first.id)
        .join(after, and_(after.response_id == last.id, after.question_id == before.question_id))
        .where(Membership.organisation_id == organisation_id)
        .group_by(before.question_id, entry_value, exit_value)
    )
    return [(str(q), str(a), str(b), int(n)) for q, a, b, n in (await session.execute(stmt)).all()]


async def held_by_bucket(
    session: AsyncSession, organisation_id: int, bounds: Sequence[dt.datetime]
) -> dict[int, int]:
    """Held meetings (a group's meeting once) per interval [bounds[i], bounds[i+1])."""
    if len(bounds) < 2:
        return {}
    bucket = case(
        *[(Meeting.starts_at < bound, i) for i, bound in enumerate(bounds[1:])], else_=-1
    )
    stmt = (
        select(bucket, func.count(Meeting.id))
        .join(Pair, Pair.id == Meeting.pair_id)
        .join(Programme, Programme.id == Pair.programme_id)
        .where(
            Programme.organisation_id == organisation_id,
            Meeting.status == MeetingStatus.HELD,
            Meeting.starts_at >= bounds[0],
            Meeting.starts_at < bounds[-1],
        )
        .group_by(bucket)
    )
    return {int(b): int(n) for b, n in (await session.execute(stmt)).all() if int(b) >= 0}


# -- SWOT -------------------------------------------------------------------------------------
async def answer_counts(
    session: AsyncSession, organisation_id: int, questionnaire_id: str,
    question_ids: Collection[str],
) -> list[ValueCount]:
    """Finished responses' answers to these questions, counted per role and value."""
    value = _value_text(Answer.value)
    stmt = (
        select(Membership.role, Answer.question_id, value, func.count(Answer.id))
        .select_from(Answer)
        .join(QuestionnaireResponse, QuestionnaireResponse.id == Answer.response_id)
        .join(Membership, Membership.id == QuestionnaireResponse.membership_id)
        .where(
            Membership.organisation_id == organisation_id,
            QuestionnaireResponse.questionnaire_id == questionnaire_id,
            QuestionnaireResponse.status == ResponseStatus.DONE,
            Answer.question_id.in_(list(question_ids)),
        )
        .group_by(Membership.role, Answer.question_id, value)
    )
    return [
        (str(r), str(q), str(v), int(n)) for r, q, v, n in (await session.execute(stmt)).all()
    ]


async def respondents(
    session: AsyncSession, organisation_id: int, questionnaire_id: str
) -> dict[str, int]:
    """role -> finished responses to the questionnaire."""
    stmt = (
        select(Membership.role, func.count(QuestionnaireResponse.id))
        .join(Membership, Membership.id == QuestionnaireResponse.membership_id)
        .where(
            Membership.organisation_id == organisation_id,
            QuestionnaireResponse.questionnaire_id == questionnaire_id,
            QuestionnaireResponse.status == ResponseStatus.DONE,
        )
        .group_by(Membership.role)
    )
    return {str(r): int(n) for r, n in (await session.execute(stmt)).all()}


async def closed_unanswered(session: AsyncSession, organisation_id: int, survey_id: str) -> int:
    """Polls sent to the organisation's people and closed without an answer."""
    stmt = (
        select(func.count(SurveyResponse.id))
        .join(Membership, Membership.id == SurveyResponse.membership_id)
        .where(
            Membership.organisation_id == organisation_id,
            SurveyResponse.survey_id == survey_id,
            SurveyResponse.sent_at.is_not(None),
            SurveyResponse.closed_at.is_not(None),
            SurveyResponse.submitted_at.is_(None),
        )
    )
    return int((await session.execute(stmt)).scalar_one())


async def quotes(
    session: AsyncSession, organisation_id: int, questionnaire_id: str, question_id: str,
    limit: int,
) -> list[tuple[str, str]]:
    """(role, text) of the latest free-text answers, without whose they are: only the role.
    Nothing of people who withdrew consent (their texts are erased; checked here too)."""
    stmt = (
        select(Membership.role, Answer.value)
        .select_from(Answer)
        .join(QuestionnaireResponse, QuestionnaireResponse.id == Answer.response_id)
        .join(Membership, Membership.id == QuestionnaireResponse.membership_id)
        .join(Participant, Participant.id == Membership.participant_id)
        .where(
            Membership.organisation_id == organisation_id,
            QuestionnaireResponse.questionnaire_id == questionnaire_id,
            QuestionnaireResponse.status == ResponseStatus.DONE,
            Answer.question_id == question_id,
            Participant.status != ParticipantStatus.FORGOTTEN,
        )
        .order_by(Answer.answered_at.desc(), Answer.id.desc())
        .limit(limit)
    )
    return [
        (str(role), value.strip())
        for role, value in (await session.execute(stmt)).all()
        if isinstance(value, str) and value.strip()
    ]


# -- top --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PairRow:
    id: int
    status: str
    group_key: str | None
    mentor_membership_id: int
    mentee_membership_id: int
    mentor_id: int  # participant ids
    mentee_id: int
    mentor_forgotten: bool  # withdrew consent
    mentee_forgotten: bool


async def pairs_for_top(session: AsyncSession, organisation_id: int) -> list[PairRow]:
    """The organisation's pairs that were ever approved (not proposals, not rejected)."""
    mentor_m, mentee_m = aliased(Membership), aliased(Membership)
    mentor, mentee = aliased(Participant), aliased(Participant)
    stmt = (
        select(
            Pair.id, Pair.status, Pair.group_key, Pair.mentor_membership_id,
            Pair.mentee_membership_id, mentor.id, mentee.id, mentor.status, mentee.status,
        )
        .join(Programme, Programme.id == Pair.programme_id)
        .join(mentor_m, mentor_m.id == Pair.mentor_membership_id)
        .join(mentee_m, mentee_m.id == Pair.mentee_membership_id)
        .join(mentor, mentor.id == mentor_m.participant_id)
        .join(mentee, mentee.id == mentee_m.participant_id)
        .where(
            Programme.organisation_id == organisation_id,
            Pair.status.not_in([PairStatus.PROPOSED, PairStatus.REJECTED]),
        )
    )
    return [
        PairRow(
            int(i), str(s), g, int(mm), int(em), int(mp), int(ep),
            ms == ParticipantStatus.FORGOTTEN, es == ParticipantStatus.FORGOTTEN,
        )
        for i, s, g, mm, em, mp, ep, ms, es in (await session.execute(stmt)).all()
    ]


async def held_per_pair(
    session: AsyncSession, organisation_id: int
) -> tuple[dict[int, int], dict[str, int]]:
    """Held meetings: of single pairs by pair id, of groups by group key (a group's meeting
    is one row, on the group's first pair)."""
    base = (
        select(Meeting.pair_id, Meeting.group_key, func.count(Meeting.id))
        .join(Pair, Pair.id == Meeting.pair_id)
        .join(Programme, Programme.id == Pair.programme_id)
        .where(Programme.organisation_id == organisation_id,
               Meeting.status == MeetingStatus.HELD)
    )
    singles = base.where(Meeting.group_key.is_(None)).group_by(Meeting.pair_id, Meeting.group_key)
    groups = (
        select(Meeting.group_key, func.count(Meeting.id))
        .join(Pair, Pair.id == Meeting.pair_id)
        .join(Programme, Programme.id == Pair.programme_id)
        .where(Programme.organisation_id == organisation_id,
               Meeting.status == MeetingStatus.HELD, Meeting.group_key.is_not(None))
        .group_by(Meeting.group_key)
    )
    by_pair = {int(p): int(n) for p, _, n in (await session.execute(singles)).all()}
    by_group = {str(g): int(n) for g, n in (await session.execute(groups)).all()}
    return by_pair, by_group


async def satisfaction_per_side(
    session: AsyncSession, organisation_id: int
) -> dict[tuple[int, int], tuple[int, int]]:
    """(pair, membership) -> (sum, count) of the submitted 1-10 satisfactions."""
    stmt = (
        select(
            SurveyResponse.pair_id, SurveyResponse.membership_id,
            func.sum(SurveyResponse.satisfaction), func.count(SurveyResponse.satisfaction),
        )
        .where(
            SurveyResponse.pair_id.in_(_org_pairs(organisation_id)),
            SurveyResponse.satisfaction.is_not(None),
            SurveyResponse.submitted_at.is_not(None),
        )
        .group_by(SurveyResponse.pair_id, SurveyResponse.membership_id)
    )
    return {
        (int(p or 0), int(m)): (int(s or 0), int(n))
        for p, m, s, n in (await session.execute(stmt)).all()
    }


async def ratings_per_stage(
    session: AsyncSession, organisation_id: int, items: Sequence[tuple[str, str]]
) -> list[tuple[str, str, int]]:
    """(response stage, value as JSON text, how many) of finished responses' answers to the
    (questionnaire, question) items, written by the organisation's members."""
    if not items:
        return []
    value = _value_text(Answer.value)
    wanted = or_(*[
        and_(QuestionnaireResponse.questionnaire_id == qid, Answer.question_id == question)
        for qid, question in items
    ])
    stmt = (
        select(QuestionnaireResponse.stage, value, func.count(Answer.id))
        .select_from(Answer)
        .join(QuestionnaireResponse, QuestionnaireResponse.id == Answer.response_id)
        .join(Membership, Membership.id == QuestionnaireResponse.membership_id)
        .where(
            Membership.organisation_id == organisation_id,
            QuestionnaireResponse.status == ResponseStatus.DONE,
            QuestionnaireResponse.questionnaire_id.in_([qid for qid, _ in items]),
            wanted,
        )
        .group_by(QuestionnaireResponse.stage, value)
    )
    return [(str(s), str(v), int(n)) for s, v, n in (await session.execute(stmt)).all()]


async def names(session: AsyncSession, participant_ids: Collection[int]) -> dict[int, str]:
    """Participants' names (empty when unknown: the caller shows a number instead)."""
    if not participant_ids:
        return {}
    stmt = select(Participant.id, Participant.full_name, Participant.tg_first_name).where(
        Participant.id.in_(list(participant_ids))
    )
    return {
        int(i): (full or first or "") for i, full, first in (await session.execute(stmt)).all()
    }
