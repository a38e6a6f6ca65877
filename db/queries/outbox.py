"""Claiming and settling outbox rows; safe with several senders (conditional updates)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import OutboxMessage, OutboxStatus


async def due(session: AsyncSession, now: dt.datetime, limit: int) -> Sequence[OutboxMessage]:
    stmt = (
        select(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.not_before <= now)
        .order_by(OutboxMessage.not_before, OutboxMessage.id)
        .limit(limit)
    )
    return (await session.execute(stmt)).scalars().all()


async def claim(session: AsyncSession, message_id: int) -> bool:
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == OutboxStatus.PENDING)
        .values(status=OutboxStatus.SENDING, attempts=OutboxMessage.attempts + 1)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


async def release_stuck(session: AsyncSession, before: dt.datetime) -> None:
    """Rows left 'sending' by a crashed process go back to the queue."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.not_before < before)
        .values(status=OutboxStatus.PENDING)
    )
