"""The monitoring workbook (/export): its sheets as data, each a list of columns and a row
source that reads the database in keyset-paginated chunks, so memory stays flat whatever
the organisation's size.

Plain values only: codes (roles, stages, statuses, dimensions) are left as codes and worded
by the writer (bot/services/reports/export_files.py) through the labels it is given. Rows
are the driver's raw values (no SQLAlchemy type processing: a third of the time on a large
export): on SQLite moments are naive UTC text and flags 0/1, on PostgreSQL aware datetimes
and booleans; the writer reads both and shows moments in the organisation's timezone.

Who is left out: people who withdrew consent or used /forget (their memberships are
"withdrawn" or "declined", the participant "forgotten"), and every row about them (their
pairs, the pairs' meetings and plans, their poll answers and self-assessments).
Nothing here writes or commits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.services.reports.export_answers import answers_text as answers_text
from bot.services.reports.export_answers import assessment as assessment
from bot.services.reports.export_answers import (
    assessment_count,
    assessment_rows,
    dimensions,
    kpi_count,
    kpi_module,
    kpi_rows,
    poll_count,
    poll_rows,
)
from bot.services.reports.export_answers import poll_titles as poll_titles
from bot.services.reports.export_base import CHUNK as CHUNK
from bot.services.reports.export_base import Column as Column
from bot.services.reports.export_base import (
    Counter,
    Page,
    Query,
    RowSource,
    count_rows,
    fetch,
    keyset,
    pipelined,
    present,
)
from bot.services.reports.export_base import Kind as Kind
from bot.services.reports.export_base import Row as Row
from bot.services.reports.export_base import Scope as Scope
from bot.services.reports.export_base import Sheet as Sheet
from db.models import (
    Meeting,
    MeetingFeedback,
    Membership,
    Organisation,
    Pair,
    Participant,
    Plan,
    PlanGoal,
    PlanTask,
    Programme,
    Role,
)

# -- registries ----------------------------------------------------------------------------------
PEOPLE_COLUMNS = (
    Column("organisation", Kind.LABEL), Column("number", Kind.NUMBER), Column("full_name"),
    Column("category", Kind.CODE), Column("form", Kind.CODE), Column("status", Kind.CODE),
    Column("person_status", Kind.CODE), Column("joined", Kind.DATE),
)


def _people(role: Role) -> Query:
    return (
        select(
            Membership.id, Organisation.timezone, Organisation.name, Membership.id,
            Participant.full_name, Membership.category, Membership.form, Membership.status,
            Participant.status, Membership.created_at,
            *((Membership.load, Membership.capacity) if role == Role.MENTOR
              else (Membership.is_disabled_student,)),
            Membership.full_cycle_at,
        )
        .join(Participant, Participant.id == Membership.participant_id)
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .where(Membership.role == role, present(Membership, Participant))
    )


def _registry(role: Role) -> tuple[RowSource, Counter]:
    async def rows(session: AsyncSession, scope: Scope) -> AsyncIterator[list[Row]]:
        stmt = _people(role).where(Membership.organisation_id.in_(scope.orgs))
        async for chunk in keyset(session, stmt, Membership.id):
            yield chunk

    async def count(session: AsyncSession, scope: Scope) -> int:
        return await count_rows(
            session, _people(role).where(Membership.organisation_id.in_(scope.orgs))
        )

    return rows, count


# -- pairs and what hangs on them --------------------------------------------------------------
MentorM = aliased(Membership, name="mentor_m")
MenteeM = aliased(Membership, name="mentee_m")
MentorP = aliased(Participant, name="mentor_p")
MenteeP = aliased(Participant, name="mentee_p")


def _with_pair(stmt: Query, orgs: Sequence[int]) -> Query:
    """Joins a statement that selects from Pair to both sides and the organisation, keeping
    the pairs of `orgs` whose both sides are present."""
    return (
        stmt.join(MentorM, MentorM.id == Pair.mentor_membership_id)
        .join(MenteeM, MenteeM.id == Pair.mentee_membership_id)
        .join(MentorP, MentorP.id == MentorM.participant_id)
        .join(MenteeP, MenteeP.id == MenteeM.participant_id)
        .join(Programme, Programme.id == Pair.programme_id)
        .join(Organisation, Organisation.id == Programme.organisation_id)
        .where(
            Programme.organisation_id.in_(orgs),
            present(MentorM, MentorP), present(MenteeM, MenteeP),
        )
    )


def _pairs(orgs: Sequence[int]) -> Query:
    return _with_pair(select(
        Pair.id, Organisation.timezone, Organisation.name, Pair.id, MentorM.id,
        MentorP.full_name, MenteeM.id, MenteeP.full_name, Pair.form, Pair.group_key,
        Pair.status, Pair.created_at, Pair.decided_at,
    ), orgs)


def _meetings(orgs: Sequence[int]) -> Query:
    """The journal's rows in one query (for the count; the rows go pair by pair)."""
    stmt = select(Meeting.id).select_from(Meeting).join(Pair, Pair.id == Meeting.pair_id)
    return _with_pair(stmt, orgs)


