"""Keeps a running bot's movable clock in step with `python -m bot admin clock ...`."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import OffsetClock
from bot.services.clock_control import read_offset

SYNC_INTERVAL_S = 1.0


async def sync(sessionmaker: async_sessionmaker[AsyncSession], clock: OffsetClock) -> None:
    async with sessionmaker() as session:
        clock.offset = await read_offset(session)
