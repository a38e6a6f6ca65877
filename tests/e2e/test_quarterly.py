"""The quarterly report end to end, through the real process and the movable clock.

An approved pair; the clock moves to 1 January 10:00 in the organisation's timezone
(Europe/Moscow): the mentor is invited (once), fills in the report; the curator returns it
with a comment; the mentor sees the comment, edits and resubmits; the curator accepts; the
mentor is told; /reports lists it as accepted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.services.closing import REPORTS_DIR
from bot.services.questionnaires import Catalog
from tests.e2e import flows
from tests.e2e.flows import query
from tests.e2e.test_full_cycle import _expect, _marks
from tests.e2e.test_matching import APPROVE, COORDINATOR, join_curator, register
from tests.fakeapi import FakeTelegram

pytestmark = pytest.mark.e2e

COMMENT = "Опишите трудности подробнее"


async def test_quarterly_report(fake_telegram: FakeTelegram, bot_process: Any,
                                tmp_path: Path) -> None:
    db_path = tmp_path / "bot.db"
    report = Catalog.from_dir(REPORTS_DIR).get("report-quarterly")
    assert report is not None
    setup = flows.setup_programme(db_path)
    bot = await bot_process({"ADMIN_IDS": str(COORDINATOR), "CLOCK_CONTROL": "1"})
    coordinator = fake_telegram.user(COORDINATOR, first_name="Координатор")
    await coordinator.send("/start")
    await coordinator.wait_message("координатор")
    mentee = fake_telegram.user(5801, first_name="Ученик")
    mentor = fake_telegram.user(5802, first_name="Наставник")
    curator = fake_telegram.user(5803, first_name="Ольга")
    await flows.gather(
        register(mentee, setup["mentee"], "mentee-student-student", "Ученик Первый"),
        register(mentor, setup["mentor"], "mentor-student-student", "Наставник Пётр", 1),
        join_curator(curator, setup["curator"], coordinator),
    )
    await bot.clock("set", "2026-12-10T09:00:00+00:00")
    await curator.send("/match")
    await curator.wait_message("Подбор пар")
    await curator.send("/pairs")
    card = await curator.wait_message("Предложение 1 из 1")
    await curator.press(APPROVE, card)
    await curator.wait_edit(card, contains="Одобрено")
    [(pair_id,)] = query(db_path, "SELECT id FROM pairs WHERE status = 'approved'")

    # -- 1 January, 10:00 in Moscow: the mentor is asked for the report on Q4 ----------------
    marks = _marks(mentor, curator)
    await bot.clock("set", "2027-01-01T07:00:10+00:00")
    invite = await _expect(mentor, "квартальный отчет", marks[mentor.id])
    assert f"#{pair_id}" in invite.text and "IV квартал 2026" in invite.text
    mentor.mark_all_read()  # the entry self-assessment left open at registration
    await mentor.press("📝 Заполнить отчет", invite)
    texts = {"progress": "Решил три олимпиадные задачи", "worked": "Разбор задач",
             "difficulties": "Мало времени", "plans": "Региональный этап"}
    await flows.answer_all(mentor, report, on_question=lambda q: texts.get(q.id))
    await mentor.wait_message("отправлен куратору")

    # -- the curator returns it with a comment --------------------------------------------------
    submitted = await _expect(curator, "Квартальный отчет наставника", marks[curator.id])
    assert "Решил три олимпиадные задачи" in submitted.text
    marks = _marks(mentor, curator)
    await curator.press("↩️ Вернуть с комментарием", submitted)
    await curator.wait_message("Напишите комментарий")
    await curator.send(COMMENT)
    await curator.wait_message("возвращен наставнику")

    # -- the mentor sees the comment, edits and resubmits ---------------------------------------
    returned = await _expect(mentor, "вернул ваш квартальный отчет", marks[mentor.id])
    assert COMMENT in returned.text
    mentor.mark_all_read()
    await mentor.press("✏️ Исправить и отправить снова", returned)
    texts["difficulties"] = "Мало времени из-за экзаменов"
    await flows.answer_all(mentor, report, on_question=lambda q: texts.get(q.id))
    await mentor.wait_message("отправлен куратору")

    # -- accepted ---------------------------------------------------------------------------------
    again = await _expect(curator, "из-за экзаменов", marks[curator.id])
    await curator.press("✅ Принять", again)
    await curator.wait_message(f"Отчет о паре #{pair_id} принят")
    await _expect(mentor, "принял ваш квартальный отчет", marks[mentor.id])
    assert query(db_path, "SELECT status, submissions FROM quarterly_reports") == [
        ("accepted", 2)]
    await curator.send(f"/reports {pair_id}")
    listing = await curator.wait_message("Квартальные отчеты")
    assert "IV квартал 2026" in listing.text and "принят" in listing.text
    # the next passes invite nobody again
    await bot.clock("advance", "1d")
    assert query(db_path, "SELECT count(*) FROM quarterly_reports") == [(1,)]
    assert query(db_path, "SELECT count(*) FROM outbox WHERE kind = 'quarterly_invite'") == [(1,)]
    assert "Traceback" not in bot.log_text()
