"""The mentor journal: a meeting logged by the pair's mentor, confirmed and rated by the
mentee(s).

Who may act is checked on every call from the presser's Telegram id: only the mentor of the
meeting's pair logs it, only a mentee with a feedback request answers it. A repeated press
(the same answer again) changes nothing and says so; a press on a meeting that moved on
(cancelled, already logged the other way) is stale.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from bot.ids import valid_id
from bot.services import polls
from bot.services.errors import NotYoursError, ServiceError, StaleError
from bot.services.stages import StageChange, advance_on_held
from db.models import (
    ACTIVE_PAIR_STATUSES,
    Meeting,
    MeetingFeedback,
    MeetingStatus,
    Organisation,
    Pair,
    Participant,
)
from db.queries import journal as q
from db.queries import plans as q_plans

TEXT_MAX = 1000  # topics, next steps
MINUTES = (5, 600)  # the schema's bounds on a meeting's length
PROGRESS_STEPS = (0, 25, 50, 75, 100)


class Outcome(StrEnum):
    DONE = "done"
    REPEATED = "repeated"  # the same answer was given before: nothing changed


@dataclass(frozen=True, slots=True)
class FeedbackAsk:
    """A mentee to ask "did it take place? rate it" (sent through the outbox)."""

    meeting_id: int
    membership_id: int
    participant_id: int
    chat_id: int
    language: str
    organisation_id: int


@dataclass(slots=True)
class LogResult:
    meeting: Meeting
    outcome: Outcome
    stage: StageChange | None = None
    asks: list[FeedbackAsk] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class MeetingContext:
    """A meeting with what its messages need: the pair, the organisation, the mentor."""

    meeting: Meeting
    pair: Pair
    organisation: Organisation
    mentor: Participant


async def context_of(session: AsyncSession, meeting_id: int) -> MeetingContext | None:
    meeting = await q.meeting(session, meeting_id) if valid_id(meeting_id) else None
    if meeting is None:
        return None
    pair = await session.get(Pair, meeting.pair_id)
    if pair is None:
        return None
    mentor = await q.person_of(session, pair.mentor_membership_id)
    if mentor is None:
        return None
    return MeetingContext(meeting, pair, await q.organisation_of(session, pair), mentor)


async def mentors_meeting(
    session: AsyncSession, meeting_id: int, telegram_id: int
) -> MeetingContext:
    """The meeting, if the presser is its pair's mentor; else a refusal."""
    found = await context_of(session, meeting_id)
    if found is None:
        raise StaleError("journal_meeting_gone")
    if found.mentor.telegram_id != telegram_id:
        raise NotYoursError("journal_not_yours")
    return found


def _check_loggable(meeting: Meeting, now: dt.datetime) -> None:
    if meeting.status == MeetingStatus.CANCELLED or meeting.status == MeetingStatus.PROPOSED:
        raise StaleError("journal_meeting_gone")
    if meeting.starts_at > now:
        raise ServiceError("journal_not_yet")


async def start_log(
    session: AsyncSession, meeting_id: int, telegram_id: int, now: dt.datetime
) -> MeetingContext:
    """The mentor pressed "held": may they fill the entry in now?"""
    found = await mentors_meeting(session, meeting_id, telegram_id)
    _check_loggable(found.meeting, now)
    if found.meeting.status in (MeetingStatus.HELD, MeetingStatus.NOT_HELD):
        raise StaleError("journal_already_logged")
    return found


async def log_not_held(
    session: AsyncSession, meeting_id: int, telegram_id: int, now: dt.datetime
) -> LogResult:
    found = await mentors_meeting(session, meeting_id, telegram_id)
    meeting = found.meeting
    _check_loggable(meeting, now)
    if meeting.status == MeetingStatus.NOT_HELD:
        return LogResult(meeting, Outcome.REPEATED)
    if meeting.status == MeetingStatus.HELD:
        raise StaleError("journal_already_logged")
    meeting.status = MeetingStatus.NOT_HELD
    meeting.logged_at = now
    meeting.logged_by = found.mentor.id
    await session.flush()
    return LogResult(meeting, Outcome.DONE)


def check_minutes(value: int) -> int:
    if not MINUTES[0] <= value <= MINUTES[1]:
        raise ServiceError("journal_minutes", low=MINUTES[0], high=MINUTES[1])
    return value


def check_text(value: str) -> str:
    text = value.strip()
    if not text:
        raise ServiceError("journal_text_empty")
    if len(text) > TEXT_MAX:
        raise ServiceError("journal_text_long", limit=TEXT_MAX)
    return text


async def log_held(
    session: AsyncSession,
    meeting_id: int,
    telegram_id: int,
    now: dt.datetime,
    *,
    minutes: int,
    topics: str,
    next_steps: str | None,
    goal_progress: dict[int, int] | None = None,
) -> LogResult:
    """Record a held meeting, mark the plan's progress, move the pair's stage, and name the
    mentees to ask for confirmation (their feedback rows are requested now)."""
    found = await mentors_meeting(session, meeting_id, telegram_id)
    meeting = found.meeting
    _check_loggable(meeting, now)
    if meeting.status == MeetingStatus.HELD:
        return LogResult(meeting, Outcome.REPEATED)
    if meeting.status == MeetingStatus.NOT_HELD:
        raise StaleError("journal_already_logged")
    progress = await _apply_progress(session, found.pair.id, goal_progress or {}, now)
    meeting.status = MeetingStatus.HELD
    meeting.logged_at = now
    meeting.logged_by = found.mentor.id
    meeting.actual_minutes = check_minutes(minutes)
    meeting.topics = check_text(topics)
    meeting.next_steps = check_text(next_steps) if next_steps else None
    meeting.goal_progress = {str(k): v for k, v in progress.items()} or None
    stage = await advance_on_held(session, meeting, found.mentor.id, now)
    asks = await _request_feedback(session, meeting, found.organisation.id, now)
    await session.flush()
    return LogResult(meeting, Outcome.DONE, stage, asks)


