"""Engine and session factory, tuned per backend."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.ext.compiler import compiles

from db import sqlite_fast

SQLITE_BUSY_TIMEOUT_S = 60
SQLITE_PRAGMAS = (
    # Readers never wait for the writer; a commit writes the log without an fsync (the
    # checkpoint syncs): a crash may lose the last transactions, never corrupts the file.
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}",
    "PRAGMA cache_size=-16000",  # 16 MB of pages: the hot indexes stay in memory
    "PRAGMA temp_store=MEMORY",
)


def _bind_integers_as_bigint(_type: Any, _compiler: Any, **_kw: Any) -> str:
    return "BIGINT"


def _register_postgres_binds() -> None:
    """Ids are 64-bit (bot/ids.py: a button or a typed number may name any id up to 2**63-1,
    and must then find nothing). The asyncpg dialect casts integer parameters to the column's
    INTEGER, which refuses such a value with an error instead of matching no row; cast them
    to BIGINT (the comparison int4 = int8 still uses the index; storing a value that does not
    fit the column still fails)."""
    try:
        from sqlalchemy.dialects.postgresql.asyncpg import AsyncpgInteger
    except ImportError:  # pragma: no cover - the dialect module is part of SQLAlchemy
        return
    compiles(AsyncpgInteger, "postgresql")(_bind_integers_as_bigint)


_register_postgres_binds()


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _json_dumps(value: Any) -> str:
    # Readable UTF-8 in the database (and greppable: a scan for a name finds it).
    return json.dumps(value, ensure_ascii=False)


def create_engine(
    url: str,
    *,
    echo: bool = False,
    pool_size: int = 10,
    max_overflow: int = 20,
    pool_timeout: float = 30.0,
) -> AsyncEngine:
    """An engine for `url`; the pool options apply to PostgreSQL only."""
    if not is_sqlite(url):
        # A real pool: concurrent transactions run in parallel, each on its own connection
        # (row locks and conditional UPDATEs keep them safe). Connections dropped by the
        # server or a proxy are replaced on checkout (pre-ping), and recycled hourly.
        return create_async_engine(
            url,
            echo=echo,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_timeout=pool_timeout,
            pool_pre_ping=True,
            pool_recycle=3600,
            json_serializer=_json_dumps,
        )

    # One connection: SQLite has one writer anyway, and the pool's queue hands the
    # connection to the next waiting transaction at once, in arrival order, where
    # SQLite's own busy handler would poll with sleeps. Transactions never span a
    # Telegram request (Ctx.commit, checked by TransactionCheckMiddleware), so each
    # holds it briefly.
    engine = create_async_engine(
        url,
        echo=echo,
        json_serializer=_json_dumps,
        pool_size=1,
        max_overflow=0,
        pool_timeout=60,
        # Point statements also run on the loop's thread (db/sqlite_fast.py); the pool's
        # one connection is used by one task at a time.
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver, so that we can BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        sqlite_fast.install(dbapi_connection)
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A deferred transaction that reads and then writes fails at once with
        # "database is locked" when another writer committed in between; taking the
        # write lock up front makes concurrent writers queue on busy_timeout instead.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True)
