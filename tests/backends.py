"""Test databases on either backend, and the service fixtures (PostgreSQL, Redis).

Environment (read by every test, unit and end-to-end):

- ``TEST_DB=sqlite|postgres`` (default sqlite): the backend of every test database.
- ``TEST_PG_URL``: an admin DSN of a PostgreSQL server (default the local development one);
  the tests create their own uniquely named databases on it and drop them at the end.
- ``TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``).
- ``TEST_REQUIRE_SERVICES=1``: a test that needs PostgreSQL or Redis fails, instead of being
  skipped, when the server is not reachable (CI sets it).

A test names its database by a path (``tmp_path / "bot.db"``, as on SQLite);
``url_for(path)`` gives its URL on the selected backend: the SQLite file itself, or a
PostgreSQL database made for that path (a copy of a migrated template, so that creating it
costs a file copy, not the migrations), dropped after the test by ``drop_test_databases``.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import datetime as dt
import hashlib
import os
import re
import socket
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest

T = TypeVar("T")

DEFAULT_PG_URL = "postgresql+asyncpg://postgres:postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DB_PREFIX = "nst_test"


def backend() -> str:
    value = os.environ.get("TEST_DB", "sqlite").strip().lower() or "sqlite"
    if value not in ("sqlite", "postgres"):
        raise RuntimeError(f"TEST_DB must be sqlite or postgres, not {value!r}")
    return value


def is_postgres() -> bool:
    return backend() == "postgres"


def admin_url() -> str:
    return os.environ.get("TEST_PG_URL", DEFAULT_PG_URL)


def redis_server_url() -> str:
    return os.environ.get("TEST_REDIS_URL", DEFAULT_REDIS_URL)


def services_required() -> bool:
    return os.environ.get("TEST_REQUIRE_SERVICES", "") not in ("", "0", "false", "no")


def _with_database(url: str, name: str) -> str:
    base, _, query = url.partition("?")
    base = base.rsplit("/", 1)[0]
    return f"{base}/{name}" + (f"?{query}" if query else "")


def _dsn(url: str) -> str:
    """An asyncpg DSN from a SQLAlchemy URL."""
    return re.sub(r"^postgresql\+asyncpg://", "postgresql://", url)


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even inside a running event loop."""
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coro))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            error.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def _in_thread(func: Callable[..., Any], *args: Any) -> None:
    """Alembic runs its own event loop: call it from a thread of its own."""

    error: list[BaseException] = []

    def target() -> None:
        try:
            func(*args)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            error.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join()
    if error:
        raise error[0]


