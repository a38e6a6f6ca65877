"""What the reminder, nudge, pause and broadcast jobs ask the database.

Every "what is due" query walks an index (meetings (status, starts_at), pairs
(next_check_at), participants (paused_until), outbox (batch, status)) and is bounded, so a
tick costs what is due, not how many pairs there are. Rows are read as plain tuples: a tick
may touch a thousand of them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    ACTIVE_PAIR_STATUSES,
    Meeting,
    MeetingStatus,
    Membership,
    Organisation,
    OutboxMessage,
    OutboxStatus,
    Pair,
    Participant,
    ParticipantStatus,
    Programme,
)

CHUNK = 500  # rows per bulk statement


@dataclass(frozen=True, slots=True)
class Member:
    """One side of a pair as the jobs need it."""

    membership_id: int
    role: str
    organisation_id: int
    participant_id: int
    telegram_id: int | None
    language: str
    name: str
    status: str
    paused_until: dt.datetime | None


@dataclass(frozen=True, slots=True)
class DuePair:
    id: int
    status: str
    mentor_id: int  # membership ids
    mentee_id: int
    group_key: str | None
    nudge_level: int
    next_check_at: dt.datetime | None  # set for every pair a due query returns
    decided_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class DueMeeting:
    id: int
    pair_id: int
    group_key: str | None
    kind: str
    starts_at: dt.datetime
    place: str | None
    confirmed_at: dt.datetime | None


# -- meetings ---------------------------------------------------------------------------------
async def meetings_due(
    session: AsyncSession, now: dt.datetime, ahead: dt.timedelta, *, hour: bool, limit: int
) -> list[DueMeeting]:
    """Confirmed meetings starting within `ahead` whose 24 h (or 1 h) reminder is not done."""
    mark = Meeting.reminded_1h_at if hour else Meeting.reminded_24h_at
    stmt = (
        select(Meeting.id, Meeting.pair_id, Meeting.group_key, Meeting.kind, Meeting.starts_at,
               Meeting.place, Meeting.confirmed_at)
        .where(
            Meeting.status == MeetingStatus.CONFIRMED,
            Meeting.starts_at > now,
            Meeting.starts_at <= now + ahead,
            mark.is_(None),
        )
        .order_by(Meeting.starts_at)
        .limit(limit)
    )
    return [DueMeeting(*row) for row in (await session.execute(stmt)).all()]


async def mark_reminded(
    session: AsyncSession, meeting_ids: Collection[int], now: dt.datetime, *, hour: bool
) -> None:
    if not meeting_ids:
        return
    values = {"reminded_1h_at": now} if hour else {"reminded_24h_at": now}
    ids = sorted(meeting_ids)
    for start in range(0, len(ids), CHUNK):
        await session.execute(
            update(Meeting).where(Meeting.id.in_(ids[start:start + CHUNK])).values(**values)
            .execution_options(synchronize_session=False)
        )


async def last_held(
    session: AsyncSession, pair_ids: Collection[int], group_keys: Collection[str]
) -> tuple[dict[int, dt.datetime], dict[str, dt.datetime]]:
    """When the last held meeting of each pair (and of each group) began."""
    end = Meeting.starts_at
    by_pair: dict[int, dt.datetime] = {}
    by_group: dict[str, dt.datetime] = {}
    if pair_ids:
        stmt = (
            select(Meeting.pair_id, func.max(end))
            .where(Meeting.pair_id.in_(list(pair_ids)), Meeting.status == MeetingStatus.HELD)
            .group_by(Meeting.pair_id)
        )
        for pair_id, starts in (await session.execute(stmt)).all():
            by_pair[pair_id] = _aware(starts)
    if group_keys:
        by_key = (
            select(Meeting.group_key, func.max(end))
            .where(Meeting.group_key.in_(list(group_keys)), Meeting.status == MeetingStatus.HELD)
            .group_by(Meeting.group_key)
        )
        for key, starts in (await session.execute(by_key)).all():
            if key is not None:
                by_group[key] = _aware(starts)
    return by_pair, by_group


async def next_confirmed(
    session: AsyncSession, pair_ids: Collection[int], group_keys: Collection[str],
    now: dt.datetime,
) -> tuple[dict[int, dt.datetime], dict[str, dt.datetime]]:
    """When the next confirmed meeting of each pair (and of each group) begins."""
    by_pair: dict[int, dt.datetime] = {}
    by_group: dict[str, dt.datetime] = {}
    upcoming = (Meeting.status == MeetingStatus.CONFIRMED, Meeting.starts_at > now)
    if pair_ids:
        stmt = (
            select(Meeting.pair_id, func.min(Meeting.starts_at))
            .where(Meeting.pair_id.in_(list(pair_ids)), *upcoming)
            .group_by(Meeting.pair_id)
        )
        for pair_id, starts in (await session.execute(stmt)).all():
            by_pair[pair_id] = _aware(starts)
    if group_keys:
        by_key = (
            select(Meeting.group_key, func.min(Meeting.starts_at))
            .where(Meeting.group_key.in_(list(group_keys)), *upcoming)
            .group_by(Meeting.group_key)
        )
        for key, starts in (await session.execute(by_key)).all():
            if key is not None:
                by_group[key] = _aware(starts)
    return by_pair, by_group


def _aware(value: Any) -> dt.datetime:
    """func.max() loses the column type on SQLite: a naive UTC string or datetime comes back."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    assert isinstance(value, dt.datetime)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


