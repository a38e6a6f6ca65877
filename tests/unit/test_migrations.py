"""Migrations: upgrade on empty and at head, down and up again, and agreement with the model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from db.migrate import ROOT, alembic_config, upgrade_to_head
from db.models import Base


def _url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def test_documented_command_on_empty_and_at_head(tmp_path: Path) -> None:
    env = dict(os.environ, DATABASE_URL=_url(tmp_path / "cli.db"))
    for _ in range(2):  # empty database, then one already at head
        result = subprocess.run(
            [sys.executable, "-m", "alembic", "upgrade", "head"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        )
        assert result.returncode == 0, result.stderr
    tables = set(inspect(create_engine(f"sqlite:///{tmp_path / 'cli.db'}")).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_model_and_migration_agree(tmp_path: Path) -> None:
    db = tmp_path / "agree.db"
    upgrade_to_head(_url(db))
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == []


def test_downgrade_and_upgrade_again(tmp_path: Path) -> None:
    url = _url(tmp_path / "stairs.db")
    cfg = alembic_config(url)
    command.upgrade(cfg, "head")
    command.downgrade(cfg, "base")
    tables = set(inspect(create_engine(f"sqlite:///{tmp_path / 'stairs.db'}")).get_table_names())
    assert tables <= {"alembic_version"}
    command.upgrade(cfg, "head")
