"""The export's building blocks: sheets and columns as data, the scope, and reading rows in
keyset-paginated chunks as the driver gives them (bot/services/reports/export.py)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import NullType

from db.models import (
    MembershipStatus,
    ParticipantStatus,
)

CHUNK = 5000
PREFETCH_STEPS = 8
ASSESSMENT_ID = "assessment"
LEFT_OUT = (MembershipStatus.WITHDRAWN, MembershipStatus.DECLINED)


class Kind(StrEnum):
    """How the writer shows a column's values."""

    TEXT = "text"
    LABEL = "label"  # text from a small set (the organisation's name): written once, reused
    NUMBER = "number"
    DATE = "date"  # a date, or a moment shown as the local date
    TIME = "time"  # a moment shown in the organisation's timezone
    CODE = "code"  # a code worded by the labels (`export.value.<column>.<code>`)
    FLAG = "flag"  # true/false shown as yes/no


@dataclass(frozen=True, slots=True)
class Column:
    key: str  # the title is `export.col.<key>`
    kind: Kind = Kind.TEXT


Row = Sequence[Any]
Query = Select[*tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class Scope:
    """What to export: these organisations, as of `now` (the KPIs' year)."""

    orgs: tuple[int, ...]
    now: dt.datetime


RowSource = Callable[[AsyncSession, Scope], AsyncIterator[list[Row]]]
Counter = Callable[[AsyncSession, Scope], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class Sheet:
    """One sheet: `name` is its code (`/export csv NAME`, the title `export.sheet.<name>`).
    The first column is always the organisation (its timezone comes with each row)."""

    name: str
    columns: tuple[Column, ...]
    rows: RowSource  # chunks of rows: (timezone, *values per column)
    count: Counter  # how many rows, for the progress


# -- who is in ---------------------------------------------------------------------------------
def present(membership: Any, participant: Any) -> ColumnElement[bool]:
    return and_(
        membership.status.notin_(LEFT_OUT),
        participant.status != ParticipantStatus.FORGOTTEN,
    )


def _raw(stmt: Query) -> Query:
    """The same columns without result processing: the driver's values as they come."""
    return stmt.with_only_columns(
        *(type_coerce(column, NullType()).label(f"c{i}")
          for i, column in enumerate(stmt.selected_columns)),
        maintain_column_froms=True,
    )


async def fetch(session: AsyncSession, query: Query) -> list[Row]:
    """The rows of `query` as the driver gives them. On SQLite straight from aiosqlite (the
    parameters are ids and codes, rendered inline): SQLAlchemy's result machinery costs more
    than the query itself on a million rows."""
    connection = await session.connection()
    if connection.dialect.name == "sqlite":
        sql = str(query.compile(dialect=connection.dialect,
                                compile_kwargs={"literal_binds": True}))
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        return list(await driver.execute_fetchall(sql))
    return list(await connection.execute(_raw(query)))


Page = tuple[Any, list[Row], bool]  # (the last key read, rows, whether more may follow)


async def pipelined(load: Callable[[Any], Awaitable[Page]]) -> AsyncIterator[list[Row]]:
    """The pages `load(last key)` gives (None: the first), each read while the caller works
    on the one before: the driver's thread queries as the writer writes. The caller must
    not use the session between pages."""
    following: asyncio.Future[Page] | None = asyncio.ensure_future(load(None))
    try:
        while following is not None:
            last, rows, more = await following
            following = None
            if more:
                following = asyncio.ensure_future(load(last))
                for _ in range(PREFETCH_STEPS):  # let the query reach the driver's thread
                    await asyncio.sleep(0)
            if rows:
                yield rows
    finally:
        if following is not None:
            following.cancel()
            with contextlib.suppress(BaseException):
                await following


async def keyset(
    session: AsyncSession, stmt: Query, key: Any, size: int = CHUNK
) -> AsyncIterator[list[Row]]:
    """Rows of `stmt` in chunks of `size`, ordered by the unique `key` (its first column,
    left out of the rows), read ahead (`pipelined`)."""

    async def load(last: Any) -> Page:
        query = (stmt if last is None else stmt.where(key > last)).order_by(key).limit(size)
        rows = await fetch(session, query)
        return (rows[-1][0] if rows else None), [row[1:] for row in rows], len(rows) == size

    async for chunk in pipelined(load):
        yield chunk


async def count_rows(session: AsyncSession, stmt: Query) -> int:
    return int((await session.execute(select(func.count()).select_from(stmt.subquery())))
               .scalar_one())
