"""Webhook mode: Telegram POSTs updates to us (aiohttp), instead of our polling for them.

- `POST <path of WEBHOOK_URL>`: the `X-Telegram-Bot-Api-Secret-Token` header must equal
  WEBHOOK_SECRET (missing: 401, wrong: 403; nothing is read or changed). The update's id is
  claimed (Redis `SET NX` across instances, else an in-process memory of recent ids): a
  re-sent update answers 200 and is not handled again. A new one answers 200 at once and is
  handled in a background task (kept in a set on the server: drained at shutdown).
- `GET /healthz`: 200 with {"db": true, "redis": true|null, "leader": bool, "instance": ...},
  503 when the database (or the configured Redis) does not answer.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher
from aiogram.dispatcher.middlewares.user_context import UserContextMiddleware
from aiogram.types import Update
from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.logging_setup import tagged

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
HEALTH_TIMEOUT_S = 3.0
DRAIN_TIMEOUT_S = 20.0
MEMORY_DEDUP_SIZE = 10_000


class Dedup(Protocol):
    async def claim(self, update_id: int, owner: str) -> bool: ...


class Order(Protocol):
    async def ticket(self, user_id: int) -> int: ...


class MemoryDedup:
    """One instance's recent update ids (the single-instance case, without Redis)."""

    def __init__(self, size: int = MEMORY_DEDUP_SIZE) -> None:
        self._seen: OrderedDict[int, None] = OrderedDict()
        self._size = size

    async def claim(self, update_id: int, owner: str) -> bool:
        if update_id in self._seen:
            return False
        self._seen[update_id] = None
        if len(self._seen) > self._size:
            self._seen.popitem(last=False)
        return True


def webhook_path(url: str) -> str:
    return urlsplit(url).path or "/"


class WebhookServer:
    def __init__(
        self,
        dp: Dispatcher,
        bot: Bot,
        *,
        secret: str,
        path: str,
        dedup: Dedup,
        instance: str,
        sessionmaker: async_sessionmaker[AsyncSession],
        redis_ping: Callable[[], Awaitable[bool]] | None = None,
        is_leader: Callable[[], bool] = lambda: True,
        order: Order | None = None,
    ) -> None:
        self.dp = dp
        self.bot = bot
        self._secret = secret.encode()
        self.path = path
        self._dedup = dedup
        self._instance = instance
        self._sessionmaker = sessionmaker
        self._redis_ping = redis_ping
        self._is_leader = is_leader
        self._order = order
        self.tasks: set[asyncio.Task[Any]] = set()
        self.accepting = True

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(self.path, self.handle_update)
        app.router.add_get("/healthz", self.health)
        return app

    async def handle_update(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER)
        if given is None:
            return web.json_response({"ok": False, "error": "secret token missing"}, status=401)
        if not hmac.compare_digest(given.encode(), self._secret):
            return web.json_response({"ok": False, "error": "wrong secret token"}, status=403)
        if not self.accepting:  # shutting down: Telegram retries, another instance answers
            return web.json_response({"ok": False, "error": "shutting down"}, status=503)
        try:
            raw = await request.json()
            update = Update.model_validate(raw, context={"bot": self.bot})
        except Exception:
            return web.json_response({"ok": False, "error": "not an update"}, status=400)
        with tagged(update.update_id, None):
            try:
                first = await self._dedup.claim(update.update_id, self._instance)
            except Exception:
                log.exception("deduplication store unreachable: update refused")
                return web.json_response({"ok": False, "error": "try again"}, status=503)
            if not first:
                log.info("update already taken: skipped")
                return web.json_response({"ok": True, "duplicate": True})
            ticket = await self._ticket(update)
        task = asyncio.create_task(self._feed(update, ticket))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return web.json_response({"ok": True})

    async def _ticket(self, update: Update) -> int | None:
        """The update's place among its user's updates (taken on arrival, in Telegram's
        order); None without ordering or when Redis fails (the per-user lock still holds)."""
        if self._order is None:
            return None
        user = UserContextMiddleware.resolve_event_context(update).user
        if user is None:
            return None
        try:
            return await self._order.ticket(user.id)
        except Exception:
            log.warning("no order ticket (Redis failed): handled without one")
            return None

    async def _feed(self, update: Update, ticket: int | None = None) -> None:
        extra = {} if ticket is None else {"order_ticket": ticket}
        try:
            await self.dp.feed_update(self.bot, update, **extra)
        except Exception:
            with tagged(update.update_id, None):
                log.exception("update failed")

    async def health(self, request: web.Request) -> web.Response:
        db_ok = await self._check_db()
        redis_ok: bool | None = None
        if self._redis_ping is not None:
            try:
                redis_ok = await asyncio.wait_for(self._redis_ping(), HEALTH_TIMEOUT_S)
            except TimeoutError:
                redis_ok = False
        healthy = db_ok and redis_ok is not False and self.accepting
        body = {
            "db": db_ok, "redis": redis_ok, "leader": self._is_leader(),
            "instance": self._instance, "handling": len(self.tasks),
        }
        return web.json_response(body, status=200 if healthy else 503)

    async def _check_db(self) -> bool:
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT_S), self._sessionmaker() as session:
                await session.execute(text("SELECT 1"))
                await session.rollback()
        except Exception:
            return False
        return True

    async def drain(self, grace_s: float = DRAIN_TIMEOUT_S) -> None:
        """Stop taking updates; wait for the ones in hand (cancel what outlives `grace_s`)."""
        self.accepting = False
        pending = set(self.tasks)
        if not pending:
            return
        log.info("waiting for %d update(s) in hand", len(pending))
        _, late = await asyncio.wait(pending, timeout=grace_s)
        for task in late:
            task.cancel()
        if late:
            await asyncio.gather(*late, return_exceptions=True)
            log.warning("%d update(s) cancelled at shutdown", len(late))
