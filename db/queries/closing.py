"""Queries of the cycle's closing: final meetings, reports, attachments, completed members."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from db.enums import MeetingKind, MeetingStatus
from db.models import (
    Answer,
    Attachment,
    AuditLog,
    Meeting,
    Membership,
    Pair,
    QuestionnaireResponse,
    ResponseStatus,
    Role,
)
from db.queries.participants import LIVE_STATUSES

OVERRIDE_ACTION = "pair.complete_override"
REPORT_PREFIX = "final:"  # response stages: final:<pair id>, review:<pair id>
REVIEW_PREFIX = "review:"
MONITOR_PREFIX = "monitor:"  # the curator's monitoring questionnaire: monitor:<programme>


async def final_held(session: AsyncSession, pair: Pair) -> bool:
    """Whether the pair's final meeting (its own, or its group's) is logged as held."""
    own = Meeting.pair_id == pair.id
    where = or_(own, Meeting.group_key == pair.group_key) if pair.group_key else own
    stmt = select(Meeting.id).where(
        where, Meeting.kind == MeetingKind.FINAL, Meeting.status == MeetingStatus.HELD
    )
    return (await session.execute(stmt.limit(1))).first() is not None


async def response(
    session: AsyncSession, membership_id: int, questionnaire_id: str, stage: str
) -> QuestionnaireResponse | None:
    stmt = select(QuestionnaireResponse).where(
        QuestionnaireResponse.membership_id == membership_id,
        QuestionnaireResponse.questionnaire_id == questionnaire_id,
        QuestionnaireResponse.stage == stage,
    ).options(selectinload(QuestionnaireResponse.answers))
    return (await session.execute(stmt)).scalar_one_or_none()


async def responses_of_stage(
    session: AsyncSession, questionnaire_id: str, stage: str
) -> Sequence[QuestionnaireResponse]:
    """Finished responses of one questionnaire and stage (e.g. every curator's review)."""
    stmt = (
        select(QuestionnaireResponse)
        .where(
            QuestionnaireResponse.questionnaire_id == questionnaire_id,
            QuestionnaireResponse.stage == stage,
            QuestionnaireResponse.status == ResponseStatus.DONE,
        )
        .options(selectinload(QuestionnaireResponse.answers))
        .order_by(QuestionnaireResponse.id)
    )
    return (await session.execute(stmt)).scalars().all()


async def done_stages(
    session: AsyncSession, membership_id: int, stages: Collection[str]
) -> set[str]:
    """Which of these stages the membership has finished (any questionnaire)."""
    stmt = select(QuestionnaireResponse.stage).where(
        QuestionnaireResponse.membership_id == membership_id,
        QuestionnaireResponse.stage.in_(list(stages)),
        QuestionnaireResponse.status == ResponseStatus.DONE,
    )
    return set((await session.execute(stmt)).scalars())


async def curator_memberships(session: AsyncSession, organisation_id: int) -> Sequence[Membership]:
    """The organisation's confirmed curators (with their participants loaded)."""
    stmt = (
        select(Membership)
        .where(
            Membership.organisation_id == organisation_id,
            Membership.role == Role.CURATOR,
            Membership.status.in_(LIVE_STATUSES),
            Membership.confirmed_at.is_not(None),
        )
        .options(joinedload(Membership.participant))
        .order_by(Membership.id)
    )
    return (await session.execute(stmt)).scalars().all()


async def pairs_of(session: AsyncSession, membership_id: int) -> Sequence[Pair]:
    stmt = (
        select(Pair)
        .where(
            or_(Pair.mentee_membership_id == membership_id,
                Pair.mentor_membership_id == membership_id)
        )
        .order_by(Pair.id)
    )
    return (await session.execute(stmt)).scalars().all()


async def attachments_of(session: AsyncSession, response_id: int) -> Sequence[Attachment]:
    stmt = select(Attachment).where(Attachment.response_id == response_id).order_by(Attachment.id)
    return (await session.execute(stmt)).scalars().all()


async def attachments_of_participant(
    session: AsyncSession, participant_id: int
) -> Sequence[Attachment]:
    stmt = (
        select(Attachment)
        .join(Membership, Membership.id == Attachment.membership_id)
        .where(Membership.participant_id == participant_id)
        .order_by(Attachment.id)
    )
    return (await session.execute(stmt)).scalars().all()


async def attachment_count(session: AsyncSession, response_id: int) -> int:
    stmt = select(func.count(Attachment.id)).where(Attachment.response_id == response_id)
    return int((await session.execute(stmt)).scalar_one())


async def has_file(session: AsyncSession, response_id: int, file_unique_id: str) -> bool:
    stmt = select(Attachment.id).where(
        Attachment.response_id == response_id, Attachment.file_unique_id == file_unique_id
    )
    return (await session.execute(stmt)).first() is not None


async def forget_attachments(session: AsyncSession, membership_ids: Collection[int]) -> list[str]:
    """Delete the memberships' attachment rows; their storage keys (the files to delete)."""
    ids = list(membership_ids)
    keys = list(
        (
            await session.execute(
                select(Attachment.storage_key).where(Attachment.membership_id.in_(ids))
            )
        ).scalars()
    )
    await session.execute(delete(Attachment).where(Attachment.membership_id.in_(ids)))
    return keys


async def erase_pair_texts(session: AsyncSession, membership_ids: Collection[int]) -> None:
    """/forget: the free texts of the person's pairs' reports and reviews (both sides and the
    curator wrote about the pair, as in the journal); scales and choices stay for counts."""
    ids = list(membership_ids)
    pair_ids = select(Pair.id).where(
        or_(Pair.mentor_membership_id.in_(ids), Pair.mentee_membership_id.in_(ids))
    )
    stages = [
        f"{prefix}{pair_id}" for pair_id in (await session.execute(pair_ids)).scalars()
        for prefix in (REPORT_PREFIX, REVIEW_PREFIX)
    ]
    if not stages:
        return
    responses = select(QuestionnaireResponse.id).where(QuestionnaireResponse.stage.in_(stages))
    await session.execute(
        delete(Answer).where(Answer.response_id.in_(responses), Answer.is_personal.is_(True))
    )


async def erase_override_reasons(session: AsyncSession, actor_id: int) -> None:
    """The reasons a person typed for completing a pair anyway are their free text."""
    await session.execute(
        update(AuditLog)
        .where(AuditLog.actor_id == actor_id, AuditLog.action == OVERRIDE_ACTION)
        .values(details={"reason": None})
    )


async def involved_count(session: AsyncSession, organisation_id: int | None = None) -> int:
    """People who went through the full cycle (each person once, however many pairs)."""
    stmt = select(func.count(func.distinct(Membership.participant_id))).where(
        Membership.full_cycle_at.is_not(None)
    )
    if organisation_id is not None:
        stmt = stmt.where(Membership.organisation_id == organisation_id)
    return int((await session.execute(stmt)).scalar_one())
