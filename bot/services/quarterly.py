"""Quarterly reports: at the start of each calendar quarter (1 Jan/Apr/Jul/Oct, 10:00 in the
organisation's timezone) the mentor of every working pair is asked for a short report on
the quarter that ended (bot/data/reports/report-quarterly.yaml); the pair's curators accept
it or return it with a comment the mentor sees, and the mentor edits and resubmits.

One `QuarterlyReport` row per (mentor membership, pair, quarter): made when the invitation is
queued, so a repeated pass (or a restart) invites nobody twice; the job looks at what is
missing in the database, so a pass missed while the bot was down is made up within
`CATCH_UP`. The answers live in the engine's response, stage "quarter:<report id>".
Messages go out as `Notice` values (bot/views/quarterly.py words and queues them).
Nothing here commits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.errors import NotYoursError, ServiceError, StaleError
from db.models import (
    ACTIVE_PAIR_STATUSES,
    Pair,
    ParticipantStatus,
    QuarterlyReport,
    QuestionnaireResponse,
    ResponseStatus,
)
from db.queries import participants as q_people
from db.queries import quarterly as q
from db.queries import reminders as q_members
from db.queries.responses import Response

QUESTIONNAIRE_ID = "report-quarterly"
STAGE_PREFIX = "quarter:"
START_HOUR = 10  # local time on the quarter's first day
CATCH_UP = dt.timedelta(days=7)  # a pass missed (bot down) is made up within this
BATCH = 200  # pairs a pass invites at most (per organisation)
MIN_COMMENT = 5
WORKING = ACTIVE_PAIR_STATUSES


class Status(StrEnum):
    INVITED = "invited"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    RETURNED = "returned"
    UNREACHABLE = "unreachable"  # the mentor could not be asked (recorded, never sent)


class Kind(StrEnum):
    INVITE = "quarterly_invite"
    SUBMITTED = "quarterly_submitted"  # to the curators, with Accept / Return
    ACCEPTED = "quarterly_accepted"  # to the mentor
    RETURNED = "quarterly_returned"  # to the mentor, with the comment and "edit"


@dataclass(frozen=True, slots=True)
class Due:
    quarter: str  # the quarter reported on, "2026Q4"
    starts_at: dt.datetime  # UTC: the moment the reports are asked for


@dataclass(frozen=True, slots=True)
class Notice:
    kind: Kind
    key: str
    chat_id: int
    participant_id: int
    language: str
    organisation_id: int | None
    report_id: int
    pair_id: int
    quarter: str
    version: int = 0  # SUBMITTED: which submission the buttons are for
    partner: str = ""  # INVITE: the mentee's name
    comment: str = ""  # RETURNED


# -- when -------------------------------------------------------------------------------------
def previous_quarter(year: int, month: int) -> str:
    """The label of the quarter before the one starting in (year, month)."""
    index = (month - 1) // 3  # 0..3: the quarter starting now
    return f"{year - 1}Q4" if index == 0 else f"{year}Q{index}"


def due(now: dt.datetime, timezone: str) -> Due | None:
    """The reports due now in this timezone: from 10:00 local on a quarter's first day, for
    `CATCH_UP`; None otherwise."""
    try:
        zone = ZoneInfo(timezone)
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    local = now.astimezone(zone)
    month = 3 * ((local.month - 1) // 3) + 1
    start = dt.datetime(local.year, month, 1, START_HOUR, tzinfo=zone)
    if not start <= local < start + CATCH_UP:
        return None
    return Due(previous_quarter(local.year, month), start.astimezone(dt.UTC))


def stage_of(report_id: int) -> str:
    return f"{STAGE_PREFIX}{report_id}"


def is_quarterly_stage(stage: str) -> bool:
    return stage.startswith(STAGE_PREFIX)


def _reachable(member: q_members.Member) -> bool:
    return member.telegram_id is not None and member.status != ParticipantStatus.FORGOTTEN


# -- inviting ---------------------------------------------------------------------------------
async def invite_due(session: AsyncSession, now: dt.datetime, limit: int = BATCH) -> list[Notice]:
    """One pass of the job: invite the mentors of the working pairs not yet asked this
    quarter (a report row per invitation: a repeat or a restart asks nobody twice)."""
    notices: list[Notice] = []
    for organisation_id, timezone in await q.organisations(session):
        found = due(now, timezone)
        if found is None:
            continue
        rows = await q.uninvited(session, organisation_id, found.quarter, WORKING,
                                 found.starts_at, limit)
        for pair_id, mentor_id in rows:
            notice = await _invite(session, pair_id, mentor_id, found.quarter, now)
            if notice is not None:
                notices.append(notice)
    return notices


async def _invite(
    session: AsyncSession, pair_id: int, mentor_id: int, quarter: str, now: dt.datetime
) -> Notice | None:
    pair = await session.get(Pair, pair_id)
    assert pair is not None
    people = await q_members.members(session, [mentor_id, pair.mentee_membership_id])
    member, mentee = people.get(mentor_id), people.get(pair.mentee_membership_id)
    reachable = member is not None and _reachable(member)
    report = QuarterlyReport(
        pair_id=pair_id, membership_id=mentor_id, quarter=quarter, invited_at=now,
        status=Status.INVITED if reachable else Status.UNREACHABLE,
    )
    session.add(report)
    await session.flush()
    if not reachable or member is None or member.telegram_id is None:
        return None
    return Notice(
        Kind.INVITE, f"quarterly:invite:{mentor_id}:{pair_id}:{quarter}", member.telegram_id,
        member.participant_id, member.language, member.organisation_id, report.id, pair_id,
        quarter, partner=mentee.name if mentee else "",
    )


# -- the mentor ------------------------------------------------------------------------------
async def _own(
    session: AsyncSession, report_id: int, participant_id: int | None
) -> QuarterlyReport:
    report = await session.get(QuarterlyReport, report_id, populate_existing=True)
    if report is None or report.status == Status.UNREACHABLE:
        raise StaleError("quarterly_stale")
    member = await q_people.membership(session, report.membership_id)
    if member is None or participant_id is None or member.participant_id != participant_id:
        raise NotYoursError("quarterly_not_yours")
    return report


async def open_report(
    session: AsyncSession, report_id: int, participant_id: int | None, version: int,
    now: dt.datetime, *, questionnaire_version: int = 1,
) -> int:
    """The report's engine response for its mentor (made on first opening; a returned one is
    re-opened at its first question with the answers kept). Returns the response id."""
    report = await _own(session, report_id, participant_id)
    pair = await session.get(Pair, report.pair_id)
    if pair is None or pair.status not in WORKING:
        raise StaleError("quarterly_pair_over")
    if report.status == Status.ACCEPTED:
        raise StaleError("quarterly_accepted")
    if report.status == Status.SUBMITTED:
        raise StaleError("quarterly_submitted")
    if report.status == Status.RETURNED and version != report.submissions:
        raise StaleError("quarterly_stale")
    if report.response_id is None:
        response = QuestionnaireResponse(
            membership_id=report.membership_id, questionnaire_id=QUESTIONNAIRE_ID,
            questionnaire_version=questionnaire_version, stage=stage_of(report.id), answers=[],
            started_at=now,
        )
        session.add(response)
        await session.flush()
        report.response_id = response.id
    elif report.status == Status.RETURNED:
        done = await session.get(QuestionnaireResponse, report.response_id)
        if done is not None and done.status == ResponseStatus.DONE:
            done.status = ResponseStatus.IN_PROGRESS
            done.current_question = None  # from the first question, answers kept
    await session.flush()
    assert report.response_id is not None
    return report.response_id


async def submit(
    session: AsyncSession, response: Response, now: dt.datetime
) -> list[Notice]:
    """The report's last answer was given: submitted; the pair's curators are told (with
    the buttons for this submission). A repeat returns nothing."""
    report = await q.of_response(session, response.id)
    if (report is None or response.status != ResponseStatus.DONE
            or report.status not in (Status.INVITED, Status.RETURNED)):
        return []
    report.status = Status.SUBMITTED
    report.submissions += 1
    report.submitted_at = now
    await session.flush()
    org_id = await q_members.organisation_of_pair(session, report.pair_id)
    if org_id is None:
        return []
    notices = []
    for curator in await q_people.curators_of(session, org_id):
        if curator.telegram_id is None or curator.status == ParticipantStatus.FORGOTTEN:
            continue
        notices.append(Notice(
            Kind.SUBMITTED, f"quarterly:sub:{report.id}:{report.submissions}:{curator.id}",
            curator.telegram_id, curator.id, curator.language or "ru", org_id, report.id,
            report.pair_id, report.quarter, version=report.submissions,
        ))
    return notices


# -- the curator ------------------------------------------------------------------------------
async def reviewable(
    session: AsyncSession, report_id: int, version: int, participant_id: int | None
) -> QuarterlyReport:
    """The report, if the presser is a curator of the pair's organisation and the report
    waits for a decision on this submission; NotYours / Stale otherwise."""
    report = await session.get(QuarterlyReport, report_id, populate_existing=True)
    if report is None:
        raise StaleError("quarterly_stale")
    org_id = await q_members.organisation_of_pair(session, report.pair_id)
    curators = await q_people.curators_of(session, org_id) if org_id is not None else []
    if participant_id is None or all(c.id != participant_id for c in curators):
        raise NotYoursError("quarterly_not_yours")
    if report.status != Status.SUBMITTED or report.submissions != version:
        raise StaleError("quarterly_reviewed")
    return report


async def review(
    session: AsyncSession, report_id: int, version: int, participant_id: int | None, *,
    comment: str | None, now: dt.datetime,
) -> list[Notice]:
    """Accept (no comment) or return with a comment; the mentor is told."""
    report = await reviewable(session, report_id, version, participant_id)
    text = (comment or "").strip() if comment is not None else None
    if text is not None and len(text) < MIN_COMMENT:
        raise ServiceError("quarterly_comment_short")
    report.status = Status.ACCEPTED if text is None else Status.RETURNED
    report.comment = text[:2000] if text else None
    report.reviewed_at = now
    report.reviewed_by = participant_id
    await session.flush()
    member = (await q_members.members(session, [report.membership_id])).get(report.membership_id)
    if member is None or not _reachable(member) or member.telegram_id is None:
        return []
    kind = Kind.ACCEPTED if text is None else Kind.RETURNED
    return [Notice(
        kind, f"quarterly:{kind.value}:{report.id}:{report.submissions}", member.telegram_id,
        member.participant_id, member.language, member.organisation_id, report.id,
        report.pair_id, report.quarter, version=report.submissions, comment=text or "",
    )]


# -- what the curator reads -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PairReport:
    report: QuarterlyReport
    answers: dict[str, Any]


async def pair_reports(session: AsyncSession, pair_id: int) -> list[PairReport]:
    found = []
    for report in await q.of_pair(session, pair_id):
        if report.status == Status.UNREACHABLE:
            continue
        answers = (
            await q.answers_of(session, report.response_id)
            if report.response_id is not None and report.status != Status.INVITED else {}
        )
        found.append(PairReport(report, dict(answers)))
    return found
