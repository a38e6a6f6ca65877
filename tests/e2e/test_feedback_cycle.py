"""Issue 9's acceptance: the feedback polls and closing the cycle, end to end with the clock.

Two pairs approved at the same time in Vladivostok. Pair B is completed at once with a typed
reason (the audited override). Pair A goes intro → trial → planning → final:
- after the intro meeting both sides get the intro poll once and answer "not sure yet";
  after the trial meeting each is asked "is this a good fit?" again, once;
- after the planning meeting, the planning poll; after the final one, the satisfaction
  survey (the mentee's and the mentor's versions), the exit self-assessment, the final
  reports (the mentee's with a photo and a PDF) and the curator's review request;
- /complete is refused while the reports are missing and succeeds once they are in;
- the mentee sees the change of their self-assessment since the entry;
- with everything answered promptly, moving the clock on sends nothing twice (no reminder).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.services.closing import REPORTS_DIR
from bot.services.polls import default_polls
from bot.services.questionnaires import Catalog, Questionnaire
from tests.e2e import flows
from tests.e2e.flows import query
from tests.e2e.test_closing import JPEG, PDF, _mentee, _scales
from tests.e2e.test_full_cycle import QUIET_WAIT, _confirm, _expect, _found, _local, _log, _marks
from tests.e2e.test_full_cycle import _propose as propose
from tests.e2e.test_matching import APPROVE, COORDINATOR, join_curator, register, telegram_of
from tests.e2e.test_polls import AGAIN, INVITE, REMINDER
from tests.fakeapi import FakeTelegram
from tests.fakeapi.server import FakeUser

pytestmark = pytest.mark.e2e

PLANNING = "📝 План работы с"
SURVEY = "📝 Итоги программы наставничества"
EXIT = "Пройдите, пожалуйста, самооценку"
REPORT = "Заполните, пожалуйста, итоговый отчет"
THANKS = "Спасибо! Ответы сохранены"


def _poll(poll_id: str) -> Questionnaire:
    return default_polls()[poll_id].questionnaire


async def _not_sure(user: FakeUser, since: int) -> None:
    """The intro poll: mixed impression, 6, no comment, "not sure yet"."""
    await user.press("📝 Ответить", await _expect(user, INVITE, since))
    question = await user.wait_message("Какое впечатление")
    await user.press("Смешанное", question)
    await user.wait_edit(question, contains="комфортно")
    await user.press("6", question)
    await user.wait_edit(question, contains="рассказать куратору")
    await user.press("Пропустить", question)
    fit = await user.wait_edit(question, contains="Подходите ли")
    await user.press("Пока не уверен(а)", fit)
    await user.wait_message(THANKS)


async def _fill_poll(user: FakeUser, contains: str, since: int, poll_id: str) -> None:
    await user.press("📝 Ответить", await _expect(user, contains, since))
    await flows.answer_all(user, _poll(poll_id))
    await user.wait_message(THANKS)


async def test_feedback_and_closing_cycle(
    fake_telegram: FakeTelegram, bot_process: Any, tmp_path: Path
) -> None:
    db_path = tmp_path / "bot.db"
    reports = Catalog.from_dir(REPORTS_DIR)
    setup = flows.setup_programme(db_path, timezone="Asia/Vladivostok")  # as _local
    bot = await bot_process({"ADMIN_IDS": str(COORDINATOR), "CLOCK_CONTROL": "1", "TZ": "UTC",
                             "FILES_DIR": str(tmp_path / "files")})
    coordinator = fake_telegram.user(COORDINATOR, first_name="Координатор")
    await coordinator.send("/start")
    await coordinator.wait_message("координатор")
    mentee, mentee_b = (fake_telegram.user(7101 + i, first_name=f"Ученик{i}") for i in (0, 1))
    mentors = [fake_telegram.user(7201 + i, first_name=f"Наставник{i}") for i in (0, 1)]
    curator = fake_telegram.user(7300, first_name="Ольга")
    await flows.gather(
        _mentee(mentee, setup["mentee"]),  # with the entry self-assessment: 7 on every scale
        register(mentee_b, setup["mentee"], "mentee-student-student", "Ученик Второй"),
        *(register(u, setup["mentor"], "mentor-student-student", f"Наставник Номер{i}", 1)
          for i, u in enumerate(mentors)),
        join_curator(curator, setup["curator"], coordinator),
    )

    # Monday 7 December, 10:00 in Vladivostok: two pairs approved
    await bot.clock("set", _local("2026-12-07 10:00"))
    await curator.send("/match")
    await curator.wait_message("Подбор пар")
    await curator.send("/pairs")
    card = await curator.wait_message("Предложение 1 из 2")
    for left in (2, 1):
        await curator.press(APPROVE, card)
        await curator.wait_edit(card, contains="Одобрено")
        if left > 1:
            card = await curator.wait_message("Предложение 1 из")
    pairs = {}
    for someone in (mentee, mentee_b):
        [(pair_id, mentor_m)] = query(
            db_path, "SELECT p.id, p.mentor_membership_id FROM pairs p JOIN memberships m "
            "ON m.id = p.mentee_membership_id JOIN participants t ON t.id = m.participant_id "
            "WHERE p.status = 'approved' AND t.telegram_id = ?", someone.id)
        pairs[someone.id] = (pair_id, next(
            u for u in mentors if u.id == telegram_of(db_path, mentor_m)))
    a_id, mentor = pairs[mentee.id]
    b_id, _ = pairs[mentee_b.id]
    await mentee.wait_message("Вам подобран наставник", timeout=20)

    # -- pair B: completed before its time, with a typed reason (audited) ----------------------
    await curator.send(f"/complete {b_id}")
    refusal = await curator.wait_message(f"Пару #{b_id} пока нельзя завершить")
    await curator.press("⚠️ Завершить всё равно", refusal)
    await curator.wait_message("Напишите причину")
    await curator.send("Семья наставляемого переезжает")
    await curator.wait_message(f"Пара #{b_id} завершена с указанной причиной")
    [(details,)] = query(db_path, "SELECT details FROM audit_log WHERE action = "
                         "'pair.complete_override' AND target_id = ?", b_id)
    assert json.loads(details)["reason"] == "Семья наставляемого переезжает"
    assert query(db_path, "SELECT status FROM pairs WHERE id = ?", b_id) == [("completed",)]

    # -- intro: both answer "not sure yet" -------------------------------------------------------
    mark = len(mentee.messages)
    await propose(mentor, "08.12 15:00")
    await _confirm(mentee, mark)
    marks = _marks(mentor, mentee, curator)
    await bot.clock("set", _local("2026-12-08 16:01"))
    await _log(mentor, mentee, marks, "встреча-знакомство")
    await flows.gather(*(_not_sure(u, marks[u.id]) for u in (mentee, mentor)))
    assert not _found(curator, "⚠️", marks[curator.id])  # nothing alarming

    # -- trial: "is this a good fit?" again, once each; both say yes ----------------------------
    mark = len(mentee.messages)
    await propose(mentor, "10.12 17:00")
    await _confirm(mentee, mark)
    marks = _marks(mentor, mentee)
    await bot.clock("set", _local("2026-12-10 18:01"))
    await _log(mentor, mentee, marks, "пробная рабочая встреча")
    for user in (mentee, mentor):
        await user.press("📝 Ответить", await _expect(user, AGAIN, marks[user.id]))
        await user.press("Да, подходим", await user.wait_message("Как теперь"))
        await user.wait_message(THANKS)

    # -- planning: the planning poll ---------------------------------------------------------
    mark = len(mentee.messages)
    await propose(mentor, "12.12 15:00", place="Библиотека")
    await _confirm(mentee, mark)
    marks = _marks(mentor, mentee)
    await bot.clock("set", _local("2026-12-12 16:01"))
    await _log(mentor, mentee, marks, "встреча-планирование")
    for user in (mentee, mentor):
        await _fill_poll(user, PLANNING, marks[user.id], "poll-planning")

    # -- final ------------------------------------------------------------------------------
    mark = len(mentee.messages)
    await propose(mentor, "14.12 15:00", kind="итоговая встреча")
    await _confirm(mentee, mark)
    marks = _marks(mentor, mentee, curator)
    await bot.clock("set", _local("2026-12-14 16:01"))
    await _log(mentor, mentee, marks, "итоговая встреча")
    assert query(db_path, "SELECT status FROM pairs WHERE id = ?", a_id) == [("final",)]
    await _expect(curator, f"Пара #{a_id} провела итоговую встречу", marks[curator.id])
    await curator.send(f"/complete {a_id}")
    refusal = await curator.wait_message(f"Пару #{a_id} пока нельзя завершить")
    assert "итоговая встреча" not in refusal.text
    assert "отчета наставляемого" in refusal.text and "отчета наставника" in refusal.text

    # the satisfaction survey, each side its own version
    await _fill_poll(mentee, SURVEY, marks[mentee.id], "poll-final-mentee")
    await _fill_poll(mentor, SURVEY, marks[mentor.id], "poll-final-mentor")

    # the exit self-assessment: the mentee sees the change since the entry
    for user in (mentee, mentor):
        await user.press("📊 Пройти самооценку", await _expect(user, EXIT, marks[user.id]))
        await _scales(user, "9")
        change = await user.wait_message("Ваша самооценка")
        if user is mentee:
            assert change.text.count("7 → 9 (+2)") == 6

    # the final reports: the mentee's with a photo and a PDF
    await mentee.press("📝 Заполнить отчет", await _expect(mentee, REPORT, marks[mentee.id]))
    await flows.answer_all(mentee, reports.get("report-mentee"))  # type: ignore[arg-type]
    await mentee.press("📎 Приложить файлы", await mentee.wait_message("Хотите приложить"))
    await mentee.wait_message("Пришлите фото или файлы")
    await mentee.send_file(JPEG, kind="photo")
    await mentee.wait_message("Файл сохранён (1 из 10)")
    await mentee.send_file(PDF, filename="diploma.pdf", mime_type="application/pdf")
    await mentee.press("✅ Готово", await mentee.wait_message("Файл сохранён (2 из 10)"))
    await mentee.wait_message("приложено файлов: 2")
    await curator.send(f"/complete {a_id}")  # the mentor's report is still missing
    refusal = await curator.wait_message(f"Пару #{a_id} пока нельзя завершить")
    assert "отчета наставляемого" not in refusal.text and "отчета наставника" in refusal.text
    await mentor.press("📝 Заполнить отчет", await _expect(mentor, REPORT, marks[mentor.id]))
    await flows.answer_all(mentor, reports.get("report-mentor"))  # type: ignore[arg-type]
    await mentor.wait_message("Итоговый отчет сохранён")

    # -- /complete succeeds now --------------------------------------------------------------
    await curator.send(f"/complete {a_id}")
    await curator.wait_message(f"Пара #{a_id} завершила полный цикл")
    assert query(db_path, "SELECT status FROM pairs WHERE id = ?", a_id) == [("completed",)]
    assert query(db_path, "SELECT count(*) FROM memberships WHERE full_cycle_at IS NOT NULL "
                 "AND id IN (SELECT mentee_membership_id FROM pairs WHERE id = ? UNION "
                 "SELECT mentor_membership_id FROM pairs WHERE id = ?)", a_id, a_id) == [(2,)]
    assert query(db_path, "SELECT count(*) FROM attachments") == [(2,)]

    # -- days later: every poll and invitation came exactly once, and no reminder ------------------
    await bot.clock("set", _local("2026-12-20 12:00"), settle=QUIET_WAIT)
    for user in (mentee, mentor):
        for text in (INVITE, AGAIN, PLANNING, SURVEY, EXIT, REPORT):
            assert len(_found(user, text, 0)) == 1, (user.id, text)
        titles = [_poll(p).title["ru"] for p in default_polls() if p != "poll-process"]
        reminders = _found(user, REMINDER, 0)
        assert not [r for r in reminders if any(t in r.text for t in titles)], reminders
    assert len(_found(curator, f"Пара #{a_id} провела итоговую встречу", 0)) == 1
    answered = dict(query(db_path, "SELECT milestone, count(*) FROM survey_responses WHERE "
                          "submitted_at IS NOT NULL AND milestone != 'process' "
                          "GROUP BY milestone"))
    assert answered == {"intro": 2, next(k for k in answered if k.startswith("fit-again:")): 2,
                        "planning": 2, "final": 2}
    assert query(db_path, "SELECT count(*) FROM survey_responses WHERE satisfaction IS NOT NULL"
                 ) == [(2,)]
    assert "Traceback" not in bot.log_text()
