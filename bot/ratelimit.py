"""Outgoing request pacing: replies first, the outbox in the budget that is left.

Telegram documents about 30 messages per second overall and about one message per second
per chat (with short bursts). Two kinds of message share those limits:

- Replies to a person's own action (everything a handler sends). They are limited only per
  chat (a bucket of `chat_burst` tokens refilled at `chat_rate`/s) and by a 429's
  `retry_after`. They also draw from the global bucket, but never wait for it: the bucket
  may go into debt, which the outbox then pays off.
- Messages the bot sends on its own initiative (the outbox: reminders, polls, broadcasts),
  sent inside `initiative()`. They wait until the global bucket (`global_rate`/s, no burst)
  holds a whole token, so they slow down as soon as replies are busy, and they keep at least
  1/`chat_rate` seconds between two of them in one chat.

A 429 pauses what it concerns: that chat for `retry_after` seconds; when it comes for a chat
we had hardly written to, or 429s come for two different chats within one pause (that is
Telegram's global flood control), everything pauses, and
for STRICT_S seconds after it replies queue for the global budget too, so that the end of the
pause is not another flood. A request that names no chat (answering a button) just waits
itself. Replies are retried after the pause (up to MAX_RETRIES); an outbox request gets the
TelegramRetryAfter back, so the sender can put its row back in the queue.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
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
MAX_DEBT_S = 2.0  # replies may run the global bucket this many seconds into debt
STRICT_S = 30.0  # after a global flood, replies queue for the global budget this long
_TRACKED_CHATS = 10_000

# Set inside the outbox sender's tasks: the request is the bot's own initiative. A context
# variable is per task, so a reply sent concurrently is never mistaken for one.
_initiative: ContextVar[bool] = ContextVar("nastavnik_initiative", default=False)


@contextmanager
def initiative() -> Iterator[None]:
    """Requests made inside are paced as the bot's own messages (the outbox)."""
    token = _initiative.set(True)
    try:
        yield
    finally:
        _initiative.reset(token)


@dataclass(slots=True)
class _Chat:
    tokens: float
    stamp: float
    last_initiative: float = float("-inf")
    paused_until: float = 0.0


