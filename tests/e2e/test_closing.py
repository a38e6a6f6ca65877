"""Closing the cycle end to end, through the real process and the movable clock.

Two approved pairs. Pair B is completed early with a typed reason (an audited override).
Pair A's final meeting is logged as held; the invitations follow: the mentee takes the exit
self-assessment and sees the change since the entry one, fills in the final report and
attaches a photo and a PDF (a program file is refused); the mentor fills in their report,
the curator reviews the pair and fills in the curator's monitoring questionnaire. /complete is refused before the reports and succeeds after;
a repeat is harmless. Then the mentee's /forget leaves none of their free texts in the
database and none of their files in the storage.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.services.closing import REPORTS_DIR
from bot.services.questionnaires import Catalog
from tests.backends import all_text
from tests.e2e import flows
from tests.e2e.flows import query
from tests.e2e.test_full_cycle import _expect, _log, _marks
from tests.e2e.test_matching import (
    APPROVE,
    COORDINATOR,
    join_curator,
    register,
    telegram_of,
)
from tests.fakeapi import FakeTelegram
from tests.fakeapi.server import FakeUser

pytestmark = pytest.mark.e2e

SECRETS = ("olympiad-secret-win", "useful-secret-talks", "diploma-secret.pdf")
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64 + b"\xff\xd9"


def _all_text(db_path: Path) -> str:
    return all_text(db_path)


def _stored(files_dir: Path) -> list[Path]:
    return [p for p in files_dir.rglob("*") if p.is_file()] if files_dir.exists() else []


async def _scales(user: FakeUser, value: str, count: int = 6) -> None:
    for _ in range(count):
        await user.press(value, await flows.next_question(user))


async def _mentee(user: FakeUser, code: str) -> None:
    await register(user, code, "mentee-student-student", "Ученик Первый")
    await _scales(user, "7")  # the entry self-assessment
    await user.wait_message("Вы в базе наставляемых")


async def test_closing_the_cycle(
    fake_telegram: FakeTelegram, bot_process: Any, tmp_path: Path
) -> None:
    db_path = tmp_path / "bot.db"
    files_dir = tmp_path / "files"
    reports = Catalog.from_dir(REPORTS_DIR)
    setup = flows.setup_programme(db_path)
    bot = await bot_process({"ADMIN_IDS": str(COORDINATOR), "CLOCK_CONTROL": "1",
                             "FILES_DIR": str(files_dir)})
    coordinator = fake_telegram.user(COORDINATOR, first_name="Координатор")
    await coordinator.send("/start")
    await coordinator.wait_message("координатор")
    mentee_a, mentee_b = (fake_telegram.user(5401 + i, first_name=f"Ученик{i}") for i in (0, 1))
    mentors = [fake_telegram.user(5501 + i, first_name=f"Наставник{i}") for i in (0, 1)]
    curator = fake_telegram.user(5600, first_name="Ольга")
    await flows.gather(
        _mentee(mentee_a, setup["mentee"]),
        register(mentee_b, setup["mentee"], "mentee-student-student", "Ученик Второй"),
        *(register(u, setup["mentor"], "mentor-student-student", f"Наставник Номер{i}", 1)
          for i, u in enumerate(mentors)),
        join_curator(curator, setup["curator"], coordinator),
    )
    await bot.clock("set", "2026-12-10T09:00:00+00:00")
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
    for mentee in (mentee_a, mentee_b):
        [(pair_id, mentor_m)] = query(
            db_path, "SELECT p.id, p.mentor_membership_id FROM pairs p JOIN memberships m "
            "ON m.id = p.mentee_membership_id JOIN participants t ON t.id = m.participant_id "
            "WHERE p.status = 'approved' AND t.telegram_id = ?", mentee.id)
        mentor = next(u for u in mentors if u.id == telegram_of(db_path, mentor_m))
        pairs[mentee.id] = (pair_id, mentor)
    a_id, a_mentor = pairs[mentee_a.id]
    b_id, _ = pairs[mentee_b.id]

    # -- pair B: completed early, with a typed reason (audited) -------------------------------
    await curator.send(f"/complete {b_id}")
    refusal = await curator.wait_message(f"Пару #{b_id} пока нельзя завершить")
    assert "итоговая встреча" in refusal.text and "отчета наставляемого" in refusal.text
    await curator.press("⚠️ Завершить всё равно", refusal)
    await curator.wait_message("Напишите причину")
    await curator.send("Наставник переехал в другой город")
    await curator.wait_message(f"Пара #{b_id} завершена с указанной причиной")
    [(details,)] = query(db_path, "SELECT details FROM audit_log WHERE action = "
                         "'pair.complete_override' AND target_id = ?", b_id)
    assert json.loads(details) == {"missing": ["final_meeting", "mentee_report", "mentor_report"],
                                   "reason": "Наставник переехал в другой город"}
    assert query(db_path, "SELECT status FROM pairs WHERE id = ?", b_id) == [("completed",)]

    # -- pair A: the final meeting, logged as held -------------------------------------------
    query(db_path, "UPDATE pairs SET status = 'regular' WHERE id = ?", a_id)
    query(
        db_path,
        "INSERT INTO meetings (pair_id, kind, status, starts_at, duration_minutes, "
        "confirmed_at, reminded_24h_at, reminded_1h_at, created_at, updated_at) VALUES "
        "(?, 'final', 'confirmed', '2026-12-10 10:00:00.000000', 60, "
        "'2026-12-09 09:00:00.000000', '2026-12-09 10:00:00.000000', "
        "'2026-12-10 09:00:00.000000', '2026-12-09 09:00:00.000000', "
        "'2026-12-09 09:00:00.000000')", a_id)
    await curator.send(f"/complete {a_id}")
    refusal = await curator.wait_message(f"Пару #{a_id} пока нельзя завершить")
    assert "итоговая встреча" in refusal.text
    watched = (mentee_a, a_mentor, curator)
    marks = _marks(*watched)
    await bot.clock("set", "2026-12-10T11:01:00+00:00")
    await _log(a_mentor, mentee_a, marks, "итоговая встреча")
    assert query(db_path, "SELECT status FROM pairs WHERE id = ?", a_id) == [("final",)]
    review = await _expect(curator, f"Пара #{a_id} провела итоговую встречу", marks[curator.id])
    await curator.send(f"/complete {a_id}")
    refusal = await curator.wait_message(f"Пару #{a_id} пока нельзя завершить")
    assert "итоговая встреча" not in refusal.text and "отчета наставника" in refusal.text

    # -- the mentee: the exit self-assessment, entry vs exit ------------------------------------
    invite = await _expect(mentee_a, "Пройдите, пожалуйста, самооценку", marks[mentee_a.id])
    await mentee_a.press("📊 Пройти самооценку", invite)
    await _scales(mentee_a, "9")
    change = await mentee_a.wait_message("Ваша самооценка")
    assert change.text.count("7 → 9 (+2)") == 6

    # -- the mentee's final report with a photo and a PDF ---------------------------------------
    invite = await _expect(mentee_a, "итоговый отчет", marks[mentee_a.id])
    await mentee_a.press("📝 Заполнить отчет", invite)
    texts = {"achieved": SECRETS[0], "most_useful": SECRETS[1]}
    await flows.answer_all(mentee_a, reports.get("report-mentee"),  # type: ignore[arg-type]
                           on_question=lambda q: texts.get(q.id))
    offer = await mentee_a.wait_message("Хотите приложить")
    await mentee_a.press("📎 Приложить файлы", offer)
    await mentee_a.wait_message("Пришлите фото или файлы")
    await mentee_a.send_file(b"MZ\x90\x00", filename="setup.exe",
                             mime_type="application/x-msdownload")
    await mentee_a.wait_message("тип файла не подходит")
    await mentee_a.send_file(JPEG, kind="photo")
    await mentee_a.wait_message("Файл сохранён (1 из 10)")
    await mentee_a.send_file(PDF, filename=SECRETS[2], mime_type="application/pdf")
    saved = await mentee_a.wait_message("Файл сохранён (2 из 10)")
    await mentee_a.press("✅ Готово", saved)
    await mentee_a.wait_message("приложено файлов: 2")
    await mentee_a.send("/portfolio")
    await mentee_a.wait_message("Ваше портфолио: файлов 2")
    mine = [await mentee_a.wait_message("Портфолио") for _ in range(2)]
    assert {m.document.filename for m in mine if m.document} >= {SECRETS[2]}
    stored = _stored(files_dir)
    assert sorted(p.read_bytes() for p in stored) == sorted([JPEG, PDF])
    assert all("secret" not in p.name for p in stored)  # opaque names on disk

    # -- the mentor's report and the curator's review ------------------------------------------
    invite = await _expect(a_mentor, "итоговый отчет", marks[a_mentor.id])
    await a_mentor.press("📝 Заполнить отчет", invite)
    await flows.answer_all(a_mentor, reports.get("report-mentor"))  # type: ignore[arg-type]
    await a_mentor.wait_message("Итоговый отчет сохранён")
    await curator.press("📋 Оставить отзыв", review)
    await flows.answer_all(curator, reports.get("review-curator"))  # type: ignore[arg-type]
    await curator.wait_message(f"Отзыв о паре #{a_id} сохранён")
    await curator.send("/monitoring")  # the curator's own questionnaire (monitoring, stage 1)
    await flows.answer_all(curator, reports.get("monitoring-curator"))  # type: ignore[arg-type]
    await curator.wait_message("Анкета куратора сохранена")

    # -- /complete succeeds now; a repeat is harmless ------------------------------------------
    await curator.send(f"/complete {a_id}")
    await curator.wait_message(f"Пара #{a_id} завершила полный цикл")
    await curator.send(f"/complete {a_id}")
    await curator.wait_message(f"Пара #{a_id} уже завершена")
    done = query(db_path, "SELECT count(*) FROM memberships WHERE full_cycle_at IS NOT NULL "
                 "AND id IN (SELECT mentee_membership_id FROM pairs WHERE id = ? UNION "
                 "SELECT mentor_membership_id FROM pairs WHERE id = ?)", a_id, a_id)
    assert done == [(2,)]
    assert query(db_path, "SELECT count(*) FROM audit_log WHERE action = 'pair.complete' "
                 "AND target_id = ?", a_id) == [(1,)]
    # the pair's results for its curator: both reports, the review, the mentee's files
    await curator.send(f"/reports {a_id}")
    results = await curator.wait_message(f"Итоги пары #{a_id}")
    assert SECRETS[0] in results.text and "Приложено файлов: 2" in results.text
    assert "Отзыв куратора о паре" in results.text and "ещё не заполнен" not in results.text
    files = [await curator.wait_message("Портфолио") for _ in range(2)]
    assert sorted((f.document or f.photo).content for f in files) == sorted([JPEG, PDF])  # type: ignore[union-attr]
    # by a participant's number: all their pairs (pair B was completed before)
    [(b_mentee_m,)] = query(db_path, "SELECT mentee_membership_id FROM pairs WHERE id = ?", b_id)
    await curator.send(f"/complete #{b_mentee_m}")
    await curator.wait_message(f"Пара #{b_id} уже завершена")

    # -- /forget: no free text and no file of the mentee is left --------------------------------
    before = _all_text(db_path)
    assert all(secret in before for secret in SECRETS)
    await mentee_a.send("/forget")
    confirm = await mentee_a.wait_message("Отозвать согласие")
    await mentee_a.press("Да, удалить мои данные", confirm)
    await mentee_a.wait_message("персональные данные удалены")
    after = _all_text(db_path)
    for secret in SECRETS:
        assert secret not in after, secret
    assert _stored(files_dir) == []
    assert query(db_path, "SELECT count(*) FROM attachments") == [(0,)]
    assert "Traceback" not in bot.log_text()
