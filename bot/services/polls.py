"""Feedback polls: questionnaires in bot/data/polls, asked at a pair's milestones.

A poll is a questionnaire file of the usual format (same engine: typed questions, Back/Skip,
the cursor in the database so a restart resumes at the same question) with one more
top-level key, `milestone`. Two rows hold a poll given to one person about one pair:
- the envelope, `SurveyResponse` (survey_id = the poll's id, membership, pair, milestone;
  unique): sent_at, the one reminder (`reminded_at`), the close (`closed_at`), `due_at`
  (when the poll job looks next: the reminder 2 days after sending, the close 14 days after;
  NULL once answered or closed), `submitted_at`, `satisfaction` (1-10, the KPI) and
  `answers`, a copy of the answers that are not personal (kept after /forget: counts stay);
- the engine's `QuestionnaireResponse`, made when the person opens the poll, with
  stage = "poll:<envelope id>"; it holds every answer (free texts are personal: /forget
  erases them like any questionnaire's).
Messages go out as `PollNotice` values (the view words them and queues them in the outbox
with an idempotency key per person, poll, pair and milestone). Nothing here commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import nudges
from bot.services.errors import NotYoursError, StaleError
from bot.services.nudges import PairCard
from bot.services.questionnaires import DATA_DIR, Catalog, Questionnaire, parse
from db.models import (
    PairStatus,
    ParticipantStatus,
    QuestionnaireResponse,
    ResponseStatus,
    SurveyResponse,
)
from db.queries import audit
from db.queries import participants as q_people
from db.queries import polls as q
from db.queries import reminders as q_members
from db.queries.responses import Response

POLLS_DIR = DATA_DIR.parent / "polls"
STAGE_PREFIX = "poll:"
REMIND_AFTER = dt.timedelta(days=2)
CLOSE_AFTER = dt.timedelta(days=14)
DUE_BATCH = 200
FIT = "fit"
GOOD_FIT, NOT_SURE, NOT_FIT = "good_fit", "not_sure", "not_fit"
SATISFACTION = "satisfaction"
LOW_SATISFACTION = 4  # at or below: the curator is told
LOW_RATING = 2  # a meeting rated 1-2 (of 5): the curator is told
DEFAULT_SATISFIED_FROM = 8
ENDED_PAIR_STATUSES = (PairStatus.ENDED, PairStatus.REJECTED)


class Milestone(StrEnum):
    INTRO = "intro"
    PLANNING = "planning"
    FINAL = "final"
    FIT_AGAIN = "fit-again"  # a "not sure" is asked again after the next meeting
    PROCESS = "process"  # mid-programme, June, December (bot/services/process_polls.py)


class NoticeKind(StrEnum):
    INVITE = "poll_invite"
    REMINDER = "poll_reminder"
    ALERT = "poll_alert"


class Reason(StrEnum):
    NOT_FIT = "not_fit"
    LOW_RATING = "low_rating"
    LOW_SATISFACTION = "low_satisfaction"


@dataclass(frozen=True, slots=True)
class Poll:
    questionnaire: Questionnaire
    milestone: str

    @property
    def id(self) -> str:
        return self.questionnaire.id


@dataclass(frozen=True, slots=True)
class PollNotice:
    """One message for one person; `bot.views.polls` words it."""

    kind: NoticeKind
    key: str
    telegram_id: int
    participant_id: int
    language: str
    organisation_id: int | None
    survey_response_id: int = 0
    poll_id: str = ""
    partner: str = ""  # invitations and reminders: the other side's name
    pair_id: int = 0
    reason: Reason | None = None  # alerts
    value: str = ""  # alerts: the rating given
    role: str = ""  # alerts: which side answered
    card: PairCard | None = None  # alerts: the pair's card


# -- the files --------------------------------------------------------------------------------
def load_polls(directory: Path = POLLS_DIR) -> dict[str, Poll]:
    found: dict[str, Poll] = {}
    for path in sorted(directory.glob("*.yaml")):
        with open(path, encoding="utf-8") as fh:
            raw = yaml.safe_load(fh)
        poll = Poll(parse(raw, path.name), str(raw.get("milestone", "")))
        if poll.milestone not in set(Milestone) or poll.id in found:
            raise ValueError(f"{path.name}: bad milestone or duplicate id")
        found[poll.id] = poll
    return found


@cache
def default_polls() -> dict[str, Poll]:
    return load_polls(POLLS_DIR)


def poll_for(milestone: str, role: str) -> Poll | None:
    """The poll a side answers at a milestone: its role's version, else the common one."""
    polls = [p for p in default_polls().values() if p.milestone == milestone]
    return next((p for p in polls if p.questionnaire.role == role), None) or next(
        (p for p in polls if p.questionnaire.role == "any"), None
    )


