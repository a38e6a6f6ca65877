"""The outbox sender: every queued message goes out once, paced, concurrently.

Design
- A drain (the scheduler calls it every second; one runs at a time) first puts back rows
  whose sender's lease ran out (a crashed process: db/queries/outbox.py), then claims due
  rows in small batches with a conditional UPDATE (pending -> sending, attempts + 1, the
  lease's end in not_before) and feeds them to a pool of `workers` tasks. Rows of one chat
  go to one worker in order, so a person's messages never overtake each other. The local
  backlog is kept to about two seconds of budget, and a heartbeat renews the leases of the
  rows this sender holds, so another sender never takes them over while this one lives.
- Before claiming, each due row is checked: expired (expires_at passed) -> 'expired'; its
  person paused -> held until the pause ends; its organisation in quiet hours -> held until
  the morning (bot/services/quiet.py), or 'expired' if that is after expires_at; a forgotten
  person -> 'expired' with the payload cleared. Organisation settings are read once a drain.
- Pacing lives in bot/ratelimit.py: the workers send inside `initiative()`, so each send
  waits for the global budget (OUTBOX_RATE, which replies draw from first) and for the chat
  (OUTBOX_CHAT_RATE). With `workers` requests in flight the whole budget is used even when
  Telegram answers slowly.
- Outcomes: accepted -> 'sent', sent_at, payload cleared (only now: a crash between the send
  and this update resends that one message); 429 -> back to pending after retry_after (not
  counted as an attempt; the limiter pauses the chat or everything); network errors,
  timeouts and 5xx -> retried with exponential backoff, parked after MAX_ATTEMPTS; 403 ->
  parked, the person marked unreachable and their curators told (through the outbox); 400
  and other API errors -> parked with Telegram's description. Logs carry ids only.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import html
import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import BufferedInputFile, InlineKeyboardMarkup
from sqlalchemy import null
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.i18n import translator
from bot.ratelimit import initiative
from bot.render import chunks
from bot.services import outbox as outbox_service
from bot.services.quiet import next_allowed
from db.models import OutboxMessage, OutboxStatus, ParticipantStatus
from db.queries import outbox as q

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
MAX_BACKOFF_S = 300.0
PAUSE_RECHECK = dt.timedelta(hours=6)  # a pause without an end is looked at again then
SEND_TIMEOUT_S = 20.0


@dataclass(slots=True)
class Job:
    id: int
    chat_id: int
    method: str
    payload: dict[str, Any]
    attempts: int
    participant_id: int | None

    @classmethod
    def of(cls, row: OutboxMessage) -> Job:
        return cls(
            row.id, row.chat_id, row.method, dict(row.payload or {}), row.attempts + 1,
            row.participant_id,
        )


class Sender:
    """Drains the outbox; one instance per process (it keeps no state between drains)."""

    def __init__(
        self,
        bot: Bot,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        rate: float = 25.0,
        workers: int = 8,
        lease_s: float = 30.0,
        send_timeout_s: float = SEND_TIMEOUT_S,
    ) -> None:
        self.bot = bot
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.workers = workers
        self.lease = dt.timedelta(seconds=lease_s)
        self.send_timeout_s = send_timeout_s
        self.backlog = max(2 * workers, int(2 * rate))
        self._running = asyncio.Lock()

    async def drain(self) -> int:
        """Send everything due now; returns how many were delivered. A second call while one
        runs returns 0 at once."""
        if self._running.locked():
            return 0
        async with self._running:
            return await _Drain(self).run()


class _Drain:
    def __init__(self, sender: Sender) -> None:
        self.s = sender
        self.held: set[int] = set()
        self.by_chat: dict[int, deque[Job]] = {}
        self.ready: asyncio.Queue[int | None] = asyncio.Queue()
        self.freed = asyncio.Event()
        self.orgs: dict[int, tuple[str, int, int]] = {}
        self.delivered = 0

    async def run(self) -> int:
        s = self.s
        async with s.sessionmaker() as session:
            released = await q.release_stuck(session, s.clock.now())
            await session.commit()
        if released:
            log.warning("outbox: %d message(s) of a stopped sender back in the queue", released)
        workers = [asyncio.create_task(self._worker()) for _ in range(s.workers)]
        heartbeat = asyncio.create_task(self._heartbeat())
        try:
            while True:
                room = s.backlog - len(self.held)
                if self.held and room < max(1, s.backlog // 2):  # claim in chunks, not 1 by 1
                    await self._wait_freed()
                    continue
                jobs = await self._claim(room)
                for job in jobs:
                    self._add(job)
                if not jobs:
                    if not self.held:
                        break
                    await self._wait_freed(1.0)
        finally:
            for _ in workers:
                self.ready.put_nowait(None)
            await asyncio.gather(*workers, return_exceptions=True)
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
        return self.delivered

    async def _wait_freed(self, at_most_s: float | None = None) -> None:
        self.freed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.freed.wait(), at_most_s)

    def _add(self, job: Job) -> None:
        self.held.add(job.id)
        queue = self.by_chat.get(job.chat_id)
        if queue is not None:  # its worker takes it after the ones before
            queue.append(job)
            return
        self.by_chat[job.chat_id] = deque([job])
        self.ready.put_nowait(job.chat_id)

    async def _worker(self) -> None:
        with initiative():
            while (chat_id := await self.ready.get()) is not None:
                queue = self.by_chat[chat_id]
                while queue:
                    job = queue.popleft()
                    try:
                        sent = await self._deliver(job)  # not `+= await`: workers interleave
                        self.delivered += sent
                    except Exception:  # a database hiccup: the lease brings the row back
                        log.exception("outbox message %s: settling failed", job.id)
                    self.held.discard(job.id)
                    self.freed.set()
                del self.by_chat[chat_id]

    async def _heartbeat(self) -> None:
        s = self.s
        period = max(s.lease.total_seconds() / 3, 0.5)
        while True:
            await asyncio.sleep(period)
            if self.held:
                async with s.sessionmaker() as session:
                    await q.renew(session, list(self.held), s.clock.now() + s.lease)
                    await session.commit()

    # --- claiming ----------------------------------------------------------------------------

    async def _claim(self, limit: int) -> list[Job]:
        """Claim up to `limit` rows that may go now; rows to hold or drop are settled on the
        way, and looking goes on past them."""
        while True:
            jobs, skipped = await self._claim_once(limit)
            if jobs or not skipped:
                return jobs

    async def _claim_once(self, limit: int) -> tuple[list[Job], int]:
        s = self.s
        now = s.clock.now()
        async with s.sessionmaker() as session:
            rows = list(await q.due(session, now, limit))
            if not rows:
                return [], 0
            people = await q.recipients(
                session, {r.participant_id for r in rows if r.participant_id is not None}
            )
            missing = {r.organisation_id for r in rows if r.organisation_id is not None}
            missing -= self.orgs.keys()
            self.orgs.update(await q.quiet_settings(session, missing))
            send: list[OutboxMessage] = []
            holds: dict[dt.datetime, list[int]] = {}
            expired: list[int] = []
            forgotten: list[int] = []
            for row in rows:
                verdict = self._verdict(row, now, people)
                if verdict is None:
                    send.append(row)
                elif verdict == "expired":
                    expired.append(row.id)
                elif verdict == "forgotten":
                    forgotten.append(row.id)
                elif isinstance(verdict, dt.datetime):
                    holds.setdefault(verdict, []).append(row.id)
            for until, ids in holds.items():
                await q.hold(session, ids, until)
            await q.close_pending(session, expired, OutboxStatus.EXPIRED, "expired")
            await q.close_pending(session, forgotten, OutboxStatus.EXPIRED, "person forgotten")
            candidates = [Job.of(r) for r in send]  # before the UPDATE touches the objects
            got = await q.claim(session, [job.id for job in candidates], now + s.lease)
            jobs = [job for job in candidates if job.id in got]
            await session.commit()
        if holds or expired:
            log.info(
                "outbox: %d held (quiet hours or pause), %d expired",
                sum(len(ids) for ids in holds.values()), len(expired),
            )
        return jobs, len(rows) - len(send)

    def _verdict(
        self,
        row: OutboxMessage,
        now: dt.datetime,
        people: dict[int, tuple[str, dt.datetime | None]],
    ) -> dt.datetime | str | None:
        """None: send now; a datetime: hold until then; "expired"/"forgotten": never."""
        if row.expires_at is not None and row.expires_at <= now:
            return "expired"
        until = now
        person = people.get(row.participant_id) if row.participant_id is not None else None
        if person is not None:
            status, paused_until = person
            if status == ParticipantStatus.FORGOTTEN:
                return "forgotten"
            if status == ParticipantStatus.PAUSED and (paused_until is None or paused_until > now):
                until = paused_until or now + PAUSE_RECHECK
        quiet = self.orgs.get(row.organisation_id) if row.organisation_id is not None else None
        if quiet is not None:
            tz, start, end = quiet
            try:
                until = next_allowed(until, tz, start, end)
            except (KeyError, ValueError):  # an unknown zone: no quiet hours rather than none
                log.warning("outbox: organisation %s has a bad timezone", row.organisation_id)
        if until <= now:
            return None
        if row.expires_at is not None and until >= row.expires_at:
            return "expired"
        return until

    # --- sending -----------------------------------------------------------------------------

    async def _deliver(self, job: Job) -> int:
        s = self.s
        values: dict[str, Any]
        sent = 0
        try:
            await self._send(job)
            values = {"status": OutboxStatus.SENT, "sent_at": s.clock.now(), "payload": null()}
            sent = 1
        except TelegramRetryAfter as exc:
            values = {
                "status": OutboxStatus.PENDING,
                "not_before": s.clock.now() + dt.timedelta(seconds=exc.retry_after),
                "attempts": max(job.attempts - 1, 0),
                "last_error": "flood control",
            }
            log.warning("outbox message %s: flood control, retry in %ss", job.id, exc.retry_after)
        except TelegramForbiddenError as exc:
            values = {"status": OutboxStatus.PARKED, "last_error": exc.message[:300],
                      "payload": null()}
            log.info("outbox message %s parked: the chat cannot be reached", job.id)
            await self._unreachable(job)
        except TelegramBadRequest as exc:
            values = {"status": OutboxStatus.PARKED, "last_error": exc.message[:300]}
            log.error("outbox message %s rejected: %s", job.id, exc.message)
        except (TelegramNetworkError, TelegramServerError, TimeoutError) as exc:
            why = type(exc).__name__
            values = self._retry(job, why)
            log.warning("outbox message %s failed (%s), attempt %d", job.id, why, job.attempts)
        except TelegramAPIError as exc:
            values = {"status": OutboxStatus.PARKED, "last_error": exc.message[:300]}
            log.error("outbox message %s rejected (%s)", job.id, type(exc).__name__)
        except Exception as exc:  # a malformed payload: parked, not retried forever
            values = {"status": OutboxStatus.PARKED, "last_error": f"error: {type(exc).__name__}"}
            log.exception("outbox message %s could not be sent", job.id)
        async with s.sessionmaker() as session:
            settled = await q.settle(session, job.id, values)
            await session.commit()
        if not settled:
            log.warning("outbox message %s was taken over before it was settled", job.id)
        return sent

    async def _send(self, job: Job) -> None:
        payload = job.payload
        markup_data = payload.get("reply_markup")
        markup = InlineKeyboardMarkup.model_validate(markup_data) if markup_data else None
        timeout = int(self.s.send_timeout_s) or 1
        if job.method == "sendDocument":
            document = payload["document"]
            file = BufferedInputFile(
                str(document["content"]).encode("utf-8"), filename=str(document["filename"])
            )
            await self.s.bot.send_document(
                job.chat_id, file, caption=payload.get("caption"), reply_markup=markup,
                request_timeout=timeout,
            )
            return
        # A text over Telegram's limit goes out in well-formed pieces, the buttons on the last.
        *first, last = chunks([payload["text"]]) or [payload["text"]]
        for part in first:
            await self.s.bot.send_message(job.chat_id, part, request_timeout=timeout)
        await self.s.bot.send_message(
            job.chat_id, last, reply_markup=markup, request_timeout=timeout
        )

    def _retry(self, job: Job, why: str) -> dict[str, Any]:
        if job.attempts >= MAX_ATTEMPTS:
            return {"status": OutboxStatus.PARKED, "last_error": f"gave up: {why}"}
        delay = min(2.0 ** (job.attempts - 1), MAX_BACKOFF_S)
        return {
            "status": OutboxStatus.PENDING,
            "not_before": self.s.clock.now() + dt.timedelta(seconds=delay),
            "last_error": why,
        }

    async def _unreachable(self, job: Job) -> None:
        """Mark the person and tell their curators, in one transaction."""
        now = self.s.clock.now()
        async with self.s.sessionmaker() as session:
            found = await outbox_service.mark_unreachable(
                session, job.chat_id, job.participant_id
            )
            if found is not None:
                for curator in found.curators:
                    t = translator(curator.language or "ru")
                    await outbox_service.enqueue(
                        session,
                        chat_id=int(curator.telegram_id or 0),
                        text=t(
                            "delivery.unreachable",
                            name=html.escape(found.full_name) or f"#{found.participant_id}",
                            roles=_roles(t, found.roles),
                        ),
                        key=f"unreachable:{curator.id}:{found.participant_id}",
                        now=now,
                        participant_id=curator.id,
                        organisation_id=found.organisation_ids[0]
                        if found.organisation_ids else None,
                        kind="unreachable",
                    )
                log.info(
                    "participant %s unreachable; %d curator(s) told",
                    found.participant_id, len(found.curators),
                )
            await session.commit()


def _roles(t: Any, roles: Iterable[str]) -> str:
    return ", ".join(t(f"role.{role}") for role in roles) or "—"


async def drain(bot: Bot, sessionmaker: async_sessionmaker[AsyncSession], clock: Clock) -> int:
    """One drain with default settings (tests and one-off use)."""
    return await Sender(bot, sessionmaker, clock).drain()
