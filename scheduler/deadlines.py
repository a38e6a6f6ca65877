"""The deadline reminders job: each pass asks bot.services.reports.deadlines what is due now
(a week before and on the day of each reporting deadline, and each quarter's start, in each
organisation's timezone) and queues, through the outbox, the reminder followed by the
organisation's /summary and /kpi texts. Keys in the outbox make a second pass or a restart
send nothing twice."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.i18n import Translator, translator
from bot.services import outbox
from bot.services.reports import kpis, summary
from bot.services.reports.deadlines import Notice, due
from bot.services.reports.period import zone
from bot.views import reports as views
from db.models import Organisation
from keyboards import reports as kb

log = logging.getLogger(__name__)
INTERVAL_S = 10.0  # a pass that finds nothing due reads one row per organisation
KIND_DEADLINE = "deadline"
KIND_QUARTER = "quarter_summary"


class _Texts:
    """Each organisation's summary and KPI texts, built once per pass and language."""

    def __init__(self, session: AsyncSession, now: dt.datetime) -> None:
        self.session = session
        self.now = now
        self.cache: dict[tuple[int, int, str], tuple[str, str, dict[str, object]]] = {}

    async def of(self, org: Organisation, year: int, t: Translator
                 ) -> tuple[str, str, dict[str, object]]:
        key = (org.id, year, t.language)
        if key not in self.cache:
            found = await summary(self.session, org.id, self.now)
            rows = await kpis(self.session, org.id, year, self.now)
            self.cache[key] = (
                views.render_summary(t, found, org.name),
                views.render_kpi(t, rows, org.name, year),
                kb.summary_buttons(t, org.id, year),
            )
        return self.cache[key]


async def _put(
    session: AsyncSession, notice: Notice, org: Organisation | None, text: str, suffix: str,
    kind: str, now: dt.datetime, markup: dict[str, object] | None = None,
) -> bool:
    row = await outbox.enqueue(
        session, chat_id=notice.chat_id, text=text, key=notice.key + suffix, now=now,
        reply_markup=markup, participant_id=notice.participant_id,
        organisation_id=org.id if org is not None else None, kind=kind,
    )
    return row is not None


async def queue(session: AsyncSession, notices: list[Notice], now: dt.datetime) -> int:
    """Put the notices in the outbox; returns how many people's notices were new."""
    texts = _Texts(session, now)
    queued = 0
    for notice in notices:
        t = translator(notice.language)
        org = (await session.get(Organisation, notice.organisation_id)
               if notice.organisation_id else None)
        if notice.reminder is not None:
            reminder = notice.reminder
            date_text = reminder.date.strftime("%d.%m.%Y")
            first = views.deadline_text(t, reminder.deadline.code, date_text,
                                        reminder.week_before, org.name if org else None)
            year = reminder.kpi_year
            kind = KIND_DEADLINE
        elif notice.quarter is not None and org is not None:
            first = views.quarter_text(t, notice.quarter, org.name)
            year = now.astimezone(zone(org.timezone)).year
            kind = KIND_QUARTER
        else:
            continue
        if not await _put(session, notice, org, first, "", kind, now):
            continue
        queued += 1
        if org is None:
            continue
        summary_text, kpi_text, buttons = await texts.of(org, year, t)
        await _put(session, notice, org, summary_text, ":s", kind, now, buttons)
        if notice.reminder is not None:
            await _put(session, notice, org, kpi_text, ":k", kind, now)
    return queued


async def tick(
    sessionmaker: async_sessionmaker[AsyncSession], clock: Clock,
    admin_ids: Collection[int] = frozenset(),
) -> int:
    """One pass; returns how many people's notices were queued. Never raises.
    `admin_ids`: coordinators by ADMIN_IDS (as well as those marked in the database)."""
    try:
        async with sessionmaker() as session:
            now = clock.now()
            queued = await queue(session, await due(session, now, admin_ids), now)
            await session.commit()
    except Exception:
        log.exception("deadlines tick failed")
        return 0
    if queued:
        log.info("deadlines: %d notice(s) queued", queued)
    return queued
