"""What several instances share through Redis (REDIS_URL): dialog state, the per-user lock,
the update ids already taken.

- Dialog state: aiogram's RedisStorage under `<prefix>:fsm:...`. Redis keeps it across bot
  restarts (run Redis with persistence: appendonly yes, as deploy/ and docker-compose do).
- Per-user order across instances: RedisEventIsolation's lock on the update's user, held
  while the update is handled (the in-process ChatOrderMiddleware keeps arrival order among
  one instance's updates; the lock keeps instances from handling one user's updates at once).
  In webhook mode each update also takes a ticket when it arrives (a per-user counter), and
  waits until the user's earlier tickets are done: one user's updates are handled in the
  order Telegram delivered them, whichever instance got each. A ticket whose instance died
  is waited for ORDER_WAIT_S at most.
- Update deduplication (webhook mode): `SET <prefix>:update:<bot>:<update_id> NX EX ttl`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiogram import BaseMiddleware
from aiogram.fsm.storage.base import DefaultKeyBuilder, StorageKey
from aiogram.fsm.storage.redis import RedisEventIsolation, RedisStorage
from aiogram.types import TelegramObject, User
from redis.asyncio import Redis
from redis.exceptions import LockError

log = logging.getLogger(__name__)

# A handler normally takes well under a second; the lock outlives a stuck one by this much,
# so a crashed instance's lock frees itself.
LOCK_TIMEOUT_S = 60
LOCK_POLL_S = 0.02
ORDER_WAIT_S = 10.0
ORDER_TTL_S = 86400
# done = max(done, ticket), kept as long as the counter.
_FINISH = """
local done = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > done then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end
return 1
"""


def connect(url: str) -> Redis:
    return Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)


def create_storage(redis: Redis, prefix: str) -> RedisStorage:
    keys = DefaultKeyBuilder(prefix=f"{prefix}:fsm", with_destiny=True)
    return RedisStorage(redis, key_builder=keys)


class UserIsolation(RedisEventIsolation):
    """RedisEventIsolation whose release never fails the update: a lock that expired while
    a very slow handler ran is simply gone."""

    @asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncGenerator[None, None]:
        lock = self.redis.lock(
            name=self.key_builder.build(key, "lock"), timeout=LOCK_TIMEOUT_S, sleep=LOCK_POLL_S
        )
        await lock.acquire()
        try:
            yield None
        finally:
            with contextlib.suppress(LockError):
                await lock.release()


def create_isolation(redis: Redis, prefix: str) -> UserIsolation:
    return UserIsolation(redis, key_builder=DefaultKeyBuilder(prefix=f"{prefix}:user"))


class UserOrder:
    """Per-user tickets: updates are handled in the order they were received."""

    def __init__(self, redis: Redis, prefix: str, wait_s: float = ORDER_WAIT_S) -> None:
        self._redis = redis
        self._prefix = f"{prefix}:order:"
        self._wait_s = wait_s

    def _keys(self, user_id: int) -> tuple[str, str]:
        return f"{self._prefix}{user_id}:seq", f"{self._prefix}{user_id}:done"

    async def ticket(self, user_id: int) -> int:
        seq, done = self._keys(user_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(seq)
            pipe.expire(seq, ORDER_TTL_S)
            pipe.expire(done, ORDER_TTL_S)
            number, *_ = await pipe.execute()
        return int(number)

    async def wait_turn(self, user_id: int, ticket: int) -> None:
        _, done = self._keys(user_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait_s
        while int(await self._redis.get(done) or 0) < ticket - 1:
            if loop.time() >= deadline:
                log.warning("an earlier update of this user was not finished: going on")
                return
            await asyncio.sleep(LOCK_POLL_S)

    async def finish(self, user_id: int, ticket: int) -> None:
        _, done = self._keys(user_id)
        await self._redis.eval(_FINISH, 1, done, ticket, ORDER_TTL_S)  # type: ignore[misc, unused-ignore]


class UserLockMiddleware(BaseMiddleware):
    """Handles one update at a time per user across every instance sharing the Redis; with
    an `order_ticket` (webhook mode), after the user's earlier updates."""

    def __init__(self, isolation: UserIsolation, order: UserOrder | None = None) -> None:
        self._isolation = isolation
        self._order = order

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None:
            return await handler(event, data)
        bot_id = data["bot"].id
        key = StorageKey(bot_id=bot_id, chat_id=user.id, user_id=user.id)
        ticket: int | None = data.get("order_ticket")
        if ticket is None or self._order is None:
            async with self._isolation.lock(key):
                return await handler(event, data)
        await self._order.wait_turn(user.id, ticket)
        try:
            async with self._isolation.lock(key):
                return await handler(event, data)
        finally:
            await self._order.finish(user.id, ticket)


class RedisDedup:
    """Remembers update ids across instances: the first instance to claim one handles it."""

    def __init__(self, redis: Redis, prefix: str, bot_id: int, ttl_s: int) -> None:
        self._redis = redis
        self._prefix = f"{prefix}:update:{bot_id}:"
        self._ttl_s = ttl_s

    async def claim(self, update_id: int, owner: str) -> bool:
        return bool(
            await self._redis.set(f"{self._prefix}{update_id}", owner, nx=True, ex=self._ttl_s)
        )


async def ping(redis: Redis) -> bool:
    try:
        return bool(await redis.ping())  # type: ignore[misc, unused-ignore]  # typed for both clients
    except Exception:
        return False
