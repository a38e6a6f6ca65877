"""Withdrawal of consent (/forget): personal data goes, aggregated counts stay."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import broadcast
from db.fsm_storage import forget_dialogs
from db.models import (
    ACTIVE_PAIR_STATUSES,
    Answer,
    Consent,
    ConsentDecision,
    ConsentKind,
    Membership,
    MembershipStatus,
    OutboxMessage,
    OutboxStatus,
    Pair,
    PairEvent,
    PairStatus,
    Participant,
    ParticipantStatus,
    QuestionnaireResponse,
    Role,
)
from db.queries import audit
from db.queries import closing as q_closing
from db.queries import journal as q_journal
from db.queries import meetings as q_meetings
from db.queries import participants as q_people
from db.queries import quarterly as q_quarterly


@dataclass(frozen=True, slots=True)
class PartnerNotice:
    """The other side of a pair that ended: told it ended, nothing about the leaver."""

    chat_id: int
    language: str
    pair_id: int
    membership_id: int


@dataclass(frozen=True, slots=True)
class CuratorNotice:
    """A curator of an organisation the person left, told their numbers there."""

    chat_id: int
    language: str
    curator_id: int
    organisation_id: int


@dataclass(slots=True)
class Forgotten:
    participant_id: int = 0
    closed_pairs: list[Pair] = field(default_factory=list)
    organisation_ids: set[int] = field(default_factory=set)
    memberships: dict[int, list[int]] = field(default_factory=dict)  # organisation -> ids
    partners: list[PartnerNotice] = field(default_factory=list)
    curators: list[CuratorNotice] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # storage keys of attachments to delete

    def numbers(self, organisation_id: int) -> str:
        """The person's numbers as the organisation's curators know them (membership ids)."""
        return ", #".join(str(i) for i in self.memberships.get(organisation_id, [])) or "—"


async def forget(
    session: AsyncSession, participant: Participant, *, now: dt.datetime, version: int
) -> Forgotten:
    result = Forgotten(participant_id=participant.id)
    names = [
        n for n in (participant.full_name, participant.tg_first_name, participant.tg_username) if n
    ]
    memberships = list(
        (
            await session.execute(
                select(Membership).where(Membership.participant_id == participant.id)
            )
        ).scalars()
    )
    membership_ids = [m.id for m in memberships]

    if membership_ids:
        response_ids = select(QuestionnaireResponse.id).where(
            QuestionnaireResponse.membership_id.in_(membership_ids)
        )
        await session.execute(
            delete(Answer).where(
                Answer.response_id.in_(response_ids), Answer.is_personal.is_(True)
            )
        )
        # Report attachments (the portfolio): rows now, the files once this commits.
        result.files = await q_closing.forget_attachments(session, membership_ids)
        await q_closing.erase_pair_texts(session, membership_ids)  # reports, reviews
        # Quarterly reports on the person's pairs and the curators' comments on them.
        await q_quarterly.erase_texts(session, membership_ids, participant.id)
        # The journal's and the plan's free texts of the person's pairs (both sides wrote them).
        await q_journal.erase_texts_of(session, membership_ids)
        result.closed_pairs = await _close_pairs(session, membership_ids, participant.id, now)

    for membership in memberships:
        result.organisation_ids.add(membership.organisation_id)
        result.memberships.setdefault(membership.organisation_id, []).append(membership.id)
        membership.is_disabled_student = False  # the ОВЗ mark is personal (health) data
        if membership.status != MembershipStatus.DECLINED:
            membership.status = MembershipStatus.WITHDRAWN
        session.add(
            Consent(
                participant_id=participant.id,
                organisation_id=membership.organisation_id,
                membership_id=membership.id,
                kind=ConsentKind.SELF,
                decision=ConsentDecision.WITHDRAWN,
                version=version,
            )
        )
        audit.record(
            session, actor_id=participant.id, organisation_id=membership.organisation_id,
            action="consent.withdraw", target_type="membership", target_id=membership.id,
        )
    await session.execute(
        update(Consent)
        .where(Consent.participant_id == participant.id)
        .values(guardian_telegram_id=None)
    )

    if participant.telegram_id is not None:
        await forget_dialogs(session, participant.telegram_id)
        await session.execute(
            delete(OutboxMessage).where(
                OutboxMessage.chat_id == participant.telegram_id,
                OutboxMessage.status != OutboxStatus.SENT,
            )
        )
    await _drop_queued_mentions(session, names)
    await q_meetings.forget_places(session, participant.id)  # free text they typed
    await broadcast.drop_drafts(session, created_by=participant.id)  # a curator's own texts
    await q_closing.erase_override_reasons(session, participant.id)  # reasons they typed
    if not membership_ids:  # a curator's comments on quarterly reports (else done above)
        await q_quarterly.erase_texts(session, [], participant.id)
    result.partners = await _partners(session, result.closed_pairs, membership_ids)

    participant.full_name = None
    participant.tg_first_name = None
    participant.tg_username = None
    participant.contact = None
    participant.telegram_id = None
    participant.share_contacts = False
    participant.status = ParticipantStatus.FORGOTTEN
    participant.forgotten_at = now
    participant.paused_until = None
    participant.pause_reason = None
    result.curators = await _curators(session, participant.id, result.organisation_ids)
    return result


async def _close_pairs(
    session: AsyncSession, membership_ids: list[int], actor_id: int, now: dt.datetime
) -> list[Pair]:
    pairs = list(
        (
            await session.execute(
                select(Pair).where(
                    (Pair.mentor_membership_id.in_(membership_ids))
                    | (Pair.mentee_membership_id.in_(membership_ids)),
                    Pair.status.in_([*ACTIVE_PAIR_STATUSES, PairStatus.PROPOSED]),
                )
            )
        ).scalars()
    )
    for pair in pairs:
        was_active = pair.status in ACTIVE_PAIR_STATUSES
        new_status = PairStatus.ENDED if was_active else PairStatus.REJECTED
        session.add(PairEvent(pair_id=pair.id, from_status=pair.status, to_status=new_status,
                              actor_id=actor_id, at=now))
        pair.status = new_status
        pair.decided_at = pair.decided_at or now
        if was_active:
            await session.execute(
                update(Membership)
                .where(Membership.id == pair.mentor_membership_id, Membership.load > 0)
                .values(load=Membership.load - 1)
            )
            others = [
                m for m in (pair.mentor_membership_id, pair.mentee_membership_id)
                if m not in membership_ids
            ]
            await session.execute(
                update(Membership)
                .where(
                    Membership.id.in_(others),
                    Membership.status == MembershipStatus.PAIRED,
                    (Membership.role == Role.MENTEE) | (Membership.load == 0),
                )
                .values(status=MembershipStatus.IN_BASE)
            )
    return [p for p in pairs if p.status == PairStatus.ENDED]


async def _partners(
    session: AsyncSession, pairs: list[Pair], leaver_ids: list[int]
) -> list[PartnerNotice]:
    """Whom to tell that their pair ended: the other side of each ended pair."""
    notices = []
    for pair in pairs:
        for membership_id in (pair.mentee_membership_id, pair.mentor_membership_id):
            if membership_id in leaver_ids:
                continue
            other = await session.get(Participant, (
                await session.execute(
                    select(Membership.participant_id).where(Membership.id == membership_id)
                )
            ).scalar_one())
            if other is None or other.telegram_id is None:
                continue
            notices.append(
                PartnerNotice(other.telegram_id, other.language, pair.id, membership_id)
            )
    return notices


async def _curators(
    session: AsyncSession, leaver_id: int, organisation_ids: set[int]
) -> list[CuratorNotice]:
    notices = []
    for organisation_id in organisation_ids:
        for curator in await q_people.curators_of(session, organisation_id):
            if curator.telegram_id is None or curator.id == leaver_id:
                continue
            notices.append(
                CuratorNotice(curator.telegram_id, curator.language, curator.id, organisation_id)
            )
    return notices


async def _drop_queued_mentions(session: AsyncSession, names: list[str]) -> None:
    """Undelivered messages to others that name the person (e.g. an introduction)."""
    if not names:
        return
    pending = (
        await session.execute(
            select(OutboxMessage).where(OutboxMessage.status != OutboxStatus.SENT)
        )
    ).scalars()
    for message in pending:
        text = (message.payload or {}).get("text", "")
        if any(name in text for name in names):
            await session.delete(message)
