"""Journal buttons through the production dispatcher: a stranger's and a forged press are
answered and change nothing; the mentee's repeated rating is harmless."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from aiogram import Bot
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.types import InlineKeyboardMarkup, Update
from sqlalchemy import select

from bot.app import Database, create_bot, create_dispatcher
from bot.config import Settings, load_settings
from bot.i18n import translator
from bot.ids import MAX_ID
from db.migrate import upgrade_to_head
from db.models import Meeting, MeetingFeedback, MeetingStatus
from keyboards import journal as kb
from tests.backends import url_for
from tests.fakeapi import FakeTelegram
from tests.fakeapi.server import FakeUser
from tests.unit.journal_world import World

T = translator("ru")


@pytest_asyncio.fixture
async def app(tmp_path: Path) -> AsyncIterator[tuple[FakeTelegram, Bot, object, Database]]:
    fake = FakeTelegram()
    await fake.start()
    url = url_for(tmp_path / "unit.db")
    await asyncio.to_thread(upgrade_to_head, url)
    settings = load_settings(
        Settings, bot_token=fake.token, telegram_api_base=fake.base_url, database_url=url,
    )
    database = Database.from_url(url)
    bot = create_bot(settings)
    dp = create_dispatcher(settings, database, storage=MemoryStorage())
    await bot.me()
    dp["bot_username"] = "nastavnik_test_bot"
    try:
        yield fake, bot, dp, database
    finally:
        await bot.session.close()
        await database.close()
        await fake.stop()


async def _press(  # type: ignore[no-untyped-def]
    fake: FakeTelegram, bot: Bot, dp, user: FakeUser, markup: InlineKeyboardMarkup, button: str
) -> str:
    """The bot's message with these buttons lands in the user's chat (as if forwarded);
    the user presses one. Returns the callback's answer text."""
    user.started = True
    sent = await bot.send_message(user.id, "…", reply_markup=markup)
    query_id = await user.press(button, sent.message_id)
    raw = fake.pending_updates[-1]
    await dp.feed_update(bot, Update.model_validate(raw, context={"bot": bot}))
    return (await user.wait_callback_answer(query_id)).text or ""


async def test_strangers_forgers_and_repeats(app) -> None:  # type: ignore[no-untyped-def]
    fake, bot, dp, database = app
    async with database.sessionmaker() as session:
        world = await World(session).setup()
        meeting = await world.meeting()
        await session.commit()
        ids = (world.mentor.telegram_id, world.mentee.telegram_id, world.stranger.telegram_id)
        meeting_id, mentee_m = meeting.id, world.mentee_m.id
    mentor, mentee, stranger = (fake.user(i or 0) for i in ids)

    answer = await _press(fake, bot, dp, stranger, kb.ask(T, meeting_id), "❌ Не состоялась")
    assert answer == T("errors.journal_not_yours")
    answer = await _press(fake, bot, dp, mentor, kb.ask(T, MAX_ID), "✅ Состоялась")
    assert answer == T("errors.journal_meeting_gone")
    answer = await _press(fake, bot, dp, mentee, kb.took_place(T, meeting_id, mentee_m),
                          "✅ Да, состоялась")
    assert answer == T("errors.journal_meeting_gone")  # nothing was asked of the mentee yet
    async with database.sessionmaker() as session:
        stored = await session.get(Meeting, meeting_id)
        assert stored is not None and stored.status == MeetingStatus.CONFIRMED
        assert stored.logged_at is None

    # the mentor says it did not take place: twice is harmless, "reschedule" is offered
    for expected in ("", T("journal.already")):
        answer = await _press(fake, bot, dp, mentor, kb.ask(T, meeting_id), "❌ Не состоялась")
        assert answer == expected
    edited = mentor.messages[-1]
    assert "не состоялась" in edited.text and "Перенести" in " ".join(edited.button_texts)
    async with database.sessionmaker() as session:
        stored = await session.get(Meeting, meeting_id)
        assert stored is not None and stored.status == MeetingStatus.NOT_HELD
        rows = (await session.execute(select(MeetingFeedback))).scalars().all()
        assert rows == []
