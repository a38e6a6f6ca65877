"""Closing the cycle: after the final meeting, the exit self-assessment, the final reports
of both sides (the mentee's with attachments), the curator's review, and /complete.

The reports are questionnaire files (bot/data/reports, our own design) driven by the same
engine; a report is a QuestionnaireResponse with stage `final:<pair id>` (one per side and
pair), the curator's review stage `review:<pair id>`, the exit self-assessment the
assessment questionnaire with stage `exit` (one per membership, as the entry one).

The milestone dispatcher calls `on_final` once a pair reaches FINAL (its final meeting
logged as held); it queues the invitations through the outbox, one key per (person, item,
pair), so a repeated call is harmless.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import answering
from bot.services.answering import Cursor
from bot.services.errors import NotYoursError, ServiceError
from bot.services.questionnaires import Catalog, Questionnaire, load_dir
from db.models import (
    ACTIVE_PAIR_STATUSES,
    Attachment,
    Membership,
    MembershipStatus,
    Pair,
    PairEvent,
    PairStatus,
    ParticipantStatus,
    QuestionnaireResponse,
    ResponseStatus,
    Role,
)
from db.queries import audit
from db.queries import closing as q
from db.queries import participants as q_people

REPORTS_DIR = Path(__file__).resolve().parent.parent / "data" / "reports"
REPORT_IDS: Mapping[str, str] = {Role.MENTEE: "report-mentee", Role.MENTOR: "report-mentor"}
REVIEW_ID = "review-curator"
MONITOR_ID = "monitoring-curator"
REPORT_PREFIX = q.REPORT_PREFIX
REVIEW_PREFIX = q.REVIEW_PREFIX
MONITOR_PREFIX = q.MONITOR_PREFIX
# The pair's stages from which the closing items may be filled in.
CLOSING_STATUSES = (PairStatus.FINAL, PairStatus.COMPLETED)


class Item(StrEnum):
    EXIT = "exit"
    REPORT = "report"
    REVIEW = "review"


class Missing(StrEnum):
    FINAL_MEETING = "final_meeting"
    MENTEE_REPORT = "mentee_report"
    MENTOR_REPORT = "mentor_report"


def full_catalog(directory: Path) -> Catalog:
    """The questionnaires of `directory` and the closing reports, in one catalog."""
    return Catalog({**load_dir(directory), **load_dir(REPORTS_DIR)})


def report_stage(pair_id: int) -> str:
    return f"{REPORT_PREFIX}{pair_id}"


def review_stage(pair_id: int) -> str:
    return f"{REVIEW_PREFIX}{pair_id}"


def monitor_stage(programme_id: int) -> str:
    return f"{MONITOR_PREFIX}{programme_id}"


def pair_of_stage(stage: str) -> int | None:
    for prefix in (REPORT_PREFIX, REVIEW_PREFIX):
        if stage.startswith(prefix) and stage[len(prefix):].isdigit():
            return int(stage[len(prefix):])
    return None


def is_closing_stage(stage: str) -> bool:
    return (
        stage == answering.EXIT or pair_of_stage(stage) is not None
        or stage.startswith(MONITOR_PREFIX)
    )


# -- the invitations after the final meeting ----------------------------------------------------
@dataclass(frozen=True, slots=True)
class Invitation:
    item: Item
    chat_id: int
    language: str
    participant_id: int
    organisation_id: int
    target_id: int  # EXIT: the membership; REPORT, REVIEW: the pair
    pair_id: int
    key: str
    partner: str | None = None  # the other side's name (a report), for a mentor of several


async def invitations(session: AsyncSession, pair_id: int) -> list[Invitation]:
    """Who is asked what once the pair reached FINAL (reachable people only)."""
    pair = await session.get(Pair, pair_id)
    if pair is None or pair.status not in CLOSING_STATUSES:
        return []
    found: list[Invitation] = []
    sides = [
        await q_people.membership(session, membership_id)
        for membership_id in (pair.mentee_membership_id, pair.mentor_membership_id)
    ]
    organisation_id = next((m.organisation_id for m in sides if m is not None), 0)
    for member, other in ((sides[0], sides[1]), (sides[1], sides[0])):
        if member is None:
            continue
        person = member.participant
        partner = other.participant.full_name if other is not None else None
        if person.telegram_id is None or person.status == ParticipantStatus.FORGOTTEN:
            continue
        common = (person.telegram_id, person.language, person.id, member.organisation_id)
        if answering.EXIT not in await q.done_stages(session, member.id, [answering.EXIT]):
            found.append(Invitation(Item.EXIT, *common, member.id, pair.id,
                                    f"close:exit:{member.id}"))
        found.append(Invitation(Item.REPORT, *common, pair.id, pair.id,
                                f"close:report:{member.id}:{pair.id}", partner))
    for curator in await q.curator_memberships(session, organisation_id):
        person = curator.participant
        if person.telegram_id is None:
            continue
        found.append(Invitation(Item.REVIEW, person.telegram_id, person.language, person.id,
                                organisation_id, pair.id, pair.id,
                                f"close:review:{curator.id}:{pair.id}"))
    return found


async def on_final(session: AsyncSession, pair_id: int, now: dt.datetime) -> None:
    """Queue the closing invitations of a pair that reached FINAL (idempotent)."""
    from bot.views import closing as views  # the texts live in the views

    for invitation in await invitations(session, pair_id):
        await views.enqueue_invitation(session, invitation, now)


# -- filling the items in --------------------------------------------------------------------
async def own_membership(session: AsyncSession, pair: Pair, participant_id: int) -> Membership:
    """The presser's side of the pair; NotYours for anyone else."""
    for membership_id in (pair.mentee_membership_id, pair.mentor_membership_id):
        member = await q_people.membership(session, membership_id)
        if member is not None and member.participant_id == participant_id:
            return member
    raise NotYoursError("closing_not_yours")