async def _apply_progress(
    session: AsyncSession, pair_id: int, marks: dict[int, int], now: dt.datetime
) -> dict[int, int]:
    """Progress marks on goals of this pair's plan; marks on other goals are dropped."""
    if not marks:
        return {}
    plan = await q_plans.of_pair(session, pair_id)
    goals = {g.id: g for g in plan.goals} if plan else {}
    applied: dict[int, int] = {}
    for goal_id, percent in marks.items():
        goal = goals.get(goal_id)
        if goal is None or percent not in PROGRESS_STEPS:
            continue
        goal.progress = percent
        goal.done_at = (goal.done_at or now) if percent == 100 else None
        applied[goal_id] = percent
    return applied


async def _request_feedback(
    session: AsyncSession, meeting: Meeting, organisation_id: int, now: dt.datetime
) -> list[FeedbackAsk]:
    asks = []
    for pair in await q.pairs_of_meeting(session, meeting):
        if pair.status not in ACTIVE_PAIR_STATUSES:
            continue
        row = await q.feedback_row(session, meeting.id, pair.mentee_membership_id)
        if row is None:
            row = MeetingFeedback(meeting_id=meeting.id, membership_id=pair.mentee_membership_id)
            session.add(row)
        if row.requested_at is not None:
            continue
        row.requested_at = now
        mentee = await q.person_of(session, pair.mentee_membership_id)
        if mentee is None or mentee.telegram_id is None:
            continue
        asks.append(FeedbackAsk(meeting.id, pair.mentee_membership_id, mentee.id,
                                mentee.telegram_id, mentee.language, organisation_id))
    return asks


async def _menteed_row(
    session: AsyncSession, meeting_id: int, membership_id: int, telegram_id: int
) -> MeetingFeedback:
    """The feedback row, if it was asked of this presser."""
    if not (valid_id(meeting_id) and valid_id(membership_id)):
        raise StaleError("journal_meeting_gone")
    row = await q.feedback_row(session, meeting_id, membership_id)
    if row is None or row.requested_at is None:
        raise StaleError("journal_meeting_gone")
    person = await q.person_of(session, membership_id)
    if person is None or person.telegram_id != telegram_id:
        raise NotYoursError("journal_not_yours")
    return row


async def confirm(
    session: AsyncSession, meeting_id: int, membership_id: int, telegram_id: int,
    took_place: bool, now: dt.datetime,
) -> tuple[MeetingFeedback, Outcome]:
    """The mentee says whether the meeting took place (a change of mind is allowed until a
    rating is given)."""
    row = await _menteed_row(session, meeting_id, membership_id, telegram_id)
    if row.took_place is took_place:
        return row, Outcome.REPEATED
    if row.rating is not None:
        raise StaleError("journal_already_rated")
    row.took_place = took_place
    row.answered_at = now
    await session.flush()
    return row, Outcome.DONE


async def rate(
    session: AsyncSession, meeting_id: int, membership_id: int, telegram_id: int,
    rating: int, now: dt.datetime,
) -> tuple[MeetingFeedback, Outcome]:
    if not 1 <= rating <= 5:
        raise StaleError("journal_meeting_gone")
    row = await _menteed_row(session, meeting_id, membership_id, telegram_id)
    if row.rating is not None:
        return row, Outcome.REPEATED
    if row.took_place is not True:
        raise StaleError("journal_meeting_gone")
    row.rating = rating
    row.answered_at = now
    await session.flush()
    return row, Outcome.DONE


async def low_rating_alerts(
    session: AsyncSession, row: MeetingFeedback, now: dt.datetime
) -> list[polls.PollNotice]:
    """A meeting rated 1-2 tells the pair's curators at once (bot/services/polls)."""
    if row.rating is None or row.rating > polls.LOW_RATING:
        return []
    meeting = await q.meeting(session, row.meeting_id)
    pairs = await q.pairs_of_meeting(session, meeting) if meeting is not None else []
    pair = next((p for p in pairs if p.mentee_membership_id == row.membership_id), None)
    if pair is None:
        return []
    return await polls.rating_alerts(session, pair.id, row.meeting_id, row.rating, now)


# -- who reads a pair's journal and plan ------------------------------------------------------
class Side(StrEnum):
    MENTOR = "mentor"
    MENTEE = "mentee"
    CURATOR = "curator"  # reads only


async def own_pairs(
    session: AsyncSession, participant: Participant | None
) -> list[tuple[Pair, Side]]:
    """The person's own pairs (working, finished or ended), as mentor or mentee."""
    if participant is None:
        return []
    return [(pair, Side(role)) for pair, role in await q.pairs_of_person(session, participant.id)]


async def pair_for(
    session: AsyncSession, participant: Participant | None, pair_id: int,
    curator_org_ids: list[int],
) -> tuple[Pair, Side]:
    """A pair the person may read: their own (as a side), or one of a curated organisation."""
    for pair, side in await own_pairs(session, participant):
        if pair.id == pair_id:
            return pair, side
    if valid_id(pair_id) and curator_org_ids:
        found = await session.get(Pair, pair_id)
        if found is not None and found.status in q.JOURNAL_PAIR_STATUSES:
            org = await q.organisation_of(session, found)
            if org.id in curator_org_ids:
                return found, Side.CURATOR
    raise ServiceError("journal_pair_unknown", id=pair_id)
