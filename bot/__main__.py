"""`python -m bot` runs the bot; `python -m bot admin ...` runs deployment commands."""

from __future__ import annotations

import asyncio
import sys


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
    from bot.logging_setup import configure_logging, hash_key

    configure_logging(
        settings.log_level, settings.log_format, settings.instance_id,
        hash_key(settings.bot_token.get_secret_value()),
    )

    from bot.app import run
    from db.migrate import upgrade_to_head

    upgrade_to_head(settings.database_url)
    asyncio.run(run(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
