"""APScheduler wiring: jobs with fixed ids; each asks a service what is due now."""

from __future__ import annotations

import logging

from aiogram import Bot
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock, OffsetClock
from bot.config import Settings
from scheduler import clock as clock_sync
from scheduler import outbox

log = logging.getLogger(__name__)

OUTBOX_INTERVAL_S = 1.0


def create_scheduler(
    bot: Bot,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    settings: Settings | None = None,
) -> AsyncIOScheduler:
    quiet_scheduler_logs()
    scheduler = AsyncIOScheduler(timezone="UTC")
    sender = (
        outbox.Sender(
            bot, sessionmaker, clock, rate=settings.outbox_rate,
            workers=settings.outbox_workers, lease_s=settings.outbox_lease_s,
        )
        if settings is not None
        else outbox.Sender(bot, sessionmaker, clock)
    )

    async def drain_outbox() -> None:
        try:
            delivered = await sender.drain()
        except Exception:
            log.exception("outbox drain failed")
            return
        if delivered:
            log.info("outbox: %d message(s) delivered", delivered)

    scheduler.add_job(
        drain_outbox,
        "interval",
        seconds=OUTBOX_INTERVAL_S,
        id="outbox.drain",
        replace_existing=True,
        max_instances=2,  # a long drain makes the next run return at once, not a warning
        coalesce=True,
        misfire_grace_time=None,
    )
    if isinstance(clock, OffsetClock):
        moved = clock

        async def sync_clock() -> None:
            try:
                await clock_sync.sync(sessionmaker, moved)
            except Exception:
                log.exception("clock sync failed")

        scheduler.add_job(
            sync_clock, "interval", seconds=clock_sync.SYNC_INTERVAL_S, id="clock.sync",
            replace_existing=True, max_instances=1, coalesce=True, misfire_grace_time=None,
        )
    return scheduler


def quiet_scheduler_logs() -> None:
    """APScheduler logs every run of every job at INFO ("Running job", "executed
    successfully"): two lines a second for the outbox, about 170,000 a day. Keep its warnings
    (missed runs) and errors; the jobs log what they actually did."""
    for name in ("apscheduler.executors", "apscheduler.scheduler"):
        logging.getLogger(name).setLevel(logging.WARNING)
