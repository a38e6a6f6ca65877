"""APScheduler wiring: jobs with fixed ids; each asks a service what is due now."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from aiogram import Bot
from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobEvent,
)
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock, OffsetClock
from bot.config import Settings
from scheduler import (
    broadcasts,
    deadlines,
    journal,
    nudges,
    outbox,
    polls,
    quarterly,
    reminders,
)
from scheduler import clock as clock_sync
from scheduler.leader import Leader

log = logging.getLogger(__name__)

OUTBOX_INTERVAL_S = 1.0


class Scheduler(AsyncIOScheduler):
    """APScheduler's asyncio scheduler that, when the bot stops, lets the jobs that are
    running finish (a delivery, a reminder pass) instead of cancelling them mid-way."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.running_jobs = 0
        self.idle = asyncio.Event()
        self.idle.set()
        self.add_listener(self._submitted, EVENT_JOB_SUBMITTED)
        self.add_listener(self._finished, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)

    def _submitted(self, _event: JobEvent) -> None:
        self.running_jobs += 1
        self.idle.clear()

    def _finished(self, _event: JobEvent) -> None:
        self.running_jobs = max(0, self.running_jobs - 1)
        if not self.running_jobs:
            self.idle.set()

    async def stop(self, grace_s: float) -> None:
        """No new runs; up to grace_s for the running ones; then shut down (what is still
        running is cancelled: the outbox's leased rows return to the queue)."""
        if not self.running:
            return
        self.pause()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.idle.wait(), grace_s)
        if self.running_jobs:
            log.warning("stopping with %d scheduler job(s) still running", self.running_jobs)
        self.shutdown(wait=False)


def create_scheduler(
    bot: Bot,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    settings: Settings | None = None,
    leader: Leader | None = None,
) -> Scheduler:
    """Every instance drains the outbox and follows the clock; the periodic jobs run only
    while `leader` holds the scheduler lock (always, without one)."""
    quiet_scheduler_logs()
    scheduler = Scheduler(timezone="UTC")
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
        except asyncio.CancelledError:  # the bot stopped mid-drain; leases bring rows back
            log.info("outbox: drain stopped with the bot")
            return
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

    def leading() -> bool:
        return leader is None or leader.held

    async def ask_journal() -> None:
        if not leading():
            return
        try:
            asked = await journal.tick(sessionmaker, clock)
        except Exception:
            log.exception("journal tick failed")
            return
        if asked:
            log.info("journal: %d meeting(s) asked about", asked)

    scheduler.add_job(
        ask_journal, "interval", seconds=journal.INTERVAL_S, id="journal.ask",
        replace_existing=True, max_instances=1, coalesce=True, misfire_grace_time=None,
    )
    add_cycle_jobs(scheduler, bot, sessionmaker, clock, leading)
    if leader is not None:
        elected = leader

        async def poll_leader() -> None:
            try:
                await elected.poll()
            except Exception:
                log.exception("scheduler lock poll failed")

        scheduler.add_job(
            poll_leader, "interval",
            seconds=settings.leader_poll_s if settings is not None else 10.0,
            id="leader.poll", replace_existing=True, max_instances=1, coalesce=True,
            misfire_grace_time=None,
        )
    admin_ids = settings.admin_ids if settings is not None else frozenset()

    async def remind_deadlines() -> None:  # reporting deadlines and quarterly summaries
        if leading():
            await deadlines.tick(sessionmaker, clock, admin_ids)

    scheduler.add_job(
        remind_deadlines, "interval", seconds=deadlines.INTERVAL_S, id="deadlines.remind",
        replace_existing=True, max_instances=1, coalesce=True, misfire_grace_time=None,
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


def add_cycle_jobs(
    scheduler: AsyncIOScheduler, bot: Bot, sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    leading: Callable[[], bool] = lambda: True,
) -> None:
    """Reminders, nudges, pause ends and broadcast progress: each job asks the database what
    is due (nothing is kept in the scheduler, so a restart loses nothing, and an instance
    taking the scheduler lock over finds everything still due). They run while `leading()`."""
    shown: dict[int, tuple[int, int]] = {}  # broadcast progress last shown, per broadcast

    async def remind() -> None:
        if leading():
            await reminders.tick(sessionmaker, clock)

    async def end_pauses() -> None:
        if leading():
            await reminders.end_pauses(sessionmaker, clock)

    async def nudge() -> None:
        if leading():
            await nudges.tick(sessionmaker, clock)

    async def broadcast_progress() -> None:
        if leading():
            await broadcasts.tick(bot, sessionmaker, clock, shown)

    async def remind_polls() -> None:
        if leading():
            await polls.tick(sessionmaker, clock)

    async def invite_quarterly() -> None:
        if leading():
            await quarterly.tick(sessionmaker, clock)

    for job, job_id, seconds in (
        (remind, "reminders.tick", reminders.INTERVAL_S),
        (end_pauses, "pauses.end", reminders.PAUSE_INTERVAL_S),
        (nudge, "nudges.tick", nudges.INTERVAL_S),
        (broadcast_progress, "broadcasts.progress", broadcasts.INTERVAL_S),
        (remind_polls, "polls.tick", polls.INTERVAL_S),
        (invite_quarterly, "quarterly.invite", quarterly.INTERVAL_S),
    ):
        scheduler.add_job(
            job, "interval", seconds=seconds, id=job_id, replace_existing=True,
            max_instances=1, coalesce=True, misfire_grace_time=None,
        )


def quiet_scheduler_logs() -> None:
    """APScheduler logs every run of every job at INFO ("Running job", "executed
    successfully"): two lines a second for the outbox, about 170,000 a day. Keep its warnings
    (missed runs) and errors; the jobs log what they actually did."""
    for name in ("apscheduler.executors", "apscheduler.scheduler"):
        logging.getLogger(name).setLevel(logging.WARNING)
