"""PostgreSQL for the benchmarks: a throwaway database, filled from the SQLite one they build.

The benchmarks prepare their data in SQLite (bench/dataset.py, bench/throughput.py's users);
with `--db postgres` that file is copied row by row into a fresh, migrated PostgreSQL
database (same models, so the same values), the bot runs on it, and the database is
dropped at the end.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from db.base import Base
from db.migrate import upgrade_to_head

DEFAULT_ADMIN_URL = "postgresql+asyncpg://postgres:postgres@127.0.0.1:5432/postgres"
BATCH = 2000


def admin_url() -> str:
    return os.environ.get("BENCH_PG_URL") or os.environ.get("TEST_PG_URL") or DEFAULT_ADMIN_URL


def _with_database(url: str, name: str) -> str:
    base, _, query = url.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")


async def _admin(url: str, statement: str) -> None:
    engine = create_async_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


def create_database(admin: str | None = None) -> str:
    """A new, empty database on the server of `admin` (an admin DSN); its URL."""
    admin = admin or admin_url()
    name = f"nst_bench_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
    return _with_database(admin, name)


def drop_database(url: str, admin: str | None = None) -> None:
    name = url.partition("?")[0].rsplit("/", 1)[1]
    if not re.fullmatch(r"nst_bench_[0-9a-f]{12}", name):
        raise ValueError(f"refusing to drop {name!r}: not a benchmark database")
    asyncio.run(_admin(admin or admin_url(), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _copy(sqlite_path: Path, url: str) -> dict[str, int]:
    source = create_sync_engine(f"sqlite:///{sqlite_path}")
    target = create_async_engine(url, poolclass=NullPool)
    counts: dict[str, int] = {}
    try:
        async with target.begin() as dst:
            with source.connect() as src:
                for table in Base.metadata.sorted_tables:
                    rows = src.execute(select(table)).mappings()
                    copied = 0
                    while chunk := [dict(row) for row in rows.fetchmany(BATCH)]:
                        await dst.execute(table.insert(), chunk)
                        copied += len(chunk)
                    counts[table.name] = copied
                    if "id" in table.c and copied:
                        top = (await dst.execute(select(func.max(table.c.id)))).scalar_one()
                        await dst.execute(
                            text("SELECT setval(pg_get_serial_sequence(:t, 'id'), :v)"),
                            {"t": table.name, "v": top},
                        )
    finally:
        source.dispose()
        await target.dispose()
    return counts


def copy_from_sqlite(sqlite_path: Path, url: str) -> dict[str, int]:
    """Migrate the database at `url` and copy every table of the SQLite file into it
    (the file must be at the same migration); rows copied per table."""
    upgrade_to_head(url)
    return asyncio.run(_copy(sqlite_path, url))


async def _fetch(url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            return [tuple(row) for row in (await conn.execute(text(sql))).all()]
    finally:
        await engine.dispose()


def fetch(url: str, sql: str) -> list[tuple[Any, ...]]:
    return asyncio.run(_fetch(url, sql))


def stored_answers(url: str, first_user: int) -> dict[int, set[str]]:
    """Question ids answered per Telegram id (from first_user on), as in bench/throughput.py."""
    rows = fetch(
        url,
        "SELECT p.telegram_id, a.question_id FROM answers a"
        " JOIN questionnaire_responses r ON r.id = a.response_id"
        " JOIN memberships m ON m.id = r.membership_id"
        " JOIN participants p ON p.id = m.participant_id"
        f" WHERE p.telegram_id >= {int(first_user)}",
    )
    found: dict[int, set[str]] = {}
    for telegram_id, question_id in rows:
        found.setdefault(telegram_id, set()).add(question_id)
    return found
