"""The reminder job: confirmed meetings due a 24 h or 1 h reminder; pauses that ended."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.services import pause, reminders
from bot.views.reminders import queue

log = logging.getLogger(__name__)
INTERVAL_S = 5.0
PAUSE_INTERVAL_S = 10.0


async def tick(sessionmaker: async_sessionmaker[AsyncSession], clock: Clock) -> int:
    """One pass; returns how many reminders were queued. Never raises."""
    try:
        async with sessionmaker() as session:
            now = clock.now()
            notices = await reminders.due_reminders(session, now)
            queued = await queue(session, notices, now)
            await session.commit()
    except Exception:
        log.exception("reminder tick failed")
        return 0
    if queued:
        log.info("reminders: %d queued", queued)
    return queued


async def end_pauses(sessionmaker: async_sessionmaker[AsyncSession], clock: Clock) -> int:
    """Resume everyone whose pause date has come. Never raises."""
    try:
        async with sessionmaker() as session:
            now = clock.now()
            notices = await pause.resume_due(session, now)
            await queue(session, notices, now)
            await session.commit()
    except Exception:
        log.exception("pause end tick failed")
        return 0
    if notices:
        log.info("pauses ended: %s", [n.participant_id for n in notices])
    return len(notices)
