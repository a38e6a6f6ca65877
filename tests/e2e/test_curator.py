"""Coordinator and curator in chat: organisation, programme, invitations, the bases."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e import flows
from tests.e2e.flows import answer_all, join_adult, query
from tests.fakeapi import FakeTelegram

pytestmark = pytest.mark.e2e
COORDINATOR = 7001


def _link_code(text: str, after: str) -> str:
    tail = text.split(after, 1)[1]
    return tail.split("start=", 1)[1].split()[0]


async def test_coordinator_to_curator_to_mentee_base(
    fake_telegram: FakeTelegram, bot_process, tmp_path: Path
) -> None:
    db_path = tmp_path / "bot.db"
    await bot_process({"ADMIN_IDS": str(COORDINATOR)})
    coordinator = fake_telegram.user(COORDINATOR, first_name="Координатор")
    await coordinator.send("/neworg")
    await coordinator.wait_message("Название организации")
    await coordinator.send("Колледж № 5")
    await coordinator.wait_message("Часовой пояс")
    await coordinator.send("Mars/Olympus")
    await coordinator.wait_message("Неизвестный часовой пояс")
    await coordinator.send("Asia/Vladivostok")
    created = await coordinator.wait_message("создана")
    assert f"https://t.me/{flows.BOT_USERNAME}?start=" in created.text
    curator_code = _link_code(created.text, "Приглашение для куратора")

    curator = fake_telegram.user(7002, first_name="Ксения", username="ksenia_cur")
    await curator.send("/mentees")
    assert "только кураторам" in (await curator.wait_message()).text  # not a curator yet
    await curator.send(f"/start {curator_code}")
    await curator.wait_message("вы — куратор")
    await curator.press("✅ Даю согласие", await flows.consent_message(curator))
    # Access starts when the coordinator who made the link confirms the curator.
    request = await coordinator.wait_message("условия куратора", timeout=20)
    await coordinator.press("✅ Подтвердить доступ", request)
    await curator.wait_message("Команды куратора", timeout=20)
    menu = {c["command"] for c in fake_telegram.commands_for(curator.id)}
    assert {"mentees", "mentors", "invite", "newprogramme"} <= menu
    # The single-use curator link cannot be reused by someone else.
    intruder = fake_telegram.user(7003)
    await intruder.send(f"/start {curator_code}")
    assert "уже использована" in (await intruder.wait_message()).text

    await curator.send("/newprogramme")
    await curator.wait_message("Как называется программа")
    await curator.send("Наставничество 2026/27")
    forms = await curator.wait_message("Отметьте формы")
    query_id = await curator.press("Готово", forms)
    assert "хотя бы одну" in ((await curator.wait_callback_answer(query_id)).text or "")
    await curator.press("Ученик – ученик", forms, exact=False)
    await curator.wait_edit(forms)
    await curator.press("Готово", forms)
    await curator.wait_message("Дата начала")
    await curator.send("завтра")
    await curator.wait_message("ДД.ММ.ГГГГ")
    await curator.send("01.09.2026")
    await curator.wait_message("Дата окончания")
    await curator.send("31.08.2026")
    await curator.wait_message("раньше даты начала")
    await curator.send("31.05.2027")
    await curator.wait_message("создана и выбрана текущей")

    await curator.send("/invite")
    links = await curator.wait_message("Ссылки-приглашения")
    assert links.text.count(f"https://t.me/{flows.BOT_USERNAME}?start=") == 2
    mentee_code = _link_code(links.text, "Для наставляемых")

    done = fake_telegram.user(7010, first_name="Дима", username="dima_s")
    await join_adult(done, mentee_code)
    await answer_all(done, flows.catalog().get("mentee-student-student"))
    await answer_all(done, flows.catalog().assessment())
    await done.wait_message("Вы в базе")
    pending = fake_telegram.user(7011, first_name="Лиза")
    await pending.send(f"/start {mentee_code}")
    await pending.wait_message("Сколько вам лет")

    await curator.send("/mentees")
    listing = await curator.wait_message("Наставляемые")
    assert "Иванов Иван — анкета заполнена" in listing.text
    assert "Участник #" in listing.text and "ожидается согласие" in listing.text
    await curator.press("Иванов Иван", listing, exact=False)
    card = await curator.wait_message("Роль: наставляемый")
    # Answers are labelled briefly (the question with its instructions is too long).
    assert "Место учебы" in card.text and "@dima_s" in card.text
    assert "Где вы учитесь?" not in card.text

    # Paper consent for the one who has not consented in chat.
    pending_id = query(
        db_path, "SELECT m.id FROM memberships m JOIN participants p ON p.id=m.participant_id "
        "WHERE p.telegram_id=7011"
    )[0][0]
    await curator.send("/paperconsent")
    await curator.wait_message("Укажите номер")
    await curator.send(f"/paperconsent {pending_id}")
    await curator.wait_message("Бумажное согласие")
    notice = await pending.wait_message("согласие на бумаге", timeout=15)
    await pending.press("Заполнить анкету", notice)
    assert "1/" in (await flows.next_question(pending)).text
    assert query(db_path, "SELECT kind, recorded_by IS NOT NULL FROM consents WHERE kind='paper'") == [
        ("paper", 1)
    ]
    assert query(
        db_path, "SELECT action FROM audit_log WHERE action='consent.paper'"
    ) == [("consent.paper",)]

    # Revoked and expired links explain themselves.
    invite_id = query(db_path, "SELECT id FROM invites WHERE code=?", mentee_code)[0][0]
    await curator.send(f"/revoke {invite_id}")
    await curator.wait_message("отозвана")
    late = fake_telegram.user(7012)
    await late.send(f"/start {mentee_code}")
    assert "отозвана" in (await late.wait_message()).text
    mentor_code = _link_code(links.text, "Для наставников")
    query(db_path, "UPDATE invites SET expires_at='2000-01-01 00:00:00' WHERE code=?", mentor_code)
    await late.send(f"/start {mentor_code}")
    assert "истёк" in (await late.wait_message()).text
    await late.send("/start nonsense-code-that-does-not-exist")
    assert "не найдена" in (await late.wait_message()).text
