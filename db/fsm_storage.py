"""aiogram FSM storage in our database, so a restart never drops a dialog."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any, cast

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder, KeyBuilder, StorageKey
from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import FsmRecord
from db.points import Point
from db.sqlite_fast import point_statements

# The session of the update being handled. Dialog state written while handling an update
# goes into that update's transaction: it commits or rolls back with the handler's changes,
# and on SQLite a second connection would wait for the write lock the first one holds.
update_session: ContextVar[AsyncSession | None] = ContextVar("update_session", default=None)
_CACHE = "fsm_records"
# The table, not the mapped class: statements on it run as Core (no ORM compile and
# execution layer for a row that is never an object).
_fsm = cast(Table, FsmRecord.__table__)
# Built once (immutable statements): SQLAlchemy memoizes a statement's cache key, and
# building and keying a fresh one cost more than running it (py-spy).
_SELECT = Point(select(_fsm.c.state, _fsm.c.data).where(_fsm.c.key == bindparam("k")))
_UPDATE = Point(
    update(_fsm)
    .where(_fsm.c.key == bindparam("k"))
    .values(state=bindparam("s", type_=_fsm.c.state.type),
            data=bindparam("d", type_=_fsm.c.data.type))
)
_INSERT = insert(_fsm)
_DELETE = delete(_fsm).where(_fsm.c.key == bindparam("k"))


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
            with point_statements():  # one row by primary key
                yield shared
            return
        async with self._sessionmaker() as session:
            yield session
            await session.commit()

    # The dialog of the update's user is read once and written with single statements:
    # (state, data, whether the row exists), per key, in the session's info.
    async def _read(self, session: AsyncSession, key: str) -> tuple[str | None, Any, bool]:
        cache: dict[str, tuple[str | None, Any, bool]] = session.info.setdefault(_CACHE, {})
        found = cache.get(key)
        if found is None:
            rows = await _SELECT.rows(session, {"k": key})
            found = (rows[0].state, rows[0].data, True) if rows else (None, None, False)
            cache[key] = found
        return found

    async def _read_once(self, key: str) -> tuple[str | None, Any, bool]:
        """A read: from the update's session without a context manager (read on every
        update, several times), or in a session of its own outside an update."""
        shared = update_session.get()
        if shared is None:
            async with self._session() as session:
                return await self._read(session, key)
        with point_statements():  # one row by primary key (when not read yet)
            return await self._read(shared, key)

    async def _write(self, key: StorageKey, **values: Any) -> None:
        storage_key = self._key(key)
        async with self._session() as session:
            old_state, old_data, exists = await self._read(session, storage_key)
            state = values.get("state", old_state)
            data = values.get("data", old_data)
            if exists and state == old_state and data == old_data:
                return  # e.g. the same state set again: nothing to write
            cache = session.info[_CACHE]
            if state is None and not data:
                if exists:  # a finished dialog leaves no row behind
                    await session.execute(_DELETE, {"k": storage_key})
                cache[storage_key] = (None, None, False)
                return
            cache[storage_key] = (state, data, True)
            row = {"k": storage_key, "s": state, "d": data}
            if exists and await _UPDATE.run(session, row):
                return
            try:
                async with session.begin_nested():
                    await session.execute(
                        _INSERT, {"key": storage_key, "state": state, "data": data}
                    )
            except IntegrityError:
                # A concurrent first write for the same key (PostgreSQL): update instead.
                await _UPDATE.run(session, row)

    async def set_state(self, key: StorageKey, state: str | State | None = None) -> None:
        value = state.state if isinstance(state, State) else state
        await self._write(key, state=value)

    async def get_state(self, key: StorageKey) -> str | None:
        return (await self._read_once(self._key(key)))[0]

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._write(key, data=dict(data) or None)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        return dict((await self._read_once(self._key(key)))[1] or {})

    async def close(self) -> None:
        return None


async def forget_dialogs(session: AsyncSession, telegram_id: int) -> None:
    """Delete every stored dialog of a user (their FSM data may hold typed answers)."""
    # DefaultKeyBuilder: prefix:bot_id:chat_id:user_id[:thread][:business]:destiny
    await session.execute(delete(FsmRecord).where(FsmRecord.key.like(f"%:{telegram_id}:%")))
    session.info.pop(_CACHE, None)


