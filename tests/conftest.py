"""Shared fixtures: the fake Bot API server, the bot process harness, the test databases."""

from __future__ import annotations

import os

# Every bot in the tests, in-process or a real process (which inherits the environment),
# fails a Telegram request made inside an open database transaction.
os.environ.setdefault("STRICT_TRANSACTIONS", "true")

from tests.backends import _drop_databases_after_test, pg_url, redis_url  # noqa: E402, F401
from tests.e2e.harness import bot_process, fake_telegram  # noqa: E402, F401
