"""Tests of the fake Telegram Bot API server, driven by a real aiogram bot in this process."""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
)
from aiogram.filters import CommandObject, CommandStart
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)

from tests.fakeapi import DEFAULT_TOKEN, FakeTelegram, FakeUser

PARSE_ERROR = "Bad Request: can't parse entities: "


class LocalSession(AiohttpSession):
    """AiohttpSession without the 250 ms pause its close() makes for TLS connections."""

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


def make_bot(base_url: str, token: str = DEFAULT_TOKEN) -> Bot:
    return Bot(
        token,
        session=LocalSession(api=TelegramAPIServer.from_base(base_url)),
        default=DefaultBotProperties(parse_mode="HTML"),
    )


def keyboard(*buttons: InlineKeyboardButton) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[list(buttons)])


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest_asyncio.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    client = make_bot(fake.base_url)
    try:
        yield client
    finally:
        await client.session.close()


@pytest_asyncio.fixture
async def ivan(fake: FakeTelegram) -> FakeUser:
    """A user who has started the bot (his /start stays unread: nobody polls)."""
    user = fake.user(1001, "Ivan", username="ivan")
    await user.send("/start")
    return user


def echo_router() -> Router:
    router = Router()

    @router.message(CommandStart(deep_link=True))
    async def start_with_code(message: Message, command: CommandObject) -> None:
        await message.answer(f"code: <code>{html.escape(command.args or '')}</code>")

    @router.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(
            f"echo: <b>{html.escape(message.text or '')}</b>",
            reply_markup=keyboard(
                InlineKeyboardButton(text="Ping", callback_data="ping"),
                InlineKeyboardButton(text="Docs", url="https://example.com/docs"),
            ),
        )

    @router.callback_query(F.data == "ping")
    async def ping(callback: CallbackQuery) -> None:
        await callback.answer("pong")
        assert isinstance(callback.message, Message)
        await callback.message.edit_text("pinged")

    return router


@pytest_asyncio.fixture
async def polling_bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    client = make_bot(fake.base_url)
    dispatcher = Dispatcher()
    dispatcher.include_router(echo_router())
    task = asyncio.create_task(
        dispatcher.start_polling(client, handle_signals=False, polling_timeout=1)
    )
    await fake.wait_for_request("getUpdates")
    try:
        yield client
    finally:
        await dispatcher.stop_polling()
        await task  # start_polling closes the bot session itself


async def expect_bad_request(call: Any, description: str) -> None:
    with pytest.raises(TelegramBadRequest) as caught:
        await call
    assert caught.value.message == description


# --- conversation through a polling bot --------------------------------------------------------


async def test_user_message_is_answered(fake: FakeTelegram, polling_bot: Bot) -> None:
    user = fake.user(2001, "Anna")
    await user.send("hello <world> & co")
    reply = await user.wait_message(contains="echo")
    assert reply.text == "echo: hello <world> & co"
    assert reply.html == "echo: <b>hello &lt;world&gt; &amp; co</b>"
    assert reply.entities == [{"type": "bold", "offset": 6, "length": 18}]
    assert reply.buttons == [[("Ping", "ping"), ("Docs", "https://example.com/docs")]]
    assert fake.errors == []
    assert fake.warnings == []


async def test_deep_link_reaches_command_start(fake: FakeTelegram, polling_bot: Bot) -> None:
    user = fake.user(2002)
    await user.send("/start INVITE-42")
    reply = await user.wait_message()
    assert reply.text == "code: INVITE-42"
    assert reply.entities == [{"type": "code", "offset": 6, "length": 9}]


async def test_button_press_is_answered_and_edits(fake: FakeTelegram, polling_bot: Bot) -> None:
    user = fake.user(2003)
    await user.send("hi")
    shown = await user.wait_message()
    query_id = await user.press("Ping")
    answer = await user.wait_callback_answer(query_id)
    assert answer.text == "pong"
    assert not answer.show_alert
    edited = await user.wait_edit(shown)
    assert edited.text == "pinged"
    assert edited.buttons == []  # editMessageText without reply_markup drops the keyboard
    assert shown.text == "echo: hi"  # waits return snapshots
    live = user.find_message(shown)
    assert live is user.last
    assert live is not None
    assert live.text == "pinged"
    assert live.history[0].text == "echo: hi"
    assert [r.params["callback_query_id"] for r in fake.calls("answerCallbackQuery")] == [query_id]


async def test_wait_response_takes_message_or_edit(fake: FakeTelegram, polling_bot: Bot) -> None:
    user = fake.user(2004)
    await user.send("one")
    first = await user.wait_response()
    await user.press("Ping", first)
    assert (await user.wait_response()).text == "pinged"


async def test_press_reports_available_buttons(fake: FakeTelegram, polling_bot: Bot) -> None:
    user = fake.user(2005)
    await user.send("hi")
    await user.wait_message()
    with pytest.raises(AssertionError, match="Ping"):
        await user.press("Pong")
    with pytest.raises(AssertionError, match="no callback_data"):
        await user.press("Docs")
    assert await user.press("Pi", exact=False)


