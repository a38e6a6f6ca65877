"""aiogram FSM storage in our database, so a restart never drops a dialog."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder, KeyBuilder, StorageKey
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import FsmRecord


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

    async def _upsert(self, key: StorageKey, **values: Any) -> None:
        storage_key = self._key(key)
        for _ in range(2):
            async with self._sessionmaker() as session:
                record = await session.get(FsmRecord, storage_key)
                if record is None:
                    session.add(FsmRecord(key=storage_key, **values))
                else:
                    for name, value in values.items():
                        setattr(record, name, value)
                try:
                    await session.commit()
                    return
                except IntegrityError:
                    # A concurrent first write for the same key (PostgreSQL); retry as update.
                    await session.rollback()
        raise RuntimeError("could not store dialog state")

    async def set_state(self, key: StorageKey, state: str | State | None = None) -> None:
        value = state.state if isinstance(state, State) else state
        await self._upsert(key, state=value)

    async def get_state(self, key: StorageKey) -> str | None:
        async with self._sessionmaker() as session:
            record = await session.get(FsmRecord, self._key(key))
            return record.state if record else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._upsert(key, data=dict(data) or None)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        async with self._sessionmaker() as session:
            record = await session.get(FsmRecord, self._key(key))
            return dict(record.data or {}) if record else {}

    async def close(self) -> None:
        return None


async def forget_dialogs(session: AsyncSession, telegram_id: int) -> None:
    """Delete every stored dialog of a user (their FSM data may hold typed answers)."""
    # DefaultKeyBuilder: prefix:bot_id:chat_id:user_id[:thread][:business]:destiny
    await session.execute(delete(FsmRecord).where(FsmRecord.key.like(f"%:{telegram_id}:%")))


