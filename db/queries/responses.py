"""Questionnaire responses and their answers."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from db.models import Answer, QuestionnaireResponse


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


def answer_map(response: QuestionnaireResponse) -> dict[str, object]:
    return {a.question_id: a.value for a in response.answers}


def find_answer(response: QuestionnaireResponse, question_id: str) -> Answer | None:
    return next((a for a in response.answers if a.question_id == question_id), None)