async def test_wait_timeout_shows_errors(fake: FakeTelegram, bot: Bot, ivan: FakeUser) -> None:
    with pytest.raises(TelegramBadRequest):
        await bot.send_message(ivan.id, "<b>oops")
    with pytest.raises(AssertionError) as caught:
        await ivan.wait_message(timeout=0.05)
    assert "Can't find end tag" in str(caught.value)


# --- text and HTML limits ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("line<br>break", 'Unsupported start tag "br" at byte offset 4'),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("Привет<b", "Unclosed start tag at byte offset 12"),
        ("Q&A", 'Character "&" must be escaped as "&amp;" at byte offset 1'),
    ],
)
async def test_bad_html_is_rejected(bot: Bot, ivan: FakeUser, text: str, reason: str) -> None:
    await expect_bad_request(bot.send_message(ivan.id, text), PARSE_ERROR + reason)


async def test_bad_markdown_v2_is_rejected(bot: Bot, ivan: FakeUser) -> None:
    await expect_bad_request(
        bot.send_message(ivan.id, "Version 1.0", parse_mode="MarkdownV2"),
        PARSE_ERROR + "Character '.' is reserved and must be escaped with the preceding '\\'",
    )
    sent = await bot.send_message(ivan.id, "*Version* 1\\.0", parse_mode="MarkdownV2")
    assert sent.text == "Version 1.0"


async def test_valid_html_passes(bot: Bot, ivan: FakeUser) -> None:
    sent = await bot.send_message(ivan.id, "&lt;tag&gt; <b><i>x</i></b> &#1046;&amp;")
    assert sent.text == "<tag> x Ж&"
    assert ivan.last is not None
    assert ivan.last.text == "<tag> x Ж&"
    assert ivan.last.entities == [
        {"type": "bold", "offset": 6, "length": 1},
        {"type": "italic", "offset": 6, "length": 1},
    ]


async def test_message_length(bot: Bot, ivan: FakeUser) -> None:
    cyrillic = "щ" * 4096
    sent = await bot.send_message(ivan.id, f"<b>{cyrillic}</b>")
    assert sent.text == cyrillic
    await expect_bad_request(
        bot.send_message(ivan.id, "a" * 4097), "Bad Request: message is too long"
    )
    # an emoji is two UTF-16 code units
    await expect_bad_request(
        bot.send_message(ivan.id, "😀" * 2049), "Bad Request: message is too long"
    )
    await expect_bad_request(
        bot.send_message(ivan.id, "<b> \n </b>"), "Bad Request: message text is empty"
    )
    await expect_bad_request(bot.send_message(ivan.id, ""), "Bad Request: message text is empty")


async def test_documents_and_caption_limit(fake: FakeTelegram, bot: Bot, ivan: FakeUser) -> None:
    report = BufferedInputFile(b"name;score\nIvan;5\n", filename="report.csv")
    await expect_bad_request(
        bot.send_document(ivan.id, report, caption="c" * 1025),
        "Bad Request: message caption is too long",
    )
    sent = await bot.send_document(ivan.id, report, caption="<i>Итоги</i>")
    assert sent.document is not None
    assert sent.document.file_name == "report.csv"
    assert fake.calls("sendDocument")[-1].params["document"] == "<file 'report.csv' (18 bytes)>"
    assert [(d.filename, d.content) for d in fake.documents] == [
        ("report.csv", b"name;score\nIvan;5\n")
    ]
    message = await ivan.wait_message(contains="Итоги")
    assert message.kind == "document"
    assert message.file_name == "report.csv"
    assert message.file_content == b"name;score\nIvan;5\n"
    photo = await bot.send_photo(ivan.id, BufferedInputFile(b"\x89PNG fake", filename="p.png"))
    assert photo.photo


# --- keyboards ---------------------------------------------------------------------------------


async def test_inline_keyboard_limits(bot: Bot, ivan: FakeUser) -> None:
    ok = keyboard(InlineKeyboardButton(text="ok", callback_data="ж" * 32))  # 64 bytes
    await bot.send_message(ivan.id, "fits", reply_markup=ok)
    too_long = keyboard(InlineKeyboardButton(text="long", callback_data="ж" * 32 + "x"))
    await expect_bad_request(
        bot.send_message(ivan.id, "x", reply_markup=too_long), "Bad Request: BUTTON_DATA_INVALID"
    )
    bad_url = keyboard(InlineKeyboardButton(text="site", url="localhost"))
    await expect_bad_request(
        bot.send_message(ivan.id, "x", reply_markup=bad_url), "Bad Request: BUTTON_URL_INVALID"
    )
    text_only = keyboard(InlineKeyboardButton(text="nothing"))
    await expect_bad_request(
        bot.send_message(ivan.id, "x", reply_markup=text_only),
        "Bad Request: can't parse InlineKeyboardButton: "
        "Text buttons are not allowed in the inline keyboard",
    )


# --- who the bot may write to ------------------------------------------------------------------
