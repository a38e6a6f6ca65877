"""The meeting dialog through the production dispatcher: a mentor of two mentees proposes a
meeting to the whole group; wrong input in each step says what is expected; a stranger's
press changes nothing; the first mentee's confirmation confirms it for the group."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio
from aiogram import Bot
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.types import Update
from sqlalchemy import select

from bot.app import Database, create_bot, create_dispatcher
from bot.config import Settings, load_settings
from db.migrate import upgrade_to_head
from db.models import (
    Meeting,
    Membership,
    MembershipStatus,
    Organisation,
    OutboxMessage,
    Pair,
    PairStatus,
    Participant,
    Programme,
    Role,
)
from keyboards.meetings import MeetingAction, MeetingCb
from tests.backends import url_for
from tests.fakeapi import FakeTelegram
from tests.fakeapi.models import BotMessage

MENTOR, MENTEE1, MENTEE2, STRANGER = 9601, 9602, 9603, 9604


@pytest_asyncio.fixture
async def app(tmp_path: Path) -> AsyncIterator[tuple[FakeTelegram, Bot, Any, Database]]:
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


async def _group(database: Database) -> dict[str, int]:
    """An organisation in Vladivostok; a mentor with two mentees (two approved pairs), and
    someone else's mentee."""
    async with database.sessionmaker() as s:
        org = Organisation(name="Школа", timezone="Asia/Vladivostok")
        s.add(org)
        await s.flush()
        programme = Programme(organisation_id=org.id, name="П", forms=["student-student"],
                              start_date=dt.date(2026, 9, 1), end_date=dt.date(2027, 5, 31))
        s.add(programme)
        await s.flush()
        ids: dict[str, int] = {}
        for name, telegram_id, role in (
            ("Наставник Пётр", MENTOR, Role.MENTOR), ("Ученик Иван", MENTEE1, Role.MENTEE),
            ("Ученица Мария", MENTEE2, Role.MENTEE), ("Чужой", STRANGER, Role.MENTEE),
        ):
            person = Participant(telegram_id=telegram_id, full_name=name, language="ru")
            s.add(person)
            await s.flush()
            membership = Membership(
                participant_id=person.id, organisation_id=org.id, programme_id=programme.id,
                role=role, form="student-student", status=MembershipStatus.PAIRED, capacity=2,
            )
            s.add(membership)
            await s.flush()
            ids[str(telegram_id)] = membership.id
        for mentee in (MENTEE1, MENTEE2):
            s.add(Pair(programme_id=programme.id, mentor_membership_id=ids[str(MENTOR)],
                       mentee_membership_id=ids[str(mentee)], form="student-student",
                       status=PairStatus.APPROVED))
        await s.commit()
    return ids


async def _feed(fake: FakeTelegram, bot: Bot, dp: Any) -> None:
    raw = fake.pending_updates[-1]
    await dp.feed_update(bot, Update.model_validate(raw, context={"bot": bot}))


async def _say(fake: FakeTelegram, bot: Bot, dp: Any, user_id: int, text: str) -> BotMessage:
    user = fake.user(user_id)
    await user.send(text)
    await _feed(fake, bot, dp)
    return await user.wait_message(timeout=5)


async def _press(
    fake: FakeTelegram, bot: Bot, dp: Any, user_id: int, button: str, message: BotMessage,
    *, exact: bool = True,
) -> BotMessage:
    user = fake.user(user_id)
    await user.press(button, message, exact=exact)
    await _feed(fake, bot, dp)
    return await user.wait_response(timeout=5)