# -- pairs ------------------------------------------------------------------------------------
async def pairs_due(session: AsyncSession, now: dt.datetime, limit: int) -> list[DuePair]:
    stmt = (
        select(Pair.id, Pair.status, Pair.mentor_membership_id, Pair.mentee_membership_id,
               Pair.group_key, Pair.nudge_level, Pair.next_check_at, Pair.decided_at)
        .where(Pair.next_check_at <= now)
        .order_by(Pair.next_check_at)
        .limit(limit)
    )
    return [DuePair(*row) for row in (await session.execute(stmt)).all()]


async def set_checks(
    session: AsyncSession, changes: Iterable[tuple[DuePair, dt.datetime | None, int]]
) -> None:
    """Move each pair's next check (and level), unless something else moved it meanwhile (a
    meeting held resets it to a later moment, beyond any check the job has read). One
    executemany for all."""
    rows = [
        {"b_id": pair.id, "b_next": next_check_at, "b_level": level, "b_old": pair.nudge_level}
        for pair, next_check_at, level in changes
    ]
    if not rows:
        return
    latest = max((p.next_check_at for p, _, _ in changes if p.next_check_at), default=None)
    table = Pair.metadata.tables[Pair.__tablename__]
    stmt = update(table).where(
        table.c.id == bindparam("b_id"), table.c.nudge_level == bindparam("b_old")
    )
    if latest is not None:
        stmt = stmt.where(table.c.next_check_at <= latest)
    stmt = stmt.values(next_check_at=bindparam("b_next"), nudge_level=bindparam("b_level"))
    for start in range(0, len(rows), CHUNK):
        await session.execute(stmt, rows[start:start + CHUNK])


async def pairs_of_groups(session: AsyncSession, group_keys: Collection[str]) -> list[DuePair]:
    """The active pairs of mentors' groups (a group meeting reminds every mentee)."""
    if not group_keys:
        return []
    stmt = select(
        Pair.id, Pair.status, Pair.mentor_membership_id, Pair.mentee_membership_id,
        Pair.group_key, Pair.nudge_level, Pair.next_check_at, Pair.decided_at,
    ).where(Pair.group_key.in_(list(group_keys)), Pair.status.in_(ACTIVE_PAIR_STATUSES))
    return [DuePair(*row) for row in (await session.execute(stmt)).all()]


