"""Outgoing request pacing: stay under Telegram's flood limits, and obey 429 when hit.

Telegram documents about 30 messages per second overall and about one message per
second per chat (short bursts allowed). Every request that creates a message waits for
a slot here, so replies and the outbox share one budget.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import Response, TelegramMethod

log = logging.getLogger(__name__)

GLOBAL_RATE = 25.0  # below the documented 30/s, leaving room for edits and retries
CHAT_RATE = 1.0
CHAT_BURST = 4.0
MAX_RETRIES = 5
_TRACKED_CHATS = 10_000


class TokenBucket:
    __slots__ = ("rate", "capacity", "tokens", "stamp")

    def __init__(self, rate: float, capacity: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.stamp = time.monotonic()

    def delay(self) -> float:
        """Reserve one token; return how long to wait before using it."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        self.tokens -= 1.0
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate


class FloodLimiter:
    def __init__(
        self,
        global_rate: float = GLOBAL_RATE,
        chat_rate: float = CHAT_RATE,
        chat_burst: float = CHAT_BURST,
    ) -> None:
        self._global = TokenBucket(global_rate, 1.0)
        self._chat_rate = chat_rate
        self._chat_burst = chat_burst
        self._chats: OrderedDict[Any, TokenBucket] = OrderedDict()

    def reserve(self, chat_id: Any) -> float:
        bucket = self._chats.pop(chat_id, None) or TokenBucket(self._chat_rate, self._chat_burst)
        self._chats[chat_id] = bucket
        if len(self._chats) > _TRACKED_CHATS:
            self._chats.popitem(last=False)
        return max(bucket.delay(), self._global.delay())

    async def wait(self, chat_id: Any) -> None:
        delay = self.reserve(chat_id)
        if delay > 0:
            await asyncio.sleep(delay)


def _is_message_creating(method: TelegramMethod[Any]) -> bool:
    name = method.__api_method__
    return name.startswith(("send", "copyMessage", "forwardMessage")) and name != "sendChatAction"


class RetryAfterMiddleware(BaseRequestMiddleware):
    """Paces message-creating requests and retries any request that got a 429."""

    def __init__(self, limiter: FloodLimiter | None = None) -> None:
        self.limiter = limiter or FloodLimiter()

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[Any],
        bot: Bot,
        method: TelegramMethod[Any],
    ) -> Response[Any]:
        paced = _is_message_creating(method)
        chat_id = getattr(method, "chat_id", None)
        for attempt in range(MAX_RETRIES + 1):
            if paced:
                await self.limiter.wait(chat_id)
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                if attempt == MAX_RETRIES:
                    raise
                log.warning(
                    "flood control on %s, retry in %ss", method.__api_method__, exc.retry_after
                )
                await asyncio.sleep(exc.retry_after)
        raise AssertionError("unreachable")
