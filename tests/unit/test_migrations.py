"""Migrations: upgrade on empty and at head, down and up again, and agreement with the model
(on the backend TEST_DB selects)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from db.migrate import ROOT, alembic_config, upgrade_to_head
from db.models import Base
from tests.backends import run_sync, url_for

T = TypeVar("T")


def _url(path: Path) -> str:
    return url_for(path, migrated=False)  # an empty database


def _inspect(url: str, look: Callable[[Connection], T]) -> T:
    async def go() -> T:
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(look)
        finally:
            await engine.dispose()

    return run_sync(go())


def _tables(url: str) -> set[str]:
    return set(_inspect(url, lambda conn: inspect(conn).get_table_names()))


def test_documented_command_on_empty_and_at_head(tmp_path: Path) -> None:
    url = _url(tmp_path / "cli.db")
    env = dict(os.environ, DATABASE_URL=url)
    for _ in range(2):  # empty database, then one already at head
        result = subprocess.run(
            [sys.executable, "-m", "alembic", "upgrade", "head"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        )
        assert result.returncode == 0, result.stderr
    assert set(Base.metadata.tables) <= _tables(url)


def test_model_and_migration_agree(tmp_path: Path) -> None:
    url = _url(tmp_path / "agree.db")
    upgrade_to_head(url)

    def diff(conn: Connection) -> list[Any]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    assert _inspect(url, diff) == []


def test_downgrade_and_upgrade_again(tmp_path: Path) -> None:
    url = _url(tmp_path / "stairs.db")
    cfg = alembic_config(url)
    command.upgrade(cfg, "head")
    command.downgrade(cfg, "base")
    assert _tables(url) <= {"alembic_version"}
    command.upgrade(cfg, "head")
