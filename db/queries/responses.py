"""Questionnaire responses and their answers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from db.models import Answer, QuestionnaireResponse

# Answers written by single statements go to the table (Core: no ORM DML layer).
_answers = cast(Table, Answer.__table__)
# The hot path's statements are built once: SQLAlchemy memoizes a statement's cache key, and
# building and keying a fresh statement costs more than SQLite running it (py-spy).
_WITH_ANSWERS = (
    select(QuestionnaireResponse, Answer.question_id, Answer.value)
    .outerjoin(Answer, Answer.response_id == QuestionnaireResponse.id)
    .where(QuestionnaireResponse.id == bindparam("r"))
    .order_by(Answer.id)
)
_ADD_ANSWER = insert(_answers)
_responses = cast(Table, QuestionnaireResponse.__table__)
_MOVE = (
    update(_responses)
    .where(_responses.c.id == bindparam("r"))
    .values(current_question=bindparam("q", type_=_responses.c.current_question.type))
)
_SET_ANSWER = (
    update(_answers)
    .where(_answers.c.response_id == bindparam("r"), _answers.c.question_id == bindparam("q"))
    .values(value=bindparam("v", type_=_answers.c.value.type))
)


async def get(session: AsyncSession, response_id: int) -> QuestionnaireResponse | None:
    stmt = (
        select(QuestionnaireResponse)
        .where(QuestionnaireResponse.id == response_id)
        .options(selectinload(QuestionnaireResponse.answers))
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def find(
    session: AsyncSession, membership_id: int, questionnaire_id: str, stage: str
) -> QuestionnaireResponse | None:
    stmt = (
        select(QuestionnaireResponse)
        .where(
            QuestionnaireResponse.membership_id == membership_id,
            QuestionnaireResponse.questionnaire_id == questionnaire_id,
            QuestionnaireResponse.stage == stage,
        )
        .options(selectinload(QuestionnaireResponse.answers))
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def of_memberships(
    session: AsyncSession, membership_ids: Sequence[int]
) -> Sequence[QuestionnaireResponse]:
    stmt = (
        select(QuestionnaireResponse)
        .where(QuestionnaireResponse.membership_id.in_(membership_ids))
        .options(selectinload(QuestionnaireResponse.answers))
        .order_by(QuestionnaireResponse.id)
    )
    return (await session.execute(stmt)).scalars().all()


async def with_answers(
    session: AsyncSession, response_id: int
) -> tuple[QuestionnaireResponse, dict[str, Any]] | None:
    """The response and its answers as {question id: value}, in one statement.

    The answers come as two columns, not as objects (the update that answers a question
    needs their values, not a collection to keep in sync); `response.answers` stays
    unloaded. Write them with `add_answer`/`set_answer`/`drop_answers`."""
    rows = (await session.execute(_WITH_ANSWERS, {"r": response_id})).all()
    if not rows:
        return None
    return rows[0][0], {qid: value for _, qid, value in rows if qid is not None}


async def add_answer(
    session: AsyncSession, response_id: int, question_id: str, value: Any, *, personal: bool
) -> None:
    await session.execute(
        _ADD_ANSWER,
        {"response_id": response_id, "question_id": question_id, "value": value,
         "is_personal": personal},
    )


async def move(
    session: AsyncSession, response: QuestionnaireResponse, question_id: str | None
) -> None:
    """Point the response at its next question: one UPDATE by primary key.

    The loaded object takes the new value as already stored, so no flush (the unit of
    work, the costliest part of an answer) is needed for it."""
    if response.current_question == question_id:
        return
    await session.execute(_MOVE, {"r": response.id, "q": question_id})
    set_committed_value(response, "current_question", question_id)


async def set_answer(
    session: AsyncSession, response_id: int, question_id: str, value: Any
) -> None:
    await session.execute(_SET_ANSWER, {"r": response_id, "q": question_id, "v": value})


async def drop_answers(
    session: AsyncSession, response_id: int, question_ids: Sequence[str]
) -> None:
    if question_ids:
        await session.execute(
            delete(_answers).where(
                _answers.c.response_id == response_id, _answers.c.question_id.in_(question_ids)
            )
        )


def answer_map(response: QuestionnaireResponse) -> dict[str, object]:
    return {a.question_id: a.value for a in response.answers}


def find_answer(response: QuestionnaireResponse, question_id: str) -> Answer | None:
    return next((a for a in response.answers if a.question_id == question_id), None)