async def test_group_meeting_in_chat(app: Any) -> None:
    fake, bot, dp, database = app
    ids = await _group(database)
    for user_id in (MENTEE1, MENTEE2, STRANGER):
        await fake.user(user_id).send("привет")  # they have started the bot (not fed)
    choice = await _say(fake, bot, dp, MENTOR, "/meeting")
    assert choice.text.startswith("С кем встреча?")
    assert choice.button_texts == ["Ученик Иван", "Ученица Мария", "👥 Вся группа", "✖ Отмена"]

    picker = await _press(fake, bot, dp, MENTOR, "👥 Вся группа", choice)
    assert "встреча-знакомство" in picker.text and "(вся группа)" in picker.text
    assert "Ученик Иван" in picker.text and "Ученица Мария" in picker.text
    # wrong input says what is expected and keeps the dialog
    assert "Не понимаю дату и время" in (await _say(fake, bot, dp, MENTOR, "в среду")).text
    assert "уже прошло" in (await _say(fake, bot, dp, MENTOR, "01.01.2020 10:00")).text
    place = await _say(fake, bot, dp, MENTOR, "25.12 15:30")
    assert "Где встречаемся?" in place.text and "25.12" in place.text
    too_long = await _say(fake, bot, dp, MENTOR, "x" * 301)
    assert "не больше 300" in too_long.text
    sent = await _say(fake, bot, dp, MENTOR, "Актовый зал")
    assert "Предложение отправлено" in sent.text and "(вся группа)" in sent.text

    async with database.sessionmaker() as s:
        meeting = (await s.execute(select(Meeting))).scalar_one()
        keys = set((await s.execute(select(Pair.group_key))).scalars())
        told = list((await s.execute(
            select(OutboxMessage).order_by(OutboxMessage.id))).scalars())
    assert keys == {f"g{ids[str(MENTOR)]}"} and meeting.group_key == f"g{ids[str(MENTOR)]}"
    # 15:30 in Vladivostok is 05:30 UTC
    assert meeting.starts_at.hour == 5 and meeting.starts_at.minute == 30
    assert meeting.place == "Актовый зал" and meeting.awaiting_role == "mentee"
    assert sorted(m.chat_id for m in told) == [MENTEE1, MENTEE2]
    assert all(m.kind == "meeting_proposed" and m.organisation_id for m in told)

    # the proposal as a mentee would get it (the outbox is not drained here)
    payload = told[0].payload or {}
    mentee2 = fake.user(MENTEE2)
    await bot.send_message(MENTEE2, payload["text"], reply_markup=payload["reply_markup"])
    proposal = await mentee2.wait_message("предлагает встречу", timeout=5)
    # a stranger who got the message forwarded cannot confirm it
    stranger = fake.user(STRANGER)
    await bot.send_message(STRANGER, payload["text"], reply_markup=payload["reply_markup"])
    forwarded = await stranger.wait_message("предлагает встречу", timeout=5)
    await stranger.press("✅ Подтвердить", forwarded)
    await _feed(fake, bot, dp)
    answers = [c.params.get("text") for c in fake.calls("answerCallbackQuery")]
    assert answers[-1] == "Эта кнопка не для вас."
    confirmed = await _press(fake, bot, dp, MENTEE2, "✅ Подтвердить", proposal)
    assert "Встреча подтверждена" in confirmed.text
    ics = await mentee2.wait_message("календарь", timeout=5)
    assert "DTSTART:" in (ics.file_content or b"").decode()
    async with database.sessionmaker() as s:
        status = (await s.execute(select(Meeting.status))).scalar_one()
        news = set((await s.execute(select(OutboxMessage.chat_id).where(
            OutboxMessage.kind == "meeting_confirmed"))).scalars())
    assert status == "confirmed" and news == {MENTOR, MENTEE1}
    # a forged meeting id changes nothing
    forged = MeetingCb(a=MeetingAction.CONFIRM, id=424242, v="1").pack()
    await bot.send_message(MENTEE1, "x", reply_markup={"inline_keyboard": [[
        {"text": "ok", "callback_data": forged}]]})
    mentee1 = fake.user(MENTEE1)
    fake_button = await mentee1.wait_message("x", timeout=5)
    await mentee1.press("ok", fake_button)
    await _feed(fake, bot, dp)
    answers = [c.params.get("text") for c in fake.calls("answerCallbackQuery")]
    assert answers[-1] == "Встреча не найдена."


async def test_after_planning_the_kind_is_chosen(app: Any) -> None:
    fake, bot, dp, database = app
    await _group(database)
    async with database.sessionmaker() as s:
        pair = (await s.execute(select(Pair).order_by(Pair.id))).scalars().first()
        assert pair is not None
        for day, kind in enumerate(("intro", "trial", "planning"), start=1):
            s.add(Meeting(pair_id=pair.id, kind=kind, status="held",
                          starts_at=dt.datetime(2026, 10, day, 5, tzinfo=dt.UTC)))
        await s.commit()
    picker = await _say(fake, bot, dp, MENTEE1, "/meeting")  # one pair: straight to the days
    assert "регулярная встреча" in picker.text
    assert picker.button_texts[:2] == ["✅ регулярная встреча", "итоговая встреча"]
    picker = await _press(fake, bot, dp, MENTEE1, "итоговая встреча", picker)
    assert "итоговая встреча" in picker.text
    assert picker.button_texts[:2] == ["регулярная встреча", "✅ итоговая встреча"]
    await _say(fake, bot, dp, MENTEE1, "25.12 10:00")
    place = fake.user(MENTEE1).messages[-1]
    assert "Выберите день кнопкой" not in place.text
    sent = await _press(fake, bot, dp, MENTEE1, "Без места", place)
    assert "Предложение отправлено" in sent.text and "место не указано" in sent.text
    async with database.sessionmaker() as s:
        kinds = list((await s.execute(
            select(Meeting.kind).where(Meeting.status == "proposed"))).scalars())
    assert kinds == ["final"]
    # /meetings: the coming one and three past ones
    listing = await _say(fake, bot, dp, MENTEE1, "/meetings")
    assert "Предстоящие" in listing.text and listing.text.count("состоялась") == 3
    card = await _press(fake, bot, dp, MENTEE1, "🗓 25.12 10:00", listing)
    assert "итоговая встреча" in card.text and "❌ Отменить" in card.button_texts

    # the journal's "reschedule" under a meeting marked not held: a new proposal, same kind
    async with database.sessionmaker() as s:
        final = (await s.execute(select(Meeting).where(Meeting.kind == "final"))).scalar_one()
        final.status = "not_held"
        await s.commit()
    button = MeetingCb(a=MeetingAction.RESCHEDULE, id=final.id).pack()
    await bot.send_message(MENTEE1, "journal", reply_markup={"inline_keyboard": [[
        {"text": "🕒 Перенести", "callback_data": button}]]})
    journal = await fake.user(MENTEE1).wait_message("journal", timeout=5)
    picker = await _press(fake, bot, dp, MENTEE1, "🕒 Перенести", journal)
    assert "Новая встреча" in picker.text
    assert picker.button_texts[:2] == ["регулярная встреча", "✅ итоговая встреча"]
