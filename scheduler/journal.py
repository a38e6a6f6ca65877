"""The journal job: after a confirmed meeting ends, ask its mentor to log it.

Each run takes a bounded batch of meetings that have ended and were not asked about
(index ix_meetings_due), queues the question through the outbox (one key per meeting, so a
repeat queues nothing) and marks the meeting asked, all in one transaction.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.i18n import translator
from bot.messaging import enqueue
from bot.services import journal
from bot.views.journal import ask_text
from db.models import ACTIVE_PAIR_STATUSES
from db.queries import journal as q
from keyboards import journal as kb

log = logging.getLogger(__name__)
BATCH = 50
INTERVAL_S = 5.0


async def tick(sessionmaker: async_sessionmaker[AsyncSession], clock: Clock) -> int:
    """Ask about every meeting due now (in batches); returns how many were asked."""
    asked = 0
    while True:
        now = clock.now()
        async with sessionmaker() as session:
            due = await q.due_for_log(session, now, BATCH)
            for meeting in due:
                asked += await _ask(session, meeting.id, now)
            await session.commit()
        if len(due) < BATCH:
            return asked


async def _ask(session: AsyncSession, meeting_id: int, now: dt.datetime) -> int:
    found = await journal.context_of(session, meeting_id)
    if found is None:
        return 0
    meeting, mentor = found.meeting, found.mentor
    meeting.log_requested_at = now
    pairs = await q.pairs_of_meeting(session, meeting)
    if mentor.telegram_id is None or not any(p.status in ACTIVE_PAIR_STATUSES for p in pairs):
        return 0  # forgotten, or the pair ended: nobody to ask
    mentees = [
        await q.person_of(session, p.mentee_membership_id)
        for p in pairs if p.status in ACTIVE_PAIR_STATUSES
    ]
    t = translator(mentor.language)
    queued = await enqueue(
        session, chat_id=mentor.telegram_id,
        text=ask_text(t, meeting, found.organisation.timezone, mentees),
        key=f"journal_ask:{meeting.id}", now=now, reply_markup=kb.ask(t, meeting.id),
        participant_id=mentor.id, organisation_id=found.organisation.id, kind="journal_ask",
    )
    return int(queued is not None)
