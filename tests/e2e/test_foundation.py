"""The real bot process against the fake Bot API server: start, help, errors, config."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.e2e.harness import REPO_ROOT
from tests.fakeapi import FakeTelegram

pytestmark = pytest.mark.e2e


async def test_start_and_help_in_russian_and_english(fake_telegram: FakeTelegram, bot_process) -> None:
    await bot_process()
    ru = fake_telegram.user(1001, first_name="Иван", language_code="ru")
    await ru.send("/start")
    reply = await ru.wait_message()
    assert "ссылку-приглашение" in reply.text

    await ru.send("/help")
    reply = await ru.wait_message()
    assert "/start" in reply.text and "справка" in reply.text

    en = fake_telegram.user(1002, first_name="Ann", language_code="en")
    await en.send("/help")
    reply = await en.wait_message()
    assert "invitation link" in reply.text

    defaults = fake_telegram.commands_for(None)
    assert {c["command"] for c in defaults} >= {"start", "help", "cancel"}
    assert not fake_telegram.errors


async def test_every_input_is_answered(fake_telegram: FakeTelegram, bot_process) -> None:
    await bot_process()
    user = fake_telegram.user(1003)
    await user.send("/nosuchcommand")
    assert "Не знаю такой команды" in (await user.wait_message()).text
    await user.send("просто текст")
    assert "Не понял" in (await user.wait_message()).text
    await user.send("/cancel")
    assert "нечего отменять" in (await user.wait_message()).text


async def test_survives_a_failing_handler(fake_telegram: FakeTelegram, bot_process) -> None:
    process = await bot_process()
    user = fake_telegram.user(1004)
    # Telegram itself fails the reply: the handler raises, the error handler apologises.
    fake_telegram.fail_next("sendMessage", 500, "Internal Server Error: test")
    await user.send("/help")
    apology = await user.wait_message()
    assert "что-то пошло не так" in apology.text
    await user.send("/help")
    assert "/start" in (await user.wait_message()).text
    assert process.running
    assert "Traceback" in process.log_text()


def test_missing_token_is_one_clear_line(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "BOT_TOKEN"}
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    result = subprocess.run(
        [sys.executable, "-m", "bot"], cwd=tmp_path, env=env | {"PYTHONPATH": str(REPO_ROOT)},
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "BOT_TOKEN" in lines[0], result.stderr


def test_malformed_value_names_the_variable(tmp_path) -> None:
    env = dict(os.environ, BOT_TOKEN="123:abc", ADMIN_IDS="12,abc", PYTHONPATH=str(REPO_ROOT))
    result = subprocess.run(
        [sys.executable, "-m", "bot"], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0 and "ADMIN_IDS" in result.stderr


