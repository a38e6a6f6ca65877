"""Shared fixtures: the fake Bot API server and the bot process harness."""

from __future__ import annotations

from tests.e2e.harness import bot_process, fake_telegram  # noqa: F401
