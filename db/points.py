"""The hot path's statements, run straight on SQLite inside the update's transaction.

SQLAlchemy spends about 0.1 ms executing a Core statement (its cache key, an execution
context, a result object): ten times what SQLite spends on an indexed point read or write,
and an answer runs six of them (`python -m bench.hotpath`). A `Point` is such a statement,
compiled once per connection (in the connection's `info`, for the engine's own dialect and
its JSON serializer). A call binds its parameters with the column types' own processors and
Python-side defaults (`utcnow` of `answered_at`, `updated_at`), runs it on the sqlite3
connection of the transaction the session holds, and processes the result columns the same
way: the values read and written are exactly those of `session.execute`.

Everything else goes through `session.execute` unchanged:
- PostgreSQL (and any engine without `db.sqlite_fast`'s connection);
- an ORM change waiting to be flushed (autoflush must write it first);
- the connection busy on its worker thread.

The first statement of an update opens the transaction through the session (BEGIN IMMEDIATE,
`db.engine`): from then on the write lock is held, so no statement here waits for a lock.
SQLite's errors are raised as SQLAlchemy's (`IntegrityError`, `OperationalError`, …), as
`session.execute` raises them.
"""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ClauseElement, Insert, Select, Update

from db.sqlite_fast import OneTripConnection

Processor = Callable[[Any], Any]
_MISSING = object()
_CONNECTION = "points_connection"  # session.info: the Connection of the open transaction
_COMPILED = "points_compiled"  # Connection.info: {Point: its compiled form}


@dataclass(frozen=True, slots=True)
class _Param:
    name: str  # the caller's key
    literal: Any  # a value fixed in the statement, or _MISSING
    default: Callable[[], Any] | None  # a Python-side default (insert) or onupdate (update)
    process: Processor | None


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    keys: frozenset[str] | None  # an INSERT's columns, fixed at compile time
    params: tuple[_Param, ...]
    # (position, processor) of the result's columns that have one; the row's named tuple
    processed: tuple[tuple[int, Processor], ...]
    row: Any

    def bind(self, given: Mapping[str, Any]) -> list[Any]:
        if self.keys is not None and not self.keys.issuperset(given):
            # SQLAlchemy would write the other columns too: never drop one silently.
            raise exc.ArgumentError(f"not among the INSERT's keys: {set(given) - self.keys}")
        values = []
        for param in self.params:
            value = given.get(param.name, _MISSING)
            if value is _MISSING:
                if param.literal is not _MISSING:
                    value = param.literal
                elif param.default is not None:
                    value = param.default()
                else:
                    raise exc.ArgumentError(f"a value is required for parameter {param.name!r}")
            values.append(param.process(value) if param.process else value)
        return values

    def rows(self, raw_rows: list[Any]) -> list[Any]:
        make = self.row._make
        if not self.processed:
            return [make(raw) for raw in raw_rows]
        rows = []
        for raw in raw_rows:
            values = list(raw)
            for position, process in self.processed:
                values[position] = process(values[position])
            rows.append(make(values))
        return rows


def _compile(statement: ClauseElement, keys: Sequence[str], dialect: Dialect) -> _Compiled:
    compiled: Any = statement.compile(dialect=dialect, column_keys=list(keys) or None)
    defaults: dict[str, Callable[[], Any]] = {}
    for column in compiled.insert_prefetch:
        defaults[column.key] = _python_default(column, column.default)
    for column in compiled.update_prefetch:
        defaults[column.key] = _python_default(column, column.onupdate)
    params = []
    for name in compiled.positiontup or ():
        bind = compiled.binds[name]
        fixed = name not in keys and name not in defaults and not bind.required
        params.append(_Param(
            name=bind.key,
            literal=bind.effective_value if fixed else _MISSING,
            default=defaults.get(name),
            process=bind.type.dialect_impl(dialect).bind_processor(dialect),
        ))
    columns = list(statement.selected_columns) if isinstance(statement, Select) else []
    processors = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]
    processed = tuple((i, p) for i, p in enumerate(processors) if p is not None)
    row = namedtuple("Row", [c.key for c in columns], rename=True)  # type: ignore[misc]
    return _Compiled(
        compiled.string, frozenset(keys) if keys else None, tuple(params), processed, row
    )