def with_polls(catalog: Catalog) -> Catalog:
    """The questionnaires and the polls in one catalog, so the engine's handlers find a poll's
    response. Polls have no forms, so `Catalog.for_role` never picks one."""
    merged = {q.id: q for q in catalog}
    merged.update({p.id: p.questionnaire for p in default_polls().values()})
    return Catalog(merged)


def is_poll_stage(stage: str) -> bool:
    return stage.startswith(STAGE_PREFIX)


def is_poll(questionnaire_id: str) -> bool:
    return questionnaire_id in default_polls()


# -- sending ----------------------------------------------------------------------------------
def _reachable(member: q_members.Member) -> bool:
    return member.telegram_id is not None and member.status != ParticipantStatus.FORGOTTEN


async def ask(
    session: AsyncSession, pair_id: int, membership_id: int, partner_id: int, poll: Poll,
    milestone: str, now: dt.datetime,
) -> PollNotice | None:
    """Give one side a poll about the pair; None when it was given before (or the person
    cannot be reached: the envelope is then recorded as closed, never sent)."""
    if await q.find(session, poll.id, membership_id, pair_id, milestone) is not None:
        return None
    people = await q_members.members(session, [membership_id, partner_id])
    member, partner = people.get(membership_id), people.get(partner_id)
    if member is None:
        return None
    if not _reachable(member):
        session.add(SurveyResponse(
            survey_id=poll.id, survey_version=poll.questionnaire.version,
            membership_id=membership_id, pair_id=pair_id, milestone=milestone, answers={},
            closed_at=now,
        ))
        await session.flush()
        return None
    envelope = SurveyResponse(
        survey_id=poll.id, survey_version=poll.questionnaire.version,
        membership_id=membership_id, pair_id=pair_id, milestone=milestone, answers={},
        sent_at=now, due_at=now + REMIND_AFTER,
    )
    session.add(envelope)
    await session.flush()
    assert member.telegram_id is not None
    return PollNotice(
        NoticeKind.INVITE, f"poll:{poll.id}:{membership_id}:{pair_id}:{milestone}",
        member.telegram_id, member.participant_id, member.language, member.organisation_id,
        survey_response_id=envelope.id, poll_id=poll.id,
        partner=partner.name if partner else "", pair_id=pair_id,
    )


async def ask_both(
    session: AsyncSession, pair_id: int, mentee_id: int, mentor_id: int, milestone: str,
    now: dt.datetime,
) -> list[PollNotice]:
    notices = []
    for member, partner, role in ((mentee_id, mentor_id, "mentee"),
                                  (mentor_id, mentee_id, "mentor")):
        poll = poll_for(milestone.split(":")[0], role)
        if poll is not None and (
            notice := await ask(session, pair_id, member, partner, poll, milestone, now)
        ):
            notices.append(notice)
    return notices


async def last_fit(session: AsyncSession, pair_id: int, membership_id: int) -> str | None:
    """The side's latest answer to "is this a good fit?" about the pair."""
    for envelope in await q.submitted_of(session, pair_id, membership_id):
        if FIT in (envelope.answers or {}):
            return str(envelope.answers[FIT])
    return None


# -- answering --------------------------------------------------------------------------------
async def open_poll(
    session: AsyncSession, survey_response_id: int, participant_id: int | None, now: dt.datetime
) -> tuple[SurveyResponse, int]:
    """The envelope and its engine response (made on first opening) for its addressee."""
    envelope = await q.get(session, survey_response_id) if survey_response_id > 0 else None
    poll = default_polls().get(envelope.survey_id) if envelope is not None else None
    if envelope is None or poll is None:
        raise StaleError("poll_gone")
    membership = await q_people.membership(session, envelope.membership_id)
    if membership is None or participant_id is None or membership.participant_id != participant_id:
        raise NotYoursError("poll_not_yours")
    if envelope.submitted_at is not None:
        raise StaleError("poll_answered")
    if envelope.closed_at is not None:
        raise StaleError("poll_closed")
    if envelope.response_id is None:
        response = QuestionnaireResponse(
            membership_id=envelope.membership_id, questionnaire_id=poll.id,
            questionnaire_version=poll.questionnaire.version,
            stage=f"{STAGE_PREFIX}{envelope.id}", answers=[], started_at=now,
        )
        session.add(response)
        await session.flush()
        envelope.response_id = response.id
        await session.flush()
    return envelope, envelope.response_id