class _Registry:
    """This process's test databases on PostgreSQL (each xdist worker has its own)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.template: str | None = None
        self.by_path: dict[str, str] = {}  # path -> database name, until the test ends

    def name_for(self, path: Path) -> str:
        digest = hashlib.sha1(f"{os.getpid()}:{path}".encode()).hexdigest()[:12]
        return f"{DB_PREFIX}_{os.getpid()}_{digest}"


_registry = _Registry()


async def _admin_execute(*statements: str) -> None:
    import asyncpg  # the [postgres] extra; only needed when PostgreSQL is used

    conn = await asyncpg.connect(_dsn(admin_url()), timeout=10)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def pg_reachable() -> bool:
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        return False
    try:
        run_sync(_admin_execute("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure means "not usable here"
        return False
    return True


def _template() -> str:
    """A migrated database to copy (made once per process, dropped at exit)."""
    with _registry.lock:
        if _registry.template is None:
            from db.migrate import upgrade_to_head

            name = f"{DB_PREFIX}_{os.getpid()}_tpl"
            run_sync(_admin_execute(
                f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'
            ))
            atexit.register(_drop_quietly, name)
            _in_thread(upgrade_to_head, _with_database(admin_url(), name))
            _registry.template = name
        return _registry.template


def _drop_quietly(*names: str) -> None:
    with contextlib.suppress(Exception):  # best effort (also at exit)
        run_sync(_admin_execute(*(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)' for n in names)))


def create_pg_database(path: Path, *, migrated: bool = True) -> str:
    """A fresh PostgreSQL database for `path` (the same one on repeated calls); its URL."""
    key = str(path)
    name = _registry.by_path.get(key)
    if name is None:
        name = _registry.name_for(path)
        template = _template() if migrated else "template0"
        run_sync(_admin_execute(
            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
            f'CREATE DATABASE "{name}" TEMPLATE "{template}"',
        ))
        _registry.by_path[key] = name
    return _with_database(admin_url(), name)


def url_for(path: Path, *, migrated: bool = True) -> str:
    """The database URL for a test database named by `path`, on the selected backend.

    SQLite: the file at `path` (created by whoever connects; `migrated` is not applied, the
    callers migrate or create_all as before). PostgreSQL: a database of its own, migrated
    unless migrated=False (then empty, for the migration tests)."""
    if is_postgres():
        return create_pg_database(path, migrated=migrated)
    return f"sqlite+aiosqlite:///{path}"


@contextlib.asynccontextmanager
async def schema_sessions(path: Path) -> AsyncIterator[Any]:
    """Sessions (an async_sessionmaker) on the test database named by `path`, every table
    created (the unit tests' worlds); the engine is disposed of at the end."""
    from db.engine import create_engine, create_sessionmaker
    from db.models import Base

    engine = create_engine(url_for(path))
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


def drop_test_databases() -> None:
    """Drop the databases made for the test that just ended."""
    names = list(_registry.by_path.values())
    _registry.by_path.clear()
    if names:
        _drop_quietly(*names)


# -- plain SQL for the tests' own checks (sqlite3-style "?" parameters) ------------------------
def _pg_sql(sql: str) -> str:
    counter = iter(range(1, 10_000))
    return re.sub(r"\?", lambda _m: f"${next(counter)}", sql)


async def _pg_query(url: str, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    import asyncpg

    conn = await asyncpg.connect(_dsn(url), timeout=30, server_settings={"TimeZone": "UTC"})
    try:
        statement = await conn.prepare(_pg_sql(sql))
        json = [a.type.name in ("json", "jsonb") for a in statement.get_attributes()]
        records = await statement.fetch(*params)
    finally:
        await conn.close()
    return [
        tuple(
            _json_as_sqlite(v) if is_json else _as_sqlite(v)
            for v, is_json in zip(r, json, strict=True)
        )
        for r in records
    ]


def _json_as_sqlite(value: Any) -> Any:
    """SQLite keeps a JSON column's text with NUMERIC affinity: a bare number reads back as a
    number there, anything else as its JSON text."""
    if isinstance(value, str):
        for kind in (int, float):
            try:
                return kind(value)
            except ValueError:
                pass
    return value


def _as_sqlite(value: Any) -> Any:
    """A value read from PostgreSQL as the same column reads on SQLite, so that the tests'
    expectations hold on both: timestamps as SQLAlchemy's naive UTC text, dates as ISO
    text, booleans as 0/1."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


def query(path: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Run one statement on the test database named by `path`; its rows as tuples, with
    values as SQLite gives them (see _as_sqlite)."""
    if is_postgres():
        return run_sync(_pg_query(url_for(path), sql, params))
    import sqlite3

    with sqlite3.connect(path, timeout=30) as conn:
        return conn.execute(sql, params).fetchall()


def table_names(path: Path) -> list[str]:
    if is_postgres():
        return [r[0] for r in query(
            path, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]
    return [r[0] for r in query(path, "SELECT name FROM sqlite_master WHERE type='table'")]


# -- fixtures ---------------------------------------------------------------------------------
def _unavailable(what: str) -> None:
    if services_required():
        pytest.fail(f"{what} is not reachable and TEST_REQUIRE_SERVICES=1")
    pytest.skip(f"{what} is not reachable")


@pytest.fixture
def pg_url(tmp_path: Path) -> str:
    """A fresh, migrated PostgreSQL database (whatever TEST_DB says); dropped afterwards."""
    if not pg_reachable():
        _unavailable(f"PostgreSQL at TEST_PG_URL ({urlsplit(admin_url()).netloc})")
    return create_pg_database(tmp_path / "pg_url")


def _redis_ping(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), 3) as s:
            if parts.password:
                user = parts.username or "default"
                s.sendall(f"AUTH {user} {parts.password}\r\n".encode())
                if not s.recv(64).startswith(b"+OK"):
                    return False
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture
def redis_url() -> str:
    """TEST_REDIS_URL, once the server answers PING (skipped, or failed under
    TEST_REQUIRE_SERVICES=1, when it does not). Use your own key prefix or DB number."""
    url = redis_server_url()
    if not _redis_ping(url):
        _unavailable(f"Redis at TEST_REDIS_URL ({urlsplit(url).netloc})")
    return url


@pytest.fixture(autouse=True)
def _drop_databases_after_test() -> Iterator[None]:
    # Autouse fixtures are set up first, so this runs after every other fixture's teardown
    # (bot processes stopped, engines disposed).
    yield
    drop_test_databases()


def stamp(moment: dt.datetime) -> Any:
    """A UTC moment as a parameter for `query`, the way the models store it: naive UTC text
    on SQLite, an aware datetime (timestamptz) on PostgreSQL."""
    if is_postgres():
        return moment.astimezone(dt.UTC)
    return moment.astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")


def moment(value: Any) -> dt.datetime | None:
    """A stored timestamp read back by `query` (text on SQLite), as an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def all_text(path: Path) -> str:
    """Every value of every table, as one string: what a scan for personal data sees."""
    return "\n".join(
        " ".join(str(v) for v in row)
        for table in table_names(path)
        for row in query(path, f'SELECT * FROM "{table}"')  # noqa: S608 - names from the catalog
    )


async def _pg_execute_many(url: str, sql: str, rows: list[tuple[Any, ...]]) -> None:
    import asyncpg

    conn = await asyncpg.connect(_dsn(url), timeout=30, server_settings={"TimeZone": "UTC"})
    try:
        await conn.executemany(_pg_sql(sql), rows)
    finally:
        await conn.close()


def execute_many(path: Path, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """One statement ("?" parameters) for each of `rows`, in one transaction."""
    if is_postgres():
        run_sync(_pg_execute_many(url_for(path), sql, rows))
        return
    import sqlite3

    with sqlite3.connect(path, timeout=30) as conn:
        conn.executemany(sql, rows)
