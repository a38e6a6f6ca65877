"""aiogram FSM storage in our database, so a restart never drops a dialog."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder, KeyBuilder, StorageKey
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import FsmRecord

# The session of the update being handled. Dialog state written while handling an update
# goes into that update's transaction: it commits or rolls back with the handler's changes,
# and on SQLite a second connection would wait for the write lock the first one holds.
update_session: ContextVar[AsyncSession | None] = ContextVar("update_session", default=None)


class DatabaseStorage(BaseStorage):
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        key_builder: KeyBuilder | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._keys = key_builder or DefaultKeyBuilder(with_destiny=True)

    def _key(self, key: StorageKey) -> str:
        return self._keys.build(key)

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncSession]:
        shared = update_session.get()
        if shared is not None:
            yield shared
            return
        async with self._sessionmaker() as session:
            yield session
            await session.commit()

    async def _upsert(self, key: StorageKey, **values: Any) -> None:
        storage_key = self._key(key)
        async with self._session() as session:
            record = await session.get(FsmRecord, storage_key)
            if record is not None:
                for name, value in values.items():
                    setattr(record, name, value)
                if record.state is None and not record.data:
                    await session.delete(record)  # a finished dialog leaves no row behind
                    await session.flush()
                elif update_session.get() is None:
                    await session.flush()
                # In the update's session the change is flushed with the update's other
                # writes (set_state and set_data in a row make one UPDATE, not two).
                return
            if all(value is None for value in values.values()):
                return
            try:
                async with session.begin_nested():
                    session.add(FsmRecord(key=storage_key, **values))
            except IntegrityError:
                # A concurrent first write for the same key (PostgreSQL): update instead.
                record = await session.get(FsmRecord, storage_key, populate_existing=True)
                assert record is not None
                for name, value in values.items():
                    setattr(record, name, value)
                await session.flush()

    async def set_state(self, key: StorageKey, state: str | State | None = None) -> None:
        value = state.state if isinstance(state, State) else state
        await self._upsert(key, state=value)

    async def get_state(self, key: StorageKey) -> str | None:
        async with self._session() as session:
            record = await session.get(FsmRecord, self._key(key))
            return record.state if record else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._upsert(key, data=dict(data) or None)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        async with self._session() as session:
            record = await session.get(FsmRecord, self._key(key))
            return dict(record.data or {}) if record else {}

    async def close(self) -> None:
        return None


async def forget_dialogs(session: AsyncSession, telegram_id: int) -> None:
    """Delete every stored dialog of a user (their FSM data may hold typed answers)."""
    # DefaultKeyBuilder: prefix:bot_id:chat_id:user_id[:thread][:business]:destiny
    await session.execute(delete(FsmRecord).where(FsmRecord.key.like(f"%:{telegram_id}:%")))