async def curator_membership(
    session: AsyncSession, organisation_id: int, participant_id: int
) -> Membership:
    for member in await q.curator_memberships(session, organisation_id):
        if member.participant_id == participant_id:
            full = await q_people.membership(session, member.id)
            assert full is not None
            return full
    raise NotYoursError("closing_not_yours")


async def start(
    session: AsyncSession,
    catalog: Catalog,
    membership: Membership,
    questionnaire_id: str,
    stage: str,
    *,
    consent_version: int,
) -> Cursor:
    """Start or resume a report or review (the engine's cursor, as for any questionnaire)."""
    await answering.require_consent(session, membership, consent_version)
    questionnaire = catalog.get(questionnaire_id)
    if questionnaire is None:
        raise ServiceError("response_missing")
    response = await q.response(session, membership.id, questionnaire.id, stage)
    if response is None:
        response = QuestionnaireResponse(
            membership_id=membership.id, questionnaire_id=questionnaire.id,
            questionnaire_version=questionnaire.version, stage=stage, answers=[],
        )
        session.add(response)
        await session.flush()
    found = await answering.find(session, catalog, response.id)
    assert found is not None
    return found[0]


def report_for(catalog: Catalog, membership: Membership) -> Questionnaire:
    found = catalog.get(REPORT_IDS.get(membership.role, ""))
    if found is None:
        raise ServiceError("response_missing")
    return found


# -- the pair's reports for its curator -----------------------------------------------------
@dataclass(frozen=True, slots=True)
class Section:
    """One report or review of a pair: its questionnaire, the answers (None: not filled in
    yet), and the files attached to it."""

    questionnaire: Questionnaire
    answers: dict[str, Any] | None
    files: tuple[Attachment, ...] = ()


async def pair_reports(session: AsyncSession, catalog: Catalog, pair: Pair) -> list[Section]:
    wanted = [
        (pair.mentee_membership_id, REPORT_IDS[Role.MENTEE], report_stage(pair.id)),
        (pair.mentor_membership_id, REPORT_IDS[Role.MENTOR], report_stage(pair.id)),
    ]
    sections = []
    for membership_id, questionnaire_id, stage in wanted:
        questionnaire = catalog.get(questionnaire_id)
        if questionnaire is None:
            continue
        found = await q.response(session, membership_id, questionnaire_id, stage)
        done = found is not None and found.status == ResponseStatus.DONE
        files = tuple(await q.attachments_of(session, found.id)) if found and done else ()
        answers = {a.question_id: a.value for a in found.answers} if found and done else None
        sections.append(Section(questionnaire, answers, files))
    review = catalog.get(REVIEW_ID)
    if review is not None:
        for found in await q.responses_of_stage(session, REVIEW_ID, review_stage(pair.id)):
            answers = {a.question_id: a.value for a in found.answers}
            sections.append(Section(review, answers))
    return sections


