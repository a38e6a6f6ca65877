"""Update middlewares: one DB session per update, the participant and roles, texts."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, User
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import pick_language, translator
from bot.roles import roles_of
from db.fsm_storage import update_session
from db.queries import participants as q

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class ChatOrderMiddleware(BaseMiddleware):
    """Handles one update at a time per user, in arrival order.

    Polling runs updates concurrently; without this a quick second tap could read dialog
    state that the first tap's handler has not committed yet.
    """

    def __init__(self) -> None:
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None:
            return await handler(event, data)
        key = user.id
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with lock:
                return await handler(event, data)
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key]
                del self._locks[key]


class DbSessionMiddleware(BaseMiddleware):
    """Opens a session for the update; commits if the handler returns, rolls back if not."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        async with self._sessionmaker() as session:
            data["session"] = session
            token = update_session.set(session)
            try:
                result = await handler(event, data)
            except BaseException:
                await session.rollback()
                raise
            finally:
                update_session.reset(token)
            if session.in_transaction():
                await session.commit()
            return result


class ParticipantMiddleware(BaseMiddleware):
    """Loads the participant (if known), their roles and the translator for their language."""

    def __init__(self, admin_ids: frozenset[int]) -> None:
        self._admin_ids = admin_ids

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        session: AsyncSession = data["session"]
        participant = None
        if user is not None:
            participant = await q.by_telegram_id(session, user.id)
            # End the read transaction now: on SQLite every transaction holds the write lock.
            await session.commit()
        language = (
            participant.language if participant else pick_language(user and user.language_code)
        )
        data["participant"] = participant
        data["roles"] = roles_of(participant, user.id if user else None, self._admin_ids)
        data["t"] = translator(language)
        return await handler(event, data)