def _python_default(column: Any, default: Any) -> Callable[[], Any]:
    if default is None:
        raise TypeError(f"{column} has no Python-side default")
    if default.is_scalar:
        value = default.arg
        return lambda: value
    if default.is_callable:
        # SQLAlchemy's wrapper takes an execution context: there is none here, so only a
        # default that ignores it (such as `utcnow`) may be used by a point.
        function = default.arg
        return lambda: function(None)
    raise TypeError(f"{column}: only scalar and callable defaults run outside SQLAlchemy")


class Point:
    """An indexed point statement of the hot path (see the module's docstring).

    `keys` names the parameters an INSERT is given (its column list depends on them)."""

    __slots__ = ("statement", "_keys")

    def __init__(self, statement: Select[Any] | Insert | Update, *, keys: Sequence[str] = ()):
        self.statement = statement
        self._keys = tuple(keys)

    async def rows(self, session: AsyncSession, params: Mapping[str, Any]) -> Sequence[Any]:
        """The result's rows (named tuples here, SQLAlchemy's rows on the fallback)."""
        found = await _on_sqlite(session)
        if found is None:
            return (await session.execute(self.statement, params)).all()
        connection, raw = found
        compiled = self._compiled(connection)
        cursor = _run(raw, compiled, params)
        try:
            return compiled.rows(cursor.fetchall())
        finally:
            cursor.close()

    async def run(self, session: AsyncSession, params: Mapping[str, Any]) -> int:
        """Run a write; the number of rows it matched."""
        found = await _on_sqlite(session)
        if found is None:
            result: Any = await session.execute(self.statement, params)
            return int(result.rowcount)
        connection, raw = found
        cursor = _run(raw, self._compiled(connection), params)
        try:
            return cursor.rowcount
        finally:
            cursor.close()

    def _compiled(self, connection: Connection) -> _Compiled:
        cache: dict[Point, _Compiled] = connection.info.setdefault(_COMPILED, {})
        compiled = cache.get(self)
        if compiled is None:
            compiled = cache[self] = _compile(self.statement, self._keys, connection.dialect)
        return compiled


def _run(raw: sqlite3.Connection, compiled: _Compiled, params: Mapping[str, Any]) -> Any:
    values = compiled.bind(params)
    try:
        return raw.execute(compiled.sql, values)
    except sqlite3.Error as error:
        raise exc.DBAPIError.instance(
            compiled.sql, values, error, sqlite3.Error
        ) from error


async def _on_sqlite(session: AsyncSession) -> tuple[Connection, sqlite3.Connection] | None:
    """The session's connection and its sqlite3 connection, when a statement may run there
    now: SQLite, its transaction open, nothing waiting to be flushed, the connection idle."""
    sync = session.sync_session
    if not sync._is_clean():
        return None  # autoflush first: through session.execute
    cached: Connection | None = session.info.get(_CONNECTION)
    if cached is not None and not cached.closed and cached.in_transaction():
        connection = cached
    else:
        if session.bind is None or session.bind.dialect.name != "sqlite":
            return None
        # Opens the transaction (BEGIN IMMEDIATE) if it is not open yet. After a commit the
        # session's Connection is closed: the next one is looked up again, never reused.
        opened = (await session.connection()).sync_connection
        assert opened is not None
        connection = session.info[_CONNECTION] = opened
    adapted = connection.connection.dbapi_connection
    if not isinstance(adapted, OneTripConnection):
        return None
    raw = adapted._connection._conn
    if raw is None or not raw.in_transaction or adapted._execute_mutex.locked():
        return None
    return connection, raw
