"""The quarterly reports job: from 10:00 local on 1 Jan/Apr/Jul/Oct (each organisation's
timezone) the mentors of working pairs are invited to report on the quarter that ended.
What is due is read from the database each pass (pairs with no report row for the quarter,
at most `quarterly.BATCH` per organisation), so a restart loses nothing."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.services import quarterly
from bot.views.quarterly import queue

log = logging.getLogger(__name__)
INTERVAL_S = 10.0


async def tick(sessionmaker: async_sessionmaker[AsyncSession], clock: Clock) -> int:
    """One pass; returns how many invitations were queued. Never raises."""
    try:
        async with sessionmaker() as session:
            now = clock.now()
            queued = await queue(session, await quarterly.invite_due(session, now), now)
            await session.commit()
    except Exception:
        log.exception("quarterly tick failed")
        return 0
    if queued:
        log.info("quarterly: %d invitation(s) queued", queued)
    return queued
