"""Nudges and broadcasts through the real process, with the movable clock: a pair that does
not meet is nudged at day 10 (both sides), the curator is told at day 17 and reminds the
pair with one tap; a /broadcast shows its progress and the final count."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

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
)
from tests.fakeapi import FakeTelegram

pytestmark = pytest.mark.e2e

JOB_WAIT = 30.0  # the nudge job runs every few seconds, then the outbox every second


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "bot.db"


async def test_nudges_escalation_and_broadcast(
    fake_telegram: FakeTelegram, bot_process, db_path: Path
) -> None:
    setup = flows.setup_programme(db_path)
    bot = await bot_process({"ADMIN_IDS": str(COORDINATOR), "CLOCK_CONTROL": "1"})
    coordinator = fake_telegram.user(COORDINATOR, first_name="Координатор")
    await coordinator.send("/start")
    await coordinator.wait_message("координатор")
    mentee = fake_telegram.user(5001, first_name="Ученик", username="mentee_n")
    mentor = fake_telegram.user(5011, first_name="Наставник", username="mentor_n")
    curator = fake_telegram.user(5100, first_name="Ольга")
    await flows.gather(
        register(mentee, setup["mentee"], "mentee-student-student", "Ученик Иванов"),
        register(mentor, setup["mentor"], "mentor-student-student", "Наставник Петров", 2),
        join_curator(curator, setup["curator"], coordinator),
    )
    # midday in Moscow (after the invitations were used): nothing waits for the quiet hours
    await bot.clock("set", "2026-12-01T09:00+00:00")
    await curator.send("/match")
    await curator.wait_message("Предложено пар: 1")
    await curator.send("/pairs")
    card = await curator.wait_message("Предложение 1 из 1")
    await curator.press(APPROVE, card)
    await curator.wait_edit(card, contains="Одобрено")
    [(pair_id, check)] = query(db_path, "SELECT id, next_check_at FROM pairs")
    assert check is not None and moment(check).date() == dt.date(2026, 12, 11)
    await mentee.wait_message("Вам подобран наставник", timeout=OUTBOX_WAIT)
    await mentor.wait_message("Вам подобран наставляемый", timeout=OUTBOX_WAIT)

    # day 9: nothing; day 10: both sides hear that the first meeting is still missing
    await bot.clock("advance", "9d")
    await bot.clock("advance", "1d", settle=6)
    for user, other in ((mentee, "Наставник Петров"), (mentor, "Ученик Иванов")):
        nudge = await user.wait_message("первой встречи ещё не было", timeout=JOB_WAIT)
        assert other in nudge.text and "10 дней" in nudge.text
        assert nudge.buttons and "Предложить встречу" in nudge.buttons[0][0].text
    assert not [m for m in curator.messages if "не встречается" in m.text]

    # day 17: the curator is told, and reminds the pair with one tap
    await bot.clock("advance", "7d")
    told = await curator.wait_message(f"Пара #{pair_id} не встречается", timeout=JOB_WAIT)
    assert "Ученик Иванов" in told.text and "17 дней" in told.text
    await curator.press("🔔 Напомнить паре", told)
    await mentee.wait_message("Куратор напоминает", timeout=OUTBOX_WAIT)
    await mentor.wait_message("Куратор напоминает", timeout=OUTBOX_WAIT)
    await curator.press("📋 Карточка пары", told)
    pair_card = await curator.wait_message("Встреч проведено")
    assert "Ученик Иванов" in pair_card.text
    assert query(db_path, "SELECT nudge_level, next_check_at FROM pairs") == [(2, None)]

    # a broadcast to everyone: preview with the count, progress, final count
    await curator.send("/broadcast")
    choose = await curator.wait_message("Кому отправить")
    await curator.press("Всем участникам", choose)
    await curator.wait_edit(choose, contains="Напишите текст объявления")
    await curator.send("Собрание наставников в пятницу в 15:00")
    preview = await curator.wait_message("Предпросмотр рассылки")
    assert "Получателей: 2" in preview.text
    await curator.press("✅ Отправить", preview)
    await curator.press("✅ Отправить", preview)  # a second tap does no harm
    final = await curator.wait_edit(preview, contains="завершена", timeout=JOB_WAIT)
    assert "доставлено 2 из 2, недоступны 0" in final.text
    for user in (mentee, mentor):
        announcement = await user.wait_message("Собрание наставников", timeout=OUTBOX_WAIT)
        assert "Объявление" in announcement.text
    assert query(db_path, "SELECT count(*) FROM outbox WHERE batch LIKE 'bc:%'") == [(2,)]
    assert query(db_path, "SELECT status, text FROM broadcasts") == [("done", None)]

    # the mentee pauses for a week; the curator sees it; /resume ends it
    await mentee.send("/pause")
    ask = await mentee.wait_message("Почему пауза?")
    await mentee.press("🏖 Каникулы, отпуск", ask)
    await mentee.wait_message("До какого числа?")
    await mentee.send("32.12")
    await mentee.wait_message("Не получилось прочитать дату")
    await mentee.send("25.12")  # or a button: 1 week, 2 weeks, 1 month
    await mentee.wait_message("Пауза до 25.12.2026 (каникулы)")
    assert query(db_path, "SELECT status, pause_reason FROM participants WHERE telegram_id=?",
                 mentee.id) == [("paused", "holidays")]
    await curator.send("/paused")
    listed = await curator.wait_message("На паузе (1)")
    assert "Ученик Иванов" in listed.text and "до 25.12.2026, каникулы" in listed.text
    await mentee.send("/resume")
    await mentee.wait_message("Пауза снята")
    assert "Traceback" not in bot.log_text()

