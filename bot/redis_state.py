"""What several instances share through Redis (REDIS_URL): dialog state, the per-user lock,
the update ids already taken.

- Dialog state: aiogram's RedisStorage under `<prefix>:fsm:...`. Redis keeps it across bot
  restarts (run Redis with persistence: appendonly yes, as deploy/ and docker-compose do).
- Per-user order across instances: RedisEventIsolation's lock on the update's user, held
  while the update is handled (the in-process ChatOrderMiddleware keeps arrival order among
  one instance's updates; the lock keeps instances from handling one user's updates at once).
- Update deduplication (webhook mode): `SET <prefix>:update:<bot>:<update_id> NX EX ttl`.
"""

from __future__ import annotations

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


class UserLockMiddleware(BaseMiddleware):
    """Handles one update at a time per user across every instance sharing the Redis."""

    def __init__(self, isolation: UserIsolation) -> None:
        self._isolation = isolation

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
        async with self._isolation.lock(key):
            return await handler(event, data)


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
        return bool(await redis.ping())  # type: ignore[misc]  # typed for both clients
    except Exception:
        return False
