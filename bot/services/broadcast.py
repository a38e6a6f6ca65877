"""A curator's announcement to a segment of an organisation's participants.

A draft (Broadcast, status draft) is made at the preview, with its text and recipient
count; Confirm moves it to "sending" exactly once (a conditional UPDATE: a second tap finds
it sending) and queues one outbox row per recipient (batch "bc:<id>") in bulk. The progress
is a count of the batch's rows by status; when none is pending or sending, the broadcast is
done and its text is erased. Paused people are left out (they hear nothing until the pause
ends); people who blocked the bot are counted as unreachable when the sender parks them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.ids import valid_id
from bot.services.errors import ServiceError, StaleError
from db.models import (
    ACTIVE_PAIR_STATUSES,
    Broadcast,
    BroadcastStatus,
    Form,
    Meeting,
    MeetingStatus,
    Membership,
    MembershipStatus,
    OutboxStatus,
    Pair,
    Participant,
    ParticipantStatus,
    Programme,
    Role,
)
from db.queries import reminders as q

ALL, MENTORS, MENTEES, IDLE = "all", "mentors", "mentees", "idle"
FORM_PREFIX = "f:"
IDLE_DAYS = 14
MAX_TEXT = 3500
LIVE = (
    MembershipStatus.QUESTIONNAIRE, MembershipStatus.IN_BASE, MembershipStatus.PAIRED,
    MembershipStatus.PAUSED, MembershipStatus.COMPLETED,
)


@dataclass(frozen=True, slots=True)
class Recipient:
    participant_id: int
    telegram_id: int
    language: str
    paused: bool


@dataclass(frozen=True, slots=True)
class Progress:
    total: int
    sent: int
    unreachable: int
    waiting: int

    @property
    def done(self) -> bool:
        return self.waiting == 0


def batch_of(broadcast_id: int) -> str:
    return f"bc:{broadcast_id}"


def valid_segment(segment: str) -> bool:
    if segment in (ALL, MENTORS, MENTEES, IDLE):
        return True
    return segment.startswith(FORM_PREFIX) and segment[len(FORM_PREFIX):] in set(Form)


async def forms_of(session: AsyncSession, org_id: int) -> list[str]:
    """The forms the organisation's programmes run (for the "a form" segment)."""
    stmt = select(Programme.forms).where(
        Programme.organisation_id == org_id, Programme.is_archived.is_(False)
    )
    found: set[str] = set()
    for forms in (await session.execute(stmt)).scalars():
        found |= {f for f in forms or () if f in set(Form)}
    return [f.value for f in Form if f.value in found]


async def _idle_memberships(session: AsyncSession, org_id: int, now: dt.datetime) -> set[int]:
    """Mentor and mentee memberships of active pairs with no meeting held for IDLE_DAYS."""
    since = now - dt.timedelta(days=IDLE_DAYS)
    pairs = (await session.execute(
        select(Pair.id, Pair.group_key, Pair.mentor_membership_id, Pair.mentee_membership_id)
        .join(Programme, Programme.id == Pair.programme_id)
        .where(Programme.organisation_id == org_id, Pair.status.in_(ACTIVE_PAIR_STATUSES),
               Pair.decided_at <= since)
    )).all()
    if not pairs:
        return set()
    recent = (await session.execute(
        select(Meeting.pair_id, Meeting.group_key)
        .join(Pair, Pair.id == Meeting.pair_id)
        .join(Programme, Programme.id == Pair.programme_id)
        .where(Programme.organisation_id == org_id, Meeting.status == MeetingStatus.HELD,
               Meeting.starts_at > since)
    )).all()
    met_pairs = {pair_id for pair_id, _ in recent}
    met_groups = {key for _, key in recent if key}
    out: set[int] = set()
    for pair_id, group_key, mentor_id, mentee_id in pairs:
        if pair_id in met_pairs or (group_key and group_key in met_groups):
            continue
        out |= {mentor_id, mentee_id}
    return out


async def recipients(
    session: AsyncSession, org_id: int, segment: str, now: dt.datetime
) -> list[Recipient]:
    """Everyone the segment names, once each (paused people flagged)."""
    if not valid_segment(segment):
        raise ServiceError("broadcast_segment")
    stmt = (
        select(Participant.id, Participant.telegram_id, Participant.language,
               Participant.status)
        .join(Membership, Membership.participant_id == Participant.id)
        .where(
            Membership.organisation_id == org_id,
            Membership.status.in_(LIVE),
            Participant.telegram_id.is_not(None),
            Participant.status != ParticipantStatus.FORGOTTEN,
        )
        .order_by(Participant.id)
    )
    if segment == MENTORS:
        stmt = stmt.where(Membership.role == Role.MENTOR)
    elif segment == MENTEES:
        stmt = stmt.where(Membership.role == Role.MENTEE)
    else:
        stmt = stmt.where(Membership.role.in_([Role.MENTEE, Role.MENTOR]))
    if segment.startswith(FORM_PREFIX):
        stmt = stmt.where(Membership.form == segment[len(FORM_PREFIX):])
    if segment == IDLE:
        ids = await _idle_memberships(session, org_id, now)
        if not ids:
            return []
        stmt = stmt.where(Membership.id.in_(list(ids)))
    out: dict[int, Recipient] = {}
    for pid, tid, language, status in (await session.execute(stmt)).all():
        if tid is None:
            continue
        out[pid] = Recipient(pid, tid, language or "ru", status == ParticipantStatus.PAUSED)
    return list(out.values())


