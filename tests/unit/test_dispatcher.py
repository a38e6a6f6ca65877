"""The production Dispatcher fed updates in process (fast): roles, help, errors, fallbacks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiogram import Bot
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.types import Update

from bot.app import Database, create_bot, create_dispatcher
from bot.config import Settings, load_settings
from db.migrate import upgrade_to_head
from tests.backends import url_for
from tests.fakeapi import FakeTelegram

ADMIN = 9001


@pytest_asyncio.fixture
async def app(tmp_path: Path) -> AsyncIterator[tuple[FakeTelegram, Bot, object]]:
    fake = FakeTelegram()
    await fake.start()
    url = url_for(tmp_path / "unit.db")
    await asyncio.to_thread(upgrade_to_head, url)
    settings = load_settings(
        Settings, bot_token=fake.token, telegram_api_base=fake.base_url, database_url=url,
        admin_ids=str(ADMIN),
    )
    database = Database.from_url(url)
    bot = create_bot(settings)
    dp = create_dispatcher(settings, database, storage=MemoryStorage())
    dp["bot_username"] = "nastavnik_test_bot"
    try:
        yield fake, bot, dp
    finally:
        await bot.session.close()
        await database.close()
        await fake.stop()


async def _say(fake: FakeTelegram, bot: Bot, dp, user_id: int, text: str) -> str:  # type: ignore[no-untyped-def]
    user = fake.user(user_id)
    await user.send(text)
    raw = fake.pending_updates[-1]
    await dp.feed_update(bot, Update.model_validate(raw, context={"bot": bot}))
    return (await user.wait_message(timeout=5)).text


async def test_help_depends_on_role(app) -> None:  # type: ignore[no-untyped-def]
    fake, bot, dp = app
    guest = await _say(fake, bot, dp, 9100, "/help")
    assert "ссылку-приглашение" in guest and "/neworg" not in guest
    admin = await _say(fake, bot, dp, ADMIN, "/help")
    assert "/neworg" in admin and "/mentees" in admin


async def test_coordinator_commands_are_guarded(app) -> None:  # type: ignore[no-untyped-def]
    fake, bot, dp = app
    assert "только координаторам" in await _say(fake, bot, dp, 9101, "/neworg")
    assert "Название организации" in await _say(fake, bot, dp, ADMIN, "/neworg")
    assert "Часовой пояс" in await _say(fake, bot, dp, ADMIN, "Лицей")
    assert "отменено" in await _say(fake, bot, dp, ADMIN, "/cancel")


async def test_a_failing_request_gets_an_apology(app) -> None:  # type: ignore[no-untyped-def]
    fake, bot, dp = app
    fake.fail_next("sendMessage", 500, "Internal Server Error: test")
    assert "что-то пошло не так" in await _say(fake, bot, dp, 9102, "/help")
    assert "/start" in await _say(fake, bot, dp, 9102, "/help")


@pytest.mark.parametrize("text", ["привет", "/unknown", "12345"])
async def test_every_input_is_answered(app, text: str) -> None:  # type: ignore[no-untyped-def]
    fake, bot, dp = app
    assert await _say(fake, bot, dp, 9103, text)


async def test_a_slow_button_is_answered_by_the_deadline_once(  # type: ignore[no-untyped-def]
    app, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A handler slower than the deadline: the deadline answers the press (the spinner
    stops), and the handler's own later answer is skipped. A quick handler's answer is
    the only one, also after the deadline has passed."""
    from aiogram import Dispatcher
    from aiogram.types import CallbackQuery

    from bot import middlewares

    fake, bot, _ = app
    monkeypatch.setattr(middlewares, "CALLBACK_DEADLINE_S", 0.05)
    dp = Dispatcher()
    dp.update.outer_middleware(middlewares.CallbackDeadlineMiddleware())

    @dp.callback_query()
    async def handler(query: CallbackQuery) -> None:
        if query.data == "slow":
            await asyncio.sleep(0.3)
        await query.answer("done")

    user = fake.user(9200)
    await user.send("hi")  # a chat the bot may write to
    await bot.send_message(user.id, "buttons")
    message = user.messages[-1]
    for data in ("slow", "quick"):
        before = len(fake.calls("answerCallbackQuery"))
        fake._new_callback_query(user, message, data)
        raw = fake.pending_updates[-1]
        await dp.feed_update(bot, Update.model_validate(raw, context={"bot": bot}))
        await asyncio.sleep(0.1)  # past the deadline: nothing more is sent
        answers = fake.calls("answerCallbackQuery")[before:]
        assert len(answers) == 1, data
        # The deadline's answer has no text; the quick handler's own answer has.
        assert (answers[0].params.get("text") or None) == (None if data == "slow" else "done")
