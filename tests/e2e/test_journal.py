"""The mentor journal end to end: after a confirmed meeting ends (the clock moved), the
mentor is asked to log it, logs it, the mentee confirms and rates it, /journal shows it to
both sides and the curator, the pair's stage advanced, and the pair builds a two-goal plan."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.backends import stamp
from tests.e2e import flows
from tests.e2e.flows import query
from tests.e2e.test_matching import (
    APPROVE,
    COORDINATOR,
    OUTBOX_WAIT,
    join_curator,
    register,
    setup_programme,
    telegram_of,
)
from tests.fakeapi import FakeTelegram

pytestmark = pytest.mark.e2e


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "bot.db"


def _insert_meeting(db_path: Path, pair_id: int, kind: str, starts: dt.datetime) -> None:
    """A confirmed meeting, as the meetings dialog (another feature) leaves it."""
    query(
        db_path,
        "INSERT INTO meetings (pair_id, kind, status, starts_at, duration_minutes, "
        "confirmed_at, created_at, updated_at) VALUES (?, ?, 'confirmed', ?, 60, ?, ?, ?)",
        pair_id, kind, stamp(starts), *[stamp(dt.datetime.now(dt.UTC))] * 3,
    )


async def test_journal_stage_and_plan(
    fake_telegram: FakeTelegram, bot_process, db_path: Path
) -> None:
    setup = setup_programme(db_path)
    bot = await bot_process({"ADMIN_IDS": str(COORDINATOR), "CLOCK_CONTROL": "1"})
    coordinator = fake_telegram.user(COORDINATOR, first_name="Координатор")
    await coordinator.send("/start")
    await coordinator.wait_message("координатор")
    mentee = fake_telegram.user(3201, first_name="Ученик", username="mentee_j")
    mentor = fake_telegram.user(3211, first_name="Наставник", username="mentor_j")
    curator = fake_telegram.user(3300, first_name="Ольга")
    await flows.gather(
        register(mentee, setup["mentee"], "mentee-student-student", "Ученик Журналов"),
        register(mentor, setup["mentor"], "mentor-student-student", "Наставник Журналов", 1),
        join_curator(curator, setup["curator"], coordinator),
    )
    await curator.send("/match")
    await curator.wait_message("Подбор пар")
    await curator.send("/pairs")
    card = await curator.wait_message("Предложение 1 из 1")
    await curator.press(APPROVE, card)
    await curator.wait_edit(card, contains="Одобрено")
    [(pair_id, mentee_id, mentor_id)] = query(
        db_path, "SELECT id, mentee_membership_id, mentor_membership_id FROM pairs "
        "WHERE status='approved'",
    )
    assert telegram_of(db_path, mentee_id) == mentee.id
    assert telegram_of(db_path, mentor_id) == mentor.id

    # a confirmed meeting that starts soon; the clock moves past its end
    starts = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
    _insert_meeting(db_path, pair_id, "intro", starts)
    await bot.clock("advance", "2h")

    ask = await mentor.wait_message("Журнал наставника", timeout=OUTBOX_WAIT)
    assert "встреча-знакомство" in ask.text and "Ученик Журналов" in ask.text
    await mentor.press("✅ Состоялась", ask)
    await mentor.wait_message("Сколько минут")
    await mentor.send("долго")
    await mentor.wait_message("числом минут")
    await mentor.send("45")
    await mentor.wait_message("Какие темы")
    await mentor.send("Знакомство, интересы <школа>")
    await mentor.wait_message("О чём договорились")
    await mentor.send("Составить план")
    logged = await mentor.wait_message("Записано")
    assert "45 мин" in logged.text and "знакомство" in logged.text
    assert not mentor.find_message(ask).buttons  # type: ignore[union-attr]  # asked once
    assert query(db_path, "SELECT status, actual_minutes, topics FROM meetings") == [
        ("held", 45, "Знакомство, интересы <школа>")
    ]

    confirm = await mentee.wait_message("Наставник отметил встречу", timeout=OUTBOX_WAIT)
    await mentee.press("✅ Да, состоялась", confirm)
    await mentee.wait_edit(confirm, contains="Оцените")
    await mentee.press("5 ⭐", confirm)
    await mentee.wait_edit(confirm, contains="Спасибо за оценку: 5")
    assert query(db_path, "SELECT took_place, rating FROM meeting_feedback") == [(1, 5)]

    for who, command in ((mentee, "/journal"), (mentor, "/journal"),
                         (curator, f"/journal {pair_id}")):
        await who.send(command)
        page = await who.wait_message("Журнал")
        assert "Знакомство, интересы &lt;школа&gt;" not in page.text  # shown, not as markup
        assert "Знакомство, интересы <школа>" in page.text
        assert "оценка наставляемого: 5 из 5" in page.text and "45 мин" in page.text
        assert "Этап: знакомство" in page.text
    assert query(db_path, "SELECT status, nudge_level FROM pairs WHERE id=?", pair_id) == [
        ("intro", 0)
    ]
    assert ("approved", "intro") in query(
        db_path, "SELECT from_status, to_status FROM pair_events WHERE pair_id=?", pair_id
    )

    # the plan: two goals, typed by the mentee; the mentor and the curator see them
    await mentee.send("/plan")
    await mentee.wait_message("План пока не составлен")
    await mentee.press("➕ Добавить цель")
    await mentee.wait_message("Напишите цель")
    await mentee.send("Подготовиться к олимпиаде")
    await mentee.wait_message("К какому сроку")
    await mentee.send("31.02")
    await mentee.wait_message("Не понял дату")
    await mentee.send("25.12.2027")
    await mentee.wait_message("Какие задачи")
    await mentee.send("Решить задачник\nНаписать пробный тур")
    await mentee.wait_message("Цель добавлена")
    await mentee.press("➕ Добавить цель")
    await mentee.send("Прочитать книгу")
    await mentee.wait_message("К какому сроку")
    await mentee.send("1.3")
    await mentee.press("Без задач", await mentee.wait_message("Какие задачи"))
    await mentee.wait_message("Цель добавлена")
    goals = query(db_path, "SELECT position, title, target_date FROM plan_goals ORDER BY id")
    assert [g[:2] for g in goals] == [(1, "Подготовиться к олимпиаде"), (2, "Прочитать книгу")]
    assert goals[0][2] == "2027-12-25" and goals[1][2][5:] == "03-01"
    assert query(db_path, "SELECT count(*) FROM plan_tasks") == [(2,)]
    await mentor.send("/plan")
    shown = await mentor.wait_message("План")
    assert "Решить задачник" in shown.text and "Прочитать книгу" in shown.text

    # the planning meeting: progress on the goals is marked while logging it
    starts = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2, minutes=10)
    _insert_meeting(db_path, pair_id, "planning", starts)
    await bot.clock("advance", "2h")
    # (the meeting's 1 h reminder names the kind too: wait for the journal's question)
    ask = await mentor.wait_message("Журнал наставника", timeout=OUTBOX_WAIT)
    assert "встреча-планирование" in ask.text
    await mentor.press("✅ Состоялась", ask)
    await mentor.press("60 мин", await mentor.wait_message("Сколько минут"))
    await mentor.wait_message("Какие темы")
    await mentor.send("План на полугодие")
    await mentor.press("Пропустить", await mentor.wait_message("О чём договорились"))
    await mentor.press("50%", await mentor.wait_message("Цель 1 из 2"))
    await mentor.press("Без изменений", await mentor.wait_message("Цель 2 из 2"))
    logged = await mentor.wait_message("Записано")
    assert "планирование" in logged.text
    assert query(db_path, "SELECT progress FROM plan_goals ORDER BY position") == [(50,), (0,)]
    assert query(db_path, "SELECT status FROM pairs WHERE id=?", pair_id) == [("planning",)]
    await curator.send(f"/plan {pair_id}")
    read_only = await curator.wait_message("План")
    assert "Подготовиться к олимпиаде" in read_only.text and not read_only.buttons
    assert "Traceback" not in bot.log_text()
