"""Meetings end to end: an approved pair proposes a meeting from the introduction with the
day picker, the other side confirms, both get a calendar file; a reschedule with a typed
time and a cancellation reach the other side; /meetings lists the meeting."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from tests.backends import moment
from tests.e2e import flows
from tests.e2e.flows import query
from tests.e2e.test_matching import (
    APPROVE,
    COORDINATOR,
    OUTBOX_WAIT,
    join_curator,
    register,
    setup_programme,
)
from tests.fakeapi import FakeTelegram
from tests.fakeapi.models import BotMessage

pytestmark = pytest.mark.e2e


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "bot.db"


def _day_buttons(message: BotMessage) -> list[str]:
    """The picker's day buttons ("пн 24.11"), in order."""
    return [b.text for row in message.buttons for b in row if b.value and ":y:" in b.value]


async def test_propose_confirm_reschedule_cancel(
    fake_telegram: FakeTelegram, bot_process: Any, db_path: Path
) -> None:
    setup = setup_programme(db_path)
    await bot_process({"ADMIN_IDS": str(COORDINATOR)})
    coordinator = fake_telegram.user(COORDINATOR, first_name="Координатор")
    await coordinator.send("/start")
    await coordinator.wait_message("координатор")
    mentee = fake_telegram.user(3301, first_name="Ученик", username="mentee_m")
    mentor = fake_telegram.user(3311, first_name="Наставник", username="mentor_m")
    curator = fake_telegram.user(3400, first_name="Ольга")
    await flows.gather(
        register(mentee, setup["mentee"], "mentee-student-student", "Ученик Иванов"),
        register(mentor, setup["mentor"], "mentor-student-student", "Наставник Петров", 1),
        join_curator(curator, setup["curator"], coordinator),
    )
    await curator.send("/match")
    await curator.wait_message("Подбор пар")
    await curator.send("/pairs")
    card = await curator.wait_message("Предложение 1 из 1")
    await curator.press(APPROVE, card)
    await curator.wait_edit(card, contains="Одобрено")

    # the mentee proposes from the introduction: the day picker, a slot, a place
    intro = await mentee.wait_message("Вам подобран наставник", timeout=OUTBOX_WAIT)
    await mentee.press("📅 Предложить встречу", intro)
    picker = await mentee.wait_message("Новая встреча")
    assert "встреча-знакомство" in picker.text and "Наставник Петров" in picker.text
    days = _day_buttons(picker)
    assert len(days) == 14
    await mentee.press(days[2], picker)
    slots = await mentee.wait_edit(picker, contains="Выберите время")
    assert "08:00" in slots.button_texts and "21:30" in slots.button_texts
    await mentee.send("завтра как-нибудь")  # typed nonsense gets what is expected
    await mentee.wait_message("Не понимаю дату и время")
    await mentee.press("15:30", slots)
    await mentee.wait_edit(picker, contains="Где встречаемся?")
    await mentee.send("Библиотека, 2 этаж")
    sent = await mentee.wait_message("Предложение отправлено")
    assert "15:30" in sent.text and "ждёт ответа наставника" in sent.text

    # the mentor confirms: the reply and the calendar file to them, the news to the mentee
    proposal = await mentor.wait_message("предлагает встречу", timeout=OUTBOX_WAIT)
    assert "Библиотека, 2 этаж" in proposal.text and "15:30" in proposal.text
    await mentor.press("✅ Подтвердить", proposal)
    await mentor.wait_edit(proposal, contains="Встреча подтверждена")
    ics = await mentor.wait_message("Добавьте встречу в календарь")
    [(meeting_id, starts_at)] = query(db_path, "SELECT id, starts_at FROM meetings")
    assert ics.file_name == f"meeting-{meeting_id}.ics"
    content = (ics.file_content or b"").decode()
    assert "METHOD:REQUEST" in content and f"UID:meeting-{meeting_id}@" in content
    # 15:30 in Moscow is 12:30 UTC
    assert "T123000Z" in content and moment(starts_at).time() == dt.time(12, 30)
    confirmed = await mentee.wait_message("Встреча подтверждена", timeout=OUTBOX_WAIT)
    assert query(
        db_path, "SELECT count(*) FROM outbox WHERE method='sendDocument' AND kind='meeting_ics'"
        " AND chat_id=?", mentee.id,
    ) == [(1,)]
    assert query(db_path, "SELECT status FROM meetings") == [("confirmed",)]

    # the mentee moves it, typing just a time once the day is picked
    await mentee.press("🕒 Перенести", confirmed)
    picker = await mentee.wait_message("Другое время встречи")
    await mentee.press(_day_buttons(picker)[3], picker)
    await mentee.wait_edit(picker, contains="Выберите время")
    await mentee.send("16:45")
    moved = await mentee.wait_message("Новое время предложено")
    assert "16:45" in moved.text
    retimed = await mentor.wait_message("предлагает другое время", timeout=OUTBOX_WAIT)
    assert "16:45" in retimed.text and "✅ Подтвердить" in retimed.button_texts
    assert query(db_path, "SELECT status, awaiting_role FROM meetings") == [
        ("proposed", "mentor")]
    # "cancel" under the older card names an older version: its buttons go, nothing changes
    await mentor.press("❌ Отменить", proposal)
    await mentor.wait_edit(proposal)
    assert query(db_path, "SELECT status FROM meetings") == [("proposed",)]

    # the mentee cancels (with a second "yes"): the mentor is told
    await mentee.press("❌ Отменить", moved)
    await mentee.wait_edit(moved, contains="Да, отменить")
    await mentee.press("Да, отменить", moved)
    await mentee.wait_edit(moved, contains="Встреча отменена")
    await mentor.wait_message("отменяет встречу", timeout=OUTBOX_WAIT)
    assert query(db_path, "SELECT status FROM meetings") == [("cancelled",)]

    await mentor.send("/meetings")
    listing = await mentor.wait_message("Ваши встречи")
    assert "Прошедшие и отменённые" in listing.text and "отменена" in listing.text
    assert "Ученик Иванов" in listing.text
