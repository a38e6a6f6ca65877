"""PostgreSQL specifics (on a PostgreSQL database whatever TEST_DB says; skipped without one):
outbox senders pass over each other's rows, the pool is real, forged 64-bit ids find nothing."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import select, text

from bot.config import DatabaseSettings, load_settings
from bot.ids import MAX_ID
from bot.services import outbox
from db.engine import create_engine, create_sessionmaker
from db.models import OutboxMessage, Participant
from db.queries import outbox as q

NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)


async def test_senders_skip_rows_another_sender_holds(pg_url: str) -> None:
    engine = create_engine(pg_url)
    sm = create_sessionmaker(engine)
    try:
        async with sm() as session:
            for i in range(10):
                await outbox.enqueue(session, chat_id=7000 + i, text=f"m{i}", key=f"k{i}",
                                     now=NOW)
            await session.commit()
        async with sm() as first, sm() as second:
            mine = [row.id for row in await q.due(first, NOW, 4)]  # locked until first ends
            theirs = [row.id for row in await asyncio.wait_for(q.due(second, NOW, 10), 5)]
            assert len(mine) == 4 and len(theirs) == 6 and not set(mine) & set(theirs)
            # each claims what it looked at; nothing is taken twice
            assert await q.claim(second, theirs, NOW) == set(theirs)
            await second.commit()
            assert await q.claim(first, mine, NOW) == set(mine)
            await first.commit()
        async with sm() as session:
            statuses = (await session.execute(select(OutboxMessage.status))).scalars().all()
            assert statuses == ["sending"] * 10
    finally:
        await engine.dispose()


async def test_the_pool_is_real_and_sized_by_settings(pg_url: str) -> None:
    settings = load_settings(DatabaseSettings, database_url=pg_url, db_pool_size=3,
                             db_max_overflow=1)
    engine = create_engine(pg_url, pool_size=settings.db_pool_size,
                           max_overflow=settings.db_max_overflow, pool_timeout=5)
    sm = create_sessionmaker(engine)
    try:
        sessions = [sm() for _ in range(4)]
        pids = {
            (await s.execute(text("SELECT pg_backend_pid()"))).scalar_one() for s in sessions
        }
        assert len(pids) == 4  # four transactions at once, on four connections
        for s in sessions:
            await s.close()
        assert engine.pool.size() == 3  # type: ignore[attr-defined]
    finally:
        await engine.dispose()


async def test_a_forged_64_bit_id_finds_nothing(pg_url: str) -> None:
    engine = create_engine(pg_url)
    try:
        async with create_sessionmaker(engine)() as session:
            assert await session.get(Participant, MAX_ID) is None
            found = await session.execute(select(Participant).where(Participant.id == MAX_ID))
            assert found.first() is None
    finally:
        await engine.dispose()