MEETINGS_PAIRS = 500  # pairs per page of the journal: about 5,000 meetings


async def _meeting_rows(session: AsyncSession, scope: Scope) -> AsyncIterator[list[Row]]:
    """The journal, pair after pair: the pairs' names once, then their meetings through the
    pair index (a join per meeting for six names would cost more than the meetings)."""
    pairs = _with_pair(select(
        Pair.id, Organisation.timezone, Organisation.name, MentorP.full_name,
        MenteeP.full_name,
    ), scope.orgs).order_by(Pair.id).limit(MEETINGS_PAIRS)

    async def load(last: Any) -> Page:
        page = await fetch(session, pairs if last is None else pairs.where(Pair.id > last))
        if not page:
            return None, [], False
        known = {row[0]: row for row in page}
        found = await fetch(session, (
            select(
                Meeting.pair_id, Meeting.id, Meeting.group_key, Meeting.kind, Meeting.status,
                Meeting.starts_at, Meeting.duration_minutes, Meeting.actual_minutes,
                Meeting.place, Meeting.topics, Meeting.next_steps, Meeting.logged_at,
                MeetingFeedback.took_place, MeetingFeedback.rating,
            )
            .join(Pair, Pair.id == Meeting.pair_id)
            .outerjoin(MeetingFeedback, and_(
                MeetingFeedback.meeting_id == Meeting.id,
                MeetingFeedback.membership_id == Pair.mentee_membership_id,
            ))
            .where(Meeting.pair_id.in_(list(known)))
            .order_by(Meeting.pair_id, Meeting.id)
        ))
        rows: list[Row] = []
        for meeting in found:
            pair, tz, org, mentor, mentee = known[meeting[0]]
            rows.append((tz, org, meeting[1], pair, meeting[2], mentor, mentee, *meeting[3:]))
        return page[-1][0], rows, len(page) == MEETINGS_PAIRS

    async for chunk in pipelined(load):
        yield chunk


async def _meeting_count(session: AsyncSession, scope: Scope) -> int:
    return await count_rows(session, _meetings(scope.orgs))


_tasks_total = (
    select(func.count(PlanTask.id)).where(PlanTask.goal_id == PlanGoal.id)
    .correlate(PlanGoal).scalar_subquery()
)
_tasks_done = (
    select(func.count(PlanTask.id))
    .where(PlanTask.goal_id == PlanGoal.id, PlanTask.done_at.is_not(None))
    .correlate(PlanGoal).scalar_subquery()
)


def _goals(orgs: Sequence[int]) -> Query:
    stmt = select(
        PlanGoal.id, Organisation.timezone, Organisation.name, Pair.id, MentorP.full_name,
        MenteeP.full_name, PlanGoal.position, PlanGoal.title, PlanGoal.target_date,
        PlanGoal.progress, PlanGoal.done_at, _tasks_done, _tasks_total,
    ).select_from(PlanGoal).join(Plan, Plan.id == PlanGoal.plan_id).join(
        Pair, Pair.id == Plan.pair_id
    )
    return _with_pair(stmt, orgs)


