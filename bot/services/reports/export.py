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

import asyncio
import contextlib
import datetime as dt
import importlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any

import yaml
from sqlalchemy import ColumnElement, Select, and_, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.types import NullType

from bot.services.polls import POLLS_DIR
from bot.services.questionnaires import DATA_DIR, Questionnaire, parse
from db.models import (
    Answer,
    Meeting,
    MeetingFeedback,
    Membership,
    MembershipStatus,
    Organisation,
    Pair,
    Participant,
    ParticipantStatus,
    Plan,
    PlanGoal,
    PlanTask,
    Programme,
    QuestionnaireResponse,
    ResponseStatus,
    Role,
    SurveyResponse,
)

CHUNK = 5000
PREFETCH_STEPS = 8
ASSESSMENT_ID = "assessment"
LEFT_OUT = (MembershipStatus.WITHDRAWN, MembershipStatus.DECLINED)


class Kind(StrEnum):
    """How the writer shows a column's values."""

    TEXT = "text"
    LABEL = "label"  # text from a small set (the organisation's name): written once, reused
    NUMBER = "number"
    DATE = "date"  # a date, or a moment shown as the local date
    TIME = "time"  # a moment shown in the organisation's timezone
    CODE = "code"  # a code worded by the labels (`export.value.<column>.<code>`)
    FLAG = "flag"  # true/false shown as yes/no


@dataclass(frozen=True, slots=True)
class Column:
    key: str  # the title is `export.col.<key>`
    kind: Kind = Kind.TEXT


Row = Sequence[Any]
Query = Select[*tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class Scope:
    """What to export: these organisations, as of `now` (the KPIs' year)."""

    orgs: tuple[int, ...]
    now: dt.datetime


RowSource = Callable[[AsyncSession, Scope], AsyncIterator[list[Row]]]
Counter = Callable[[AsyncSession, Scope], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class Sheet:
    """One sheet: `name` is its code (`/export csv NAME`, the title `export.sheet.<name>`).
    The first column is always the organisation (its timezone comes with each row)."""

    name: str
    columns: tuple[Column, ...]
    rows: RowSource  # chunks of rows: (timezone, *values per column)
    count: Counter  # how many rows, for the progress


# -- who is in ---------------------------------------------------------------------------------
def _present(membership: Any, participant: Any) -> ColumnElement[bool]:
    return and_(
        membership.status.notin_(LEFT_OUT),
        participant.status != ParticipantStatus.FORGOTTEN,
    )


def _raw(stmt: Query) -> Query:
    """The same columns without result processing: the driver's values as they come."""
    return stmt.with_only_columns(
        *(type_coerce(column, NullType()).label(f"c{i}")
          for i, column in enumerate(stmt.selected_columns)),
        maintain_column_froms=True,
    )


async def fetch(session: AsyncSession, query: Query) -> list[Row]:
    """The rows of `query` as the driver gives them. On SQLite straight from aiosqlite (the
    parameters are ids and codes, rendered inline): SQLAlchemy's result machinery costs more
    than the query itself on a million rows."""
    connection = await session.connection()
    if connection.dialect.name == "sqlite":
        sql = str(query.compile(dialect=connection.dialect,
                                compile_kwargs={"literal_binds": True}))
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        return list(await driver.execute_fetchall(sql))
    return list(await connection.execute(_raw(query)))


async def _keyset(
    session: AsyncSession, stmt: Query, key: Any, size: int = CHUNK, *, prefetch: bool = True
) -> AsyncIterator[list[Row]]:
    """Rows of `stmt` in chunks of `size`, ordered by the unique `key` (its first column).
    With `prefetch` the next page is read while the caller works on this one (the caller
    must not use the session meanwhile)."""

    async def page(last: Any) -> list[Row]:
        query = (stmt if last is None else stmt.where(key > last)).order_by(key).limit(size)
        return await fetch(session, query)

    rows = await page(None)
    while rows:
        more = len(rows) == size
        following = asyncio.ensure_future(page(rows[-1][0])) if more and prefetch else None
        if following is not None:
            for _ in range(PREFETCH_STEPS):  # let the query reach the driver's thread
                await asyncio.sleep(0)
        try:
            yield [row[1:] for row in rows]
        except BaseException:
            if following is not None:
                following.cancel()
                with contextlib.suppress(BaseException):
                    await following
            raise
        if not more:
            return
        rows = await following if following is not None else await page(rows[-1][0])


async def _count(session: AsyncSession, stmt: Query) -> int:
    return int((await session.execute(select(func.count()).select_from(stmt.subquery())))
               .scalar_one())


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
        .where(Membership.role == role, _present(Membership, Participant))
    )


def _registry(role: Role) -> tuple[RowSource, Counter]:
    async def rows(session: AsyncSession, scope: Scope) -> AsyncIterator[list[Row]]:
        stmt = _people(role).where(Membership.organisation_id.in_(scope.orgs))
        async for chunk in _keyset(session, stmt, Membership.id):
            yield chunk

    async def count(session: AsyncSession, scope: Scope) -> int:
        return await _count(
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
            _present(MentorM, MentorP), _present(MenteeM, MenteeP),
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
        Pair.id, Organisation.timezone, Organisation.name, Pair.id, MentorP.full_name,
        MenteeP.full_name,
    ), scope.orgs)
    async for chunk in _keyset(session, pairs, Pair.id, MEETINGS_PAIRS, prefetch=False):
        known = {row[2]: row for row in chunk}
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
            tz, org, pair, mentor, mentee = known[meeting[0]]
            rows.append((tz, org, meeting[1], pair, meeting[2], mentor, mentee, *meeting[3:]))
        yield rows


