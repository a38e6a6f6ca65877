"""Forming pairs end to end: /match, proposals approved and rejected in chat, the
introductions through the outbox, contacts, "the search goes on", and two curators
approving at the same moment without overfilling a mentor."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import flows
from tests.e2e.flows import answer_all, join_adult, query
from tests.fakeapi import FakeTelegram
from tests.fakeapi.server import FakeUser

pytestmark = pytest.mark.e2e

COORDINATOR = 3999  # confirms curators who joined by admin CLI links
APPROVE = "✅ Одобрить"
REJECT = "❌ Отклонить"
OUTBOX_WAIT = 20.0  # the outbox is drained every second


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "bot.db"


def setup_programme(db_path: Path) -> dict[str, Any]:
    setup = flows.setup_programme(db_path)
    # curator links are single-use: a second curator needs a link of their own
    setup["curator2"] = flows.admin(
        db_path, "invite", "--programme", str(setup["programme_id"]), "--role", "curator"
    )["code"]
    return setup


async def register(
    user: FakeUser, code: str, questionnaire_id: str, name: str, capacity: int | None = None
) -> None:
    """Join as an adult and fill the onboarding questionnaire (the self-assessment that
    follows is not needed for matching)."""
    questionnaire = flows.catalog().get(questionnaire_id)
    assert questionnaire is not None
    await join_adult(user, code)

    def typed(question):  # type: ignore[no-untyped-def]
        if question.id == "full_name":
            return name
        if question.id == "capacity" and capacity is not None:
            return str(capacity)
        return None

    await answer_all(user, questionnaire, on_question=typed)
    await user.wait_message("анкета заполнена", timeout=15)


async def join_curator(user: FakeUser, code: str, coordinator: FakeUser) -> None:
    await join_adult(user, code, age="")

    def request() -> Any:
        for message in reversed(coordinator.messages):
            if user.first_name in message.text and message.buttons:
                return message
        return None

    await coordinator.press("✅ Подтвердить доступ", await coordinator.wait_until(
        request, OUTBOX_WAIT, "the curator access request"))
    await user.wait_message("Команды куратора", timeout=OUTBOX_WAIT)


def telegram_of(db_path: Path, membership_id: int) -> int:
    [(telegram_id,)] = query(
        db_path,
        "SELECT p.telegram_id FROM memberships m JOIN participants p ON p.id = m.participant_id "
        "WHERE m.id = ?",
        membership_id,
    )
    return int(telegram_id)


async def test_match_approve_reject_introduce(
    fake_telegram: FakeTelegram, bot_process, db_path: Path
) -> None:
    setup = setup_programme(db_path)
    await bot_process({"ADMIN_IDS": str(COORDINATOR)})
    coordinator = fake_telegram.user(COORDINATOR, first_name="Координатор")
    await coordinator.send("/start")  # the bot may write only to those who started it
    await coordinator.wait_message("координатор")
    mentees = [
        fake_telegram.user(3001 + i, first_name=f"Ученик{i}", username=f"mentee_{i}")
        for i in range(3)
    ]
    mentors = [
        fake_telegram.user(3011 + i, first_name=f"Наставник{i}", username=f"mentor_{i}")
        for i in range(2)
    ]
    curator = fake_telegram.user(3100, first_name="Ольга")
    users = {u.id: u for u in [*mentees, *mentors]}
    await flows.gather(
        *(register(u, setup["mentee"], "mentee-student-student", f"Ученик Номер{i}")
          for i, u in enumerate(mentees)),
        register(mentors[0], setup["mentor"], "mentor-student-student", "Наставник Первый", 2),
        register(mentors[1], setup["mentor"], "mentor-student-student", "Наставник Второй", 1),
        join_curator(curator, setup["curator"], coordinator),
    )

    await curator.send("/match")
    summary = await curator.wait_message("Подбор пар")
    assert "Предложено пар: 3" in summary.text
    assert query(db_path, "SELECT count(*) FROM pairs WHERE status='proposed'") == [(3,)]

    await curator.send("/pairs")
    card = await curator.wait_message("Предложение 1 из 3")
    assert "Совместимость" in card.text and "наставник помогает с:" in card.text
    assert "оба увлекаются: «Проектная деятельность»" in card.text
    for verdict, button in (("Одобрено", APPROVE), ("Одобрено", APPROVE), ("Отклонено", REJECT)):
        await curator.press(button, card)
        await curator.wait_edit(card, contains=verdict)
        if verdict == "Отклонено":
            break
        card = await curator.wait_message("Предложение 1 из")
    await curator.wait_message("Все предложения рассмотрены")

    approved = query(
        db_path, "SELECT id, mentee_membership_id, mentor_membership_id FROM pairs "
        "WHERE status='approved' ORDER BY id",
    )
    assert len(approved) == 2
    for _, mentee_id, mentor_id in approved:
        mentee = users[telegram_of(db_path, mentee_id)]
        mentor = users[telegram_of(db_path, mentor_id)]
        intro = await mentee.wait_message("Вам подобран наставник", timeout=OUTBOX_WAIT)
        assert "Наставник" in intro.text and "встреча-знакомство" in intro.text
        about = await mentor.wait_message("Вам подобран наставляемый", timeout=OUTBOX_WAIT)
        assert "Ученик Номер" in about.text and "Цель:" in about.text

    # contacts: only after both sides agreed
    pair_id, mentee_id, mentor_id = approved[0]
    mentee, mentor = users[telegram_of(db_path, mentee_id)], users[telegram_of(db_path, mentor_id)]
    intro = next(m for m in reversed(mentee.messages) if "Вам подобран наставник" in m.text)
    await mentee.press("📇 Поделиться контактом", intro)
    await mentee.wait_message("как только собеседник тоже согласится")
    mentor_intro = next(
        m for m in reversed(mentor.messages)
        if "Вам подобран наставляемый" in m.text and m.buttons
        and any(str(pair_id) in (b.value or "") for row in m.buttons for b in row)
    )
    await mentor.press("📇 Поделиться контактом", mentor_intro)
    await mentor.wait_message("Вы оба согласились")
    to_mentee = await mentee.wait_message("Контакт вашего наставника", timeout=OUTBOX_WAIT)
    assert f"@{mentor.username}" in to_mentee.text
    to_mentor = await mentor.wait_message("Контакт вашего наставляемого", timeout=OUTBOX_WAIT)
    assert f"@{mentee.username}" in to_mentor.text

    # a re-match never offers the rejected couple again; the mentee hears the search goes on
    [(rejected_mentee, rejected_mentor)] = query(
        db_path, "SELECT mentee_membership_id, mentor_membership_id FROM pairs "
        "WHERE status='rejected'",
    )
    loads_before = dict(query(db_path, "SELECT id, load FROM memberships WHERE role='mentor'"))
    await curator.send("/match")
    summary = await curator.wait_message("Подбор пар")
    assert "Предложено пар: 0" in summary.text and "Без наставника (1)" in summary.text
    await curator.press("Сообщить ожидающим, что поиск продолжается", summary)
    await curator.wait_message("Сообщили ожидающим наставляемым (1)")
    waiting = users[telegram_of(db_path, rejected_mentee)]
    await waiting.wait_message("Поиск наставника для вас продолжается", timeout=OUTBOX_WAIT)

    assert query(
        db_path, "SELECT count(*) FROM pairs WHERE mentee_membership_id=? "
        "AND mentor_membership_id=? AND status='proposed'", rejected_mentee, rejected_mentor,
    ) == [(0,)]
    loads = query(db_path, "SELECT capacity, load FROM memberships WHERE role='mentor'")
    assert sum(load for _, load in loads) == 2 and all(load <= cap for cap, load in loads)
    assert sorted(query(
        db_path, "SELECT status, count(*) FROM memberships WHERE role='mentee' GROUP BY status"
    )) == [("in_base", 1), ("paired", 2)]
    actions = [a for (a,) in query(db_path, "SELECT action FROM audit_log ORDER BY id")]
    assert [a for a in actions if a.startswith(("match.", "pair."))] == [
        "match.run", "pair.approve", "pair.approve", "pair.reject", "match.run",
        "match.tell_unmatched",
    ]
    details = " ".join(d or "" for (d,) in query(db_path, "SELECT details FROM audit_log"))
    assert "Ученик" not in details and "Наставник" not in details
    events = query(db_path, "SELECT from_status, to_status FROM pair_events ORDER BY id")
    assert events.count(("proposed", "approved")) == 2
    assert events.count(("proposed", "rejected")) == 1
    assert events.count(("approved", "contact_shared")) == 2

    # wrong input gets a hint; a manual pair of a rejected couple needs a confirmation
    await curator.send("/pair 12")
    await curator.wait_message("/pair 12 34")
    await curator.send(f"/pair {rejected_mentor} {rejected_mentee}")
    await curator.wait_message("Сначала номер наставляемого")
    await curator.send(f"/pair {rejected_mentee} {rejected_mentor}")
    warning = await curator.wait_message("Пара вручную")
    assert "уже отклонялась" in warning.text
    await curator.press("Всё равно создать пару", warning)
    done = await curator.wait_edit(warning, contains="создана")
    [(manual_id,)] = query(
        db_path, "SELECT id FROM pairs WHERE status='approved' AND mentee_membership_id=?",
        rejected_mentee,
    )
    assert f"#{manual_id}" in done.text
    await waiting.wait_message("Вам подобран наставник", timeout=OUTBOX_WAIT)

    # ending a pair frees the mentor's place and tells both
    await curator.send("/unpair")
    await curator.wait_message("/unpair 12")
    await curator.send(f"/unpair {manual_id}")
    confirm = await curator.wait_message(f"Завершить пару #{manual_id}")
    await curator.press("Да, завершить", confirm)
    await curator.wait_edit(confirm, contains="завершена")
    await waiting.wait_message("завершил вашу пару", timeout=OUTBOX_WAIT)
    assert query(db_path, "SELECT status FROM pairs WHERE id=?", manual_id) == [("ended",)]
    assert query(
        db_path, "SELECT load FROM memberships WHERE id=?", rejected_mentor
    ) == [(loads_before[rejected_mentor],)]
    assert not [e for e in fake_telegram.errors if e.status != 429]


async def test_parallel_approvals_hold_mentor_capacity(
    fake_telegram: FakeTelegram, bot_process, db_path: Path
) -> None:
    setup = setup_programme(db_path)
    await bot_process({"ADMIN_IDS": str(COORDINATOR)})
    coordinator = fake_telegram.user(COORDINATOR, first_name="Координатор")
    await coordinator.send("/start")  # the bot may write only to those who started it
    await coordinator.wait_message("координатор")
    mentees = [fake_telegram.user(3201 + i, first_name=f"Ученик{i}") for i in range(2)]
    mentor = fake_telegram.user(3211, first_name="Наставник")
    first, second = (fake_telegram.user(3300 + i, first_name=f"Куратор{i}") for i in range(2))
    await flows.gather(
        *(register(u, setup["mentee"], "mentee-student-student", f"Ученик Номер{i}")
          for i, u in enumerate(mentees)),
        register(mentor, setup["mentor"], "mentor-student-student", "Наставник Один", 2),
        join_curator(first, setup["curator"], coordinator),
        join_curator(second, setup["curator2"], coordinator),
    )

    # after a group meeting both sides pick; a mutual pick shows among the reasons
    await first.send("/preferences")
    await first.wait_message("Раунд предпочтений")
    choice = await mentees[0].wait_message("Выбор наставника", timeout=OUTBOX_WAIT)
    assert "Наставник Один" in choice.text
    await mentees[0].press("▫️ Наставник Один", choice)
    await mentees[0].wait_edit(choice, contains="✅ Наставник Один")
    await mentees[0].press("Готово", choice)
    await mentees[0].wait_message("ваш выбор сохранён: Наставник Один")
    choice = await mentor.wait_message("Выбор наставляемых", timeout=OUTBOX_WAIT)
    await mentor.press("▫️ Ученик Номер0", choice)
    await mentor.wait_edit(choice, contains="✅ Ученик Номер0")
    await mentor.press("Готово", choice)
    await mentor.wait_message("ваш выбор сохранён")
    await first.send("/preferences close")
    assert "взаимных выборов: 1" in (await first.wait_message("завершён")).text
    assert query(db_path, "SELECT count(*) FROM match_preferences") == [(2,)]

    await first.send("/match")
    assert "Предложено пар: 2" in (await first.wait_message("Подбор пар")).text
    # The mentor can take one mentee fewer than when the proposals were made.
    query(db_path, "UPDATE memberships SET capacity = 1 WHERE role = 'mentor'")

    await first.send("/pairs")
    card_a = await first.wait_message("Предложение 1 из 2")
    assert "выбрали друг друга" in card_a.text
    await second.send("/pairs")
    card_b = await second.wait_message("Предложение 1 из 2")
    await second.press("Далее »", card_b)
    card_b = await second.wait_edit(card_b, contains="Предложение 2 из 2")

    # both press at once: the bot handles the two updates concurrently
    query_a = await first.press(APPROVE, card_a)
    query_b = await second.press(APPROVE, card_b)
    answers = [
        await first.wait_callback_answer(query_a, timeout=15),
        await second.wait_callback_answer(query_b, timeout=15),
    ]
    refused = [a for a in answers if a.text]
    assert len(refused) == 1 and "нет свободных мест" in (refused[0].text or "")
    assert refused[0].show_alert

    assert query(db_path, "SELECT capacity, load FROM memberships WHERE role='mentor'") == [(1, 1)]
    assert sorted(query(db_path, "SELECT status FROM pairs")) == [("approved",), ("proposed",)]
    assert query(
        db_path, "SELECT count(*) FROM memberships WHERE role='mentee' AND status='paired'"
    ) == [(1,)]
    approvals = query(db_path, "SELECT details FROM audit_log WHERE action='pair.approve'")
    assert len(approvals) == 1 and json.loads(approvals[0][0])["mentor"]
