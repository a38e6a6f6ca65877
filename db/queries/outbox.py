"""Claiming and settling outbox rows; safe with several senders (conditional updates).

While a row is 'sending', not_before holds the end of its sender's lease: the sender renews
it while it holds the row, and a row whose lease ran out (its sender died) goes back to
'pending' (release_stuck). Every change of a claimed row is conditional on it still being
'sending', so a sender never settles a row it lost.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import null, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Organisation, OutboxMessage, OutboxStatus, Participant


async def due(session: AsyncSession, now: dt.datetime, limit: int) -> Sequence[OutboxMessage]:
    stmt = (
        select(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.not_before <= now)
        .order_by(OutboxMessage.not_before, OutboxMessage.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        # Senders of several instances drain the queue at once: each locks the rows it looks
        # at until its claim commits and passes over rows another sender has locked, so
        # they take disjoint chunks instead of racing for the same ones (the claim's
        # conditional UPDATE still decides). SQLite has one writer: nothing to skip there.
        stmt = stmt.with_for_update(skip_locked=True)
    return (await session.execute(stmt)).scalars().all()


async def claim(
    session: AsyncSession, ids: Collection[int], lease_until: dt.datetime
) -> set[int]:
    """Take pending rows for sending (attempts + 1); returns the ids this caller got."""
    if not ids:
        return set()
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.status == OutboxStatus.PENDING)
        .values(
            status=OutboxStatus.SENDING,
            attempts=OutboxMessage.attempts + 1,
            not_before=lease_until,
        )
        .returning(OutboxMessage.id)
    )
    return set(result.scalars())


async def renew(session: AsyncSession, ids: Collection[int], lease_until: dt.datetime) -> None:
    if ids:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.status == OutboxStatus.SENDING)
            .values(not_before=lease_until)
        )


async def release_stuck(
    session: AsyncSession, now: dt.datetime, keep: Collection[int] = ()
) -> int:
    """Rows whose sender's lease ran out (it crashed) go back to the queue; `keep` are
    the caller's own rows. Returns how many came back."""
    stmt = update(OutboxMessage).where(
        OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.not_before <= now
    )
    if keep:
        stmt = stmt.where(OutboxMessage.id.not_in(keep))
    result = await session.execute(stmt.values(status=OutboxStatus.PENDING, not_before=now))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def hold(session: AsyncSession, ids: Collection[int], until: dt.datetime) -> None:
    """Pending rows wait (quiet hours, a pause) without being claimed."""
    if ids:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.status == OutboxStatus.PENDING)
            .values(not_before=until)
        )


async def close_pending(
    session: AsyncSession, ids: Collection[int], status: str, reason: str
) -> None:
    """Pending rows that will never be sent (expired, the person forgot themselves)."""
    if ids:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.status == OutboxStatus.PENDING)
            .values(status=status, last_error=reason, payload=null())  # SQL NULL
        )


async def settle(session: AsyncSession, message_id: int, values: dict[str, Any]) -> bool:
    """Record how a claimed row's send ended; False if the row was no longer ours."""
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == OutboxStatus.SENDING)
        .values(**values)
    )
    return int(result.rowcount) == 1  # type: ignore[attr-defined]


async def recipients(
    session: AsyncSession, participant_ids: Collection[int]
) -> dict[int, tuple[str, dt.datetime | None]]:
    """Status and paused_until of the people some rows are for."""
    if not participant_ids:
        return {}
    rows = await session.execute(
        select(Participant.id, Participant.status, Participant.paused_until).where(
            Participant.id.in_(participant_ids)
        )
    )
    return {pid: (status, until) for pid, status, until in rows}


async def quiet_settings(
    session: AsyncSession, organisation_ids: Collection[int]
) -> dict[int, tuple[str, int, int]]:
    """(timezone, quiet_from_min, quiet_to_min) per organisation."""
    if not organisation_ids:
        return {}
    rows = await session.execute(
        select(
            Organisation.id,
            Organisation.timezone,
            Organisation.quiet_from_min,
            Organisation.quiet_to_min,
        ).where(Organisation.id.in_(organisation_ids))
    )
    return {oid: (tz, start, end) for oid, tz, start, end in rows}
