"""The nudge job: pairs whose check is due (index on pairs.next_check_at)."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.services import nudges
from bot.views.reminders import queue

log = logging.getLogger(__name__)
INTERVAL_S = 5.0


async def tick(sessionmaker: async_sessionmaker[AsyncSession], clock: Clock) -> int:
    """One pass; returns how many nudges were queued. Never raises."""
    try:
        async with sessionmaker() as session:
            now = clock.now()
            notices = await nudges.due_nudges(session, now)
            queued = await queue(session, notices, now)
            await session.commit()
    except Exception:
        log.exception("nudge tick failed")
        return 0
    if queued:
        log.info("nudges: %d queued, pairs %s", queued,
                 sorted({n.pair_id or 0 for n in notices})[:20])
    return queued
