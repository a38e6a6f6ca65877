"""Questionnaire responses and their answers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from db.models import Answer, QuestionnaireResponse
from db.points import Point

# Answers written by single statements go to the table (Core: no ORM DML layer).
_answers = cast(Table, Answer.__table__)
_responses = cast(Table, QuestionnaireResponse.__table__)


@dataclass(slots=True)
class ResponseRow:
    """A response as the answer path reads it: its columns, not an ORM object (building one
    cost more than the rest of the answer's statements together; py-spy). Its columns
    change through `move` and `change`, which write them at once."""

    id: int
    membership_id: int
    questionnaire_id: str
    questionnaire_version: int
    stage: str
    status: str
    current_question: str | None
    completed_at: dt.datetime | None


# Either kind: a response just started is an ORM object, one read back by id is a row.
Response = QuestionnaireResponse | ResponseRow

# The hot path's statements are built once: SQLAlchemy memoizes a statement's cache key, and
# building and keying a fresh statement costs more than SQLite running it (py-spy).
_ROW_COLUMNS = [getattr(_responses.c, f.name) for f in fields(ResponseRow)]
_RESPONSE = Point(select(*_ROW_COLUMNS).where(_responses.c.id == bindparam("r")))
_ANSWERS = Point(
    select(_answers.c.question_id, _answers.c.value)
    .where(_answers.c.response_id == bindparam("r"))
    .order_by(_answers.c.id)
)
_ADD_ANSWER = Point(
    insert(_answers), keys=("response_id", "question_id", "value", "is_personal")
)
_MOVE = Point(
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
) -> tuple[ResponseRow, dict[str, Any]] | None:
    """The response and its answers as {question id: value}.

    Plain columns, no objects: the update that answers a question needs their values, not
    a collection to keep in sync. Write them with `add_answer`/`set_answer`/`drop_answers`.
    Two indexed reads (one joined read repeated the response's columns on every answer's
    row, and converting them cost more than the second read)."""
    found = await _RESPONSE.rows(session, {"r": response_id})
    if not found:
        return None
    answers = await _ANSWERS.rows(session, {"r": response_id})
    return ResponseRow(*found[0]), {row.question_id: row.value for row in answers}


async def add_answer(
    session: AsyncSession, response_id: int, question_id: str, value: Any, *, personal: bool
) -> None:
    await _ADD_ANSWER.run(
        session,
        {"response_id": response_id, "question_id": question_id, "value": value,
         "is_personal": personal},
    )


async def move(session: AsyncSession, response: Response, question_id: str | None) -> None:
    """Point the response at its next question: one UPDATE by primary key (no flush, the
    costliest part of an answer when the response was an ORM object)."""
    if response.current_question == question_id:
        return
    await _MOVE.run(session, {"r": response.id, "q": question_id})
    _keep(response, current_question=question_id)


async def change(session: AsyncSession, response: Response, **values: Any) -> None:
    """Write columns of a response at once (one UPDATE) and keep the object in step."""
    await session.execute(
        update(_responses).where(_responses.c.id == response.id).values(**values)
    )
    _keep(response, **values)


def _keep(response: Response, **values: Any) -> None:
    for name, value in values.items():
        if isinstance(response, QuestionnaireResponse):
            set_committed_value(response, name, value)  # stored: nothing left to flush
        else:
            setattr(response, name, value)


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