class FloodLimiter:
    """The shared budget. Not thread-safe; one event loop owns it."""

    def __init__(
        self,
        global_rate: float = GLOBAL_RATE,
        chat_rate: float = CHAT_RATE,
        chat_burst: float = CHAT_BURST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.global_rate = global_rate
        self.chat_rate = chat_rate
        self.chat_burst = max(1.0, chat_burst)
        self._clock = clock
        self._tokens = 1.0
        self._stamp = clock()
        self._paused_until = 0.0
        self._strict_until = 0.0
        self._chats: OrderedDict[Any, _Chat] = OrderedDict()
        self._last_429: tuple[float, Any] | None = None  # (until, chat) of the latest 429
        self._lock: asyncio.Lock | None = None

    # --- buckets -----------------------------------------------------------------------------

    def _refill(self, now: float) -> None:
        self._tokens = min(1.0, self._tokens + (now - self._stamp) * self.global_rate)
        self._stamp = now

    def _chat(self, chat_id: Any, now: float) -> _Chat:
        chat = self._chats.pop(chat_id, None)
        if chat is None:
            chat = _Chat(self.chat_burst, now)
        else:
            chat.tokens = min(self.chat_burst, chat.tokens + (now - chat.stamp) * self.chat_rate)
            chat.stamp = now
        self._chats[chat_id] = chat
        if len(self._chats) > _TRACKED_CHATS:
            self._chats.popitem(last=False)
        return chat

    def reply_delay(self, chat_id: Any) -> float:
        """Reserve a reply's slot: wait for the chat (and pauses); debit the global budget.

        After a global flood (429s for several chats) replies queue for the global budget too,
        for STRICT_S seconds, so that the end of the pause is not another flood."""
        now = self._clock()
        self._refill(now)
        self._tokens -= 1.0
        if now < self._strict_until:
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self.global_rate
        else:
            self._tokens = max(self._tokens, -MAX_DEBT_S * self.global_rate)
            wait = 0.0
        wait = max(wait, self._paused_until - now)
        if chat_id is None:
            return wait
        chat = self._chat(chat_id, now)
        chat.tokens -= 1.0
        chat_wait = 0.0 if chat.tokens >= 0 else -chat.tokens / self.chat_rate
        return max(wait, chat_wait, chat.paused_until - now)

    def _chat_wait(self, chat_id: Any, now: float) -> float:
        if chat_id is None:
            return 0.0
        chat = self._chat(chat_id, now)
        spacing = chat.last_initiative + 1.0 / self.chat_rate - now
        short = 0.0 if chat.tokens >= 1.0 else (1.0 - chat.tokens) / self.chat_rate
        return max(spacing, short, chat.paused_until - now)

    def initiative_delay(self, chat_id: Any) -> float:
        """How long an outbox message must still wait; 0 means it was given its slot now."""
        now = self._clock()
        self._refill(now)
        wait = max(
            self._paused_until - now,
            self._chat_wait(chat_id, now),
            0.0 if self._tokens >= 1.0 else (1.0 - self._tokens) / self.global_rate,
        )
        if wait > 0:
            return wait
        self._tokens -= 1.0
        if chat_id is not None:
            chat = self._chats[chat_id]
            chat.tokens -= 1.0
            chat.last_initiative = now
        return 0.0

    async def wait_reply(self, chat_id: Any) -> None:
        delay = self.reply_delay(chat_id)
        if delay > 0:
            await asyncio.sleep(delay)

    async def wait_initiative(self, chat_id: Any) -> None:
        """Wait for the chat outside the queue, then for the global budget one at a time."""
        while True:
            delay = self._chat_wait(chat_id, self._clock())
            if delay <= 0:
                break
            await asyncio.sleep(delay)
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            while True:
                delay = self.initiative_delay(chat_id)
                if delay <= 0:
                    return
                await asyncio.sleep(delay)

    # --- 429 ---------------------------------------------------------------------------------

    def retry_after(self, chat_id: Any, seconds: float) -> None:
        """Telegram said wait: pause that chat, or everything if the flood is not one chat's."""
        now = self._clock()
        until = now + seconds
        previous = self._last_429
        self._last_429 = (until, chat_id)
        chat = self._chat(chat_id, now) if chat_id is not None else None
        everything = (
            chat is None
            # We had hardly written to this chat: it is the bot's overall limit.
            or chat.tokens >= self.chat_burst - 2.0
            or (previous is not None and previous[0] > now and previous[1] != chat_id)
        )
        if everything:
            self._paused_until = max(self._paused_until, until)
            self._strict_until = max(self._strict_until, until + STRICT_S)
            log.warning("flood control: all sending paused for %ss", seconds)
        elif chat is not None:
            chat.paused_until = max(chat.paused_until, until)
            log.warning("flood control: chat %s paused for %ss", chat_id, seconds)

    def paused_for(self, chat_id: Any) -> float:
        """Seconds until this chat may be sent to again after a 429 (0 if not paused)."""
        now = self._clock()
        chat = self._chats.get(chat_id)
        return max(0.0, self._paused_until - now, (chat.paused_until - now) if chat else 0.0)


def _is_message_creating(method: TelegramMethod[Any]) -> bool:
    name = method.__api_method__
    return name.startswith(("send", "copyMessage", "forwardMessage")) and name != "sendChatAction"


class RetryAfterMiddleware(BaseRequestMiddleware):
    """Paces message-creating requests; a reply that got a 429 is retried after the pause."""

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
        own = _initiative.get()
        for attempt in range(MAX_RETRIES + 1):
            if paced and own:
                await self.limiter.wait_initiative(chat_id)
            elif paced:
                await self.limiter.wait_reply(chat_id)
            elif (pause := self.limiter.paused_for(chat_id)) > 0:
                await asyncio.sleep(pause)
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                if own or attempt == MAX_RETRIES:
                    if chat_id is not None:
                        self.limiter.retry_after(chat_id, exc.retry_after)
                    raise
                log.warning(
                    "flood control on %s, retry in %ss", method.__api_method__, exc.retry_after
                )
                if chat_id is None:  # nothing to pause but this request
                    await asyncio.sleep(exc.retry_after)
                else:
                    self.limiter.retry_after(chat_id, exc.retry_after)
        raise AssertionError("unreachable")
