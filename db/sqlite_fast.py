"""One thread round trip per SQLite statement.

SQLAlchemy's aiosqlite adapter makes four trips to aiosqlite's worker thread for every
statement (open a cursor, execute, fetch all, close); each trip is a queue hand-off and a
GIL hand-back, and under load they cost more than SQLite's own work (py-spy: a quarter of
the bot's samples waited in aiosqlite's queue). This cursor runs execute, fetch and close as
one function on the worker thread. SQLite still runs off the event loop.

Installed per connection by `db.engine` (the connection's class is swapped for a subclass
that only names this cursor class); nothing global is patched.

Point statements run on the event loop's own thread inside `point_statements()`: the hot
path of an update (the participant, the dialog state, the response and its answers, by
primary key or unique index) marks them so. Inside a transaction that began with BEGIN
IMMEDIATE (db/engine.py) such a statement never waits for a lock (the write lock is held,
and WAL readers never wait), and it costs SQLite tens of microseconds: less than the two
thread hand-offs of sending it to the worker. BEGIN IMMEDIATE is tried on the loop's
thread with a zero busy timeout, and goes to the worker thread (with the normal timeout) when
another process holds the write lock; every unmarked statement (reports, scans) goes to the
worker thread: the loop never waits for a lock or a long query.

COMMIT runs on the loop's thread too. In WAL mode with synchronous=NORMAL a commit appends
the transaction's pages to the log and never syncs or waits for a lock (the write lock is
held); what syncs is the checkpoint, which copies the log back into the database. Automatic
checkpoints (which would run inside some commit) are off on this connection; every
CHECKPOINT_EVERY commits, one commit goes to the worker thread followed by a passive
checkpoint, so the log stays small and the loop never waits for a sync. A rollback (or the
pool's reset when it takes the connection back) with no transaction open is a no-op in
SQLite and costs no thread trip here.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

Outcome = tuple[Any, int, int | None, list[Any]]

# Set while the update's hot path runs its point statements (see the module's docstring).
_point: ContextVar[bool] = ContextVar("sqlite_point_statements", default=False)


@contextmanager
def point_statements() -> Iterator[None]:
    """Statements issued inside are indexed point reads and writes: run them inline."""
    token = _point.set(True)
    try:
        yield
    finally:
        _point.reset(token)


def _run(raw: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> Outcome:
    cursor = raw.executemany(operation, parameters) if many else raw.execute(
        operation, parameters if parameters is not None else ()
    )
    try:
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


def _inline(raw: sqlite3.Connection | None) -> bool:
    """A point statement inside the update's transaction runs on the loop's thread."""
    return _point.get() and raw is not None and raw.in_transaction


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ("_description", "_rowcount", "_lastrowid", "_arraysize")

    def __init__(self, adapt_connection: Any) -> None:
        # No aiosqlite cursor is opened (that alone is a round trip).
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _async_soft_close(self) -> None:
        return None

    def close(self) -> None:
        self._rows.clear()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        try:
            raw = self._connection._conn
            if _inline(raw) and not self._adapt_connection._execute_mutex.locked():
                # Nothing to wait for: no coroutine and no greenlet switch either.
                self._keep(_run(raw, operation, parameters, False))
                return None
            return await_(self._trip(operation, parameters, many=False))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Sequence[Any]) -> Any:
        try:
            return await_(self._trip(operation, seq_of_parameters, many=True))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _trip(self, operation: str, parameters: Any, *, many: bool) -> None:
        connection = self._connection  # aiosqlite.Connection
        raw = connection._conn
        async with self._adapt_connection._execute_mutex:
            if not many and _inline(raw):
                outcome = _run(raw, operation, parameters, many)
            elif operation == BEGIN and not raw.in_transaction and _begin_at_once(raw, connection):
                outcome = (None, -1, None, [])
            else:
                outcome = await connection._execute(_run, raw, operation, parameters, many)
        self._keep(outcome)

    def _keep(self, outcome: Outcome) -> None:
        self._description, self._rowcount, self._lastrowid, rows = outcome
        self._rows = collections.deque(rows)


BEGIN = "BEGIN IMMEDIATE"
_BUSY_MS = "_nastavnik_busy_ms"  # the connection's busy timeout, read once


def _begin_at_once(raw: sqlite3.Connection, connection: Any) -> bool:
    """Take the write lock on the loop's thread if it is free this instant.

    With the busy timeout at zero the attempt never waits; when another connection holds
    the lock, it fails at once and the caller queues on the worker thread, where the
    normal busy timeout applies."""
    timeout = getattr(connection, _BUSY_MS, None)
    if timeout is None:
        timeout = int(raw.execute("PRAGMA busy_timeout").fetchone()[0])
        setattr(connection, _BUSY_MS, timeout)
    raw.execute("PRAGMA busy_timeout=0")
    try:
        raw.execute(BEGIN)
    except sqlite3.OperationalError:
        return False
    finally:
        raw.execute(f"PRAGMA busy_timeout={timeout}")
    return True


def begin(dbapi_connection: Any) -> None:
    """BEGIN IMMEDIATE on this connection, without SQLAlchemy's statement machinery (the
    engine's "begin" hook; costs a statement's execution context otherwise). When the write
    lock is free it is taken right here, without a coroutine and a greenlet switch."""
    if isinstance(dbapi_connection, OneTripConnection):
        connection = dbapi_connection._connection
        raw = connection._conn
        if (
            raw is not None
            and not raw.in_transaction
            and not dbapi_connection._execute_mutex.locked()
            and _begin_at_once(raw, connection)
        ):
            return
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(BEGIN)
    finally:
        cursor.close()


# Commits between two checkpoints: a few pages each, so the log stays at a few megabytes.
CHECKPOINT_EVERY = 256
_COMMITS = "_nastavnik_commits"  # the count, kept on the aiosqlite connection object


def _commit_and_checkpoint(raw: sqlite3.Connection) -> None:
    raw.commit()
    raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneTripCursor

    def commit(self) -> None:
        connection = self._connection  # aiosqlite.Connection
        raw = connection._conn
        if raw is None or not raw.in_transaction:
            return  # nothing to commit (sqlite3 would do nothing either)
        count = getattr(connection, _COMMITS, 0) + 1
        try:
            if count >= CHECKPOINT_EVERY:
                count = 0
                await_(connection._execute(_commit_and_checkpoint, raw))
            else:
                raw.commit()
        except Exception as error:
            self._handle_exception(error)
        finally:
            setattr(connection, _COMMITS, count)

    def rollback(self) -> None:
        raw = self._connection._conn
        if raw is not None and not raw.in_transaction:
            return  # the pool's reset after a commit: nothing to undo
        super().rollback()


def install(dbapi_connection: Any) -> None:
    """Make this adapted aiosqlite connection use one trip per statement, commit on the loop
    and checkpoint the log itself (see the module's docstring)."""
    if type(dbapi_connection) is AsyncAdapt_aiosqlite_connection:
        dbapi_connection.__class__ = OneTripConnection
        raw = dbapi_connection._connection._conn
        if raw is not None:
            raw.execute("PRAGMA wal_autocheckpoint=0").close()