def _pair_source(build: Callable[[Sequence[int]], Query], key: Any) -> tuple[
    RowSource, Counter
]:
    async def rows(session: AsyncSession, scope: Scope) -> AsyncIterator[list[Row]]:
        async for chunk in keyset(session, build(scope.orgs), key):
            yield chunk

    async def count(session: AsyncSession, scope: Scope) -> int:
        return await count_rows(session, build(scope.orgs))

    return rows, count


# -- the workbook --------------------------------------------------------------------------------
def sheets() -> list[Sheet]:
    """The workbook's sheets, in order."""
    mentors, mentors_n = _registry(Role.MENTOR)
    mentees, mentees_n = _registry(Role.MENTEE)
    pairs, pairs_n = _pair_source(_pairs, Pair.id)
    goals, goals_n = _pair_source(_goals, PlanGoal.id)
    org = Column("organisation", Kind.LABEL)
    out = [
        Sheet("mentors", (*PEOPLE_COLUMNS, Column("load", Kind.NUMBER),
                          Column("capacity", Kind.NUMBER), Column("full_cycle", Kind.DATE)),
              mentors, mentors_n),
        Sheet("mentees", (*PEOPLE_COLUMNS, Column("disabled", Kind.FLAG),
                          Column("full_cycle", Kind.DATE)),
              mentees, mentees_n),
        Sheet("pairs", (
            org, Column("pair", Kind.NUMBER), Column("mentor_number", Kind.NUMBER),
            Column("mentor"), Column("mentee_number", Kind.NUMBER), Column("mentee"),
            Column("form", Kind.CODE), Column("group"), Column("stage", Kind.CODE),
            Column("created", Kind.DATE), Column("approved", Kind.DATE),
        ), pairs, pairs_n),
        Sheet("meetings", (
            org, Column("meeting", Kind.NUMBER), Column("pair", Kind.NUMBER), Column("group"),
            Column("mentor"), Column("mentee"), Column("kind", Kind.CODE),
            Column("meeting_status", Kind.CODE), Column("starts", Kind.TIME),
            Column("planned_minutes", Kind.NUMBER), Column("actual_minutes", Kind.NUMBER),
            Column("place"), Column("topics"), Column("next_steps"),
            Column("logged", Kind.TIME), Column("took_place", Kind.FLAG),
            Column("rating", Kind.NUMBER),
        ), _meeting_rows, _meeting_count),
        Sheet("plans", (
            org, Column("pair", Kind.NUMBER), Column("mentor"), Column("mentee"),
            Column("position", Kind.NUMBER), Column("goal"), Column("target_date", Kind.DATE),
            Column("progress", Kind.NUMBER), Column("done", Kind.DATE),
            Column("tasks_done", Kind.NUMBER), Column("tasks_total", Kind.NUMBER),
        ), goals, goals_n),
        Sheet("polls", (
            org, Column("poll", Kind.CODE), Column("milestone", Kind.CODE),
            Column("pair", Kind.NUMBER), Column("number", Kind.NUMBER), Column("full_name"),
            Column("role", Kind.CODE), Column("sent", Kind.DATE), Column("submitted", Kind.DATE),
            Column("closed", Kind.FLAG), Column("satisfaction", Kind.NUMBER),
            Column("answers"),
        ), poll_rows, poll_count),
        Sheet("assessment", (
            org, Column("number", Kind.NUMBER), Column("full_name"), Column("role", Kind.CODE),
            *(Column(f"{stage}.{dimension}", Kind.NUMBER)
              for dimension in dimensions() for stage in ("entry", "exit", "change")),
        ), assessment_rows, assessment_count),
    ]
    if kpi_module() is not None:
        out.append(Sheet("kpi", (
            org, Column("kpi", Kind.CODE), Column("numerator", Kind.NUMBER),
            Column("denominator", Kind.NUMBER), Column("value_pct", Kind.NUMBER),
            Column("target_pct", Kind.NUMBER), Column("met", Kind.FLAG),
        ), kpi_rows, kpi_count))
    return out


def sheet_names() -> list[str]:
    return [sheet.name for sheet in sheets()]


def find_sheet(name: str) -> Sheet | None:
    return next((s for s in sheets() if s.name == name.strip().lower()), None)