async def submit(
    session: AsyncSession, response: Response, now: dt.datetime,
    answers: Mapping[str, Any] | None = None,
) -> list[PollNotice]:
    """A poll's last answer was given: the envelope is answered; a "not a fit" or a low
    satisfaction tells the curators at once. Repeats return nothing."""
    envelope = await q.of_response(session, response.id)
    poll = default_polls().get(response.questionnaire_id)
    if (envelope is None or poll is None or envelope.submitted_at is not None
            or envelope.closed_at is not None or response.status != ResponseStatus.DONE):
        return []
    if answers is None:
        answers = await q.answers_of(session, response.id)
    kept: dict[str, Any] = {}
    for question in poll.questionnaire.questions:
        if question.id in answers and not question.stores_personal:
            kept[question.id] = answers[question.id]
    envelope.answers = kept
    envelope.submitted_at = now
    envelope.due_at = None
    satisfaction = kept.get(SATISFACTION)
    if isinstance(satisfaction, int):
        envelope.satisfaction = satisfaction
    await session.flush()
    assert envelope.pair_id is not None
    member = (await q_members.members(session, [envelope.membership_id]))[envelope.membership_id]
    source = f"s{envelope.id}"
    if kept.get(FIT) == NOT_FIT:
        audit.record(
            session, actor_id=member.participant_id, organisation_id=member.organisation_id,
            action="pair.not_a_fit", target_type="pair", target_id=envelope.pair_id,
            details={"role": member.role, "poll": poll.id, "milestone": envelope.milestone},
        )
        return await alerts(session, envelope.pair_id, Reason.NOT_FIT, source, now,
                            role=member.role)
    if isinstance(satisfaction, int) and satisfaction <= LOW_SATISFACTION:
        return await alerts(session, envelope.pair_id, Reason.LOW_SATISFACTION, source, now,
                            role=member.role, value=str(satisfaction))
    return []


async def rating_alerts(
    session: AsyncSession, pair_id: int, meeting_id: int, rating: int, now: dt.datetime
) -> list[PollNotice]:
    """A meeting rated 1-2 by the mentee: the curators are told at once."""
    if rating > LOW_RATING:
        return []
    return await alerts(session, pair_id, Reason.LOW_RATING, f"m{meeting_id}", now,
                        role="mentee", value=str(rating))


async def alerts(
    session: AsyncSession, pair_id: int, reason: Reason, source: str, now: dt.datetime, *,
    role: str, value: str = "",
) -> list[PollNotice]:
    org_id = await q_members.organisation_of_pair(session, pair_id)
    if org_id is None:
        return []
    card = await nudges.pair_card(session, pair_id, org_ids=[org_id])
    notices = []
    for curator in await q_people.curators_of(session, org_id):
        if curator.telegram_id is None or curator.status == ParticipantStatus.FORGOTTEN:
            continue
        notices.append(PollNotice(
            NoticeKind.ALERT, f"poll-alert:{reason.value}:{pair_id}:{source}:{curator.id}",
            curator.telegram_id, curator.id, curator.language or "ru", org_id,
            pair_id=pair_id, reason=reason, value=value, role=role, card=card,
        ))
    return notices


# -- the poll job -----------------------------------------------------------------------------
async def due(session: AsyncSession, now: dt.datetime, limit: int = DUE_BATCH) -> list[PollNotice]:
    """One reminder 2 days after sending if unanswered; closed 14 days after sending."""
    notices = []
    for envelope in await q.due(session, now, limit):
        sent = envelope.sent_at or now
        if envelope.submitted_at is not None or envelope.closed_at is not None:
            envelope.due_at = None
        elif envelope.reminded_at is None and now < sent + CLOSE_AFTER:
            envelope.reminded_at = now
            envelope.due_at = sent + CLOSE_AFTER
            notice = await _reminder(session, envelope)
            if notice is not None:
                notices.append(notice)
            elif await _pair_over(session, envelope):
                envelope.closed_at, envelope.due_at = now, None  # ended: nothing to remind
        else:
            envelope.closed_at = now
            envelope.due_at = None
    await session.flush()
    return notices