async def _meeting_count(session: AsyncSession, scope: Scope) -> int:
    return await _count(session, _meetings(scope.orgs))


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
        async for chunk in _keyset(session, build(scope.orgs), key):
            yield chunk

    async def count(session: AsyncSession, scope: Scope) -> int:
        return await _count(session, build(scope.orgs))

    return rows, count


# -- polls and the self-assessment ---------------------------------------------------------------
def _member_of(stmt: Query, membership_id: Any, orgs: Sequence[int]) -> Query:
    return (
        stmt.join(Membership, Membership.id == membership_id)
        .join(Participant, Participant.id == Membership.participant_id)
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .where(Membership.organisation_id.in_(orgs), _present(Membership, Participant))
    )


def _polls(orgs: Sequence[int]) -> Query:
    stmt = select(
        SurveyResponse.id, Organisation.timezone, Organisation.name, SurveyResponse.survey_id,
        SurveyResponse.milestone, SurveyResponse.pair_id, Membership.id, Participant.full_name,
        Membership.role, SurveyResponse.sent_at, SurveyResponse.submitted_at,
        SurveyResponse.closed_at.is_not(None), SurveyResponse.satisfaction,
        SurveyResponse.answers,
    ).select_from(SurveyResponse)
    return _member_of(stmt, SurveyResponse.membership_id, orgs)


def answers_text(answers: dict[str, Any] | str | None) -> str:
    """A poll's kept answers (nothing personal: /forget leaves only these) as one cell."""
    if isinstance(answers, str):  # the raw JSON
        answers = json.loads(answers)
    if not isinstance(answers, dict):
        return ""
    parts = []
    for key, value in (answers or {}).items():
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        parts.append(f"{key}: {shown}")
    return "; ".join(parts)


async def _poll_rows(session: AsyncSession, scope: Scope) -> AsyncIterator[list[Row]]:
    async for chunk in _keyset(session, _polls(scope.orgs), SurveyResponse.id):
        yield [(*row[:-1], answers_text(row[-1])) for row in chunk]


async def _poll_count(session: AsyncSession, scope: Scope) -> int:
    return await _count(session, _polls(scope.orgs))


def _assessed(orgs: Sequence[int]) -> Query:
    """Memberships with a finished entry or exit self-assessment."""
    stmt = select(Membership.id).select_from(Membership).where(
        select(QuestionnaireResponse.id).where(
            QuestionnaireResponse.membership_id == Membership.id,
            QuestionnaireResponse.questionnaire_id == ASSESSMENT_ID,
            QuestionnaireResponse.status == ResponseStatus.DONE,
        ).exists()
    )
    return (
        stmt.join(Participant, Participant.id == Membership.participant_id)
        .where(Membership.organisation_id.in_(orgs), _present(Membership, Participant))
    )


def _score(raw: Any) -> int | float | None:
    """A self-assessment answer (raw JSON text on SQLite) as a number, else None."""
    if isinstance(raw, str):
        if raw.isdigit():  # the usual 1-10
            return int(raw)
        try:
            raw = json.loads(raw)
        except ValueError:
            return None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    return raw


