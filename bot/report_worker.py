"""The export's worker process: ``python -m bot.report_worker --orgs 1 --lang ru --out F``.

Run by /export (handlers/export.py) so that building a large workbook never blocks the bot's
event loop. It opens its own read-only connection from DATABASE_URL (SQLite or PostgreSQL:
it never takes the write lock, so the bot writes meanwhile), writes the file and reports on
stdout, one line each: ``progress <percent>`` while it works, ``done <rows>`` at the end,
``error <reason>`` on failure (exit status 1).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from bot.i18n import translator
from bot.services.reports import export
from bot.services.reports.export_files import Labels, write_csv, write_xlsx
from db.engine import is_sqlite

SQLITE_BUSY_TIMEOUT_S = 60


def read_only_engine(url: str) -> AsyncEngine:
    """An engine that only reads: on SQLite no BEGIN IMMEDIATE (the bot's engine takes the
    write lock for every transaction) and `query_only`; on PostgreSQL read-only
    transactions."""
    if not is_sqlite(url):
        engine = create_async_engine(url, pool_size=1, max_overflow=0)
        return engine.execution_options(postgresql_readonly=True)
    engine = create_async_engine(
        url, pool_size=1, max_overflow=0, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S}
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA query_only=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.execute("PRAGMA cache_size=-32000")
        cursor.close()

    return engine


def labels(language: str) -> Labels:
    """Titles and codes in the person's language (Russian by default)."""
    t = translator(language)
    dimensions = {q.id: t.pick(q.label) for q in export.assessment().questions}
    polls = {poll: t.pick(title) for poll, title in export.poll_titles().items()}

    def value(column: str, code: str) -> str:
        if column == "poll" and code in polls:
            return polls[code]
        for key in (f"export.value.{column}.{code}", f"reports.{column}.{code}"):
            if t.has(key):  # the KPIs' names are /kpi's (reports.kpi.<code>)
                return t(key)
        return code

    def column(key: str) -> str:
        stage, _, dimension = key.partition(".")  # the self-assessment's "entry.engagement"
        if dimension:
            return t("export.col.by_dimension", dimension=dimensions.get(dimension, dimension),
                     stage=t(f"export.col.{stage}"))
        return t(f"export.col.{key}")

    return Labels(
        sheet=lambda name: t(f"export.sheet.{name}"),
        column=column,
        value=value,
        yes=t("export.flag_yes"),
        no=t("export.flag_no"),
    )


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def build(
    url: str, scope: export.Scope, language: str, out: Path, sheet_name: str | None = None
) -> int:
    engine = read_only_engine(url)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            words = labels(language)
            progress = lambda percent: _say(f"progress {percent}")  # noqa: E731
            if sheet_name is None:
                return await write_xlsx(session, scope, export.sheets(), words, out, progress)
            sheet = export.find_sheet(sheet_name)
            if sheet is None:
                raise ValueError(f"no sheet {sheet_name!r}")
            return await write_csv(session, scope, sheet, words, out, progress)
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orgs", required=True, help="organisation ids, comma-separated")
    parser.add_argument("--lang", default="ru")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--csv", dest="sheet", default=None, help="one sheet as CSV")
    parser.add_argument("--now", default=None, help="the bot's time (ISO), for the KPIs' year")
    args = parser.parse_args(argv)
    url = os.environ.get("DATABASE_URL")  # not an argument: a password stays out of `ps`
    if not url:
        _say("error no DATABASE_URL")
        return 1
    now = dt.datetime.fromisoformat(args.now) if args.now else dt.datetime.now(dt.UTC)
    scope = export.Scope(tuple(int(x) for x in args.orgs.split(",") if x), now)
    try:
        rows = asyncio.run(build(url, scope, args.lang, args.out, args.sheet))
    except Exception as exc:  # the bot tells the person; the reason goes to its log
        _say(f"error {type(exc).__name__}")
        raise
    _say(f"done {rows}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
