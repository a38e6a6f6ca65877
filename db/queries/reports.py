"""Aggregates for /summary and /kpi: each one query with GROUP BY / COUNT over one
organisation's rows (indexed by organisation, programme, pair or membership), so the cost
follows the organisation's size, not the region's. Portable SQL (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, case, distinct, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    ACTIVE_PAIR_STATUSES,
    Answer,
    KpiTarget,
    Meeting,
    MeetingStatus,
    Membership,
    OrgTotals,
    Pair,
    Participant,
    ParticipantStatus,
    Programme,
    QuestionnaireResponse,
    Role,
    SurveyResponse,
)
from db.queries.participants import LIVE_STATUSES

PEOPLE_ROLES = (Role.MENTEE, Role.MENTOR)
STUDENT_CATEGORIES = ("student", "pupil")
TEACHER = "teacher"


async def people_by_status(
    session: AsyncSession, organisation_id: int
) -> list[tuple[str, str, str | None, int]]:
    """(role, membership status, best onboarding response status or None, count)."""
    response = (
        select(func.min(QuestionnaireResponse.status))
        .where(
            QuestionnaireResponse.membership_id == Membership.id,
            QuestionnaireResponse.stage == "onboarding",
        )
        .correlate(Membership)
        .scalar_subquery()
    )  # "done" < "in_progress": MIN picks a finished one when there is one
    inner = (
        select(Membership.role, Membership.status, response.label("rs"))
        .where(Membership.organisation_id == organisation_id,
               Membership.role.in_(PEOPLE_ROLES))
        .subquery()
    )
    stmt = select(inner.c.role, inner.c.status, inner.c.rs, func.count()).group_by(
        inner.c.role, inner.c.status, inner.c.rs
    )
    return [(r, s, rs, int(n)) for r, s, rs, n in (await session.execute(stmt)).all()]


async def curators(session: AsyncSession, organisation_id: int) -> int:
    stmt = select(func.count(distinct(Membership.participant_id))).where(
        Membership.organisation_id == organisation_id,
        Membership.role == Role.CURATOR,
        Membership.status.in_(LIVE_STATUSES),
        Membership.confirmed_at.is_not(None),
    )
    return int((await session.execute(stmt)).scalar_one())


async def pairs_by_status(session: AsyncSession, organisation_id: int) -> dict[str, int]:
    stmt = (
        select(Pair.status, func.count())
        .join(Programme, Programme.id == Pair.programme_id)
        .where(Programme.organisation_id == organisation_id)
        .group_by(Pair.status)
    )
    return {status: int(n) for status, n in (await session.execute(stmt)).all()}


async def meetings_held(
    session: AsyncSession, organisation_id: int, start: dt.datetime, end: dt.datetime
) -> int:
    """Meetings held that began in [start, end); a group's meeting is one row."""
    stmt = (
        select(func.count(Meeting.id))
        .join(Pair, Pair.id == Meeting.pair_id)
        .join(Programme, Programme.id == Pair.programme_id)
        .where(
            Programme.organisation_id == organisation_id,
            Meeting.status == MeetingStatus.HELD,
            Meeting.starts_at >= start,
            Meeting.starts_at < end,
        )
    )
    return int((await session.execute(stmt)).scalar_one())


async def idle_pairs(session: AsyncSession, organisation_id: int, since: dt.datetime) -> int:
    """Working pairs approved before `since` with no meeting held since then (a group's
    meetings count for each of its pairs)."""
    def held(*match: Any) -> Any:
        return exists(
            select(Meeting.id).where(*match, Meeting.status == MeetingStatus.HELD,
                                     Meeting.starts_at >= since).correlate(Pair)
        )

    # Two NOT EXISTS, each on its own index (meetings.pair_id, meetings.group_key): one
    # correlated OR would make the database scan every meeting for every pair.
    stmt = (
        select(func.count(Pair.id))
        .join(Programme, Programme.id == Pair.programme_id)
        .where(
            Programme.organisation_id == organisation_id,
            Pair.status.in_(ACTIVE_PAIR_STATUSES),
            Pair.decided_at <= since,
            ~held(Meeting.pair_id == Pair.id),
            or_(Pair.group_key.is_(None), ~held(Meeting.group_key == Pair.group_key)),
        )
    )
    return int((await session.execute(stmt)).scalar_one())


async def people_by_presence(session: AsyncSession, organisation_id: int) -> dict[str, int]:
    """Mentees and mentors (people, not memberships) by participant status."""
    stmt = (
        select(Participant.status, func.count(distinct(Participant.id)))
        .join(Membership, Membership.participant_id == Participant.id)
        .where(
            Membership.organisation_id == organisation_id,
            Membership.role.in_(PEOPLE_ROLES),
            Participant.status.in_((ParticipantStatus.PAUSED, ParticipantStatus.UNREACHABLE)),
        )
        .group_by(Participant.status)
    )
    return {status: int(n) for status, n in (await session.execute(stmt)).all()}


async def polls(session: AsyncSession, organisation_id: int) -> tuple[int, int]:
    """(polls sent, polls answered) to the organisation's people."""
    stmt = (
        select(func.count(SurveyResponse.sent_at), func.count(SurveyResponse.submitted_at))
        .join(Membership, Membership.id == SurveyResponse.membership_id)
        .where(Membership.organisation_id == organisation_id)
    )
    sent, answered = (await session.execute(stmt)).one()
    return int(sent or 0), int(answered or 0)


