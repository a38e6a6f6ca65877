"""Reports end to end, through the real process and the movable clock: the deadline job is
registered and its messages are delivered (a week before the organisation monitoring, at
10:00 in Moscow, the curator gets the reminder, the summary with its charts button and the
KPI table, once), and the curator's /totals dialog feeds /kpi."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e import flows
from tests.e2e.flows import query
from tests.e2e.test_full_cycle import _expect, _marks
from tests.e2e.test_matching import COORDINATOR, join_curator, register
from tests.fakeapi import FakeTelegram

pytestmark = pytest.mark.e2e


async def test_deadline_reminder_and_totals(fake_telegram: FakeTelegram, bot_process: Any,
                                            tmp_path: Path) -> None:
    db_path = tmp_path / "bot.db"
    setup = flows.setup_programme(db_path)
    bot = await bot_process({"ADMIN_IDS": str(COORDINATOR), "CLOCK_CONTROL": "1"})
    coordinator = fake_telegram.user(COORDINATOR, first_name="Координатор")
    await coordinator.send("/start")
    await coordinator.wait_message("координатор")
    mentee = fake_telegram.user(5901, first_name="Ученик")
    curator = fake_telegram.user(5903, first_name="Ольга")
    await flows.gather(
        register(mentee, setup["mentee"], "mentee-student-student", "Ученик Первый"),
        join_curator(curator, setup["curator"], coordinator),
    )
    await bot.clock("set", "2026-10-13T06:55:00+00:00")  # 09:55 in Moscow

    # the totals dialog, then /kpi divides by them
    await curator.send("/totals")
    await curator.wait_message("1/5.")
    for value in ("400", "12", "40", "6", "150"):
        await curator.send(value)
    confirm = await curator.wait_message("Проверьте численность")
    await curator.press("✅ Сохранить", confirm)
    await curator.wait_message("Численность сохранена")
    await curator.send("/kpi")
    table = await curator.wait_message("Целевые показатели")
    assert "0 % (0/400)" in table.text and "2026 год" in table.text

    # 13 October 10:00 Moscow: a week before the organisation monitoring (20 October)
    marks = _marks(curator, coordinator, mentee)
    await bot.clock("set", "2026-10-13T07:00:05+00:00")
    reminder = await _expect(curator, "Через неделю, 20.10.2026", marks[curator.id])
    summary = await _expect(curator, "Сводка:", marks[curator.id])
    kpi = await _expect(curator, "Целевые показатели", marks[curator.id])
    assert "мониторинга целевых показателей" in reminder.text
    assert "📈 Графики" in summary.button_texts and "Наставляемые — 1" in summary.text
    assert "0 % (0/400)" in kpi.text
    await _expect(coordinator, "Через неделю, 20.10.2026", marks[coordinator.id])
    # a day later (within the make-up window): nothing again; the mentee never gets any
    await bot.clock("advance", "1d")
    assert query(db_path, "SELECT count(*) FROM outbox WHERE kind = 'deadline'") == [(4,)]
    assert not [m for m in mentee.messages[marks[mentee.id]:] if "20.10.2026" in m.text]
    assert "Traceback" not in bot.log_text()
