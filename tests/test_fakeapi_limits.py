"""The fake Bot API server: chat access, flood limits, edit errors and the rest of Telegram's rules."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import (
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
)

from tests.e2e.harness import BotProcess, BotStartError
from tests.fakeapi import FakeTelegram, FakeUser
from tests.test_fakeapi import (  # shared helpers and fixtures
    bot,  # noqa: F401 - a pytest fixture, used by name
    expect_bad_request,
    fake,  # noqa: F401 - a pytest fixture, used by name
    ivan,  # noqa: F401 - a pytest fixture, used by name
    keyboard,
    make_bot,
)


async def test_chat_access(fake: FakeTelegram, bot: Bot) -> None:
    stranger = fake.user(3001, "Stranger")
    with pytest.raises(TelegramForbiddenError) as never_started:
        await bot.send_message(stranger.id, "hi")
    assert never_started.value.message == "Forbidden: bot can't initiate conversation with a user"

    await stranger.send("/start")
    await bot.send_message(stranger.id, "hi")
    stranger.block()
    with pytest.raises(TelegramForbiddenError) as blocked:
        await bot.send_message(stranger.id, "hi again")
    assert blocked.value.message == "Forbidden: bot was blocked by the user"
    stranger.unblock()
    await bot.send_message(stranger.id, "welcome back")

    await expect_bad_request(bot.send_message(999_999, "hi"), "Bad Request: chat not found")
    wrong = make_bot(fake.base_url, token="123456:WRONG")
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await wrong.get_me()
    finally:
        await wrong.session.close()


# --- flood control -----------------------------------------------------------------------------


async def test_per_chat_flood_limit(fake: FakeTelegram, bot: Bot, ivan: FakeUser) -> None:
    fake.set_limits(chat_burst=2, chat_rate=0.5)
    await bot.send_message(ivan.id, "1")
    await bot.send_message(ivan.id, "2")
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(ivan.id, "3")
    assert caught.value.retry_after == 2
    assert (fake.errors[-1].status, fake.errors[-1].description) == (
        429,
        "Too Many Requests: retry after 2",
    )
    assert fake.calls("sendMessage")[-1].response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 2",
        "parameters": {"retry_after": 2},
    }
    await bot.send_chat_action(ivan.id, "typing")  # not a message: not limited


async def test_global_flood_limit(fake: FakeTelegram, bot: Bot) -> None:
    fake.set_limits(global_per_second=3, chat_rate=None)
    for user_id in range(4001, 4005):
        await fake.user(user_id).send("/start")
    for user_id in range(4001, 4004):
        await bot.send_message(user_id, "news")
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(4004, "news")
    assert caught.value.retry_after == 1


# --- edits and callback answers ----------------------------------------------------------------


async def test_edit_errors(bot: Bot, ivan: FakeUser) -> None:
    markup = keyboard(InlineKeyboardButton(text="A", callback_data="a"))
    sent = await bot.send_message(ivan.id, "<b>same</b>", reply_markup=markup)
    not_modified = (
        "Bad Request: message is not modified: specified new message content and reply markup "
        "are exactly the same as a current content and reply markup of the message"
    )
    await expect_bad_request(
        bot.edit_message_text(
            "<b>same</b>", chat_id=ivan.id, message_id=sent.message_id, reply_markup=markup
        ),
        not_modified,
    )
    await expect_bad_request(
        bot.edit_message_reply_markup(
            chat_id=ivan.id, message_id=sent.message_id, reply_markup=markup
        ),
        not_modified,
    )
    # different entities count as a change
    await bot.edit_message_text(
        "same", chat_id=ivan.id, message_id=sent.message_id, reply_markup=markup
    )
    await expect_bad_request(
        bot.edit_message_text("x", chat_id=ivan.id, message_id=777),
        "Bad Request: message to edit not found",
    )
    await bot.delete_message(ivan.id, sent.message_id)
    assert ivan.last is not None
    assert ivan.last.deleted
    await expect_bad_request(
        bot.delete_message(ivan.id, sent.message_id), "Bad Request: message to delete not found"
    )


async def test_waits_return_snapshots_of_each_edit(bot: Bot, ivan: FakeUser) -> None:
    def options(mark: str) -> InlineKeyboardMarkup:
        return keyboard(InlineKeyboardButton(text=f"{mark} Math", callback_data="math"))

    sent = await bot.send_message(ivan.id, "Pick", reply_markup=options("▫️"))
    for mark in ("✅", "▫️"):  # two quick edits before the test looks
        await bot.edit_message_reply_markup(
            chat_id=ivan.id, message_id=sent.message_id, reply_markup=options(mark)
        )
    assert (await ivan.wait_message()).button_texts == ["▫️ Math"]
    first = await ivan.wait_edit(sent.message_id, contains="✅")  # matches button texts too
    assert first.button_texts == ["✅ Math"]
    second = await ivan.wait_edit(sent.message_id)
    assert second.button_texts == ["▫️ Math"]
    assert [e.method for e in ivan.edits] == ["editMessageReplyMarkup"] * 2


async def test_callback_answer_errors(fake: FakeTelegram, bot: Bot, ivan: FakeUser) -> None:
    expired = "Bad Request: query is too old and response timeout expired or query ID is invalid"
    await bot.send_message(
        ivan.id, "menu", reply_markup=keyboard(InlineKeyboardButton(text="Go", callback_data="go"))
    )
    await expect_bad_request(bot.answer_callback_query("123"), expired)

    query_id = await ivan.press("Go")
    await expect_bad_request(
        bot.answer_callback_query(query_id, text="x" * 201), "Bad Request: MESSAGE_TOO_LONG"
    )
    await bot.answer_callback_query(query_id, text="y" * 200, show_alert=True)
    answer = await ivan.wait_callback_answer(query_id, timeout=1)
    assert answer.show_alert
    await expect_bad_request(bot.answer_callback_query(query_id), expired)

    fake.set_limits(callback_timeout=0.0)
    late = await ivan.press("Go")
    await expect_bad_request(bot.answer_callback_query(late), expired)


# --- protocol ----------------------------------------------------------------------------------


async def test_protocol_errors(fake: FakeTelegram, ivan: FakeUser) -> None:
    base = f"{fake.base_url}/bot{fake.token}"
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/sendTeleport", data={"chat_id": "1"}) as response:
            assert response.status == 404
            assert await response.json() == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found",
            }
        async with http.post(f"{base}/sendMessage", data={"text": "hi"}) as response:
            assert response.status == 400
            assert (await response.json())["description"] == "Bad Request: chat_id is empty"
        async with http.post(f"{base}/answerCallbackQuery", json={"text": "x"}) as response:
            assert (await response.json())["description"] == (
                'Bad Request: parameter "callback_query_id" is required'
            )
        async with http.get(f"{base}/sendmessage", params={"chat_id": ivan.id, "text": "hi"}) as r:
            assert (await r.json())["result"]["text"] == "hi"
        async with http.post(f"{fake.base_url}/botWRONG/getMe") as response:
            assert response.status == 401
            assert (await response.json())["description"] == "Unauthorized"
        async with http.post(f"{base}/setMyDescription", data={"description": "x"}) as r:
            assert await r.json() == {"ok": True, "result": True}
    assert fake.warnings == ["setMyDescription is not implemented by the fake; answered true"]
    sent = fake.calls("sendMessage")[-1]
    assert sent.method == "sendMessage"
    assert sent.params == {"chat_id": ivan.id, "text": "hi"}


async def test_fail_next_injects_errors(fake: FakeTelegram, bot: Bot, ivan: FakeUser) -> None:
    fake.fail_next("sendMessage", 500, "Internal Server Error: test")
    fake.fail_next(
        "sendMessage", 429, "Too Many Requests: retry after 7", parameters={"retry_after": 7}
    )
    with pytest.raises(TelegramServerError):
        await bot.send_message(ivan.id, "first")
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(ivan.id, "second")
    assert caught.value.retry_after == 7
    await bot.send_message(ivan.id, "third")
    assert [m.text for m in ivan.messages] == ["third"]
    assert [e.status for e in fake.errors] == [500, 429]


async def test_long_poll_waits_for_update_and_stop(fake: FakeTelegram) -> None:
    user = fake.user(5001)
    base = f"{fake.base_url}/bot{fake.token}"
    async with aiohttp.ClientSession() as http:

        async def poll(**params: Any) -> list[dict[str, Any]]:
            async with http.post(f"{base}/getUpdates", json=params) as response:
                body = await response.json()
                assert body["ok"], body
                result: list[dict[str, Any]] = body["result"]
                return result

        waiting = asyncio.create_task(poll(timeout=5))
        await fake.wait_for_request("getUpdates")
        await asyncio.sleep(0.05)
        assert not waiting.done()
        update_id = await user.send("/start")
        updates = await asyncio.wait_for(waiting, 1)
        assert [u["update_id"] for u in updates] == [update_id]
        assert updates[0]["message"]["entities"][0]["type"] == "bot_command"
        assert await poll(offset=update_id + 1) == []  # confirmed

        # allowed_updates drops my_chat_member
        assert await poll(offset=update_id + 1, allowed_updates=["message"]) == []
        user.block()
        assert fake.pending_updates == []
        assert len(fake.dropped_updates) == 1

        waiting = asyncio.create_task(poll(timeout=30))
        await asyncio.sleep(0.05)
        await fake.stop()
        assert await asyncio.wait_for(waiting, 3) == []


async def test_commands_by_scope_and_language(
    fake: FakeTelegram, bot: Bot, ivan: FakeUser
) -> None:
    await bot.set_my_commands([BotCommand(command="start", description="Начать")])
    await bot.set_my_commands(
        [BotCommand(command="help", description="Help")],
        scope=BotCommandScopeAllPrivateChats(),
        language_code="en",
    )
    await bot.set_my_commands(
        [BotCommand(command="admin", description="Админка")],
        scope=BotCommandScopeChat(chat_id=ivan.id),
    )
    assert fake.commands_for(None) == [{"command": "start", "description": "Начать"}]
    assert fake.commands_for({"type": "all_private_chats"}, "en")[0]["command"] == "help"
    assert fake.commands_for(ivan.id)[0]["command"] == "admin"
    other = fake.user(6001, language_code="en")
    assert fake.commands_for(other.id)[0]["command"] == "help"
    assert fake.commands_for(other.id, language_code="de")[0]["command"] == "start"
    commands = await bot.get_my_commands(scope=BotCommandScopeChat(chat_id=ivan.id))
    assert [c.command for c in commands] == ["admin"]
    await bot.delete_my_commands(scope=BotCommandScopeChat(chat_id=ivan.id))
    assert fake.commands_for(ivan.id)[0]["command"] == "start"
    await expect_bad_request(
        bot.set_my_commands([BotCommand(command="Bad-Name", description="x")]),
        "Bad Request: BOT_COMMAND_INVALID",
    )


# --- the process harness, with a stand-in bot --------------------------------------------------

# Plain aiohttp rather than aiogram: importing aiogram.types alone takes seconds.
STUB_BOT = textwrap.dedent(
    """
    import asyncio, contextlib, os, signal
    import aiohttp

    BASE = os.environ["TELEGRAM_API_BASE"] + "/bot" + os.environ["BOT_TOKEN"]

    async def call(http, method, **params):
        async with http.post(f"{BASE}/{method}", data=params) as response:
            return (await response.json())["result"]

    async def serve(http):
        offset = 0
        while True:
            for update in await call(http, "getUpdates", offset=offset, timeout=1):
                offset = update["update_id"] + 1
                message = update.get("message", {})
                if "text" in message:
                    reply = "stub " + os.environ["STUB_NAME"] + ": " + message["text"]
                    await call(http, "sendMessage", chat_id=message["chat"]["id"], text=reply)

    async def main():
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        print("stub bot starting", flush=True)
        async with aiohttp.ClientSession() as http:
            task = asyncio.create_task(serve(http))
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait([task, stopping], return_when="FIRST_COMPLETED")
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        print("stub bot stopped", flush=True)

    asyncio.run(main())
    """
)


async def test_bot_process_harness(fake: FakeTelegram, tmp_path: Path) -> None:
    script = tmp_path / "stub_bot.py"
    script.write_text(STUB_BOT)
    process = BotProcess(
        {"STUB_NAME": "one"},
        cwd=tmp_path,
        log_path=tmp_path / "bot.log",
        argv=[sys.executable, str(script)],
    )
    await process.start(fake, ready_timeout=20)
    try:
        user = fake.user(7001)
        await user.send("hi")
        assert (await user.wait_message()).text == "stub one: hi"
        await process.restart(ready_timeout=20)
        await user.send("again")
        assert (await user.wait_message()).text == "stub one: again"
    finally:
        assert await process.stop() == 0
    assert fake.errors == []  # the killed process's pending poll did not end in a 409
    log = process.log_text()
    assert log.count("stub bot starting") == 2
    assert "stub bot stopped" in log


async def test_bot_process_that_dies_reports_its_log(fake: FakeTelegram, tmp_path: Path) -> None:
    process = BotProcess(
        {},
        cwd=tmp_path,
        log_path=tmp_path / "dead.log",
        argv=[sys.executable, "-c", "import sys; print('no token configured'); sys.exit(3)"],
    )
    with pytest.raises(BotStartError, match="no token configured") as caught:
        await process.start(fake, ready_timeout=20)
    assert "code 3" in str(caught.value)