async def _pair_over(session: AsyncSession, envelope: SurveyResponse) -> bool:
    pairs = await q_members.pairs_by_id(session, [envelope.pair_id or 0])
    return not pairs or pairs[0].status in ENDED_PAIR_STATUSES


async def _reminder(session: AsyncSession, envelope: SurveyResponse) -> PollNotice | None:
    """The reminder; None when the person cannot be reached or the pair was ended (a poll
    about an ended pair is not chased)."""
    assert envelope.pair_id is not None
    pair = await q_members.pairs_by_id(session, [envelope.pair_id])
    if not pair or pair[0].status in ENDED_PAIR_STATUSES:
        return None
    partner_id = next(
        (p.mentor_id if p.mentee_id == envelope.membership_id else p.mentee_id for p in pair), 0
    )
    people = await q_members.members(session, [envelope.membership_id, partner_id])
    member = people.get(envelope.membership_id)
    if member is None or not _reachable(member):
        return None
    assert member.telegram_id is not None
    partner = people.get(partner_id)
    return PollNotice(
        NoticeKind.REMINDER, f"poll-remind:{envelope.id}", member.telegram_id,
        member.participant_id, member.language, member.organisation_id,
        survey_response_id=envelope.id, poll_id=envelope.survey_id,
        partner=partner.name if partner else "", pair_id=envelope.pair_id,
    )


# -- what the curator reads -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PairPoll:
    """One side's poll about the pair, as the curator's card shows it."""

    poll: Poll
    role: str
    milestone: str
    sent_at: dt.datetime | None
    submitted_at: dt.datetime | None
    closed: bool
    answers: Mapping[str, Any]


async def pair_polls(
    session: AsyncSession, pair_id: int, *, org_ids: Collection[int]
) -> tuple[PairCard, list[PairPoll]]:
    card = await nudges.pair_card(session, pair_id, org_ids=org_ids)
    envelopes = await q.of_pair(session, pair_id)
    people = await q_members.members(session, {e.membership_id for e in envelopes})
    found = []
    for envelope in envelopes:
        poll = default_polls().get(envelope.survey_id)
        if poll is None:
            continue
        answers: dict[str, Any] = dict(envelope.answers or {})
        if envelope.response_id is not None:
            answers.update(await q.answers_of(session, envelope.response_id))
        member = people.get(envelope.membership_id)
        found.append(PairPoll(
            poll, member.role if member else "", envelope.milestone or "", envelope.sent_at,
            envelope.submitted_at, envelope.closed_at is not None, answers,
        ))
    return card, found


@dataclass(frozen=True, slots=True)
class Satisfaction:
    answered: int
    satisfied: int
    threshold: int

    @property
    def share(self) -> float:
        return self.satisfied / self.answered if self.answered else 0.0


def satisfied_count(
    values: Sequence[int], threshold: int = DEFAULT_SATISFIED_FROM
) -> Satisfaction:
    """"Satisfied" = an overall satisfaction of `threshold`-10 (8-10 unless the organisation
    sets another threshold, organisations.satisfied_from)."""
    return Satisfaction(len(values), sum(1 for v in values if v >= threshold), threshold)


async def satisfaction(
    session: AsyncSession, programme_ids: Sequence[int], threshold: int
) -> Satisfaction:
    return satisfied_count(await q.satisfaction_of(session, programme_ids), threshold)


async def satisfaction_by_org(
    session: AsyncSession, org_ids: Sequence[int]
) -> list[tuple[str, Satisfaction]]:
    """Each organisation's satisfied share, by its own threshold (name, counts)."""
    values = await q.satisfaction_by_org(session, org_ids)
    orgs = await q_members.organisations(session, org_ids)
    return [
        (org.name, satisfied_count(values.get(org.id, []), org.satisfied_from))
        for org in sorted(orgs.values(), key=lambda o: o.id)
    ]
