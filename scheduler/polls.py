"""The poll job: one reminder 2 days after a poll was sent if unanswered, closed after 14
days (index on survey_responses.due_at; at most `polls.DUE_BATCH` rows per pass); and the
process-quality rounds (mid-programme, June, December; `process_polls.BATCH` pairs a pass)."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.services import polls, process_polls
from bot.views.polls import queue

log = logging.getLogger(__name__)
INTERVAL_S = 5.0


async def tick(sessionmaker: async_sessionmaker[AsyncSession], clock: Clock) -> int:
    """One pass; returns how many messages were queued. Never raises."""
    try:
        async with sessionmaker() as session:
            now = clock.now()
            notices = await polls.due(session, now)
            notices += await process_polls.due(session, now)
            queued = await queue(session, notices, now)
            await session.commit()
    except Exception:
        log.exception("poll tick failed")
        return 0
    if queued:
        log.info("polls: %d message(s) queued", queued)
    return queued
