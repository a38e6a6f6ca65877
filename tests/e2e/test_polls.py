"""Feedback polls end to end, through the real process and the movable clock.

One pair: the intro meeting is proposed, confirmed and logged; both sides get the intro poll
(once). The mentee starts it, the bot restarts mid-poll, the poll resumes at the same
question, and the mentee answers "not a fit": the curator is alerted with the pair's card.
The mentor never answers: exactly one reminder two days later. The curator ends the pair
with one tap: the mentor's place is free and /match does not propose the couple again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import flows
from tests.e2e.flows import query
from tests.e2e.test_full_cycle import QUIET_WAIT, _confirm, _expect, _found, _local, _log, _marks
from tests.e2e.test_full_cycle import _propose as propose
from tests.e2e.test_matching import APPROVE, COORDINATOR, OUTBOX_WAIT, join_curator, register
from tests.fakeapi import FakeTelegram
from tests.fakeapi.models import BotMessage
from tests.fakeapi.server import FakeUser

pytestmark = pytest.mark.e2e

INVITE = "📝 Как прошло знакомство"
REMINDER = "Напоминаем об опросе"
ALERT = "«не подходим»"
AGAIN = "📝 Подходите ли вы друг другу"


@dataclass
class Scene:
    bot: Any
    db_path: Path
    mentee: FakeUser
    mentor: FakeUser
    curator: FakeUser
    pair_id: int
    mentor_m: int
    marks: dict[int, int]
    invite: BotMessage


async def _intro_logged(fake_telegram: FakeTelegram, bot_process: Any, tmp_path: Path) -> Scene:
    """An approved pair whose intro meeting is logged; both sides got the intro poll."""
    db_path = tmp_path / "bot.db"
    setup = flows.setup_programme(db_path, timezone="Asia/Vladivostok")  # as _local
    bot = await bot_process({"ADMIN_IDS": str(COORDINATOR), "CLOCK_CONTROL": "1", "TZ": "UTC"})
    coordinator = fake_telegram.user(COORDINATOR, first_name="Координатор")
    await coordinator.send("/start")
    await coordinator.wait_message("координатор")
    mentee = fake_telegram.user(6101, first_name="Ученик")
    mentor = fake_telegram.user(6201, first_name="Наставник")
    curator = fake_telegram.user(6300, first_name="Ольга")
    await flows.gather(
        register(mentee, setup["mentee"], "mentee-student-student", "Ученик Иванов"),
        register(mentor, setup["mentor"], "mentor-student-student", "Наставник Петров", 1),
        join_curator(curator, setup["curator"], coordinator),
    )

    await bot.clock("set", _local("2026-12-07 10:00"))
    await curator.send("/match")
    await curator.wait_message("Подбор пар")
    await curator.send("/pairs")
    card = await curator.wait_message("Предложение 1 из 1")
    await curator.press(APPROVE, card)
    await curator.wait_edit(card, contains="Одобрено")
    [(pair_id, mentor_m)] = query(
        db_path, "SELECT id, mentor_membership_id FROM pairs WHERE status = 'approved'")
    await mentee.wait_message("Вам подобран наставник", timeout=OUTBOX_WAIT)

    mark = len(mentee.messages)
    await propose(mentor, "08.12 15:00")
    await _confirm(mentee, mark)
    marks = _marks(mentor, mentee, curator)
    await bot.clock("set", _local("2026-12-08 16:01"))
    await _log(mentor, mentee, marks, "встреча-знакомство")
    invite = await _expect(mentee, INVITE, marks[mentee.id])
    await _expect(mentor, INVITE, marks[mentor.id])
    return Scene(bot, db_path, mentee, mentor, curator, pair_id, mentor_m, marks, invite)


async def test_intro_poll_not_a_fit_rematch_resume_and_reminder(
    fake_telegram: FakeTelegram, bot_process: Any, tmp_path: Path
) -> None:
    scene = await _intro_logged(fake_telegram, bot_process, tmp_path)
    bot, db_path, pair_id, mentor_m = scene.bot, scene.db_path, scene.pair_id, scene.mentor_m
    mentee, mentor, curator, marks = scene.mentee, scene.mentor, scene.curator, scene.marks
    invite = scene.invite
    assert "Наставник Петров" in invite.text and "📝 Ответить" in invite.button_texts

    # -- the mentee starts the poll; a restart in the middle resumes at the same question ----
    await mentee.press("📝 Ответить", invite)
    first = await mentee.wait_message("Какое впечатление")
    await mentee.press("Хорошее", first)
    await mentee.wait_edit(first, contains="Насколько вам было комфортно")
    await bot.restart()
    await mentee.press("📝 Ответить", invite)
    await mentee.wait_message("Продолжим опрос")
    again = await mentee.wait_message("Насколько вам было комфортно")
    await mentee.press("3", again)
    await mentee.wait_edit(again, contains="рассказать куратору")
    await mentee.press("Пропустить", again)
    await mentee.wait_edit(again, contains="Подходите ли вы друг другу")
    await mentee.press("Нет, не подходим", again)
    await mentee.wait_message("Спасибо! Ответы сохранены")
    assert query(db_path, "SELECT count(*) FROM survey_responses WHERE submitted_at IS NOT NULL"
                 ) == [(1,)]

    # -- the curator is alerted at once, with the pair's card --------------------------------
    alert = await _expect(curator, ALERT, marks[curator.id])
    assert f"Пара #{pair_id}" in alert.text and "наставляемый" in alert.text
    assert "Ученик Иванов" in alert.text  # the card
    assert not _found(mentor, "не подходим", marks[mentor.id])  # the other side is not told
    await curator.press("📋 Ответы на опросы", alert)
    answers = await curator.wait_message(f"Опросы пары #{pair_id}")
    assert "Первое впечатление: Хорошее" in answers.text and "Комфорт общения: 3" in answers.text
    assert "Нет, не подходим" in answers.text and "ждём ответа" in answers.text  # the mentor

    # -- the mentor never answers: exactly one reminder after two days -------------------------
    await bot.clock("set", _local("2026-12-10 15:50"), settle=QUIET_WAIT)
    assert not _found(mentor, REMINDER, marks[mentor.id])
    await bot.clock("set", _local("2026-12-10 16:05"))
    await _expect(mentor, REMINDER, marks[mentor.id])
    await bot.clock("set", _local("2026-12-13 16:05"), settle=QUIET_WAIT)
    assert len(_found(mentor, REMINDER, marks[mentor.id])) == 1
    assert not _found(mentee, REMINDER, marks[mentee.id])  # answered: not reminded

    # -- one tap ends the pair; the mentor's place is free; /match does not re-propose --------
    await curator.press("🔚 Завершить пару и подобрать заново", alert)
    await curator.wait_message(f"Пара #{pair_id} завершена")
    assert query(db_path, "SELECT status FROM pairs WHERE id=?", pair_id) == [("ended",)]
    assert query(db_path, "SELECT load FROM memberships WHERE id=?", mentor_m) == [(0,)]
    await curator.send("/match")
    summary = await curator.wait_message("Подбор пар")
    assert "Предложено пар: <b>0</b>" in summary.text or "Предложено пар: 0" in summary.text
    assert query(db_path, "SELECT count(*) FROM pairs WHERE status='proposed'") == [(0,)]
    assert query(db_path, "SELECT count(*) FROM audit_log WHERE action IN "
                 "('pair.not_a_fit', 'pair.unpair', 'pair.rematch')") == [(3,)]
    # the intro poll came once to each side, whatever the restart and the jobs did
    for user in (mentee, mentor):
        assert len(_found(user, INVITE, marks[user.id])) == 1
    assert query(db_path, "SELECT count(*) FROM survey_responses") == [(2,)]
    assert "Traceback" not in bot.log_text()


async def test_not_sure_from_both_is_asked_again_after_the_trial(
    fake_telegram: FakeTelegram, bot_process: Any, tmp_path: Path
) -> None:
    scene = await _intro_logged(fake_telegram, bot_process, tmp_path)
    mentee, mentor, bot = scene.mentee, scene.mentor, scene.bot
    for user, comment in ((mentee, None), (mentor, "Пока присматриваемся")):
        invite = await _expect(user, INVITE, scene.marks[user.id])
        await user.press("📝 Ответить", invite)
        question = await user.wait_message("Какое впечатление")
        await user.press("Смешанное", question)
        await user.wait_edit(question, contains="комфортно")
        await user.press("6", question)
        await user.wait_edit(question, contains="рассказать куратору")
        if comment is None:
            await user.press("Пропустить", question)
            fit = await user.wait_edit(question, contains="Подходите ли")
        else:
            await user.send(comment)  # a free text: personal, the curator reads it
            fit = await user.wait_message("Подходите ли")
        await user.press("Пока не уверен(а)", fit)
        await user.wait_message("Спасибо! Ответы сохранены")
    assert not _found(scene.curator, "⚠️", scene.marks[scene.curator.id])  # nothing alarming

    # the trial meeting: both are asked "is this a good fit?" again, once
    mark = len(mentee.messages)
    await propose(mentor, "10.12 17:00")
    await _confirm(mentee, mark)
    marks = _marks(mentor, mentee)
    await bot.clock("set", _local("2026-12-10 18:01"))
    await _log(mentor, mentee, marks, "пробная рабочая встреча")
    for user in (mentee, mentor):
        again = await _expect(user, AGAIN, marks[user.id])
        assert "Наставник Петров" in again.text or "Ученик Иванов" in again.text
    await mentee.press("📝 Ответить", await _expect(mentee, AGAIN, marks[mentee.id]))
    await mentee.press("Да, подходим", await mentee.wait_message("Как теперь"))
    await mentee.wait_message("Спасибо! Ответы сохранены")
    assert query(scene.db_path, "SELECT milestone, count(*) FROM survey_responses "
                 "GROUP BY milestone ORDER BY milestone") == [
        ("fit-again:2", 2), ("intro", 2)]
    for user in (mentee, mentor):
        assert len(_found(user, AGAIN, marks[user.id])) == 1
    assert "Traceback" not in bot.log_text()