@cache
def assessment() -> Questionnaire:
    """The self-assessment questionnaire alone (libyaml when there: the worker starts fast)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    path = DATA_DIR / f"{ASSESSMENT_ID}.yaml"
    return parse(yaml.load(path.read_text("utf-8"), Loader=loader), path.name)


@cache
def poll_titles() -> dict[str, dict[str, str]]:
    """Each poll's title by language, read from the poll files."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    titles = {}
    for path in sorted(POLLS_DIR.glob("*.yaml")):
        raw = yaml.load(path.read_text("utf-8"), Loader=loader)
        titles[str(raw["id"])] = dict(raw.get("title") or {})
    return titles


def dimensions() -> list[str]:
    """The self-assessment's dimensions (question ids), in the questionnaire's order."""
    return [q.id for q in assessment().questions]


async def _assessment_rows(session: AsyncSession, scope: Scope) -> AsyncIterator[list[Row]]:
    """One row per person: entry, exit and the change for each dimension."""
    order = {dimension: i for i, dimension in enumerate(dimensions())}
    width = 3 * len(order)
    stmt = _assessed(scope.orgs).add_columns(
        Organisation.timezone, Organisation.name, Membership.id, Participant.full_name,
        Membership.role,
    ).join(Organisation, Organisation.id == Membership.organisation_id)
    async for chunk in _keyset(session, stmt, Membership.id, prefetch=False):
        table = {row[2]: [*row, *([None] * width)] for row in chunk}
        found = await fetch(session, (
            select(QuestionnaireResponse.membership_id, QuestionnaireResponse.stage,
                   Answer.question_id, Answer.value)
            .join(Answer, Answer.response_id == QuestionnaireResponse.id)
            .where(
                QuestionnaireResponse.membership_id.in_(list(table)),
                QuestionnaireResponse.questionnaire_id == ASSESSMENT_ID,
                QuestionnaireResponse.status == ResponseStatus.DONE,
                QuestionnaireResponse.stage.in_(("entry", "exit")),
            )
        ))
        for member, stage, dimension, value in found:
            at = order.get(dimension)
            score = _score(value)
            if at is None or score is None:
                continue
            table[member][5 + 3 * at + (0 if stage == "entry" else 1)] = score
        for row in table.values():
            for at in range(5, 5 + width, 3):
                if row[at] is not None and row[at + 1] is not None:
                    row[at + 2] = row[at + 1] - row[at]
        yield list(table.values())


async def _assessment_count(session: AsyncSession, scope: Scope) -> int:
    return await _count(session, _assessed(scope.orgs))


# -- KPIs (bot.services.reports.kpi, when present) ---------------------------------------------
def _kpi_module() -> Any:
    try:
        return importlib.import_module("bot.services.reports.kpi")
    except ImportError:
        return None


async def _kpi_rows(session: AsyncSession, scope: Scope) -> AsyncIterator[list[Row]]:
    module = _kpi_module()
    for org in scope.orgs:
        organisation = await session.get(Organisation, org)
        if organisation is None:
            continue
        found = await module.kpis(session, org, scope.now.year, scope.now)
        yield [
            (organisation.timezone, organisation.name, k.code, k.numerator, k.denominator,
             k.value_pct, k.target_pct, k.met)
            for k in found
        ]


async def _kpi_count(session: AsyncSession, scope: Scope) -> int:
    return len(scope.orgs) * 8  # about eight indicators each: the progress is an estimate


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
        ), _poll_rows, _poll_count),
        Sheet("assessment", (
            org, Column("number", Kind.NUMBER), Column("full_name"), Column("role", Kind.CODE),
            *(Column(f"{stage}.{dimension}", Kind.NUMBER)
              for dimension in dimensions() for stage in ("entry", "exit", "change")),
        ), _assessment_rows, _assessment_count),
    ]
    if _kpi_module() is not None:
        out.append(Sheet("kpi", (
            org, Column("kpi", Kind.CODE), Column("numerator", Kind.NUMBER),
            Column("denominator", Kind.NUMBER), Column("value_pct", Kind.NUMBER),
            Column("target_pct", Kind.NUMBER), Column("met", Kind.FLAG),
        ), _kpi_rows, _kpi_count))
    return out


def sheet_names() -> list[str]:
    return [sheet.name for sheet in sheets()]


def find_sheet(name: str) -> Sheet | None:
    return next((s for s in sheets() if s.name == name.strip().lower()), None)
