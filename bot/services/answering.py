"""Filling a questionnaire: the cursor and the answers live in the database,
so a pause or a restart resumes at the same question with earlier answers kept."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.consent import state_for
from bot.services.errors import ServiceError
from bot.services.questionnaires import (
    AnswerValue,
    Catalog,
    Progress,
    Question,
    Questionnaire,
)
from db.models import (
    Membership,
    MembershipStatus,
    Participant,
    QuestionnaireResponse,
    ResponseStatus,
)
from db.queries import participants as q_people
from db.queries import responses as q
from db.queries.participants import AnyMembership, MembershipRow, Who
from db.sqlite_fast import point_statements

ONBOARDING = "onboarding"
ENTRY = "entry"
EXIT = "exit"


@dataclass(slots=True)
class Cursor:
    """Where a response stands: the question to ask now (None when finished)."""

    response: q.Response
    questionnaire: Questionnaire
    question: Question | None
    answers: dict[str, Any]

    @property
    def finished(self) -> bool:
        return self.question is None

    def progress(self) -> Progress:
        assert self.question is not None
        return self.questionnaire.progress(self.question.id)

    def current_value(self) -> Any:
        return None if self.question is None else self.answers.get(self.question.id)


def questionnaire_for(catalog: Catalog, membership: Membership, stage: str) -> Questionnaire:
    if stage in (ENTRY, EXIT):
        return catalog.assessment()
    if membership.form is None:
        raise ServiceError("form_missing")
    found = catalog.for_role(membership.role, membership.form)
    if found is None:
        raise ServiceError("no_questionnaire", role=membership.role, form=membership.form)
    return found


async def consent_valid(session: AsyncSession, membership: AnyMembership, version: int) -> bool:
    """Whether the membership has a consent of the current version (the text may change).

    Asked twice by an answer (the handler, then `answer`): the update's session remembers
    a yes (only a yes: a no sends the person to consent, which may change it in the same
    update). Nothing withdraws a consent and then answers within one update.
    """
    key = ("consent_valid", membership.participant_id, membership.organisation_id, version)
    known = session.info.get(key)
    if known is not None:
        return bool(known)
    with point_statements():  # indexed by participant and organisation
        consent = await state_for(session, membership, version)
    valid = consent.satisfied(membership.participant.age_group)
    if valid:  # only a yes is kept: a refusal sends the person to consent, which changes it
        session.info[key] = True
    return valid


async def require_consent(session: AsyncSession, membership: AnyMembership, version: int) -> None:
    """Nothing new is collected without a valid consent of the current version."""
    if not await consent_valid(session, membership, version):
        raise ServiceError("consent_required")


async def start(
    session: AsyncSession,
    catalog: Catalog,
    membership: Membership,
    stage: str,
    *,
    consent_version: int,
) -> Cursor:
    await require_consent(session, membership, consent_version)
    questionnaire = questionnaire_for(catalog, membership, stage)
    response = await q.find(session, membership.id, questionnaire.id, stage)
    if response is None:
        response = QuestionnaireResponse(
            membership_id=membership.id,
            questionnaire_id=questionnaire.id,
            questionnaire_version=questionnaire.version,
            stage=stage,
            answers=[],
        )
        session.add(response)
        await session.flush()
    return _cursor(response, questionnaire, q.answer_map(response))


def _cursor(response: q.Response, questionnaire: Questionnaire, answers: dict[str, Any]) -> Cursor:
    if response.status == ResponseStatus.DONE:
        return Cursor(response, questionnaire, None, answers)
    current = (
        questionnaire.question(response.current_question) if response.current_question else None
    )
    if current is not None and current.when is not None and not current.when.holds(answers):
        current = questionnaire.next_after(current.id, answers)
    if current is None:
        current = questionnaire.next_after(None, answers)
    return Cursor(response, questionnaire, current, answers)


async def _read(
    session: AsyncSession, catalog: Catalog, response_id: int
) -> tuple[Cursor, int] | None:
    """The response's cursor and its membership's id; None when it is gone (or its
    questionnaire is)."""
    with point_statements():  # by primary key
        found = await q.with_answers(session, response_id)
    if found is None:
        return None
    response, answers = found
    questionnaire = catalog.get(response.questionnaire_id)
    if questionnaire is None:
        return None
    return _cursor(response, questionnaire, answers), response.membership_id


async def find(
    session: AsyncSession, catalog: Catalog, response_id: int
) -> tuple[Cursor, Membership] | None:
    """The response and its membership; None when it is gone (or its questionnaire is)."""
    found = await _read(session, catalog, response_id)
    if found is None:
        return None
    cursor, membership_id = found
    with point_statements():  # by primary key
        membership = await q_people.membership_of_update(session, membership_id)
    assert membership is not None
    return cursor, membership


async def find_own(
    session: AsyncSession, catalog: Catalog, response_id: int, who: Who | None
) -> tuple[Cursor, MembershipRow] | None:
    """`find` for the answer path: the membership as a row of the person's own (None when
    the response is gone or is not theirs)."""
    if who is None:
        return None
    found = await _read(session, catalog, response_id)
    if found is None:
        return None
    cursor, membership_id = found
    membership = who.membership(membership_id)
    return (cursor, membership) if membership is not None else None


async def load(
    session: AsyncSession, catalog: Catalog, response_id: int
) -> tuple[Cursor, Membership]:
    found = await find(session, catalog, response_id)
    if found is None:
        raise ServiceError("response_missing")
    return found


async def _store(
    session: AsyncSession, cursor: Cursor, question: Question, value: AnswerValue
) -> None:
    # The cursor's answers are what the database holds: one statement, no collection.
    response_id = cursor.response.id
    with point_statements():  # by the unique (response, question)
        if question.id in cursor.answers:
            await q.set_answer(session, response_id, question.id, value)
        else:
            await q.add_answer(
                session, response_id, question.id, value, personal=question.stores_personal
            )
    cursor.answers[question.id] = value


async def answer(
    session: AsyncSession,
    cursor: Cursor,
    membership: AnyMembership,
    value: AnswerValue,
    *,
    now: dt.datetime,
    consent_version: int,
    edit_only: bool = False,
) -> Cursor:
    """Store the answer to the current question and move on (already validated value)."""
    await require_consent(session, membership, consent_version)
    question = cursor.question
    if question is None:
        raise ServiceError("questionnaire_done")
    await _store(session, cursor, question, value)
    if question.profile == "full_name" and isinstance(value, str):
        with point_statements():  # the participant's row by primary key
            await q_people.set_full_name(session, membership, value)
    if question.match == "capacity" and isinstance(value, int):
        # Never below the mentees the mentor already has (the CHECK load <= capacity).
        full = await q_people.load(session, membership)
        full.capacity = max(value, full.load)
    return await _advance(session, cursor, membership, question, now=now, edit_only=edit_only)


async def skip(
    session: AsyncSession, cursor: Cursor, membership: AnyMembership, *, now: dt.datetime
) -> Cursor:
    question = cursor.question
    if question is None or not question.optional:
        raise ServiceError("cannot_skip")
    if question.id in cursor.answers:
        await q.drop_answers(session, cursor.response.id, [question.id])
        cursor.answers.pop(question.id, None)
    return await _advance(session, cursor, membership, question, now=now)


async def _advance(
    session: AsyncSession,
    cursor: Cursor,
    membership: AnyMembership,
    after: Question,
    *,
    now: dt.datetime,
    edit_only: bool = False,
) -> Cursor:
    questionnaire = cursor.questionnaire
    if edit_only and cursor.response.status == ResponseStatus.DONE:
        missing = questionnaire.first_missing(cursor.answers)
        if missing is None or missing.optional:
            await _drop_hidden(session, cursor)
            await session.flush()
            return Cursor(cursor.response, questionnaire, None, cursor.answers)
        await q.change(session, cursor.response, status=ResponseStatus.IN_PROGRESS)
        nxt: Question | None = missing
    else:
        nxt = questionnaire.next_after(after.id, cursor.answers)
    if nxt is None:
        await _complete(session, cursor, membership, now)
        with point_statements():  # the membership's row by primary key
            await session.flush()
    else:
        with point_statements():  # the response's row by primary key
            await q.move(session, cursor.response, nxt.id)
    return Cursor(cursor.response, questionnaire, nxt, cursor.answers)


async def back(session: AsyncSession, cursor: Cursor) -> Cursor:
    if cursor.question is None:
        raise ServiceError("questionnaire_done")
    previous = cursor.questionnaire.previous_before(cursor.question.id, cursor.answers)
    if previous is None:
        raise ServiceError("first_question")
    with point_statements():  # the response's row by primary key
        await q.move(session, cursor.response, previous.id)
    return Cursor(cursor.response, cursor.questionnaire, previous, cursor.answers)


def reopen(cursor: Cursor, question_id: str) -> Cursor | None:
    """The cursor at one question, if it is still asked (None when its condition fails)."""
    question = cursor.questionnaire.question(question_id)
    if question is None or (question.when is not None and not question.when.holds(cursor.answers)):
        return None
    return Cursor(cursor.response, cursor.questionnaire, question, cursor.answers)


def goto(cursor: Cursor, question_id: str) -> Cursor:
    """Re-ask one question (editing from /me)."""
    moved = reopen(cursor, question_id)
    if moved is None:
        raise ServiceError("question_missing")
    return moved


async def _drop_hidden(session: AsyncSession, cursor: Cursor) -> None:
    visible = {q.id for q in cursor.questionnaire.visible(cursor.answers)}
    stale = [question_id for question_id in cursor.answers if question_id not in visible]
    await q.drop_answers(session, cursor.response.id, stale)
    for question_id in stale:
        cursor.answers.pop(question_id, None)


async def _complete(
    session: AsyncSession, cursor: Cursor, membership: AnyMembership, now: dt.datetime
) -> None:
    await _drop_hidden(session, cursor)
    response = cursor.response
    await q.change(
        session, response, current_question=None, status=ResponseStatus.DONE,
        completed_at=response.completed_at or now,
    )
    if response.stage == ONBOARDING and membership.status == MembershipStatus.QUESTIONNAIRE:
        (await q_people.load(session, membership)).status = MembershipStatus.IN_BASE


@dataclass(slots=True)
class Answered:
    response_id: int
    questionnaire: Questionnaire
    answers: dict[str, Any]


@dataclass(slots=True)
class Filled:
    """One membership with the questionnaires answered in it (for /me)."""

    membership: Membership
    responses: list[Answered]


async def filled(
    session: AsyncSession, catalog: Catalog, participant: Participant
) -> list[Filled]:
    result = []
    for item in participant.memberships:
        membership = await q_people.membership(session, item.id)
        assert membership is not None
        responses = []
        for response in await q.of_memberships(session, [membership.id]):
            questionnaire = catalog.get(response.questionnaire_id)
            if questionnaire is not None:
                responses.append(Answered(response.id, questionnaire, q.answer_map(response)))
        result.append(Filled(membership, responses))
    return result
