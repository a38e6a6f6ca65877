"""Webhook delivery for the fake Bot API: once the bot calls setWebhook, queued updates are
POSTed to it (JSON, with the `X-Telegram-Bot-Api-Secret-Token` header when a secret_token was
given) instead of waiting for getUpdates.

Like Telegram: one update at a time, in update_id order; an answer other than 2xx (or no
answer within `timeout`) is retried. Unlike Telegram: plain http:// is accepted for loopback
addresses (the bot under test listens on 127.0.0.1), and a test may set `targets`: a list of
URLs taking turns (round robin) in place of the registered URL — a stand-in for the load
balancer in front of several bot instances.

    fake.webhook.targets = [url_a, url_b]   # updates alternate between two instances
    status = await fake.webhook.post(update_id, url_b)   # re-send one update by hand
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp

if TYPE_CHECKING:
    from .server import FakeTelegram

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
RETRY_DELAY_S = 0.2
LOOPBACK_PREFIXES = ("http://127.0.0.1", "http://localhost", "http://[::1]")


@dataclass
class Delivery:
    update_id: int
    url: str
    status: int | None  # None: no answer (connection refused, timeout)
    at: float


class WebhookDelivery:
    def __init__(self, fake: FakeTelegram, timeout: float = 10.0) -> None:
        self.fake = fake
        self.timeout = timeout
        self.url = ""
        self.secret: str | None = None
        self.targets: list[str] | None = None
        self.deliveries: list[Delivery] = []
        self.sent: dict[int, dict[str, Any]] = {}  # every delivered update, by id
        self._turn = itertools.count()
        self._task: asyncio.Task[None] | None = None
        self._client: aiohttp.ClientSession | None = None

    @staticmethod
    def acceptable(url: str) -> bool:
        return url.lower().startswith(("https://", *LOOPBACK_PREFIXES))

    def set(self, url: str, secret: str | None) -> None:
        self.url, self.secret = url, secret
        if url and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._client is not None:
            await self._client.close()
            self._client = None

    def delivered(self, update_id: int) -> list[Delivery]:
        return [d for d in self.deliveries if d.update_id == update_id]

    async def post(
        self, update: int | dict[str, Any], url: str | None = None, *,
        secret: str | None | bool = True,
    ) -> int | None:
        """POST one update (a delivered update's id, or a dict) to `url` (default: the next
        target); secret=True sends the registered secret, a string sends that, None omits
        the header. Returns the HTTP status (None: no answer)."""
        body = self.sent[update] if isinstance(update, int) else update
        target = url or self._next_target()
        header = self.secret if secret is True else (secret or None)
        headers = {SECRET_HEADER: header} if header else {}
        loop = asyncio.get_running_loop()
        status: int | None = None
        try:
            async with self._session().post(
                target, json=body, headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                status = response.status
                await response.read()
        except (aiohttp.ClientError, TimeoutError):
            status = None
        self.deliveries.append(Delivery(int(body.get("update_id", 0)), target, status, loop.time()))
        return status

    def _session(self) -> aiohttp.ClientSession:
        if self._client is None or self._client.closed:
            self._client = aiohttp.ClientSession()
        return self._client

    def _next_target(self) -> str:
        targets = self.targets or [self.url]
        return targets[next(self._turn) % len(targets)]

    async def _run(self) -> None:
        fake = self.fake
        while self.url and not fake._stopping:
            if not fake._updates:
                await fake._update_signal.wait(1.0)
                continue
            update = fake._updates[0]
            status = await self.post(update)
            if status is not None and 200 <= status < 300:
                self.sent[update["update_id"]] = update
                with contextlib.suppress(ValueError):
                    fake._updates.remove(update)
                fake._request_signal.notify()
            else:
                await asyncio.sleep(RETRY_DELAY_S)