async def satisfaction(
    session: AsyncSession, organisation_id: int, threshold: int,
    start: dt.datetime | None = None, end: dt.datetime | None = None,
) -> dict[str, tuple[int, int]]:
    """role -> (satisfied, answered): submitted 1-10 satisfactions (the final survey) of the
    organisation's mentees and mentors, optionally submitted in [start, end)."""
    conditions: list[Any] = [
        Membership.organisation_id == organisation_id,
        Membership.role.in_(PEOPLE_ROLES),
        SurveyResponse.satisfaction.is_not(None),
        SurveyResponse.submitted_at.is_not(None),
    ]
    if start is not None:
        conditions.append(SurveyResponse.submitted_at >= start)
    if end is not None:
        conditions.append(SurveyResponse.submitted_at < end)
    stmt = (
        select(
            Membership.role,
            func.sum(case((SurveyResponse.satisfaction >= threshold, 1), else_=0)),
            func.count(SurveyResponse.id),
        )
        .join(Membership, Membership.id == SurveyResponse.membership_id)
        .where(*conditions)
        .group_by(Membership.role)
    )
    return {
        role: (int(ok or 0), int(n)) for role, ok, n in (await session.execute(stmt)).all()
    }


def _involved(organisation_id: int, start: dt.datetime, end: dt.datetime) -> list[Any]:
    return [
        Membership.organisation_id == organisation_id,
        Membership.role.in_(PEOPLE_ROLES),
        Membership.full_cycle_at >= start,
        Membership.full_cycle_at < end,
    ]


async def involvement(
    session: AsyncSession, organisation_id: int, start: dt.datetime, end: dt.datetime
) -> tuple[int, int, int]:
    """People whose full cycle was marked in [start, end): (students — mentees and student
    mentors —, of them with the ОВЗ mark, teachers who are mentors)."""
    student = Membership.category.in_(STUDENT_CATEGORIES)
    person = Membership.participant_id
    stmt = select(
        func.count(distinct(case((student, person)))),
        func.count(distinct(case((and_(student, Membership.is_disabled_student), person)))),
        func.count(distinct(case(
            (and_(Membership.role == Role.MENTOR, Membership.category == TEACHER), person)
        ))),
    ).where(*_involved(organisation_id, start, end))
    students, disabled, teachers = (await session.execute(stmt)).one()
    return int(students or 0), int(disabled or 0), int(teachers or 0)


async def involved_answers(
    session: AsyncSession, organisation_id: int, start: dt.datetime, end: dt.datetime,
    role: Role, question_ids: Sequence[str], category: str | None = None,
) -> list[tuple[int, str, Any]]:
    """(participant id, question id, value) of the onboarding answers to these questions of
    the people of `role` (and category) whose full cycle was marked in [start, end): only
    the few people an age- or experience-bound indicator looks at."""
    conditions = [*_involved(organisation_id, start, end), Membership.role == role]
    if category is not None:
        conditions.append(Membership.category == category)
    stmt = (
        select(Membership.participant_id, Answer.question_id, Answer.value)
        .join(QuestionnaireResponse, QuestionnaireResponse.membership_id == Membership.id)
        .join(Answer, Answer.response_id == QuestionnaireResponse.id)
        .where(
            *conditions,
            QuestionnaireResponse.stage == "onboarding",
            Answer.question_id.in_(list(question_ids)),
        )
    )
    return [(int(p), q, v) for p, q, v in (await session.execute(stmt)).all()]


async def totals(session: AsyncSession, organisation_id: int, year: int) -> OrgTotals | None:
    stmt = select(OrgTotals).where(
        OrgTotals.organisation_id == organisation_id, OrgTotals.year == year
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def targets(session: AsyncSession, organisation_id: int, year: int) -> dict[str, int]:
    stmt = select(KpiTarget.code, KpiTarget.target_pct).where(
        KpiTarget.organisation_id == organisation_id, KpiTarget.year == year
    )
    return {code: int(pct) for code, pct in (await session.execute(stmt)).all()}


async def target_row(
    session: AsyncSession, organisation_id: int, year: int, code: str
) -> KpiTarget | None:
    stmt = select(KpiTarget).where(
        KpiTarget.organisation_id == organisation_id, KpiTarget.year == year,
        KpiTarget.code == code,
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def report_recipients(
    session: AsyncSession, organisation_ids: Sequence[int]
) -> list[tuple[int, int, int, str]]:
    """(organisation id, participant id, telegram id, language) of the organisations'
    confirmed curators who can be written to."""
    if not organisation_ids:
        return []
    stmt = (
        select(Membership.organisation_id, Participant.id, Participant.telegram_id,
               Participant.language)
        .join(Participant, Participant.id == Membership.participant_id)
        .where(
            Membership.organisation_id.in_(list(organisation_ids)),
            Membership.role == Role.CURATOR,
            Membership.status.in_(LIVE_STATUSES),
            Membership.confirmed_at.is_not(None),
            Participant.telegram_id.is_not(None),
            Participant.status != ParticipantStatus.FORGOTTEN,
        )
        .distinct()
        .order_by(Membership.organisation_id, Participant.id)
    )
    rows = (await session.execute(stmt)).all()
    return [(int(o), int(p), int(t), lang) for o, p, t, lang in rows if t is not None]


async def coordinators(
    session: AsyncSession, admin_ids: Collection[int] = ()
) -> list[tuple[int, int, str]]:
    """(participant id, telegram id, language) of the coordinators who can be written to:
    marked in the database, or named by ADMIN_IDS."""
    marked: ColumnElement[bool] = Participant.is_coordinator.is_(True)
    if admin_ids:
        marked = or_(marked, Participant.telegram_id.in_(list(admin_ids)))
    stmt = (
        select(Participant.id, Participant.telegram_id, Participant.language)
        .where(
            marked,
            Participant.telegram_id.is_not(None),
            Participant.status != ParticipantStatus.FORGOTTEN,
        )
        .order_by(Participant.id)
    )
    rows = (await session.execute(stmt)).all()
    return [(int(p), int(t), lang) for p, t, lang in rows if t is not None]
