"""Apply migrations programmatically (at bot start and from the admin CLI)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from bot.config import ensure_sqlite_dir

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(database_url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "db" / "migrations"))
    cfg.attributes["database_url"] = database_url
    cfg.attributes["configure_logging"] = False
    return cfg


def upgrade_to_head(database_url: str) -> None:
    """Synchronous: call it before the event loop starts (Alembic runs its own loop)."""
    ensure_sqlite_dir(database_url)
    command.upgrade(alembic_config(database_url), "head")
