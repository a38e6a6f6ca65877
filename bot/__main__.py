"""`python -m bot` runs the bot; `python -m bot admin ...` runs deployment commands."""

from __future__ import annotations

import asyncio
import logging
import sys


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # aiogram logs each update at INFO; ids only, but noisy. The database drivers log
    # statements with their parameters at DEBUG: that would put personal data in the log.
    quiet = max(logging.getLevelName(level), logging.WARNING)
    for name in ("aiogram.event", "aiosqlite", "asyncpg", "sqlalchemy.engine"):
        logging.getLogger(name).setLevel(quiet)


def main(argv: list[str]) -> int:
    if argv and argv[0] == "admin":
        from bot.admin import main as admin_main

        return admin_main(argv[1:])

    from bot.config import ConfigError, load_settings

    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    _configure_logging(settings.log_level)

    from bot.app import run_polling
    from db.migrate import upgrade_to_head

    upgrade_to_head(settings.database_url)
    asyncio.run(run_polling(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