async def pairs_by_id(session: AsyncSession, pair_ids: Collection[int]) -> list[DuePair]:
    if not pair_ids:
        return []
    stmt = select(
        Pair.id, Pair.status, Pair.mentor_membership_id, Pair.mentee_membership_id,
        Pair.group_key, Pair.nudge_level, Pair.next_check_at, Pair.decided_at,
    ).where(Pair.id.in_(list(pair_ids)))
    return [DuePair(*row) for row in (await session.execute(stmt)).all()]


async def members(session: AsyncSession, membership_ids: Collection[int]) -> dict[int, Member]:
    out: dict[int, Member] = {}
    ids = sorted(set(membership_ids))
    for start in range(0, len(ids), CHUNK):
        stmt = (
            select(Membership.id, Membership.role, Membership.organisation_id, Participant.id,
                   Participant.telegram_id, Participant.language, Participant.full_name,
                   Participant.tg_first_name, Participant.status, Participant.paused_until)
            .join(Participant, Participant.id == Membership.participant_id)
            .where(Membership.id.in_(ids[start:start + CHUNK]))
        )
        for row in (await session.execute(stmt)).all():
            (mid, role, org_id, pid, tid, language, full_name, first_name, status,
             paused_until) = row
            out[mid] = Member(mid, role, org_id, pid, tid, language or "ru",
                              full_name or first_name or "", status, paused_until)
    return out


async def organisations(
    session: AsyncSession, org_ids: Collection[int]
) -> dict[int, Organisation]:
    if not org_ids:
        return {}
    stmt = select(Organisation).where(Organisation.id.in_(list(org_ids)))
    return {org.id: org for org in (await session.execute(stmt)).scalars()}


async def organisation_of_pair(session: AsyncSession, pair_id: int) -> int | None:
    stmt = (
        select(Programme.organisation_id)
        .join(Pair, Pair.programme_id == Programme.id)
        .where(Pair.id == pair_id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


# -- pause ------------------------------------------------------------------------------------
async def pauses_over(session: AsyncSession, now: dt.datetime, limit: int) -> list[int]:
    """Participants whose pause has run out (paused_until is indexed)."""
    stmt = (
        select(Participant.id)
        .where(Participant.paused_until <= now, Participant.status == ParticipantStatus.PAUSED)
        .order_by(Participant.paused_until)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


# -- outbox -----------------------------------------------------------------------------------
async def enqueue_many(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> int:
    """Queue many outbox rows at once (the same row shape as bot.services.outbox.enqueue
    makes); rows whose idempotency key was queued before are skipped. Returns how many were
    queued."""
    if not rows:
        return 0
    unique = {row["idempotency_key"]: row for row in rows}
    keys = list(unique)
    existing: set[str] = set()
    for start in range(0, len(keys), CHUNK):
        stmt = select(OutboxMessage.idempotency_key).where(
            OutboxMessage.idempotency_key.in_(keys[start:start + CHUNK])
        )
        existing |= set((await session.execute(stmt)).scalars())
    fresh = [dict(row) for key, row in unique.items() if key not in existing]
    for start in range(0, len(fresh), CHUNK):
        await session.execute(insert(OutboxMessage), fresh[start:start + CHUNK])
    return len(fresh)


async def batch_counts(session: AsyncSession, batch: str) -> dict[str, int]:
    """How many of a bulk send's rows are in each status (index (batch, status))."""
    stmt = (
        select(OutboxMessage.status, func.count())
        .where(OutboxMessage.batch == batch)
        .group_by(OutboxMessage.status)
    )
    counts = {status.value: 0 for status in OutboxStatus}
    for status, n in (await session.execute(stmt)).all():
        counts[status] = n
    return counts


async def held_count(session: AsyncSession, pair_id: int, group_key: str | None) -> int:
    where = Meeting.group_key == group_key if group_key else Meeting.pair_id == pair_id
    stmt = select(func.count()).select_from(Meeting).where(
        where, Meeting.status == MeetingStatus.HELD
    )
    return int((await session.execute(stmt)).scalar_one())
