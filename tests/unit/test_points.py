"""db.points: the hot path's statements give what session.execute gives, on either backend
(on SQLite they run straight on the connection, on PostgreSQL through the session)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest
import pytest_asyncio
from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.exc import ArgumentError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import FsmRecord
from db.points import Point
from tests.backends import is_postgres, query, schema_sessions

_fsm = cast(Table, FsmRecord.__table__)
SELECT = Point(
    select(_fsm.c.key, _fsm.c.state, _fsm.c.data, _fsm.c.updated_at)
    .where(_fsm.c.key == bindparam("k"))
)
INSERT = Point(insert(_fsm), keys=("key", "state", "data"))
UPDATE = Point(
    update(_fsm).where(_fsm.c.key == bindparam("k"))
    .values(state=bindparam("s", type_=_fsm.c.state.type))
)
DATA = {"answers": [1, "ёжик", None], "nested": {"ok": True}}


@pytest_asyncio.fixture
async def db(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with schema_sessions(tmp_path / "points.db") as sessions:
        yield sessions


async def test_values_written_and_read_are_those_of_session_execute(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    async with db() as session:
        await INSERT.run(session, {"key": "point", "state": "S:a", "data": DATA})
        await session.execute(insert(_fsm), {"key": "orm", "state": "S:a", "data": DATA})
        await session.commit()
    # Stored alike: the JSON text and the default's timestamp format.
    stored = query(tmp_path / "points.db",
                   "SELECT key, data, updated_at FROM fsm_states ORDER BY key")
    assert [row[0] for row in stored] == ["orm", "point"]
    assert stored[0][1] == stored[1][1]
    assert len(str(stored[0][2])) == len(str(stored[1][2]))
    async with db() as session:
        rows = await SELECT.rows(session, {"k": "point"})
        assert len(rows) == 1
        row = rows[0]
        assert (row.key, row.state, row.data) == ("point", "S:a", DATA)
        assert row[2] == DATA  # by position too
        assert isinstance(row.updated_at, dt.datetime)
        assert before - dt.timedelta(seconds=1) <= row.updated_at.replace(tzinfo=None)
        via_orm = await session.get(FsmRecord, "point")
        assert via_orm is not None and via_orm.updated_at == row.updated_at
        assert await SELECT.rows(session, {"k": "nobody"}) == []


async def test_an_update_counts_its_rows_and_sets_the_onupdate_column(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db() as session:
        await INSERT.run(session, {"key": "k", "state": "S:a", "data": None})
        await session.commit()
    async with db() as session:
        first = (await SELECT.rows(session, {"k": "k"}))[0].updated_at
        assert await UPDATE.run(session, {"k": "k", "s": "S:b"}) == 1
        assert await UPDATE.run(session, {"k": "missing", "s": "S:b"}) == 0
        await session.commit()
    async with db() as session:
        row = (await SELECT.rows(session, {"k": "k"}))[0]
        assert row.state == "S:b" and row.updated_at >= first


async def test_pending_orm_changes_are_flushed_before_a_point_reads(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db() as session:
        session.add(FsmRecord(key="pending", state="S:p", data={"x": 1}))
        rows = await SELECT.rows(session, {"k": "pending"})
        assert [(r.state, r.data) for r in rows] == [("S:p", {"x": 1})]


async def test_after_a_commit_a_point_runs_in_the_sessions_next_transaction(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db() as session:
        await INSERT.run(session, {"key": "k", "state": "S:1", "data": None})
        await session.commit()
        await UPDATE.run(session, {"k": "k", "s": "S:2"})
        await session.rollback()  # undoes the second write only
        assert (await SELECT.rows(session, {"k": "k"}))[0].state == "S:1"
        await session.commit()
    async with db() as session:
        assert (await SELECT.rows(session, {"k": "k"}))[0].state == "S:1"


async def test_database_errors_are_sqlalchemys_and_the_session_recovers(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db() as session:
        await INSERT.run(session, {"key": "dup", "state": None, "data": None})
        with pytest.raises(IntegrityError):
            await INSERT.run(session, {"key": "dup", "state": None, "data": None})
        await session.rollback()
        assert await SELECT.rows(session, {"k": "dup"}) == []


async def test_an_insert_refuses_a_column_it_was_not_compiled_for(
    db: async_sessionmaker[AsyncSession],
) -> None:
    if is_postgres():
        pytest.skip("PostgreSQL runs them through the session, which writes every column")
    async with db() as session:
        with pytest.raises(ArgumentError):
            await INSERT.run(
                session, {"key": "k", "state": None, "data": None, "updated_at": None}
            )


async def test_on_sqlite_points_do_not_go_through_session_execute(
    db: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    if is_postgres():
        pytest.skip("PostgreSQL runs them through the session")

    async def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("a point statement went through session.execute")

    async with db() as session:
        await INSERT.run(session, {"key": "k", "state": "S:1", "data": DATA})  # opens the tx
        monkeypatch.setattr(session, "execute", refuse)
        assert await UPDATE.run(session, {"k": "k", "s": "S:2"}) == 1
        assert (await SELECT.rows(session, {"k": "k"}))[0].data == DATA