async def draft(
    session: AsyncSession, *, org_id: int, created_by: int | None, segment: str, text: str,
    now: dt.datetime,
) -> tuple[Broadcast, int]:
    """The broadcast as previewed: (draft, paused people left out)."""
    if not text.strip():
        raise ServiceError("broadcast_empty")
    if len(text) > MAX_TEXT:
        raise ServiceError("broadcast_too_long", max=MAX_TEXT)
    people = await recipients(session, org_id, segment, now)
    reached = [p for p in people if not p.paused]
    broadcast = Broadcast(
        organisation_id=org_id, created_by=created_by, segment=segment, text=text,
        total=len(reached), status=BroadcastStatus.DRAFT, created_at=now,
    )
    session.add(broadcast)
    await session.flush()
    return broadcast, len(people) - len(reached)


async def _own(session: AsyncSession, broadcast_id: int, org_ids: Collection[int]) -> Broadcast:
    if not valid_id(broadcast_id):  # forged button data never reaches the driver
        raise StaleError("broadcast_not_found")
    broadcast = await session.get(Broadcast, broadcast_id, populate_existing=True)
    if broadcast is None or broadcast.organisation_id not in org_ids:
        raise StaleError("broadcast_not_found")
    return broadcast


async def start(
    session: AsyncSession, broadcast_id: int, *, org_ids: Collection[int], chat_id: int,
    message_id: int | None, header: dict[str, str], now: dt.datetime,
) -> Broadcast | None:
    """Send a draft: one outbox row per recipient. None if it was sent (or cancelled)
    already: a second Confirm changes nothing. `header` is the announcement's first line
    by language."""
    broadcast = await _own(session, broadcast_id, org_ids)
    moved = await session.execute(
        update(Broadcast)
        .where(Broadcast.id == broadcast.id, Broadcast.status == BroadcastStatus.DRAFT)
        .values(status=BroadcastStatus.SENDING, started_at=now, progress_chat_id=chat_id,
                progress_message_id=message_id)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        return None
    people = [p for p in await recipients(session, broadcast.organisation_id,
                                          broadcast.segment, now) if not p.paused]
    batch = batch_of(broadcast.id)
    body = broadcast.text or ""
    rows = [
        {
            "idempotency_key": f"{batch}:{p.participant_id}", "chat_id": p.telegram_id,
            "method": "sendMessage",
            "payload": {"text": f"{header.get(p.language) or header['ru']}\n\n{body}"},
            "status": OutboxStatus.PENDING, "attempts": 0, "not_before": now,
            "created_at": now, "participant_id": p.participant_id,
            "organisation_id": broadcast.organisation_id, "kind": "broadcast", "batch": batch,
        }
        for p in people
    ]
    await q.enqueue_many(session, rows)
    await session.execute(
        update(Broadcast).where(Broadcast.id == broadcast.id).values(total=len(rows))
        .execution_options(synchronize_session=False)
    )
    return await _own(session, broadcast.id, org_ids)


async def cancel(session: AsyncSession, broadcast_id: int, *, org_ids: Collection[int]) -> bool:
    """Drop a draft; False if it was already sent or cancelled."""
    broadcast = await _own(session, broadcast_id, org_ids)
    moved = await session.execute(
        update(Broadcast)
        .where(Broadcast.id == broadcast.id, Broadcast.status == BroadcastStatus.DRAFT)
        .values(status=BroadcastStatus.CANCELLED, text=None)
        .execution_options(synchronize_session=False)
    )
    return bool(moved.rowcount == 1)  # type: ignore[attr-defined]


async def sending(session: AsyncSession, limit: int = 20) -> list[Broadcast]:
    stmt = (
        select(Broadcast).where(Broadcast.status == BroadcastStatus.SENDING)
        .order_by(Broadcast.id).limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def progress(session: AsyncSession, broadcast: Broadcast) -> Progress:
    counts = await q.batch_counts(session, batch_of(broadcast.id))
    waiting = counts[OutboxStatus.PENDING] + counts[OutboxStatus.SENDING]
    unreachable = counts[OutboxStatus.PARKED] + counts[OutboxStatus.EXPIRED]
    return Progress(broadcast.total, counts[OutboxStatus.SENT], unreachable, waiting)


async def finish(session: AsyncSession, broadcast_id: int, now: dt.datetime) -> bool:
    """Mark a broadcast done (its text erased); False if it was already."""
    moved = await session.execute(
        update(Broadcast)
        .where(Broadcast.id == broadcast_id, Broadcast.status == BroadcastStatus.SENDING)
        .values(status=BroadcastStatus.DONE, finished_at=now, text=None)
        .execution_options(synchronize_session=False)
    )
    return bool(moved.rowcount == 1)  # type: ignore[attr-defined]


DRAFT_TTL = dt.timedelta(days=1)


async def drop_drafts(
    session: AsyncSession, *, created_by: int | None = None, before: dt.datetime | None = None
) -> None:
    """Cancel drafts (their text erased): a person's, when they are forgotten, or those
    nobody confirmed for a day."""
    stmt = update(Broadcast).where(Broadcast.status == BroadcastStatus.DRAFT)
    if created_by is not None:
        stmt = stmt.where(Broadcast.created_by == created_by)
    if before is not None:
        stmt = stmt.where(Broadcast.created_at < before)
    await session.execute(
        stmt.values(status=BroadcastStatus.CANCELLED, text=None)
        .execution_options(synchronize_session=False)
    )