# -- entry vs exit ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Change:
    question_id: str
    label: Mapping[str, str]
    entry: int | None
    exit: int | None

    @property
    def delta(self) -> int | None:
        return None if self.entry is None or self.exit is None else self.exit - self.entry


async def assessment_change(
    session: AsyncSession, catalog: Catalog, membership_id: int
) -> list[Change]:
    """Each scale of the self-assessment: the entry answer and the exit one."""
    questionnaire = catalog.assessment()
    values: dict[str, dict[str, Any]] = {}
    for stage in (answering.ENTRY, answering.EXIT):
        found = await q.response(session, membership_id, questionnaire.id, stage)
        values[stage] = (
            {a.question_id: a.value for a in found.answers} if found is not None else {}
        )
    changes = []
    for question in questionnaire.questions:
        if question.type != "scale":
            continue
        before = values[answering.ENTRY].get(question.id)
        after = values[answering.EXIT].get(question.id)
        changes.append(Change(
            question.id, question.label,
            before if isinstance(before, int) else None,
            after if isinstance(after, int) else None,
        ))
    return changes


# -- completing -------------------------------------------------------------------------------
@dataclass(slots=True)
class Readiness:
    pair: Pair
    missing: list[Missing] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.missing


async def readiness(session: AsyncSession, pair: Pair) -> Readiness:
    result = Readiness(pair)
    if not await q.final_held(session, pair):
        result.missing.append(Missing.FINAL_MEETING)
    stage = report_stage(pair.id)
    for membership_id, missing in (
        (pair.mentee_membership_id, Missing.MENTEE_REPORT),
        (pair.mentor_membership_id, Missing.MENTOR_REPORT),
    ):
        if stage not in await q.done_stages(session, membership_id, [stage]):
            result.missing.append(missing)
    return result


class Outcome(StrEnum):
    COMPLETED = "completed"
    OVERRIDDEN = "overridden"
    ALREADY = "already"


@dataclass(frozen=True, slots=True)
class Completion:
    pair_id: int
    outcome: Outcome
    missing: tuple[Missing, ...] = ()


async def complete(
    session: AsyncSession,
    pair_id: int,
    *,
    actor_id: int | None,
    organisation_id: int,
    now: dt.datetime,
    reason: str | None = None,
) -> Completion:
    """Mark the pair's full cycle done. Without a reason everything must be in; with one
    (a typed override) whatever is missing is recorded in the audit log."""
    pair = await session.get(Pair, pair_id, populate_existing=True)
    if pair is None:
        raise ServiceError("closing_no_pair")
    if pair.status == PairStatus.COMPLETED:
        return Completion(pair.id, Outcome.ALREADY)
    if pair.status not in ACTIVE_PAIR_STATUSES:
        raise ServiceError("closing_not_active")
    state = await readiness(session, pair)
    if not state.ready and not (reason and reason.strip()):
        raise ServiceError("closing_not_ready")
    session.add(PairEvent(pair_id=pair.id, from_status=pair.status,
                          to_status=PairStatus.COMPLETED, actor_id=actor_id, at=now))
    pair.status = PairStatus.COMPLETED
    for membership_id in (pair.mentee_membership_id, pair.mentor_membership_id):
        member = await session.get(Membership, membership_id)
        assert member is not None
        if member.full_cycle_at is None:
            member.full_cycle_at = now
            member.full_cycle_by = actor_id
        if member.role == Role.MENTOR and member.load > 0:
            member.load -= 1
        if member.status == MembershipStatus.PAIRED and (
            member.role == Role.MENTEE or member.load == 0
        ):
            member.status = MembershipStatus.COMPLETED
    overridden = not state.ready
    details: dict[str, Any] = {"missing": [m.value for m in state.missing]}
    if overridden:
        details["reason"] = (reason or "").strip()[:500]
    audit.record(
        session, actor_id=actor_id, organisation_id=organisation_id,
        action=q.OVERRIDE_ACTION if overridden else "pair.complete",
        target_type="pair", target_id=pair.id, details=details,
    )
    await session.flush()
    return Completion(
        pair.id, Outcome.OVERRIDDEN if overridden else Outcome.COMPLETED, tuple(state.missing)
    )


async def pairs_of_member(session: AsyncSession, membership_id: int) -> list[Pair]:
    """A participant's pairs that /complete #<membership> may close (active ones)."""
    return [
        p for p in await q.pairs_of(session, membership_id)
        if p.status in (*ACTIVE_PAIR_STATUSES, PairStatus.COMPLETED)
    ]
